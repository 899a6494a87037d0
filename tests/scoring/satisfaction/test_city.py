"""The whole city scored at once: levels, parents, blending, exclusions, determinism."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from scoring.satisfaction.scores import Inputs, Params, score_city

KEYS = ["quality", "price", "honesty", "safety", "service", "returns", "complaints"]


def city(indexes: dict[str, list[float]], excluded: dict[str, int] | None = None) -> Inputs:
    """Every response answers every item with the same 0–100 value, so its index is that
    value; targets: merchants M1 (street S1), M2 (no street), area S1 itself."""
    rid = 0
    responses: list[tuple[int, str, str, bool]] = []
    answers: list[tuple[int, str, float]] = []
    for target, values in indexes.items():
        kind = "street" if target.startswith("S") else "merchant"
        for v in values:
            rid += 1
            responses.append((rid, kind, target, False))
            answers.extend((rid, k, float(v)) for k in KEYS)
        for _ in range((excluded or {}).get(target, 0)):
            rid += 1
            responses.append((rid, kind, target, True))
            answers.extend((rid, k, 0.0) for k in KEYS)
    items = pl.LazyFrame(
        {
            "survey_id": [1] * 7,
            "version": [1] * 7,
            "question_key": KEYS,
            "dimension": ["supply", "supply", "env", "env", "env", "rights", "rights"],
            "weight": [0.5, 0.5, 0.4, 0.3, 0.3, 0.5, 0.5],
        }
    )
    return Inputs(
        responses=pl.LazyFrame(
            {
                "response_id": [r[0] for r in responses],
                "survey_id": [1] * len(responses),
                "version": [1] * len(responses),
                "target_kind": [r[1] for r in responses],
                "target_code": [r[2] for r in responses],
                "excluded": [r[3] for r in responses],
            }
        ),
        answers=pl.LazyFrame(
            {
                "response_id": [a[0] for a in answers],
                "survey_id": [1] * len(answers),
                "version": [1] * len(answers),
                "question_key": [a[1] for a in answers],
                "value_num": [a[2] for a in answers],
                "value_norm": [a[2] for a in answers],
            }
        ),
        items=items,
        dimensions=pl.LazyFrame(
            {
                "survey_id": [1] * 3,
                "version": [1] * 3,
                "dimension": ["supply", "env", "rights"],
                "dim_weight": [0.35, 0.35, 0.30],
            }
        ),
        nps_items=pl.LazyFrame(
            schema={"survey_id": pl.Int64, "version": pl.Int64, "question_key": pl.String}
        ),
        merchants=pl.LazyFrame(
            {"code": ["M1", "M2"], "district": ["D1", "D1"], "area": ["S1", None]}
        ),
        areas=pl.LazyFrame(
            {
                "code": ["C", "D1", "S1"],
                "kind": ["city", "district", "street"],
                "parent": [None, "C", "D1"],
            }
        ),
    )


def _rows(result: pl.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["kind"], r["code"]): r for r in result.iter_rows(named=True)}


def test_levels_pool_the_right_responses() -> None:
    out = score_city(
        city({"M1": [60, 80], "M2": [90, 70, 80], "S1": [50, 70]}, excluded={"M1": 2}),
        Params(area_self_weight=0.5),
    )
    rows = _rows(out.scores)
    assert rows[("merchant", "M1")]["n"] == 2 and rows[("merchant", "M1")]["mean"] == 70
    assert rows[("merchant", "M1")]["n_excluded"] == 2
    assert rows[("merchant", "M2")]["mean"] == pytest.approx(80.0)
    # S1: own mean 60, its merchant's mean 70, blended half and half → 65; n = 4.
    s1 = rows[("street", "S1")]
    assert (s1["n"], s1["mean"]) == (4, pytest.approx(65.0))
    assert s1["n_excluded"] == 2  # M1's flagged responses count against its street too
    # The district and the city pool all seven valid responses: mean 500/7.
    assert rows[("district", "D1")]["n"] == 7
    assert rows[("city", "city")]["mean"] == pytest.approx(500 / 7)
    assert rows[("city", "city")]["score"] == rows[("city", "city")]["mean"]
    # Parents: M1 → its street, M2 → its district, S1 → D1, D1 → the city.
    assert [
        rows[k]["parent"]
        for k in [("merchant", "M1"), ("merchant", "M2"), ("street", "S1"), ("district", "D1")]
    ] == ["S1", "D1", "D1", "city"]
    dims = out.dimensions.filter((pl.col("kind") == "street") & (pl.col("code") == "S1"))
    assert sorted(dims["dimension"]) == ["env", "rights", "supply"]


def test_a_merchants_score_lies_between_its_mean_and_its_streets_score() -> None:
    out = score_city(city({"M1": [95, 90, 100], "M2": [40, 50, 60], "S1": [50, 60, 55]}), Params())
    rows = _rows(out.scores)
    m1, s1 = rows[("merchant", "M1")], rows[("street", "S1")]
    assert s1["score"] <= m1["score"] <= m1["mean"]
    assert out.priors["merchant"].m > 0


def test_the_same_inputs_give_identical_results() -> None:
    data = {"M1": [60.0, 80, 75, 90], "M2": [90.0, 70, 80], "S1": [50.0, 70, 65]}
    first = score_city(city(data), Params())
    second = score_city(city(data), Params())
    assert first.scores.equals(second.scores)
    assert first.dimensions.equals(second.dimensions)


def test_areas_count_their_scored_merchants_and_the_share_above_the_threshold() -> None:
    # M1 (on S1) averages 85, above 80; M2 has no street. With m tiny (distinct means),
    # shown scores stay near the means.
    out = score_city(
        city({"M1": [80, 90, 85, 85], "M2": [50, 60, 55, 55], "S1": [70, 80]}),
        Params(min_n_display=2, certification_threshold=80.0),
    )
    rows = _rows(out.scores)
    assert rows[("street", "S1")]["merchants_scored"] == 1
    assert rows[("street", "S1")]["share_certifiable"] == 1.0
    assert rows[("merchant", "M1")]["merchants_scored"] is None
    higher = score_city(
        city({"M1": [80, 90, 85, 85], "M2": [50, 60, 55, 55], "S1": [70, 80]}),
        Params(min_n_display=2, certification_threshold=99.0),
    )
    assert _rows(higher.scores)[("street", "S1")]["share_certifiable"] == 0.0
