"""Reading a scoring window as Arrow, straight into polars (``scoring.arrow``; never ORM objects).

Blocking: call it from a worker thread. The only Python-level loop is over questionnaire
versions (a handful of rows) to turn their definitions into item and dimension frames.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from scoring.arrow import ArrowSource, source_for
from scoring.satisfaction.scores import Inputs
from service.kernel.settings import Settings
from surveys.questionnaire import SCORED_TYPES


@dataclass(frozen=True, slots=True)
class Window:
    since: datetime
    until: datetime


@dataclass(frozen=True, slots=True)
class Loaded:
    inputs: Inputs
    counts: dict[str, int]
    fingerprint: str


def load(settings: Settings, window: Window) -> Loaded:
    source = source_for(settings)
    try:
        return _load(source, window)
    finally:
        source.close()


RESPONSES = {
    "response_id": pl.Int64,
    "survey_id": pl.Int64,
    "version": pl.Int64,
    "target_kind": pl.String,
    "target_code": pl.String,
    "excluded": pl.Boolean,
}
ANSWERS = {
    "response_id": pl.Int64,
    "survey_id": pl.Int64,
    "version": pl.Int64,
    "question_key": pl.String,
    "value_num": pl.Float64,
    "value_norm": pl.Float64,
}
MERCHANTS = {"code": pl.String, "district": pl.String, "area": pl.String}
AREAS = {"code": pl.String, "kind": pl.String, "parent": pl.String}


def typed(frame: pl.DataFrame, schema: Mapping[str, type[pl.DataType]]) -> pl.DataFrame:
    """The same column types whatever the driver inferred (an empty result has none)."""
    return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def _load(src: ArrowSource, window: Window) -> Loaded:
    since, until = src.timestamp(window.since), src.timestamp(window.until)
    in_window = f"r.submitted_at >= {since} AND r.submitted_at < {until}"
    responses = (
        src.read(
            "SELECT r.id AS response_id, r.survey_id, r.version, r.target_kind, r.target_code, "  # noqa: S608 - the window is two timestamps formatted above
            f"r.excluded FROM response r WHERE {in_window}"
        )
        .pipe(typed, RESPONSES)
        .sort("response_id")
    )
    answers = (
        src.read(
            "SELECT a.response_id, r.survey_id, r.version, a.question_key, a.value_num, "  # noqa: S608
            "a.value_norm "
            "FROM answer a JOIN response r ON r.id = a.response_id "
            f"WHERE {in_window} AND a.value_num IS NOT NULL"
        ).pipe(typed, ANSWERS)
        # Not sorted: every sum in scoring is exact in any order, and the fingerprint does not
        # depend on it; sorting ten million answers by a text key took 2 s of a run.
    )
    versions = src.read("SELECT survey_id, version, definition FROM survey_version")
    items, dimensions, nps_items = _definitions(versions)
    merchants = (
        src.read(
            "SELECT m.uscc AS code, d.code AS district, COALESCE(s.code, p.code) AS area "
            "FROM merchant m JOIN area d ON d.id = m.district_id "
            "LEFT JOIN area s ON s.id = m.street_id LEFT JOIN area p ON p.id = m.scenic_spot_id"
        )
        .pipe(typed, MERCHANTS)
        .sort("code")
    )
    areas = (
        src.read(
            "SELECT a.code, a.kind, p.code AS parent "
            "FROM area a LEFT JOIN area p ON p.id = a.parent_id"
        )
        .pipe(typed, AREAS)
        .sort("code")
    )
    counts = {
        "responses": responses.height,
        "excluded": int(responses["excluded"].sum()),
        "answers": answers.height,
        "merchants": merchants.height,
    }
    return Loaded(
        inputs=Inputs(
            responses=responses.lazy(),
            answers=answers.lazy(),
            items=items.lazy(),
            dimensions=dimensions.lazy(),
            nps_items=nps_items.lazy(),
            merchants=merchants.lazy(),
            areas=areas.lazy(),
        ),
        counts=counts,
        fingerprint=fingerprint(responses, answers, versions.select("survey_id", "version")),
    )


def _definitions(versions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    items: list[dict[str, Any]] = []
    dimensions: list[dict[str, Any]] = []
    nps: list[dict[str, Any]] = []
    for row in versions.iter_rows(named=True):
        definition = row["definition"]
        content = json.loads(definition) if isinstance(definition, str) else definition
        key = {"survey_id": row["survey_id"], "version": row["version"]}
        for d in content["dimensions"]:
            dimensions.append({**key, "dimension": d["key"], "dim_weight": float(d["weight"])})
        for q in content["questions"]:
            if q["type"] in SCORED_TYPES and q.get("dimension"):
                items.append(
                    {
                        **key,
                        "question_key": q["key"],
                        "dimension": q["dimension"],
                        "weight": float(q["weight"]),
                    }
                )
            elif q["type"] == "nps":
                nps.append({**key, "question_key": q["key"]})
    schema_key = {"survey_id": pl.Int64, "version": pl.Int64}
    return (
        pl.DataFrame(
            items,
            schema={
                **schema_key,
                "question_key": pl.String,
                "dimension": pl.String,
                "weight": pl.Float64,
            },
        ),
        pl.DataFrame(
            dimensions, schema={**schema_key, "dimension": pl.String, "dim_weight": pl.Float64}
        ),
        pl.DataFrame(nps, schema={**schema_key, "question_key": pl.String}),
    )


def fingerprint(*frames: pl.DataFrame) -> str:
    """SHA-256 over the inputs as sets of rows, whatever order the database returned them in:
    each frame's schema, row count and the sums of two independent 64-bit hashes of its rows
    (each sum taken exactly, as two sums of 32-bit halves). Equal inputs give equal
    fingerprints; a changed, added or removed row changes them but by a vanishing chance."""
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(str(frame.schema).encode())
        digest.update(frame.height.to_bytes(8, "little"))
        for seed in (0, 1):
            hashes = frame.hash_rows(seed=seed)
            for half in ((hashes % (1 << 32)).sum(), (hashes // (1 << 32)).sum()):
                digest.update(int(half).to_bytes(8, "little"))
    return digest.hexdigest()
