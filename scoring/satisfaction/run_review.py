"""What an official needs before publishing: how a draft differs from the published run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from scoring.satisfaction.models import ScoreRun, UnitScore
from service.kernel import scope
from service.kernel.models import Area

COLUMNS = ("kind", "code", "n", "score", "insufficient_data")


async def run_frame(run_id: int, within: Area | None = None) -> pl.DataFrame:
    """The run's unit scores (``within`` a district: only its units)."""
    rows = (
        await UnitScore.filter(run_id=run_id)
        .filter(scope.targets(within, code="code", kind="kind", units=True))
        .values(*COLUMNS)
    )
    return pl.DataFrame(
        rows,
        schema={
            "kind": pl.String,
            "code": pl.String,
            "n": pl.Int64,
            "score": pl.Float64,
            "insufficient_data": pl.Boolean,
        },
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    movers: list[dict[str, Any]]  # biggest changes of shown scores, largest first
    new: list[dict[str, Any]]  # units scored now but not before
    dropped: list[dict[str, Any]]  # units scored before but not now
    exclusion_rate: float | None
    previous_exclusion_rate: float | None


def compare_frames(
    draft: pl.DataFrame, published: pl.DataFrame, limit: int = 20
) -> dict[str, list[dict[str, Any]]]:
    """Movers (|Δ score| of units shown in both), new and dropped units."""
    shown = pl.col("insufficient_data").not_()
    both = draft.filter(shown).join(
        published.filter(shown), on=["kind", "code"], suffix="_before", how="inner"
    )
    movers = (
        both.with_columns((pl.col("score") - pl.col("score_before")).alias("change"))
        .with_columns(pl.col("change").abs().alias("size"))
        .sort(["size", "kind", "code"], descending=[True, False, False])
        .head(limit)
        .select("kind", "code", "score_before", "score", "change", "n")
    )
    new = draft.join(published, on=["kind", "code"], how="anti").sort("kind", "code")
    dropped = published.join(draft, on=["kind", "code"], how="anti").sort("kind", "code")
    return {
        "movers": movers.to_dicts(),
        "new": new.select("kind", "code", "n").head(limit).to_dicts(),
        "dropped": dropped.select("kind", "code", "n").head(limit).to_dicts(),
    }


def exclusion_rate(run: ScoreRun | None) -> float | None:
    if run is None:
        return None
    total = run.counts.get("responses")
    excluded = run.counts.get("excluded")
    if not isinstance(total, int) or not isinstance(excluded, int) or total == 0:
        return None
    return round(excluded / total, 4)


async def compare(
    draft: ScoreRun, published: ScoreRun | None, within: Area | None = None
) -> Comparison:
    draft_frame = await run_frame(draft.id, within)
    before = await run_frame(published.id, within) if published else draft_frame.clear()
    parts = compare_frames(draft_frame, before)
    return Comparison(
        parts["movers"],
        parts["new"],
        parts["dropped"],
        exclusion_rate(draft),
        exclusion_rate(published),
    )
