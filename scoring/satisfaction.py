"""Satisfaction scores: pure functions from polars frames to polars frames.

The method (see ../shared/docs/domain.md):
- an item on [min, max] scores (x − min)/(max − min)·100 (already stored per answer);
- a dimension is the weighted mean of its answered items, the index the weighted mean of the
  dimensions (weights from the questionnaire version answered);
- a unit reports n, mean, standard deviation and the 95% interval mean ± 1.96·s/√n;
- the published score is the empirical-Bayes mean, shrunk toward the parent unit:
  θ = n/(n+m)·ȳ + m/(n+m)·μ_parent, with m = σ²_within/τ²_between estimated by the method of
  moments at each level in every run.
No database here: loading and storing sit at the edges (``scoring/load.py``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import polars as pl

Z95 = 1.959963984540054  # the 97.5% normal quantile


@dataclass(frozen=True, slots=True)
class Params:
    """Everything a run depends on besides its data; recorded with the run."""

    min_n_display: int = 16  # below: "insufficient data" (±10 at s≈20, domain.md)
    min_n_rank: int = 62  # below: not ranked (±5 at s≈20)
    area_self_weight: float = 0.5  # street/scenic spot: own responses vs its merchants'
    m_when_no_between_variance: float = 1000.0  # τ² ≤ 0: everyone close to the parent

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


# --- per response ---------------------------------------------------------------------------


def response_scores(
    answers: pl.LazyFrame, items: pl.LazyFrame, dimensions: pl.LazyFrame
) -> pl.LazyFrame:
    """Per response: one row with each dimension score and the index.

    answers: response_id, survey_id, version, question_key, value_norm
    items: survey_id, version, question_key, dimension, weight (scored items only)
    dimensions: survey_id, version, dimension, dim_weight
    → response_id, dimension scores in long form (dimension, dim_score) and index
    """
    scored = answers.join(items, on=["survey_id", "version", "question_key"], how="inner")
    per_dim = (
        scored.group_by("response_id", "survey_id", "version", "dimension")
        .agg(
            # A skipped optional item leaves the others' weights to carry the dimension.
            ((pl.col("value_norm") * pl.col("weight")).sum() / pl.col("weight").sum()).alias(
                "dim_score"
            )
        )
        .join(dimensions, on=["survey_id", "version", "dimension"], how="inner")
    )
    index = per_dim.group_by("response_id").agg(
        ((pl.col("dim_score") * pl.col("dim_weight")).sum() / pl.col("dim_weight").sum()).alias(
            "index"
        )
    )
    return per_dim.select("response_id", "dimension", "dim_score").join(
        index, on="response_id", how="inner"
    )


def nps_values(answers: pl.LazyFrame, nps_items: pl.LazyFrame) -> pl.LazyFrame:
    """response_id, promoter (9–10), detractor (0–6) from each response's NPS item."""
    return answers.join(nps_items, on=["survey_id", "version", "question_key"], how="inner").select(
        "response_id",
        (pl.col("value_num") >= 9).cast(pl.Int8).alias("promoter"),
        (pl.col("value_num") <= 6).cast(pl.Int8).alias("detractor"),
    )


# --- per unit -------------------------------------------------------------------------------


def unit_stats(scores: pl.LazyFrame, unit: str) -> pl.LazyFrame:
    """n, mean, sd and the 95% interval of the index per ``unit`` column.

    scores: one row per response with ``unit`` and ``index``.
    """
    n = pl.len().alias("n")
    return (
        scores.group_by(unit)
        .agg(n, pl.col("index").mean().alias("mean"), pl.col("index").std(ddof=1).alias("sd"))
        .with_columns(half_width().alias("half"))
        .with_columns(
            (pl.col("mean") - pl.col("half")).alias("ci_low"),
            (pl.col("mean") + pl.col("half")).alias("ci_high"),
        )
        .drop("half")
        .sort(unit)
    )


def half_width() -> pl.Expr:
    """1.96·s/√n; no interval from a single response."""
    return pl.when(pl.col("n") >= 2).then(Z95 * pl.col("sd") / pl.col("n").cast(pl.Float64).sqrt())


def nps_stats(nps: pl.LazyFrame, unit: str) -> pl.LazyFrame:
    """NPS = 100·(p₊ − p₋) and its standard error 100·√((p₊ + p₋ − (p₊ − p₋)²)/n)."""
    return (
        nps.group_by(unit)
        .agg(
            pl.len().alias("nps_n"),
            pl.col("promoter").mean().alias("p_plus"),
            pl.col("detractor").mean().alias("p_minus"),
        )
        .with_columns(
            (100 * (pl.col("p_plus") - pl.col("p_minus"))).alias("nps"),
            (
                100
                * (
                    (
                        pl.col("p_plus")
                        + pl.col("p_minus")
                        - (pl.col("p_plus") - pl.col("p_minus")) ** 2
                    )
                    / pl.col("nps_n")
                ).sqrt()
            ).alias("nps_se"),
        )
        .select(unit, "nps", "nps_se")
        .sort(unit)
    )


# --- shrinkage ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Prior:
    """The method-of-moments estimate behind one level's shrinkage."""

    sigma2_within: float
    tau2_between: float
    m: float


def estimate_m(stats: pl.DataFrame, params: Params) -> Prior:
    """m = σ²_within / τ²_between.

    σ²_within: the pooled within-unit variance Σ(n_j − 1)s_j² / Σ(n_j − 1);
    τ²_between: the variance of the unit means less the average sampling variance,
    var(ȳ_j) − mean(σ²_within/n_j). When that is not positive, the data show no real
    differences between units and m is capped.
    """
    usable = stats.filter(pl.col("n") >= 2)
    if usable.height < 2:
        return Prior(math.nan, math.nan, params.m_when_no_between_variance)
    moments = usable.select(
        (((pl.col("n") - 1) * pl.col("sd") ** 2).sum() / (pl.col("n") - 1).sum()).alias("s2"),
        pl.col("mean").var(ddof=1).alias("var_means"),
        (1 / pl.col("n").cast(pl.Float64)).mean().alias("mean_inv_n"),
    ).row(0, named=True)
    sigma2 = float(moments["s2"])
    var_means = float(moments["var_means"])
    sampling = sigma2 * float(moments["mean_inv_n"])
    tau2 = var_means - sampling
    if tau2 <= 0:
        return Prior(sigma2, tau2, params.m_when_no_between_variance)
    return Prior(sigma2, tau2, sigma2 / tau2)


def shrink_toward_parent(mean: pl.Expr, n: pl.Expr, parent_mean: pl.Expr, m: float) -> pl.Expr:
    """θ = n/(n+m)·ȳ + m/(n+m)·μ_parent; with no responses θ is the parent's mean."""
    n_f = n.cast(pl.Float64)
    return (
        pl.when(n_f > 0)
        .then(n_f / (n_f + m) * mean + m / (n_f + m) * parent_mean)
        .otherwise(parent_mean)
    )


# --- display --------------------------------------------------------------------------------


def rank_with_ties(stats: pl.DataFrame, params: Params) -> pl.DataFrame:
    """Rank units with n ≥ min_n_rank by score; a unit whose interval overlaps the interval of
    its group's leader joins that group (a statistical tie) and shares its rank.

    Adds: insufficient_data, rank, tie_group (both null for units not ranked).
    """
    flagged = stats.with_columns((pl.col("n") < params.min_n_display).alias("insufficient_data"))
    ranked = flagged.filter(pl.col("n") >= params.min_n_rank).sort(
        ["score", "code"], descending=[True, False]
    )
    ranks: list[int] = []
    groups: list[int] = []
    group = 0
    leader_low = math.inf
    rank = 0
    for position, (high, low) in enumerate(
        zip(ranked["ci_high"].to_list(), ranked["ci_low"].to_list(), strict=True), start=1
    ):
        if group == 0 or high is None or high < leader_low:
            group += 1
            rank = position
            leader_low = low if low is not None else -math.inf
        ranks.append(rank)
        groups.append(group)
    ranked = ranked.with_columns(
        pl.Series("rank", ranks, dtype=pl.Int64),
        pl.Series("tie_group", groups, dtype=pl.Int64),
    ).select("code", "rank", "tie_group")
    return flagged.join(ranked, on="code", how="left").sort("code")
