"""Satisfaction scores: pure functions from polars frames to polars frames.

The method (see ../shared/docs/domain.md):
- an item on [min, max] scores (x − min)/(max − min)·100 (already stored per answer);
- a dimension is the weighted mean of its answered items, the index the weighted mean of the
  dimensions (weights from the questionnaire version answered);
- a unit reports n, mean, standard deviation and the 95% interval mean ± 1.96·s/√n;
- the published score is the empirical-Bayes mean, shrunk toward the parent unit:
  θ = n/(n+m)·ȳ + m/(n+m)·μ_parent, with m = σ²_within/τ²_between estimated by the method of
  moments at each level in every run.
No database here: loading and storing sit at the edges (``load.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import polars as pl

from scoring.fixed import SCALE, exact_mean, exact_sd

Z95 = 1.959963984540054  # the 97.5% normal quantile


@dataclass(frozen=True, slots=True)
class Params:
    """Everything a run depends on besides its data; recorded with the run."""

    min_n_display: int = 16  # below: "insufficient data" (±10 at s≈20, domain.md)
    min_n_rank: int = 62  # below: not ranked (±5 at s≈20)
    area_self_weight: float = 0.5  # street/scenic spot: own responses vs its merchants'
    m_when_no_between_variance: float = 1000.0  # τ² ≤ 0: everyone close to the parent
    # A merchant counts toward its area's certification share at this published score
    # (the certification policy's satisfaction criterion; see certificates/).
    certification_threshold: float = 80.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> Params:
        """Parameters as recorded with a run (unknown keys ignored)."""
        d = cls()

        def number(key: str, default: float) -> float:
            value = values.get(key, default)
            return float(value) if isinstance(value, int | float) else default

        return cls(
            min_n_display=int(number("min_n_display", d.min_n_display)),
            min_n_rank=int(number("min_n_rank", d.min_n_rank)),
            area_self_weight=number("area_self_weight", d.area_self_weight),
            m_when_no_between_variance=number(
                "m_when_no_between_variance", d.m_when_no_between_variance
            ),
            certification_threshold=number("certification_threshold", d.certification_threshold),
        )


# --- per response ---------------------------------------------------------------------------


DIM_PREFIX = "dim_"


def response_scores(
    answers: pl.LazyFrame,
    responses: pl.LazyFrame,
    items: pl.LazyFrame,
    dimensions: pl.LazyFrame,
) -> pl.LazyFrame:
    """Per response: each dimension score and the index, one row per response.

    answers: response_id, survey_id, version, question_key, value_norm
    responses: response_id, survey_id, version, and any columns to carry along (only these
      responses are scored)
    items: survey_id, version, question_key, dimension, weight (scored items only)
    dimensions: survey_id, version, dimension, dim_weight
    → the columns of ``responses``, index, and a column ``dim_<key>`` per dimension (null
    when the response answered nothing in it)

    One pass over the answers: each answer, joined to its item, becomes a weighted value and
    a weight in the columns of its dimension (zero in the others); one group-by over
    responses then takes plain integer sums. Conditional sums inside the group-by, or a
    (response × dimension) frame, cost more at ten million answers (bench/scoring.py). The
    dimension weights join the million responses afterwards, by questionnaire version.
    """
    keys = sorted(dimensions.select("dimension").unique().collect()["dimension"].to_list())
    if not keys:  # no questionnaire scores anything (an empty database)
        return responses.clear().with_columns(pl.lit(None, pl.Float64).alias("index"))
    code = {k: i for i, k in enumerate(keys)}
    version = ["survey_id", "version"]
    weights = items.join(
        dimensions.select(*version, "dimension"), on=[*version, "dimension"], how="semi"
    ).select(
        *version,
        "question_key",
        pl.col("dimension").replace_strict(code, return_dtype=pl.Int8).alias("dim"),
        "weight",
        (pl.col("weight") * SCALE).round(0).cast(pl.Int64).alias("w"),
    )
    # Each term to fixed point once, before the group-by: the sums then add integers, exact
    # in any order.
    weighted = (pl.col("value_norm") * pl.col("weight") * SCALE).round(0).cast(pl.Int64)
    terms: list[pl.Expr] = []
    for key in keys:
        in_dim = pl.col("dim") == code[key]
        terms += [
            pl.when(in_dim).then(weighted).otherwise(0).alias(f"num_{key}"),
            pl.when(in_dim).then(pl.col("w")).otherwise(0).alias(f"den_{key}"),
        ]
    sums = (
        answers.select("response_id", *version, "question_key", "value_norm")
        .join(weights, on=[*version, "question_key"], how="inner")
        .select("response_id", *terms)
        .group_by("response_id")
        .agg(pl.exclude("response_id").sum())
    )
    dim_weights = (
        dimensions.filter(pl.col("dimension").is_in(keys))
        .collect()
        .pivot(on="dimension", index=version, values="dim_weight")
        .rename({k: f"w_{k}" for k in keys}, strict=False)
    )
    # The version comes from the response, not from the group-by: taking a first value per
    # group there costs a fifth of the whole step.
    per = responses.join(sums, on="response_id", how="inner").join(
        dim_weights.lazy(), on=version, how="left"
    )
    # A skipped optional item leaves the others' weights to carry the dimension; a dimension
    # with nothing answered drops out of the index. Elementwise, in a fixed key order: exact
    # to repeat.
    dims = [
        pl.when(pl.col(f"den_{k}") > 0)
        .then(pl.col(f"num_{k}").cast(pl.Float64) / pl.col(f"den_{k}").cast(pl.Float64))
        .alias(f"{DIM_PREFIX}{k}")
        for k in keys
    ]
    per = per.with_columns(dims)
    numerator = pl.sum_horizontal(
        [(pl.col(f"{DIM_PREFIX}{k}") * pl.col(f"w_{k}")).fill_null(0.0) for k in keys]
    )
    denominator = pl.sum_horizontal(
        [
            pl.when(pl.col(f"{DIM_PREFIX}{k}").is_not_null()).then(pl.col(f"w_{k}")).otherwise(0.0)
            for k in keys
        ]
    )
    return per.select(
        *responses.collect_schema().names(),
        (numerator / denominator).alias("index"),
        *[pl.col(f"{DIM_PREFIX}{k}") for k in keys],
    )


def dimension_columns(frame: pl.LazyFrame | pl.DataFrame) -> list[str]:
    names = frame.collect_schema().names() if isinstance(frame, pl.LazyFrame) else frame.columns
    return [c for c in names if c.startswith(DIM_PREFIX)]


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
        .agg(n, exact_mean(pl.col("index")).alias("mean"), exact_sd(pl.col("index")).alias("sd"))
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
    usable = stats.filter(pl.col("n") >= 2).sort("code")
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


# --- the whole city -------------------------------------------------------------------------

KINDS = ("merchant", "street", "scenic_spot", "district", "city")
OUTPUT_COLUMNS = (
    "kind",
    "code",
    "parent",
    "n",
    "n_excluded",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "score",
    "nps",
    "nps_se",
)


@dataclass(frozen=True, slots=True)
class Inputs:
    """What a run reads, as lazy frames (see ``load.py``).

    responses: response_id, survey_id, version, target_kind, target_code, excluded
    answers: response_id, survey_id, version, question_key, value_num, value_norm (the
      survey and version of the response, so no 10M-row join is needed to weigh them)
    items: survey_id, version, question_key, dimension, weight (scored items)
    dimensions: survey_id, version, dimension, dim_weight
    nps_items: survey_id, version, question_key
    merchants: code, district, area (its street or scenic spot, or null)
    areas: code, kind (street | scenic_spot | district | city), parent
    """

    responses: pl.LazyFrame
    answers: pl.LazyFrame
    items: pl.LazyFrame
    dimensions: pl.LazyFrame
    nps_items: pl.LazyFrame
    merchants: pl.LazyFrame
    areas: pl.LazyFrame


@dataclass(frozen=True, slots=True)
class CityScores:
    scores: pl.DataFrame  # one row per unit: OUTPUT_COLUMNS + dims + display columns
    dimensions: pl.DataFrame  # kind, code, dimension, mean
    priors: dict[str, Prior]  # per level: the m behind its shrinkage


def _per_response(inp: Inputs) -> pl.LazyFrame:
    """Index, dimension scores and NPS answer of each valid response, with its target."""
    valid = inp.responses.filter(~pl.col("excluded")).select(
        "response_id", "survey_id", "version", "target_kind", "target_code"
    )
    # Scoring every answer and dropping the few flagged responses afterwards is cheaper than
    # filtering ten million answers through a join first.
    scores = response_scores(inp.answers, valid, inp.items, inp.dimensions)
    nps = nps_values(inp.answers, inp.nps_items)
    return scores.drop("survey_id", "version").join(nps, on="response_id", how="left")


def _attach_units(index: pl.LazyFrame, inp: Inputs) -> pl.LazyFrame:
    """Each response with the merchant, area and district it counts toward."""
    merchants = inp.merchants.select(
        pl.col("code").alias("target_code"),
        pl.col("area").alias("m_area"),
        pl.col("district").alias("m_district"),
    )
    areas = inp.areas.filter(pl.col("kind").is_in(["street", "scenic_spot"])).select(
        pl.col("code").alias("target_code"), pl.col("parent").alias("a_district")
    )
    return (
        index.join(merchants, on="target_code", how="left")
        .join(areas, on="target_code", how="left")
        .with_columns(
            pl.when(pl.col("target_kind") == "merchant")
            .then(pl.col("target_code"))
            .alias("merchant"),
            pl.when(pl.col("target_kind") == "merchant")
            .then(pl.col("m_area"))
            .otherwise(pl.col("target_code"))
            .alias("area"),
            pl.coalesce("m_district", "a_district").alias("district"),
            pl.lit("city").alias("city"),
        )
    )


def _level(rows: pl.LazyFrame, column: str, kind: str) -> pl.LazyFrame:
    stats = unit_stats(
        rows.filter(pl.col(column).is_not_null()).select(pl.col(column).alias("code"), "index"),
        "code",
    )
    nps = nps_stats(
        rows.filter(pl.col(column).is_not_null() & pl.col("promoter").is_not_null()).select(
            pl.col(column).alias("code"), "promoter", "detractor"
        ),
        "code",
    )
    return stats.join(nps, on="code", how="left").with_columns(pl.lit(kind).alias("kind"))


def _blend_areas(rows: pl.LazyFrame, params: Params) -> pl.LazyFrame:
    """Streets and scenic spots: their own responses and their merchants', blended with the
    weight ``area_self_weight``; the interval combines both sampling variances."""
    w = params.area_self_weight
    own = unit_stats(
        rows.filter(pl.col("target_kind") != "merchant").select(
            pl.col("area").alias("code"), "index"
        ),
        "code",
    )
    shops = unit_stats(
        rows.filter((pl.col("target_kind") == "merchant") & pl.col("area").is_not_null()).select(
            pl.col("area").alias("code"), "index"
        ),
        "code",
    )
    pooled = unit_stats(
        rows.filter(pl.col("area").is_not_null()).select(pl.col("area").alias("code"), "index"),
        "code",
    )
    both = own.join(shops, on="code", how="full", coalesce=True, suffix="_shops")
    var = (pl.col("sd") ** 2 / pl.col("n")).fill_nan(None)
    var_shops = (pl.col("sd_shops") ** 2 / pl.col("n_shops")).fill_nan(None)
    blended = both.with_columns(
        pl.when(pl.col("n").is_null())
        .then(pl.col("mean_shops"))
        .when(pl.col("n_shops").is_null())
        .then(pl.col("mean"))
        .otherwise(w * pl.col("mean") + (1 - w) * pl.col("mean_shops"))
        .alias("blend_mean"),
        pl.when(pl.col("n").is_null())
        .then(var_shops)
        .when(pl.col("n_shops").is_null())
        .then(var)
        .otherwise(w**2 * var + (1 - w) ** 2 * var_shops)
        .alias("blend_var"),
    ).select("code", "blend_mean", "blend_var")
    nps = nps_stats(
        rows.filter(pl.col("area").is_not_null() & pl.col("promoter").is_not_null()).select(
            pl.col("area").alias("code"), "promoter", "detractor"
        ),
        "code",
    )
    return (
        pooled.select("code", "n", "sd")
        .join(blended, on="code", how="inner")
        .with_columns(
            pl.col("blend_mean").alias("mean"),
            (pl.col("blend_mean") - Z95 * pl.col("blend_var").sqrt()).alias("ci_low"),
            (pl.col("blend_mean") + Z95 * pl.col("blend_var").sqrt()).alias("ci_high"),
        )
        .select("code", "n", "mean", "sd", "ci_low", "ci_high")
        .join(nps, on="code", how="left")
    )


def score_city(inp: Inputs, params: Params) -> CityScores:
    rows = _attach_units(_per_response(inp), inp).cache()
    area_kinds = inp.areas.select("code", "kind")
    levels = pl.collect_all(
        [
            _level(rows, "merchant", "merchant"),
            _blend_areas(rows, params).join(area_kinds, on="code", how="inner"),
            _level(rows, "district", "district"),
            _level(rows, "city", "city"),
            _dimension_means(rows),
            inp.responses.filter(pl.col("excluded"))
            .group_by("target_code")
            .agg(pl.len().alias("n_excluded"))
            .sort("target_code"),
            inp.merchants.select("code", "district", "area"),
            inp.areas.select("code", "parent", "kind"),
        ]
    )
    merchants_s, areas_s, districts_s, city_s, dim_means, excluded, merchant_map, area_map = levels
    priors: dict[str, Prior] = {}

    city_mean = city_s["mean"][0] if city_s.height else None
    city = city_s.with_columns(
        pl.col("mean").alias("score"), pl.lit(None, pl.String).alias("parent")
    )
    priors["district"] = estimate_m(districts_s, params)
    districts = districts_s.with_columns(pl.lit("city").alias("parent")).with_columns(
        shrink_toward_parent(
            pl.col("mean"), pl.col("n"), pl.lit(city_mean), priors["district"].m
        ).alias("score")
    )
    district_score = dict(zip(districts["code"], districts["score"], strict=True))

    priors["area"] = estimate_m(areas_s, params)
    areas = areas_s.join(
        area_map.select("code", pl.col("parent").alias("district")), on="code", how="left"
    )
    areas = areas.with_columns(
        pl.col("district")
        .replace_strict(district_score, default=city_mean, return_dtype=pl.Float64)
        .alias("parent_score"),
        pl.col("district").alias("parent"),
    ).with_columns(
        shrink_toward_parent(
            pl.col("mean"), pl.col("n"), pl.col("parent_score"), priors["area"].m
        ).alias("score")
    )
    area_score = dict(zip(areas["code"], areas["score"], strict=True))

    priors["merchant"] = estimate_m(merchants_s, params)
    merchants = (
        merchants_s.join(merchant_map, on="code", how="left")
        .with_columns(
            pl.coalesce("area", "district").alias("parent"),
        )
        .with_columns(
            pl.when(pl.col("area").is_not_null() & pl.col("area").is_in(list(area_score)))
            .then(pl.col("area").replace_strict(area_score, default=None, return_dtype=pl.Float64))
            .otherwise(
                pl.col("district").replace_strict(
                    district_score, default=city_mean, return_dtype=pl.Float64
                )
            )
            .alias("parent_score"),
        )
        .with_columns(
            shrink_toward_parent(
                pl.col("mean"), pl.col("n"), pl.col("parent_score"), priors["merchant"].m
            ).alias("score")
        )
    )

    frames = []
    for frame in (merchants, areas, districts, city):
        frames.append(
            frame.with_columns(
                pl.col("n").cast(pl.Int64),
                *[
                    pl.col(c).cast(pl.Float64)
                    for c in ("mean", "sd", "ci_low", "ci_high", "score", "nps", "nps_se")
                ],
                pl.col("parent").cast(pl.String),
            ).select([c for c in OUTPUT_COLUMNS if c != "n_excluded"])
        )
    scores = pl.concat(frames, how="vertical")
    area_kind = dict(zip(area_map["code"], area_map["kind"], strict=True))
    excluded_by_unit = _with_area_kinds(
        _excluded_per_unit(excluded, merchant_map, area_map.select("code", "parent")), area_kind
    )
    scores = scores.join(excluded_by_unit, on=["kind", "code"], how="left").with_columns(
        pl.col("n_excluded").fill_null(0).cast(pl.Int64)
    )
    ranked = pl.concat(
        [rank_with_ties(scores.filter(pl.col("kind") == k), params) for k in KINDS],
        how="vertical",
    )
    dimensions = _with_area_kinds(dim_means, area_kind)
    order = pl.col("kind").replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int8)
    is_area = pl.col("kind").is_in(["street", "scenic_spot"])
    ranked = ranked.join(
        _merchant_figures(ranked, merchant_map, params), on="code", how="left"
    ).with_columns(
        pl.when(is_area).then(pl.col("merchants_scored").fill_null(0)).alias("merchants_scored"),
        pl.when(is_area).then(pl.col("share_certifiable")).alias("share_certifiable"),
    )
    return CityScores(
        scores=ranked.sort([order, pl.col("code")]).select(
            *OUTPUT_COLUMNS,
            "insufficient_data",
            "rank",
            "tie_group",
            "merchants_scored",
            "share_certifiable",
        ),
        dimensions=dimensions,
        priors=priors,
    )


def _merchant_figures(
    scores: pl.DataFrame, merchants: pl.DataFrame, params: Params
) -> pl.DataFrame:
    """Per street or scenic spot: merchants with a shown score, and the share of them at or
    above the certification threshold."""
    shown = scores.filter((pl.col("kind") == "merchant") & ~pl.col("insufficient_data"))
    per_area = (
        shown.join(merchants.select("code", "area"), on="code", how="inner")
        .filter(pl.col("area").is_not_null())
        .group_by("area")
        .agg(
            pl.len().cast(pl.Int64).alias("merchants_scored"),
            (pl.col("score") >= params.certification_threshold).mean().alias("share_certifiable"),
        )
        .rename({"area": "code"})
    )
    return per_area.sort("code")


def _excluded_per_unit(
    excluded: pl.DataFrame, merchants: pl.DataFrame, areas: pl.DataFrame
) -> pl.DataFrame:
    """Flagged responses per unit, counted where they would have counted."""
    m = excluded.join(merchants.rename({"code": "target_code"}), on="target_code", how="left")
    a = m.join(
        areas.rename({"code": "target_code", "parent": "a_parent"}), on="target_code", how="left"
    )
    rows = a.with_columns(
        pl.when(pl.col("district").is_not_null()).then(pl.col("target_code")).alias("merchant"),
        pl.when(pl.col("district").is_not_null())
        .then(pl.col("area"))
        .otherwise(pl.col("target_code"))
        .alias("unit_area"),
        pl.coalesce("district", "a_parent").alias("unit_district"),
    )
    parts = []
    for column, kind in (
        ("merchant", "merchant"),
        ("unit_area", "area"),
        ("unit_district", "district"),
    ):
        parts.append(
            rows.filter(pl.col(column).is_not_null())
            .group_by(column)
            .agg(pl.col("n_excluded").sum())
            .rename({column: "code"})
            .with_columns(pl.lit(kind).alias("level"))
        )
    parts.append(
        pl.DataFrame(
            {"code": ["city"], "n_excluded": [int(excluded["n_excluded"].sum())], "level": ["city"]}
        )
    )
    out = pl.concat([p.select("code", pl.col("n_excluded").cast(pl.Int64), "level") for p in parts])
    return (
        out.with_columns(pl.col("level").alias("kind"))
        .drop("level")
        .group_by("kind", "code")
        .agg(pl.col("n_excluded").sum())
    )


def _with_area_kinds(frame: pl.DataFrame, kinds: dict[str, str]) -> pl.DataFrame:
    """Rows counted per "area" get the area's own kind: street or scenic spot."""
    return frame.with_columns(
        pl.when(pl.col("kind") == "area")
        .then(pl.col("code").replace_strict(kinds, default="street", return_dtype=pl.String))
        .otherwise(pl.col("kind"))
        .alias("kind")
    )


def _dimension_means(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Mean of each dimension per unit (for the drill-down), in long form."""
    dims = dimension_columns(rows)
    parts = []
    for column, kind in (
        ("merchant", "merchant"),
        ("area", "area"),
        ("district", "district"),
        ("city", "city"),
    ):
        wide = (
            rows.filter(pl.col(column).is_not_null())
            .group_by(column)
            .agg([exact_mean(pl.col(d).drop_nulls()).alias(d) for d in dims])
        )
        parts.append(
            wide.unpivot(index=column, on=dims, variable_name="dimension", value_name="mean")
            .filter(pl.col("mean").is_not_null())
            .select(
                pl.lit(kind).alias("kind"),
                pl.col(column).alias("code"),
                pl.col("dimension").str.strip_prefix(DIM_PREFIX),
                "mean",
            )
        )
    return pl.concat(parts).sort("kind", "code", "dimension")
