"""Comparing a draft with the published run: movers, new and dropped units."""

from __future__ import annotations

import polars as pl

from scoring.satisfaction.run_review import compare_frames


def frame(rows: list[tuple[str, str, int, float, bool]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema=["kind", "code", "n", "score", "insufficient_data"], orient="row"
    )


def test_movers_are_ordered_by_the_size_of_the_change() -> None:
    before = frame(
        [
            ("merchant", "A", 50, 80.0, False),
            ("merchant", "B", 50, 70.0, False),
            ("merchant", "C", 50, 60.0, False),
            ("merchant", "D", 5, 50.0, True),
        ]
    )
    after = frame(
        [
            ("merchant", "A", 60, 78.5, False),
            ("merchant", "B", 60, 75.0, False),
            ("merchant", "E", 20, 90.0, False),
            ("merchant", "D", 9, 20.0, True),
        ]
    )
    out = compare_frames(after, before)
    assert [(m["code"], m["change"]) for m in out["movers"]] == [("B", 5.0), ("A", -1.5)]
    assert [u["code"] for u in out["new"]] == ["E"]
    assert [u["code"] for u in out["dropped"]] == ["C"]  # D has too few answers to move
