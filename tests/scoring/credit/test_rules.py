"""Credit scores from the rule table, checked against values worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.credit.rules import Rules, credit_scores, event_points

RULES = Rules.load()
NOW = datetime(2026, 11, 28, tzinfo=UTC)


def events(*rows: tuple[str, str, float, str | None]) -> pl.DataFrame:
    """(uscc, kind, days ago, class)"""
    return pl.DataFrame(
        {
            "uscc": [r[0] for r in rows],
            "kind": [r[1] for r in rows],
            "occurred_at": [NOW - timedelta(days=r[2]) for r in rows],
            "class": [r[3] for r in rows],
        },
        schema={
            "uscc": pl.String,
            "kind": pl.String,
            "occurred_at": pl.Datetime("us", "UTC"),
            "class": pl.String,
        },
    )


def one(*rows: tuple[str, str, float, str | None]) -> dict[str, object]:
    return credit_scores(events(*rows), RULES, NOW).row(0, named=True)


def test_an_upheld_complaint_fades_with_its_half_life() -> None:
    # −5 a year ago, half-life 365 days: −5·0.5 = −2.5 → 97.5, class A.
    out = one(("M", "complaint_upheld", 365, None))
    assert out["score"] == pytest.approx(97.5)
    assert out["class"] == "A"
    assert one(("M", "complaint_upheld", 0, None))["score"] == pytest.approx(95.0)


def test_heavy_penalties_reach_class_d_and_stop_at_the_floor() -> None:
    assert one(("M", "penalty_major", 0, None), ("M", "penalty_major", 0, None))["class"] == "D"
    floored = one(*[("M", "penalty_major", 0, None)] * 5)  # 100 − 150 → 0, not −50
    assert floored["score"] == 0.0


def test_the_serious_list_forces_class_d_until_removal() -> None:
    listed = one(("M", "serious_list_added", 10, None))
    assert (listed["score"], listed["class"], listed["listed_serious"]) == (60.0, "D", True)
    removed = one(("M", "serious_list_added", 10, None), ("M", "serious_list_removed", 1, None))
    assert (removed["score"], removed["class"]) == (100.0, "A")


def test_the_regulators_class_is_the_best_a_merchant_can_have() -> None:
    assert one(("M", "external_class", 5, "C"))["class"] == "C"  # 100 points, bounded at C
    # 100 − 30 = 70 is class C by points: an external A does not lift it.
    assert one(("M", "penalty_major", 0, None), ("M", "external_class", 5, "A"))["class"] == "C"


def test_repair_recovers_and_the_cap_holds() -> None:
    # 100 − 30 + 10 = 80 → B.
    repaired = one(("M", "penalty_major", 0, None), ("M", "credit_repaired", 0, None))
    assert (repaired["score"], repaired["class"]) == (80.0, "B")
    assert one(("M", "commendation", 0, None))["score"] == 100.0  # capped


def test_an_abnormal_listing_counts_while_it_lasts() -> None:
    assert one(("M", "abnormal_list_added", 3, None))["score"] == 80.0
    assert (
        one(("M", "abnormal_list_added", 30, None), ("M", "abnormal_list_removed", 2, None))[
            "score"
        ]
        == 100.0
    )


def test_future_events_are_ignored() -> None:
    assert one(("M", "penalty_major", -3, None), ("M", "commendation", 1, None))["score"] == 100.0


KINDS = sorted(RULES.kinds - {"external_class"})


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["M1", "M2", "M3"]),
            st.sampled_from(KINDS),
            st.floats(0, 2000, allow_nan=False),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_one_merchant_alone_scores_exactly_as_in_the_whole_city(
    rows: list[tuple[str, str, float]],
) -> None:
    frame = events(*[(u, k, d, None) for u, k, d in rows])
    city = credit_scores(frame, RULES, NOW)
    for uscc in city["uscc"]:
        alone = credit_scores(frame.filter(pl.col("uscc") == uscc), RULES, NOW).row(0, named=True)
        batch = city.filter(pl.col("uscc") == uscc).row(0, named=True)
        # Exact integer sums and integer rounding: the same bits, not merely close.
        assert alone == batch
        assert 0.0 <= alone["score"] <= 100.0


def test_the_latest_listing_event_decides_whatever_the_input_order() -> None:
    rows = [
        ("M", "serious_list_removed", 1, None),
        ("M", "serious_list_added", 10, None),
        ("M", "external_class", 20, "B"),
        ("M", "external_class", 2, "C"),
    ]
    for ordering in (rows, rows[::-1]):
        out = one(*ordering)
        assert (out["listed_serious"], out["class"], out["external_class"]) == (False, "C", "C")


def test_each_event_shows_what_it_weighs_today() -> None:
    rows = (
        ("M", "complaint_upheld", 365, None),  # −5 faded by one half-life → −2.5
        ("M", "abnormal_list_added", 40, None),  # removed later: weighs nothing now
        ("M", "abnormal_list_removed", 20, None),
        ("M", "serious_list_added", 10, None),  # in force: its full −40
        ("M", "external_class", 5, "B"),
        ("M", "penalty_major", -3, None),  # not yet happened
    )
    points = event_points(events(*rows), RULES, NOW)["points"].to_list()
    assert points == pytest.approx([-2.5, 0.0, 0.0, -40.0, 0.0, 0.0])
    # The points shown add up to the score: 100 − 2.5 − 40 = 57.5.
    assert one(*rows)["score"] == 57.5 == pytest.approx(100 + sum(points))
