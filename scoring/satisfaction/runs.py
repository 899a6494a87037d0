"""Score runs: compute a draft, review it, publish or discard it (both audited).

The computation (load + score) runs on a worker thread, so a long run never blocks request
handling; the run row says ``running`` until it is stored as a ``draft`` (or ``failed``).

While it runs, the process computing it renews the run's lease. A process killed mid-run
(a restart, a crash, the out-of-memory killer) renews nothing, so a run still ``running`` past
its lease is marked ``failed``, with the reason, by whoever looks next (the list, the run,
a discard, a new run, the weekly job); a failed run may then be discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

import anyio
import polars as pl
import structlog
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from scoring.satisfaction.load import Loaded, Window, load
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from scoring.satisfaction.scores import CityScores, Params, score_city
from service.kernel import audit
from service.kernel.audit import SYSTEM, Actor
from service.kernel.disk import saving
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.periodic import worker_name
from service.kernel.settings import Settings
from service.kernel.validation import check_text

DEFAULT_WINDOW_DAYS = 365
Progress = Callable[[str], None]
log = structlog.get_logger("fangxin.scoring")
# Renewed this often while a run computes; generous, as the periodic jobs' lease is (on SQLite
# a renewal waits behind any long transaction, such as the run's own store of its scores).
LEASE: Final = timedelta(minutes=10)
RENEW_EVERY: Final = 60.0
STOPPED: Final = "The process running it ({holder}) stopped: its lease ran out at {until}"
DISCARDABLE: Final = frozenset({RunStatus.DRAFT, RunStatus.FAILED})
WHAT: Final = {RunStatus.DRAFT: "a draft", RunStatus.FAILED: "a failed run"}


@dataclass(frozen=True, slots=True)
class RunRequest:
    params: Params
    window_days: int = DEFAULT_WINDOW_DAYS


def parse_params(raw: dict[str, Any]) -> RunRequest:
    """Officials' overrides, checked field by field."""
    errors: list[FieldError] = []
    allowed = {**Params().as_dict(), "window_days": DEFAULT_WINDOW_DAYS}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in allowed:
            errors.append(FieldError(f"params.{key}", "not a scoring parameter"))
        elif isinstance(value, bool) or not isinstance(value, int | float):
            errors.append(FieldError(f"params.{key}", "must be a number"))
        else:
            values[key] = value
    window = int(values.pop("window_days", DEFAULT_WINDOW_DAYS))
    if not 1 <= window <= 3650:
        errors.append(FieldError("params.window_days", "between 1 and 3650"))
    weight = float(values.get("area_self_weight", 0.5))
    if not 0 <= weight <= 1:
        errors.append(FieldError("params.area_self_weight", "between 0 and 1"))
    for key in ("min_n_display", "min_n_rank"):
        if key in values and (values[key] < 1 or int(values[key]) != values[key]):
            errors.append(FieldError(f"params.{key}", "a whole number, 1 or more"))
    if errors:
        raise InvalidInput("Bad scoring parameters", errors)
    return RunRequest(Params.from_mapping(values), window)


def code_version() -> str:
    try:
        return version("fangxin")
    except PackageNotFoundError:
        return "unknown"


async def start_run(request: RunRequest, *, actor: Actor, now: datetime | None = None) -> ScoreRun:
    now = now or datetime.now(UTC)
    await fail_stopped(now)
    params = {**request.params.as_dict(), "window_days": request.window_days}
    async with in_transaction() as conn:
        run = await ScoreRun.create(
            using_db=conn,
            created_by=str(actor),
            params=params,
            code_version=code_version(),
            window_since=now - timedelta(days=request.window_days),
            window_until=now,
            lease_until=now + LEASE,
            held_by=worker_name(),
        )
        await audit.record(conn, actor, "score_run.started", f"score_run:{run.id}", params)
    return run


async def compute_run(
    run_id: int, settings: Settings, *, actor: Actor, progress: Progress | None = None
) -> ScoreRun:
    """Load, score and store a started run; on any error the run is marked failed."""
    say = progress or (lambda _message: None)
    run = await ScoreRun.get(id=run_id)
    params = Params.from_mapping(run.params)
    window = Window(run.window_since, run.window_until)
    timings: dict[str, float] = {}
    renewing = asyncio.create_task(_renew(run_id))
    try:
        say("loading responses")
        started = time.perf_counter()
        loaded: Loaded = await anyio.to_thread.run_sync(load, settings, window)
        timings["load_s"] = round(time.perf_counter() - started, 3)
        say(f"scoring {loaded.counts['responses']:,} responses")
        started = time.perf_counter()
        scores: CityScores = await anyio.to_thread.run_sync(score_city, loaded.inputs, params)
        timings["compute_s"] = round(time.perf_counter() - started, 3)
        say("storing results")
        started = time.perf_counter()
        await _store(run, scores, settings)
        timings["store_s"] = round(time.perf_counter() - started, 3)
    except asyncio.CancelledError:  # the process is stopping: say so now, not at the lease's end
        with contextlib.suppress(Exception):
            await _failed(run_id, "Interrupted: the process running it stopped", timings)
        raise
    except Exception as exc:
        await _failed(run_id, repr(exc)[:2000], timings)
        raise
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
    async with in_transaction() as conn:
        run = await _locked(conn, run_id)
        given_up = run.status != RunStatus.RUNNING
        if given_up:
            # Given up meanwhile (its lease lapsed, then perhaps discarded): what was computed
            # is not kept, and the run stays as officials last saw it.
            await UnitScore.filter(run_id=run_id).using_db(conn).delete()
        else:
            await _drafted(conn, run, loaded, scores, timings, actor)
    if given_up:
        raise Conflict(f"Run {run_id} became {run.status.value} while it computed")
    return await ScoreRun.get(id=run_id)


async def _drafted(
    conn: BaseDBAsyncClient,
    run: ScoreRun,
    loaded: Loaded,
    scores: CityScores,
    timings: dict[str, float],
    actor: Actor,
) -> None:
    run.status = RunStatus.DRAFT
    run.finished_at = datetime.now(UTC)
    run.timings = dict(timings)
    run.counts = {**loaded.counts, **_unit_counts(scores)}
    run.priors = {k: _finite(asdict(v)) for k, v in scores.priors.items()}
    run.fingerprint = loaded.fingerprint
    await run.save(
        using_db=conn,
        update_fields=["status", "finished_at", "timings", "counts", "priors", "fingerprint"],
    )
    await audit.record(
        conn,
        actor,
        "score_run.drafted",
        f"score_run:{run.id}",
        {"fingerprint": loaded.fingerprint, **timings},
    )


async def _renew(run_id: int) -> None:
    """Keep the run's lease while this process computes it."""
    while True:
        await asyncio.sleep(RENEW_EVERY)
        try:
            await ScoreRun.filter(id=run_id, status=RunStatus.RUNNING).update(
                lease_until=datetime.now(UTC) + LEASE
            )
        except Exception:  # the run itself may still finish; the next renewal may work
            log.warning("score run lease renewal failed", run=run_id, exc_info=True)


async def _locked(conn: BaseDBAsyncClient, run_id: int) -> ScoreRun:
    run = await ScoreRun.filter(id=run_id).using_db(conn).select_for_update().first()
    if run is None:
        raise NotFound(f"No score run {run_id}")
    return run


async def _failed(run_id: int, error: str, timings: dict[str, float]) -> None:
    """Record the run's failure, unless it is no longer running (given up, discarded)."""
    async with in_transaction() as conn:
        run = await _locked(conn, run_id)
        if run.status != RunStatus.RUNNING:
            return
        run.status = RunStatus.FAILED
        run.error = error
        run.finished_at = datetime.now(UTC)
        run.timings = dict(timings)
        # Saved through the model: JSON fields in a queryset update() are not encoded for
        # asyncpg.
        await run.save(using_db=conn, update_fields=["status", "error", "finished_at", "timings"])


async def fail_stopped(now: datetime | None = None) -> list[int]:
    """Mark failed, with the reason, every run still running past its lease (its process
    stopped without finishing it); the ids of those it marked."""
    now = now or datetime.now(UTC)
    lapsed = Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    marked = []
    for run in await ScoreRun.filter(lapsed, status=RunStatus.RUNNING):
        until = run.lease_until.isoformat() if run.lease_until else "—"
        error = STOPPED.format(holder=run.held_by or "unknown", until=until)
        async with in_transaction() as conn:
            # Judged again under the update: a renewal that came in between keeps it alive.
            changed = (
                await ScoreRun.filter(lapsed, id=run.id, status=RunStatus.RUNNING)
                .using_db(conn)
                .update(status=RunStatus.FAILED, error=error, finished_at=now)
            )
            if changed:
                await audit.record(
                    conn, SYSTEM, "score_run.failed", f"score_run:{run.id}", {"error": error}
                )
                marked.append(run.id)
    return marked


def _finite(values: dict[str, float]) -> dict[str, float | None]:
    """JSON has no NaN: an estimate that could not be made is stored as null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in values.items()}


def _unit_counts(scores: CityScores) -> dict[str, int]:
    counts = scores.scores.group_by("kind").len().sort("kind")
    return {f"units_{k}": int(n) for k, n in counts.iter_rows()}


async def _store(run: ScoreRun, scores: CityScores, settings: Settings) -> None:
    dims: dict[tuple[str, str], dict[str, float]] = {}
    for kind, code, dimension, mean in scores.dimensions.iter_rows():
        dims.setdefault((kind, code), {})[dimension] = mean
    rows = [
        UnitScore(run_id=run.id, dimensions=dims.get((r["kind"], r["code"]), {}), **r)
        for r in scores.scores.iter_rows(named=True)
    ]
    async with in_transaction() as conn:
        await UnitScore.filter(run_id=run.id).using_db(conn).delete()
        await UnitScore.bulk_create(rows, batch_size=2000, using_db=conn)
    export = run_dir(settings) / f"run-{run.id}.parquet"
    with saving(f"the Parquet copy of score run {run.id}"):
        await anyio.to_thread.run_sync(
            lambda: scores.scores.with_columns(pl.lit(run.id).alias("run")).write_parquet(export)
        )


def run_dir(settings: Settings) -> Path:
    path = settings.data_dir / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


async def run_now(
    request: RunRequest,
    settings: Settings,
    *,
    actor: Actor,
    progress: Progress | None = None,
    publish: bool = False,
) -> ScoreRun:
    """Start and compute a run in one go (the CLI and scheduled jobs)."""
    run = await start_run(request, actor=actor)
    run = await compute_run(run.id, settings, actor=actor, progress=progress)
    if publish:
        run = await publish_run(run.id, actor=actor)
    return run


async def get_run(run_id: int) -> ScoreRun:
    await fail_stopped()
    run = await ScoreRun.get_or_none(id=run_id)
    if run is None:
        raise NotFound(f"No score run {run_id}")
    return run


async def _for_update(
    conn: BaseDBAsyncClient,
    run_id: int,
    verb: str,
    allowed: frozenset[RunStatus] = frozenset({RunStatus.DRAFT}),
) -> ScoreRun:
    """The run, locked for this transaction; only a draft may be published, a draft or a
    failed run discarded."""
    run = await _locked(conn, run_id)
    if run.status not in allowed:
        what = " or ".join(WHAT[s] for s in sorted(allowed))
        raise Conflict(f"Only {what} can be {verb}; run {run_id} is {run.status.value}")
    return run


async def publish_run(run_id: int, *, actor: Actor) -> ScoreRun:
    """Publish a draft: it replaces the published run, which stays readable as history."""
    async with in_transaction() as conn:
        run = await _for_update(conn, run_id, "published")
        now = datetime.now(UTC)
        # Serialise publications: one published-and-current run at any time.
        await audit.chain_lock_for(conn).acquire(conn)
        previous = await ScoreRun.filter(status=RunStatus.PUBLISHED, superseded_at=None).using_db(
            conn
        )
        for old in previous:
            old.superseded_at = now
            await old.save(using_db=conn, update_fields=["superseded_at"])
        run.status = RunStatus.PUBLISHED
        run.published_at = now
        run.published_by = str(actor)
        await run.save(using_db=conn, update_fields=["status", "published_at", "published_by"])
        await audit.record(
            conn,
            actor,
            "score_run.published",
            f"score_run:{run_id}",
            {"supersedes": [o.id for o in previous], "fingerprint": run.fingerprint},
        )
    return run


REASON_MAX = 500


async def discard_run(run_id: int, reason: str, *, actor: Actor) -> ScoreRun:
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", reason, REASON_MAX)
    if errors:
        raise InvalidInput("A reason is required", errors)
    await fail_stopped()
    async with in_transaction() as conn:
        run = await _for_update(conn, run_id, "discarded", DISCARDABLE)
        run.status = RunStatus.DISCARDED
        run.discarded_reason = reason
        await run.save(using_db=conn, update_fields=["status", "discarded_reason"])
        await audit.record(
            conn, actor, "score_run.discarded", f"score_run:{run_id}", {"reason": reason}
        )
    return run


async def current_run() -> ScoreRun | None:
    return (
        await ScoreRun.filter(status=RunStatus.PUBLISHED, superseded_at=None)
        .order_by("-published_at")
        .first()
    )
