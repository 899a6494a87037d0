"""Score math against values worked out by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.satisfaction.scores import (
    Z95,
    Params,
    estimate_m,
    nps_stats,
    nps_values,
    rank_with_ties,
    response_scores,
    shrink_toward_parent,
    unit_stats,
)
from surveys.questionnaire import Question

ITEMS = pl.LazyFrame(
    {
        "survey_id": [1] * 7,
        "version": [1] * 7,
        "question_key": [
            "quality",
            "price",
            "honesty",
            "safety",
            "service",
            "returns",
            "complaints",
        ],
        "dimension": ["supply", "supply", "env", "env", "env", "rights", "rights"],
        "weight": [0.5, 0.5, 0.4, 0.3, 0.3, 0.5, 0.5],
    }
)
DIMENSIONS = pl.LazyFrame(
    {
        "survey_id": [1, 1, 1],
        "version": [1, 1, 1],
        "dimension": ["supply", "env", "rights"],
        "dim_weight": [0.35, 0.35, 0.30],
    }
)


def answers(rows: dict[int, dict[str, float]]) -> pl.LazyFrame:
    flat = [(rid, k, v) for rid, items in rows.items() for k, v in items.items()]
    return pl.LazyFrame(
        {
            "response_id": [r[0] for r in flat],
            "survey_id": [1] * len(flat),
            "version": [1] * len(flat),
            "question_key": [r[1] for r in flat],
            "value_norm": [r[2] for r in flat],
            "value_num": [r[2] for r in flat],
        },
    )


@pytest.mark.parametrize(
    ("kind", "low", "high"), [("likert5", 1, 5), ("scale10", 1, 10), ("nps", 0, 10)]
)
def test_all_minimum_scores_zero_and_all_maximum_one_hundred(
    kind: str, low: int, high: int
) -> None:
    q = Question(key="q", type=kind, text_zh="问", text_en="q")
    assert q.normalise(low) == 0.0
    assert q.normalise(high) == 100.0
    assert q.normalise(3) == pytest.approx((3 - low) / (high - low) * 100)


def responses_of(a: pl.LazyFrame) -> pl.LazyFrame:
    """The responses those answers belong to."""
    return a.select("response_id", "survey_id", "version").unique().sort("response_id")


def test_index_is_the_weighted_mean_of_weighted_dimension_means() -> None:
    # supply: 0.5·100 + 0.5·50 = 75; environment: 0.4·75 + 0.3·25 + 0.3·100 = 67.5;
    # rights: 0.5·0 + 0.5·100 = 50; index: 0.35·75 + 0.35·67.5 + 0.30·50 = 64.875.
    a = answers(
        {
            1: {
                "quality": 100,
                "price": 50,
                "honesty": 75,
                "safety": 25,
                "service": 100,
                "returns": 0,
                "complaints": 100,
            }
        }
    )
    out = response_scores(a, responses_of(a), ITEMS, DIMENSIONS).collect().row(0, named=True)
    assert (out["dim_env"], out["dim_rights"], out["dim_supply"]) == pytest.approx(
        (67.5, 50.0, 75.0)
    )
    assert out["index"] == pytest.approx(64.875)


def test_a_skipped_item_leaves_its_dimension_to_the_others() -> None:
    # price skipped: supply = 100 (quality alone), not 0.5·100.
    a = answers(
        {
            1: {
                "quality": 100,
                "honesty": 0,
                "safety": 0,
                "service": 0,
                "returns": 0,
                "complaints": 0,
            }
        }
    )
    out = response_scores(a, responses_of(a), ITEMS, DIMENSIONS).collect().row(0, named=True)
    assert out["dim_supply"] == 100.0
    assert out["index"] == pytest.approx(35.0)


def test_all_minimum_responses_index_zero_and_all_maximum_one_hundred() -> None:
    keys = ["quality", "price", "honesty", "safety", "service", "returns", "complaints"]
    a = answers({1: dict.fromkeys(keys, 0.0), 2: dict.fromkeys(keys, 100.0)})
    out = response_scores(a, responses_of(a), ITEMS, DIMENSIONS).collect()
    by = dict(zip(out["response_id"], out["index"], strict=False))
    assert by == {1: 0.0, 2: pytest.approx(100.0)}


def test_mean_sd_and_95_percent_interval() -> None:
    # [60, 70, 80]: mean 70, sd 10, half-width 1.96·10/√3 = 11.3158.
    scores = pl.LazyFrame({"code": ["A"] * 3 + ["B"], "index": [60.0, 70.0, 80.0, 50.0]})
    out = unit_stats(scores, "code").collect()
    a = out.row(0, named=True)
    assert (a["n"], a["mean"], a["sd"]) == (3, 70.0, 10.0)
    assert a["ci_low"] == pytest.approx(70 - Z95 * 10 / math.sqrt(3))
    assert a["ci_high"] == pytest.approx(81.3158, abs=1e-4)
    b = out.row(1, named=True)
    assert b["n"] == 1 and b["ci_low"] is None  # no interval from one response


def test_nps_and_its_standard_error() -> None:
    # 10 answers: 5 promoters (9, 10), 3 passives (7, 8), 2 detractors (≤ 6):
    # NPS = 100·(0.5 − 0.2) = 30; SE = 100·√((0.5 + 0.2 − 0.3²)/10) = 100·√0.061 = 24.698.
    values = [10, 9, 9, 10, 9, 8, 7, 7, 6, 0]
    a = pl.LazyFrame(
        {
            "response_id": list(range(10)),
            "survey_id": [1] * 10,
            "version": [1] * 10,
            "question_key": ["recommend"] * 10,
            "value_num": [float(v) for v in values],
        }
    )
    nps_items = pl.LazyFrame({"survey_id": [1], "version": [1], "question_key": ["recommend"]})
    per_response = nps_values(a, nps_items).with_columns(pl.lit("A").alias("code"))
    out = nps_stats(per_response, "code").collect().row(0, named=True)
    assert out["nps"] == pytest.approx(30.0)
    assert out["nps_se"] == pytest.approx(100 * math.sqrt(0.061))


def test_shrinkage_gives_half_weight_at_n_equal_m_and_the_parent_at_n_zero() -> None:
    df = pl.DataFrame({"mean": [80.0, 80.0, None], "n": [10, 30, 0], "parent": [60.0] * 3})
    out = df.select(
        shrink_toward_parent(pl.col("mean"), pl.col("n"), pl.col("parent"), 10.0).alias("score")
    )["score"].to_list()
    # n = m = 10: (80 + 60)/2 = 70; n = 30: 0.75·80 + 0.25·60 = 75; n = 0: the parent, 60.
    assert out == pytest.approx([70.0, 75.0, 60.0])


def test_m_is_estimated_by_the_method_of_moments() -> None:
    # A: [60, 70, 80] mean 70 sd 10; B: [80, 90, 100] mean 90 sd 10; C: [50, 70] mean 60, s² 200.
    # σ²_within = (2·100 + 2·100 + 1·200)/5 = 120.
    # var(ȳ) over 70, 90, 60 = (3.33² + 16.67² + 13.33²)/2 = 233.33.
    # sampling = mean(120/3, 120/3, 120/2) = 46.67; τ² = 186.67; m = 120/186.67 = 9/14.
    scores = pl.LazyFrame({"code": list("AAABBBCC"), "index": [60.0, 70, 80, 80, 90, 100, 50, 70]})
    prior = estimate_m(unit_stats(scores, "code").collect(), Params())
    assert prior.sigma2_within == pytest.approx(120.0)
    assert prior.tau2_between == pytest.approx(560 / 3)
    assert prior.m == pytest.approx(9 / 14)


def test_no_between_unit_variance_caps_m() -> None:
    scores = pl.LazyFrame({"code": list("AABB"), "index": [60.0, 80, 60, 80]})
    prior = estimate_m(unit_stats(scores, "code").collect(), Params())
    assert prior.tau2_between <= 0
    assert prior.m == Params().m_when_no_between_variance


def test_overlapping_intervals_are_tied_and_small_units_are_not_ranked() -> None:
    stats = pl.DataFrame(
        {
            "code": ["A", "B", "C", "D", "E", "F"],
            "n": [100, 100, 100, 100, 20, 10],
            "score": [80.0, 78.0, 70.0, 60.0, 90.0, 95.0],
            "ci_low": [75.0, 74.0, 66.0, 55.0, 80.0, 70.0],
            "ci_high": [85.0, 82.0, 74.0, 65.0, 99.0, 99.0],
        }
    )
    out = {r["code"]: r for r in rank_with_ties(stats, Params()).iter_rows(named=True)}
    # B's interval reaches A's: a tie, both first. C (high 74 < 75) is third, D fourth.
    assert [(out[c]["rank"], out[c]["tie_group"]) for c in "ABCD"] == [
        (1, 1),
        (1, 1),
        (3, 2),
        (4, 3),
    ]
    assert out["E"]["rank"] is None and not out["E"]["insufficient_data"]  # 16 ≤ n < 62
    assert out["F"]["rank"] is None and out["F"]["insufficient_data"]  # n < 16


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(st.floats(0, 100), min_size=1, max_size=40),
    parent=st.floats(0, 100),
    m=st.floats(0.01, 500),
)
def test_shrunk_scores_stay_between_the_unit_and_parent_means(
    values: list[float], parent: float, m: float
) -> None:
    stats = unit_stats(
        pl.LazyFrame({"code": ["A"] * len(values), "index": values}), "code"
    ).collect()
    out = (
        stats.with_columns(pl.lit(parent).alias("parent"))
        .select(
            shrink_toward_parent(pl.col("mean"), pl.col("n"), pl.col("parent"), m).alias("score"),
            pl.col("mean"),
        )
        .row(0, named=True)
    )
    low, high = sorted((out["mean"], parent))
    assert low - 1e-9 <= out["score"] <= high + 1e-9
    assert 0 <= out["score"] <= 100 + 1e-9
