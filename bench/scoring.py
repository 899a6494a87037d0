"""The satisfaction computation on a synthetic city: polars (ours) against pandas and DuckDB.

    .venv/bin/python bench/scoring.py [--responses 1000000] [--runs 5] [--merchants 50000]

Data (numpy, seeded; written once to Parquet in a temporary folder, then read by each engine in
its own fresh process, so that its peak memory is its own): ``--responses`` responses, each
answering the 10 scored items of a city questionnaire, in long format (one answer per row);
two questionnaire versions with different item weights, so the item lookup needs survey,
version and question key; about 3% of the responses flagged ``excluded``; likert answers 1–5
stored normalised, (x − 1)/4·100; ``--merchants`` merchants on 500 streets and scenic spots in
10 districts, with heavy-tailed (log-normal) popularity. Column types as
``scoring/satisfaction/load.py`` reads them: ids Int64, codes and keys strings, answers sorted
by (response_id, question_key) and carrying their response's survey and version (the loader's
query joins them in).

The computation, from each engine's in-memory input tables to its result tables:

1. Drop the excluded responses.
2. Per response, each dimension's score is the weighted mean of its answered items' 0–100
   values, Σ w·x / Σ w with the item weights of the response's (survey, version); the index is
   the weighted mean of the dimension scores, Σ d·v / Σ v, dimension weights v 0.35/0.35/0.30.
3. Per merchant and per street (a merchant's responses count toward its street): n, mean, sd
   (n − 1) and the 95% interval mean ± 1.959963984540054·sd/√n (sd and interval null for
   n = 1). The city mean: the mean index of all valid responses.
4. Per level, the method-of-moments m over the units with n ≥ 2: σ² = Σ(n − 1)s²/Σ(n − 1),
   τ² = var(means, n − 1) − mean(σ²/n), m = σ²/τ²; m = 1000 if τ² ≤ 0 or fewer than 2 units.
5. Street score θ = n/(n+m)·ȳ + m/(n+m)·(city mean); merchant score the same toward its
   street's score (the city mean for a merchant without a street).
6. Merchants with n ≥ 62 ranked 1, 2, 3, … by score, descending, ties broken by code (rank by
   position; the others unranked).

polars runs the project's own code as shipped: ``response_scores``, ``unit_stats``,
``estimate_m``, ``shrink_toward_parent`` and ``Params`` from ``scoring.satisfaction.scores``,
composed as ``score_city`` composes them (its ``_per_response`` step without NPS, the
per-response rows ``.cache()``d, the levels collected together with the default engine).
``score_city`` itself is not what is compared, because it computes more: streets blend their
own responses with their merchants', districts, NPS, dimension means, excluded counts, and
``rank_with_ties`` gives units whose intervals overlap their group leader's the leader's rank
(a Python loop).

Our building blocks take every sum in fixed point, each term rounded to 1e-9 (squares to
1e-6), so that runs are bit-identical whatever the order of the terms. That is part of the
computation: floating-point sums give merchant scores that differ from ours by ~1e-8 (the
squares' rounding moves the pooled σ² by ~6e-10 relative, hence m, hence θ). So the peers
that must match to 1e-9 ("pandas", "DuckDB") take the same fixed-point sums, each as fast as
it can (numpy ``rint`` and int64 sums; SQL casts to BIGINT, half to even like polars'
``round``); and each peer is also timed with its native floating-point aggregates ("float
sums"), the fastest it goes, whose differences are printed but not held to 1e-9. "polars,
streaming" is the same project code with ``engine="streaming"`` (bit-identical, checked).

pandas: factorize the keys once, per-(response, dimension) sums with ``np.bincount`` over
dense group numbers (faster than ``groupby().sum()`` here; exact, as every such sum of
integers stays far below 2⁵³), per-unit integer sums with ``groupby().sum()`` (int64: exact);
no Python loop over rows. DuckDB: one SQL statement over its own in-memory tables (loaded
from the Parquet files beforehand, as the others' frames are). Its best form found: every
answer scored in one group-by over responses with a ``FILTER``ed sum per dimension, the valid
responses joined to the million per-response rows afterwards (0.74–0.78 s here, against
0.86–0.94 s for a (response × dimension) group-by and a second one over it, and 1.06–1.12 s
when the answers of valid responses are first joined out of the ten million).
polars and DuckDB use both cores; pandas/numpy one.

Each engine: one warm-up call (reported as "first"), then ``--runs`` timed calls: median and
range. Peak RSS: VmHWM of the engine's process, reset once its data are loaded (so it is the
peak over the runs, input tables included); "data" is its VmRSS once loaded.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path and this file would shadow the
# ``scoring`` package: put the project root there instead.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from bench.figures import record  # noqa: E402

Z95 = 1.959963984540054
SCALE = 1_000_000_000  # as scoring.fixed.SCALE / SQUARE_SCALE
SQUARE_SCALE = 1_000_000
MIN_N_RANK = 62
M_WHEN_NO_BETWEEN_VARIANCE = 1000.0
TABLES = ("responses", "answers", "items", "dimensions", "merchants")
RESULT_COLUMNS = ["code", "n", "mean", "sd", "ci_low", "ci_high", "score", "rank", "m"]
STREET_COLUMNS = ["code", "n", "mean", "sd", "ci_low", "ci_high", "score", "m"]
SURVEY_ID = 7
# The scored items (question key → dimension) and, per questionnaire version, their weights
# (summing to 1 within each dimension); the dimension weights.
ITEMS = {
    "quality": "supply",
    "variety": "supply",
    "price": "supply",
    "safety": "environment",
    "honesty": "environment",
    "convenience": "environment",
    "facilities": "environment",
    "channels": "rights",
    "handling": "rights",
    "compensation": "rights",
}
ITEM_WEIGHTS = {
    1: (0.4, 0.3, 0.3, 0.25, 0.25, 0.25, 0.25, 0.3, 0.4, 0.3),
    2: (0.45, 0.2, 0.35, 0.3, 0.3, 0.2, 0.2, 0.25, 0.45, 0.3),
}
DIMENSION_WEIGHTS = {"supply": 0.35, "environment": 0.35, "rights": 0.30}
REFERENCE = (  # ../shared/docs/benchmarks.md: 2 vCPU Xeon, same sizes
    "polars 0.23–0.34 s (streaming engine); DuckDB 0.27–0.31 s; pandas 0.77–1.2 s "
    "(3.4× polars, first call 3.7 s, 1.65 GB peak)"
)


# --- data -----------------------------------------------------------------------------------


def generate(n_responses: int, n_merchants: int, seed: int) -> dict[str, Any]:
    """The synthetic city as Arrow tables (numpy, seeded)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    n_districts, n_areas = 10, 500

    district_codes = np.array([f"4117{d + 2:02d}" for d in range(n_districts)], dtype=object)
    area_district = rng.integers(0, n_districts, n_areas)
    area_codes = np.array(
        [f"{district_codes[d]}{i:06d}" for i, d in enumerate(area_district)], dtype=object
    )
    # Streets differ in size too; every merchant is on a street or in a scenic spot.
    merchant_area = rng.choice(n_areas, n_merchants, p=_share(rng.lognormal(0, 0.6, n_areas)))
    merchant_codes = pa.array([f"92411700MA{i:08d}" for i in range(n_merchants)], pa.string())
    merchants = pa.table(
        {
            "code": merchant_codes,
            "district": pa.array(district_codes[area_district[merchant_area]], pa.string()),
            "area": pa.array(area_codes[merchant_area], pa.string()),
        }
    )

    # Heavy-tailed popularity, log-normal σ = 1.3: at the default size 47,142 merchants have
    # responses, the median 9, the busiest 2,355; 3,098 reach n ≥ 62.
    target = rng.choice(n_merchants, n_responses, p=_share(rng.lognormal(0, 1.3, n_merchants)))
    latent = (
        3.8
        + rng.normal(0, 0.25, n_areas)[merchant_area[target]]  # the street
        + rng.normal(0, 0.35, n_merchants)[target]  # the merchant
        + rng.normal(0, 0.5, n_responses)  # the visit
    )
    keys = sorted(ITEMS)  # answers are read sorted by (response_id, question_key)
    item_bias = rng.normal(0, 0.3, len(keys))
    noise = rng.standard_normal((n_responses, len(keys)), dtype=np.float32)
    likert = np.clip(np.rint(latent[:, None] + item_bias[None, :] + 0.8 * noise), 1, 5)
    value_norm = ((likert - 1) / 4 * 100).astype(np.float64).ravel()
    del noise, likert

    # Ids as a database hands them out: increasing, with gaps.
    response_id = 1_000_000 + np.cumsum(rng.integers(1, 4, n_responses, dtype=np.int64))
    responses = pa.table(
        {
            "response_id": response_id,
            "survey_id": np.full(n_responses, SURVEY_ID, dtype=np.int64),
            "version": np.where(rng.random(n_responses) < 0.25, 1, 2).astype(np.int64),
            "target_code": merchant_codes.take(pa.array(target)),
            "excluded": rng.random(n_responses) < 0.03,
        }
    )
    key_index = pa.array(np.tile(np.arange(len(keys), dtype=np.int8), n_responses))
    answers = pa.table(
        {
            "response_id": np.repeat(response_id, len(keys)),
            "survey_id": np.repeat(responses["survey_id"].to_numpy(), len(keys)),
            "version": np.repeat(responses["version"].to_numpy(), len(keys)),
            "question_key": pa.DictionaryArray.from_arrays(key_index, pa.array(keys)).cast(
                pa.string()
            ),
            "value_norm": value_norm,
        }
    )
    versions = list(ITEM_WEIGHTS)
    items = pa.table(
        {
            "survey_id": pa.array([SURVEY_ID] * len(ITEMS) * len(versions), pa.int64()),
            "version": pa.array([v for v in versions for _ in ITEMS], pa.int64()),
            "question_key": pa.array([k for _ in versions for k in ITEMS], pa.string()),
            "dimension": pa.array([d for _ in versions for d in ITEMS.values()], pa.string()),
            "weight": pa.array([w for v in versions for w in ITEM_WEIGHTS[v]], pa.float64()),
        }
    )
    dimensions = pa.table(
        {
            "survey_id": pa.array([SURVEY_ID] * len(DIMENSION_WEIGHTS) * len(versions), pa.int64()),
            "version": pa.array([v for v in versions for _ in DIMENSION_WEIGHTS], pa.int64()),
            "dimension": pa.array([d for _ in versions for d in DIMENSION_WEIGHTS], pa.string()),
            "dim_weight": pa.array(
                [w for _ in versions for w in DIMENSION_WEIGHTS.values()], pa.float64()
            ),
        }
    )
    return {
        "responses": responses,
        "answers": answers,
        "items": items,
        "dimensions": dimensions,
        "merchants": merchants,
    }


def _share(weights: Any) -> Any:
    return weights / weights.sum()


def write_parquet(tables: dict[str, Any], folder: Path) -> int:
    import pyarrow.parquet as pq

    size = 0
    for name, table in tables.items():
        path = folder / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        size += path.stat().st_size
    return size


# --- polars: the project's own functions ----------------------------------------------------


def polars_load(folder: Path, engine: str | None = None) -> dict[str, Any]:
    import polars as pl

    if engine is not None:
        pl.Config.set_engine_affinity(engine)
    return {name: pl.read_parquet(folder / f"{name}.parquet") for name in TABLES}


def polars_city(frames: dict[str, Any]) -> dict[str, Any]:
    import polars as pl

    from scoring.satisfaction.scores import (
        Params,
        estimate_m,
        response_scores,
        shrink_toward_parent,
        unit_stats,
    )

    params = Params()
    valid = (
        frames["responses"]
        .lazy()
        .filter(~pl.col("excluded"))
        .select("response_id", "survey_id", "version", "target_code")
    )
    # As score_city's _per_response (less NPS): every answer scored, one row per valid
    # response with its dimension scores, index and target.
    scores = response_scores(
        frames["answers"].lazy(), valid, frames["items"].lazy(), frames["dimensions"].lazy()
    )
    index = scores.select("response_id", "index", "target_code")
    rows = index.join(
        frames["merchants"].lazy().select(pl.col("code").alias("target_code"), "area"),
        on="target_code",
        how="left",
    ).cache()
    merchants_s, streets_s, city_s = pl.collect_all(
        [
            unit_stats(rows.select(pl.col("target_code").alias("code"), "index"), "code"),
            unit_stats(
                rows.filter(pl.col("area").is_not_null()).select(
                    pl.col("area").alias("code"), "index"
                ),
                "code",
            ),
            unit_stats(rows.select(pl.lit("city").alias("code"), "index"), "code"),
        ]
    )
    city_mean = city_s["mean"][0]

    street_prior = estimate_m(streets_s, params)
    streets = streets_s.with_columns(
        shrink_toward_parent(pl.col("mean"), pl.col("n"), pl.lit(city_mean), street_prior.m).alias(
            "score"
        ),
        pl.lit(street_prior.m).alias("m"),
    )
    merchant_prior = estimate_m(merchants_s, params)
    parent = (
        frames["merchants"]
        .select("code", "area")
        .join(
            streets.select(pl.col("code").alias("area"), pl.col("score").alias("parent_score")),
            on="area",
            how="left",
        )
    )
    ranked = pl.col("n") >= params.min_n_rank
    merchants = (
        merchants_s.join(parent, on="code", how="left")
        .with_columns(
            shrink_toward_parent(
                pl.col("mean"),
                pl.col("n"),
                pl.col("parent_score").fill_null(city_mean),
                merchant_prior.m,
            ).alias("score"),
            pl.lit(merchant_prior.m).alias("m"),
        )
        .sort(["score", "code"], descending=[True, False])
        .with_columns(pl.when(ranked).then(ranked.cum_sum().cast(pl.Int64)).alias("rank"))
        .sort("code")
    )
    return {
        "merchants": merchants.select(RESULT_COLUMNS),
        "streets": streets.select(STREET_COLUMNS),
    }


def polars_save(result: dict[str, Any], folder: Path, engine: str) -> None:
    for level, frame in result.items():
        frame.write_parquet(folder / f"result-{engine}-{level}.parquet")


# --- pandas ---------------------------------------------------------------------------------


def pandas_load(folder: Path) -> dict[str, Any]:
    import pandas as pd

    return {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}


def pandas_city(frames: dict[str, Any], fixed: bool = True) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    responses, answers = frames["responses"], frames["answers"]
    items, dims = frames["items"], frames["dimensions"]

    valid = responses[~responses["excluded"].to_numpy()]
    n_valid = len(valid)
    # Each answer's valid response (−1: excluded), each valid response's questionnaire.
    row = pd.Index(valid["response_id"]).get_indexer(answers["response_id"])
    versions = pd.MultiIndex.from_frame(
        pd.concat([items[["survey_id", "version"]], dims[["survey_id", "version"]]])
        .drop_duplicates()
        .reset_index(drop=True)
    )
    version = versions.get_indexer(pd.MultiIndex.from_frame(valid[["survey_id", "version"]]))

    # Small lookup tables: (version, question key) → item; (version, dimension) → weight.
    key_codes, key_names = pd.factorize(answers["question_key"])
    dim_names = pd.Index(pd.concat([items["dimension"], dims["dimension"]]).unique())
    item_version = versions.get_indexer(pd.MultiIndex.from_frame(items[["survey_id", "version"]]))
    item_key = pd.Index(key_names).get_indexer(items["question_key"])
    item_of = np.full((len(versions), len(key_names)), -1, dtype=np.int64)
    known = item_key >= 0
    item_of[item_version[known], item_key[known]] = np.flatnonzero(known)
    item_dim = dim_names.get_indexer(items["dimension"])
    item_weight = items["weight"].to_numpy(dtype=np.float64)
    dim_weight = np.full((len(versions), len(dim_names)), np.nan)
    dim_version = versions.get_indexer(pd.MultiIndex.from_frame(dims[["survey_id", "version"]]))
    dim_weight[dim_version, dim_names.get_indexer(dims["dimension"])] = dims["dim_weight"]

    # Per (response, dimension) over the scored answers of valid responses: Σ w·x and Σ w.
    keep = row >= 0
    row = row[keep]
    item = item_of[version[row], key_codes[keep]]
    scored = item >= 0
    row, item = row[scored], item[scored]
    x = answers["value_norm"].to_numpy()[keep][scored]
    w = item_weight[item]
    n_dims = len(dim_names)
    cell = row * n_dims + item_dim[item]
    wx, w = x * w, w
    if fixed:  # integers (as floats: these sums stay far below 2⁵³, so they are exact)
        wx, w = np.rint(wx * SCALE), np.rint(w * SCALE)
    swx = np.bincount(cell, weights=wx, minlength=n_valid * n_dims).reshape(n_valid, n_dims)
    sw = np.bincount(cell, weights=w, minlength=n_valid * n_dims).reshape(n_valid, n_dims)
    dw = dim_weight[version]
    present = (sw > 0) & ~np.isnan(dw)
    dim_score = np.divide(swx, sw, out=np.zeros_like(swx), where=present)
    dw = np.where(present, dw, 0.0)
    dx = dim_score * dw
    if fixed:
        dx, dw = np.rint(dx * SCALE), np.rint(dw * SCALE)
    with np.errstate(invalid="ignore", divide="ignore"):
        index = dx.sum(axis=1) / dw.sum(axis=1)
    has_index = ~np.isnan(index)  # a response with no scored answer has none
    index = index[has_index]

    # Units: merchants numbered in code order; each merchant's street.
    merchant, merchant_codes = pd.factorize(valid["target_code"][has_index], sort=True)
    m_area = frames["merchants"].set_index("code")["area"].reindex(merchant_codes)
    street_of, street_codes = pd.factorize(m_area, sort=True)
    street = street_of[merchant]
    on_street = street >= 0
    stats = _fixed_stats if fixed else _float_stats
    m = stats(merchant, index, len(merchant_codes))
    s = stats(street[on_street], index[on_street], len(street_codes))
    if fixed:
        city_mean = float(np.rint(index * SCALE).astype(np.int64).sum()) / SCALE / len(index)
    else:
        city_mean = float(index.mean())

    s_m = _np_m(s)
    s_score = _np_shrink(s["n"], s["mean"], city_mean, s_m)
    m_m = _np_m(m)
    parent = np.where(street_of >= 0, s_score[street_of], city_mean)
    m_score = _np_shrink(m["n"], m["mean"], parent, m_m)

    eligible = np.flatnonzero(m["n"] >= MIN_N_RANK)
    order = eligible[np.lexsort((eligible, -m_score[eligible]))]  # code order breaks ties
    rank = np.full(len(merchant_codes), np.nan)
    rank[order] = np.arange(1, len(order) + 1)

    merchants = pd.DataFrame(
        {"code": merchant_codes, **m, "score": m_score, "rank": pd.array(rank, dtype="Int64")}
    ).assign(m=m_m)
    streets = pd.DataFrame({"code": street_codes, **s, "score": s_score}).assign(m=s_m)
    return {"merchants": merchants[RESULT_COLUMNS], "streets": streets[STREET_COLUMNS]}


def _fixed_stats(group: Any, values: Any, size: int) -> dict[str, Any]:
    """n, mean, sd and interval per dense group number, from exact integer sums taken as
    scoring.fixed takes them (terms rounded to 1e-9, squares to 1e-6)."""
    import numpy as np
    import pandas as pd

    sums = (
        pd.DataFrame(
            {
                "total": np.rint(values * SCALE).astype(np.int64),
                "squares": np.rint(values**2 * SQUARE_SCALE).astype(np.int64),
            }
        )
        .groupby(group)
        .sum()
        .reindex(range(size), fill_value=0)
    )
    n = np.bincount(group, minlength=size).astype(np.float64)
    total = sums["total"].to_numpy().astype(np.float64) / SCALE
    squares = sums["squares"].to_numpy().astype(np.float64) / SQUARE_SCALE
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
        variance = np.clip((squares - total * total / n) / (n - 1), 0.0, None)
        sd = np.where(n >= 2, np.sqrt(variance), np.nan)
        half = Z95 * sd / np.sqrt(n)
    return {
        "n": n.astype(np.int64),
        "mean": mean,
        "sd": sd,
        "ci_low": mean - half,
        "ci_high": mean + half,
    }


def _float_stats(group: Any, values: Any, size: int) -> dict[str, Any]:
    """n, mean, sd (two passes) and interval per dense group number, in floating point."""
    import numpy as np

    n = np.bincount(group, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(group, weights=values, minlength=size) / n
        dev = values - mean[group]
        ss = np.bincount(group, weights=dev * dev, minlength=size)
        sd = np.where(n >= 2, np.sqrt(ss / (n - 1)), np.nan)
        half = Z95 * sd / np.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def _np_m(stats: dict[str, Any]) -> float:
    import numpy as np

    usable = stats["n"] >= 2
    if usable.sum() < 2:
        return M_WHEN_NO_BETWEEN_VARIANCE
    n = stats["n"][usable].astype(np.float64)
    sigma2 = ((n - 1) * stats["sd"][usable] ** 2).sum() / (n - 1).sum()
    tau2 = np.var(stats["mean"][usable], ddof=1) - sigma2 * (1 / n).mean()
    return float(sigma2 / tau2) if tau2 > 0 else M_WHEN_NO_BETWEEN_VARIANCE


def _np_shrink(n: Any, mean: Any, parent: Any, m: float) -> Any:
    return n / (n + m) * mean + m / (n + m) * parent


def pandas_save(result: dict[str, Any], folder: Path, engine: str) -> None:
    for level, frame in result.items():
        frame.to_parquet(folder / f"result-{engine}-{level}.parquet", index=False)


# --- DuckDB ---------------------------------------------------------------------------------


def duckdb_sql(fixed: bool) -> str:
    """The whole computation as one statement; ``fixed``: sums as scoring.fixed takes
    them (a CAST of a DOUBLE to BIGINT rounds half to even, as polars' ``round``)."""

    def fixed_sum(x: str, scale: str = "1e9") -> str:
        return f"CAST(sum(CAST({x} * {scale} AS BIGINT)) AS DOUBLE)"

    if fixed:
        unit_sums = f"""count(*) AS n, {fixed_sum("idx")} / 1e9 AS total,
                        {fixed_sum("idx * idx", "1e6")} / 1e6 AS squares"""
        unit_stats = """n, total / n AS mean,
                        CASE WHEN n >= 2 THEN
                             sqrt(greatest((squares - total * total / n) / (n - 1), 0)) END AS sd"""
        city = f"SELECT {fixed_sum('idx')} / 1e9 / count(*) AS mean FROM scored"  # noqa: S608
    else:
        unit_sums = "count(*) AS n, avg(idx) AS mean, stddev_samp(idx) AS sd"
        unit_stats = "n, mean, sd"
        city = "SELECT avg(idx) AS mean FROM scored"

    def m_of(stats: str) -> str:
        return f"""
        SELECT CASE WHEN units < 2 OR var_means - s2 * mean_inv_n <= 0
                    THEN {M_WHEN_NO_BETWEEN_VARIANCE}
                    ELSE s2 / (var_means - s2 * mean_inv_n) END AS m
        FROM (
            SELECT count(*) AS units, sum((n - 1) * sd * sd) / sum(n - 1) AS s2,
                   var_samp(mean) AS var_means, avg(1.0 / n) AS mean_inv_n
            FROM {stats} WHERE n >= 2
        )"""  # noqa: S608 - built from this module's constants only

    # Per response, one group-by with a filtered sum per dimension (as polars takes them):
    # cheaper in DuckDB than a (response × dimension) group-by and a second one over it.
    dims = range(1, len(DIMENSION_WEIGHTS) + 1)
    if fixed:
        sums = ", ".join(
            f"sum(CAST(a.value_norm * i.weight * 1e9 AS BIGINT)) FILTER (dim_no = {k}) AS num{k}, "
            f"sum(CAST(i.weight * 1e9 AS BIGINT)) FILTER (dim_no = {k}) AS den{k}"
            for k in dims
        )
    else:
        sums = ", ".join(
            f"sum(a.value_norm * i.weight) FILTER (dim_no = {k}) AS num{k}, "
            f"sum(i.weight) FILTER (dim_no = {k}) AS den{k}"
            for k in dims
        )
    dim_scores = ", ".join(
        f"CASE WHEN den{k} > 0 THEN CAST(num{k} AS DOUBLE) / CAST(den{k} AS DOUBLE) END AS d{k}"
        for k in dims
    )
    index = (
        "("
        + " + ".join(f"coalesce(d{k} * w{k}, 0)" for k in dims)
        + ") / ("
        + " + ".join(f"CASE WHEN d{k} IS NOT NULL THEN w{k} ELSE 0 END" for k in dims)
        + ")"
    )
    weights = ", ".join(f"max(dim_weight) FILTER (dim_no = {k}) AS w{k}" for k in dims)

    return f"""
WITH valid AS (
    SELECT response_id, survey_id, version, target_code FROM responses WHERE NOT excluded
),
item_weights AS (
    SELECT i.survey_id, i.version, i.question_key, i.weight, d.dim_weight,
           dense_rank() OVER (ORDER BY i.dimension)::USMALLINT AS dim_no
    FROM items i JOIN dimensions d
      ON d.survey_id = i.survey_id AND d.version = i.version AND d.dimension = i.dimension
),
version_weights AS (
    SELECT survey_id, version, {weights} FROM item_weights GROUP BY survey_id, version
),
per_sums AS (
    SELECT a.response_id, {sums}
    FROM answers a JOIN item_weights i
      ON i.survey_id = a.survey_id AND i.version = a.version AND i.question_key = a.question_key
    GROUP BY a.response_id
),
per_response AS (
    SELECT response_id, {index} AS idx
    FROM (
        SELECT s.response_id, {dim_scores}, {", ".join(f"w.w{k}" for k in dims)}
        FROM per_sums s
        JOIN valid v ON v.response_id = s.response_id
        JOIN version_weights w ON w.survey_id = v.survey_id AND w.version = v.version
    )
),
scored AS MATERIALIZED (
    SELECT v.target_code AS merchant, m.area AS street, r.idx
    FROM per_response r
    JOIN valid v ON v.response_id = r.response_id
    LEFT JOIN merchants m ON m.code = v.target_code
),
merchant_stats AS MATERIALIZED (
    SELECT code, street, {unit_stats} FROM (
        SELECT merchant AS code, any_value(street) AS street, {unit_sums}
        FROM scored GROUP BY merchant)
),
street_stats AS MATERIALIZED (
    SELECT code, {unit_stats} FROM (
        SELECT street AS code, {unit_sums} FROM scored WHERE street IS NOT NULL GROUP BY street)
),
city AS ({city}),
street_m AS ({m_of("street_stats")}),
merchant_m AS ({m_of("merchant_stats")}),
streets AS (
    SELECT s.code, s.n, s.mean, s.sd, p.m,
           s.n / (s.n + p.m) * s.mean + p.m / (s.n + p.m) * c.mean AS score
    FROM street_stats s CROSS JOIN street_m p CROSS JOIN city c
),
merchants AS (
    SELECT u.code, u.n, u.mean, u.sd, p.m,
           u.n / (u.n + p.m) * u.mean + p.m / (u.n + p.m) * coalesce(s.score, c.mean) AS score
    FROM merchant_stats u
    LEFT JOIN streets s ON s.code = u.street
    CROSS JOIN merchant_m p CROSS JOIN city c
),
units AS (
    SELECT 'merchant' AS level, *,
           CASE WHEN n >= {MIN_N_RANK} THEN row_number() OVER (
               PARTITION BY n >= {MIN_N_RANK} ORDER BY score DESC, code) END AS rank
    FROM merchants
    UNION ALL
    SELECT 'street' AS level, *, NULL AS rank FROM streets
)
SELECT level, code, n, mean, sd,
       CASE WHEN n >= 2 THEN mean - {Z95} * sd / sqrt(n) END AS ci_low,
       CASE WHEN n >= 2 THEN mean + {Z95} * sd / sqrt(n) END AS ci_high,
       score, rank, m
FROM units ORDER BY level, code
"""  # noqa: S608


def duckdb_load(folder: Path) -> Any:
    import duckdb

    con = duckdb.connect()
    for name in TABLES:
        path = str(folder / f"{name}.parquet").replace("'", "''")
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet('{path}')")  # noqa: S608
    return con


def duckdb_city(con: Any, fixed: bool = True) -> dict[str, Any]:
    return {"units": con.sql(duckdb_sql(fixed)).to_arrow_table()}


def duckdb_save(result: dict[str, Any], folder: Path, engine: str) -> None:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    units = result["units"]
    for level, columns in (("merchants", RESULT_COLUMNS), ("streets", STREET_COLUMNS)):
        part = units.filter(pc.equal(units["level"], level.removesuffix("s"))).select(columns)
        pq.write_table(part, folder / f"result-{engine}-{level}.parquet")


# --- harness --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Engine:
    name: str
    label: str
    load: Callable[[Path], Any]
    run: Callable[[Any], dict[str, Any]]
    save: Callable[[dict[str, Any], Path, str], None]
    must_match: bool  # same computation as polars: merchant scores within 1e-9


ENGINES = (
    Engine(
        "polars",
        "polars, our scoring.satisfaction (default engine)",
        polars_load,
        polars_city,
        polars_save,
        True,
    ),
    Engine(
        "polars-streaming",
        "polars, same code, engine=streaming",
        partial(polars_load, engine="streaming"),
        polars_city,
        polars_save,
        True,
    ),
    Engine("pandas", "pandas + numpy", pandas_load, pandas_city, pandas_save, True),
    Engine("duckdb", "DuckDB SQL", duckdb_load, duckdb_city, duckdb_save, True),
    Engine(
        "pandas-float",
        "pandas + numpy, float sums",
        pandas_load,
        partial(pandas_city, fixed=False),
        pandas_save,
        False,
    ),
    Engine(
        "duckdb-float",
        "DuckDB SQL, float sums",
        duckdb_load,
        partial(duckdb_city, fixed=False),
        duckdb_save,
        False,
    ),
)


def _proc_status(field: str) -> int:
    """A /proc/self/status memory figure, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def measure(name: str, folder: Path, runs: int) -> dict[str, Any]:
    """In a fresh process: load one engine's tables, call it 1 + ``runs`` times, save the
    last result for the comparison."""
    engine = next(e for e in ENGINES if e.name == name)
    started = time.perf_counter()
    data = engine.load(folder)
    load_s = time.perf_counter() - started
    gc.collect()
    data_rss = _proc_status("VmRSS")
    reset = _reset_peak()
    times = []
    result: dict[str, Any] = {}
    for _ in range(1 + runs):
        del result
        gc.collect()
        started = time.perf_counter()
        result = engine.run(data)
        times.append(time.perf_counter() - started)
    peak = _proc_status("VmHWM")
    engine.save(result, folder, name)
    return {
        "load": load_s,
        "first": times[0],
        "times": times[1:],
        "data_rss": data_rss,
        "peak_rss": peak,
        "peak_reset": reset,
    }


def compare(folder: Path, engine: str, level: str) -> tuple[bool, dict[str, float]]:
    """(same codes, max |Δ| per column) of one engine's result against polars'."""
    import numpy as np
    import pyarrow.parquet as pq

    columns = RESULT_COLUMNS if level == "merchants" else STREET_COLUMNS
    base = pq.read_table(folder / f"result-polars-{level}.parquet")
    other = pq.read_table(folder / f"result-{engine}-{level}.parquet")
    if base["code"].to_pylist() != other["code"].to_pylist():
        return False, {}
    diffs = {}
    for column in columns[1:]:
        a = base[column].to_numpy(zero_copy_only=False).astype(np.float64)
        b = other[column].to_numpy(zero_copy_only=False).astype(np.float64)
        d = np.abs(a - b)
        d[np.isnan(a) & np.isnan(b)] = 0.0
        diffs[column] = float(np.nan_to_num(d, nan=np.inf).max(initial=0.0))
    return True, diffs


def machine() -> str:
    model = platform.processor() or "?"
    lscpu = shutil.which("lscpu")
    if lscpu:
        out = subprocess.run([lscpu], capture_output=True, text=True, check=False).stdout  # noqa: S603
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    memory = next(
        (
            int(line.split()[1]) * 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return (
        f"{model}, {os.cpu_count()} CPUs, {memory / 2**30:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=20260315)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fangxin-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        tables = generate(args.responses, args.merchants, args.seed)
        n_answers = tables["answers"].num_rows
        n_excluded = tables["responses"]["excluded"].to_numpy(zero_copy_only=False).sum()
        parquet_bytes = write_parquet(tables, folder)
        del tables
        print(
            f"data: {args.responses:,} responses ({n_excluded:,} excluded), {n_answers:,} answer "
            f"rows, {args.merchants:,} merchants; generated and written in "
            f"{time.perf_counter() - started:.1f} s: {parquet_bytes / 1e6:.0f} MB Parquet (zstd)",
            flush=True,
        )
        context = mp.get_context("spawn")
        figures = {}
        for engine in ENGINES:
            with context.Pool(1) as pool:
                figures[engine.name] = pool.apply(measure, (engine.name, folder, args.runs))
            print(
                f"  {engine.name}: median {statistics.median(figures[engine.name]['times']):.3f} s",
                flush=True,
            )
        comparisons = {
            (e.name, level): compare(folder, e.name, level)
            for e in ENGINES[1:]
            for level in ("merchants", "streets")
        }

    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("polars", "pandas", "numpy", "duckdb", "pyarrow")
    )
    print()
    print(
        f"## Scoring computation, {args.responses:,} responses × 10 answers "
        f"({n_answers:,} rows, long format), {args.merchants:,} merchants"
    )
    print(f"machine: {machine()}")
    print(f"versions: {versions}")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print()
    print(
        f"| engine | median | range ({args.runs} runs) | first call | ratio to polars "
        "| peak RSS (data) | import + load Parquet |"
    )
    print("|---|---|---|---|---|---|---|")
    base = statistics.median(figures["polars"]["times"])
    for engine in ENGINES:
        f = figures[engine.name]
        median = statistics.median(f["times"])
        peak = _gb(f["peak_rss"]) + ("" if f["peak_reset"] else " (incl. load)")
        print(
            f"| {engine.label} | {median:.3f} s | {min(f['times']):.3f}–{max(f['times']):.3f} s "
            f"| {f['first']:.3f} s | {median / base:.2f}× | {peak} ({_gb(f['data_rss'])}) "
            f"| {f['load']:.2f} s |"
        )
    print()
    print(f"reference, benchmarks.md: {REFERENCE}")
    print()
    print("equality against polars, max |Δ| per column:")
    ok = True
    for engine in ENGINES[1:]:
        for level in ("merchants", "streets"):
            same_codes, diffs = comparisons[(engine.name, level)]
            cells = ", ".join(f"{c} {d:.1e}" for c, d in diffs.items())
            print(
                f"  {engine.name:<16} {level:<9} "
                + (cells if same_codes else "DIFFERENT UNITS")
                + ("" if engine.must_match else "  (not held to 1e-9)")
            )
            if engine.must_match and level == "merchants":
                ok = ok and same_codes and diffs["score"] < 1e-9 and diffs["rank"] == 0
    print(
        "merchant scores within 1e-9 and ranks identical (polars, pandas, DuckDB): "
        + ("yes" if ok else "NO")
    )
    medians = {e.name: statistics.median(figures[e.name]["times"]) for e in ENGINES}
    for engine in ENGINES:
        record(
            "scoring.py",
            f"satisfaction computation, 10M answers: {engine.label}",
            f"{medians[engine.name]:.3f} s ({medians[engine.name] / base:.2f}× polars)",
            "polars < 1 s" if engine.name == "polars" else "",
            medians[engine.name] < 1 if engine.name == "polars" else None,
        )
    slowest_peer = max(v for k, v in medians.items() if k != "polars")
    fastest_peer = min(v for k, v in medians.items() if k != "polars")
    record(
        "scoring.py",
        "polars against its fastest peer",
        f"{fastest_peer / base:.2f}× (slowest peer {slowest_peer / base:.2f}×)",
        "≥ 5× pandas",
        medians.get("pandas", 0) / base >= 5,
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
