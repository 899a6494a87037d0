"""Periodic jobs: what runs when, and the lease that lets many workers share one schedule.

======================  ==========================  ============================================
job                     default (Beijing time)      what it does
======================  ==========================  ============================================
``outbox``              every 5 s, with a webhook   posts due notifications (kernel outbox)
``certificate_sweep``   hourly at :05               expires, revokes after grace, lifts holds
``credit_recompute``    daily 00:15                 marks overdue complaints, rescores merchants
``screening``           daily 01:30                 recomputes the response-quality flags
``score_run``           Mondays 02:00               screens again, then computes a draft run
``backup``              daily 03:30, keeps 14       ``fangxin backup`` into data_dir/backups
======================  ==========================  ============================================

The night's order is deliberate: credit first (time fades deductions; complaint deadlines
count by the day), screening before scoring (surges and duplicate devices are found in bulk,
and a run scores only what screening has set aside), the backup last, after the night's
changes. The score run is a draft for officials to review, weekly so that review keeps up.

``FANGXIN_JOBS`` names a TOML file that changes any of it::

    timezone = "Asia/Shanghai"    # the clock of the cron expressions
    embedded = true               # outside production: do web processes run the schedule?
    [backup]
    cron = "30 3 * * *"           # minute hour day month weekday (weekdays by name: mon-fri)
    keep = 30
    [outbox]
    every = 10                    # seconds
    [score_run]
    enabled = false

Every worker runs the whole schedule (``fangxin worker``; outside production each web process
too, see ``Schedule.embedded``). A run first inserts a ``job_run`` row for its job and
scheduled slot: the unique key lets exactly one worker's insert in, and only that worker runs
the slot, so starting workers on several machines at once runs every slot once. The row then
records the outcome for officials (``statuses``). A worker that starts after its job's latest
slot went by without a run runs that slot at once (once, never the older ones) if the job has
run before: a restart during the night does not skip a day's credit recompute.

This module runs the packages' periodic work, which each brings in its plugin
(``service.plugins``); the types are the kernel's (``service.kernel.periodic``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
import structlog
from apscheduler.triggers.cron import CronTrigger

from service import backup
from service.kernel import outbox
from service.kernel.errors import FangxinError
from service.kernel.i18n import N_
from service.kernel.localtime import LOCAL_TZ_NAME
from service.kernel.models import JobOutcome, JobRun
from service.kernel.periodic import (
    Details,
    JobConfig,
    JobContext,
    JobOption,
    JobSpec,
)
from service.kernel.settings import Settings
from service.kernel.validation import int_or_none
from service.plugins import PLUGINS

log = structlog.get_logger("fangxin.jobs")

RunState = Literal["running", "interrupted", "ok", "failed"]
JobState = Literal["off", "never", "running", "interrupted", "ok", "failed"]

# A run's lease is renewed this often while it lasts; a row still "running" past its lease
# belongs to a worker that stopped (generous: on SQLite a renewal waits behind any long
# transaction, such as the credit recompute's).
LEASE: Final = timedelta(minutes=10)
RENEW_EVERY: Final = 60.0
KEEP_RUNS: Final = 200  # rows kept per job: 200 days of a daily job, 17 minutes of the outbox
# A slot counts as missed when no worker has started it this long after its time.
LATE_AFTER: Final = timedelta(minutes=10)
BACKUP_DIR: Final = "backups"
BACKUP_NAME: Final = re.compile(r"fangxin-[0-9]{8}T[0-9]{6}Z\.tar")


class JobsConfigError(Exception):
    """FANGXIN_JOBS names a schedule the service cannot use."""


async def _deliver_outbox(ctx: JobContext) -> Details:
    # A round ends within about a minute even behind a slow receiver, so the run's record
    # says how delivery goes; the next round carries on.
    result = await outbox.deliver_due(ctx.settings, budget=outbox.ROUND_BUDGET)
    return {"delivered": result.delivered, "failed": result.failed}


async def _backup(ctx: JobContext) -> Details:
    settings = ctx.settings
    directory = settings.data_dir / BACKUP_DIR
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # backups hold the secrets
    target = directory / f"fangxin-{ctx.slot.astimezone(UTC):%Y%m%dT%H%M%SZ}.tar"
    # pg_dump or SQLite's backup API and a tar of the data dir: blocking, off the event loop.
    await anyio.to_thread.run_sync(backup.backup, settings, target)
    removed = prune_backups(directory, ctx.config.option("keep"))
    return {"file": target.name, "bytes": target.stat().st_size, "removed": len(removed)}


def prune_backups(directory: Path, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest scheduled backups; other files are left alone."""
    ours = sorted(p for p in directory.iterdir() if BACKUP_NAME.fullmatch(p.name))
    gone = ours[:-keep] if len(ours) > keep else []
    for path in gone:
        path.unlink(missing_ok=True)
    return gone


def _needs_webhook(settings: Settings) -> str | None:
    return None if settings.webhook_url else N_("No webhook is configured (FANGXIN_WEBHOOK_URL).")


# The shell's own jobs; the domains bring theirs in their plugins.
SHELL_JOBS: Final = (
    JobSpec(
        "outbox",
        N_("Deliver notifications to the webhook"),
        _deliver_outbox,
        every=5,
        catch_up=False,
        unavailable=_needs_webhook,
        labels={"delivered": N_("delivered"), "failed": N_("failed")},
    ),
    JobSpec(
        "backup",
        N_("Database backup"),
        _backup,
        cron="30 3 * * *",
        options={"keep": JobOption(14, 1, 10_000)},
        labels={"file": N_("file"), "bytes": N_("bytes"), "removed": N_("old backups removed")},
    ),
)
JOBS: Final[Mapping[str, JobSpec]] = {
    spec.name: spec
    for spec in sorted(
        (*SHELL_JOBS, *(job for plugin in PLUGINS for job in plugin.jobs())),
        key=JobSpec.night_order,
    )
}
# What the numbers a run reports mean, for the page.
DETAIL_LABELS: Final = {key: label for spec in JOBS.values() for key, label in spec.labels.items()}


# -- the schedule ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Schedule:
    timezone: ZoneInfo
    # Whether web processes run the schedule themselves: never in production (the worker
    # does), by default in development (``make run`` is one command), not in tests.
    embedded: bool
    jobs: tuple[JobConfig, ...]

    def job(self, name: str) -> JobConfig:
        return next(j for j in self.jobs if j.name == name)


@lru_cache(maxsize=8)
def schedule_for(settings: Settings) -> Schedule:
    """The schedule FANGXIN_JOBS describes over the defaults; read once per settings."""
    raw: dict[str, Any] = {}
    if settings.jobs_file is not None:
        try:
            raw = tomllib.loads(settings.jobs_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise JobsConfigError(f"FANGXIN_JOBS {settings.jobs_file}: {exc}") from exc
    try:
        return parse_schedule(raw, settings)
    except JobsConfigError as exc:
        where = f" {settings.jobs_file}" if settings.jobs_file else ""
        raise JobsConfigError(f"FANGXIN_JOBS{where}: {exc}") from exc


def parse_schedule(
    raw: Mapping[str, Any], settings: Settings, specs: Mapping[str, JobSpec] = JOBS
) -> Schedule:
    unknown = set(raw) - {"timezone", "embedded", *specs}
    if unknown:
        raise JobsConfigError(
            f"unknown key(s) {', '.join(sorted(unknown))}; jobs are {', '.join(specs)}"
        )
    tz_name = raw.get("timezone", LOCAL_TZ_NAME)
    try:
        tz = ZoneInfo(tz_name) if isinstance(tz_name, str) else None
    except (ZoneInfoNotFoundError, ValueError):
        tz = None
    if tz is None:
        raise JobsConfigError(f"timezone {tz_name!r} is not a time zone name")
    embedded = raw.get("embedded", settings.env == "development")
    if not isinstance(embedded, bool):
        raise JobsConfigError("embedded must be true or false")
    if embedded and settings.production:
        raise JobsConfigError(
            "embedded = true is refused in production: web processes there run no jobs; "
            "run `fangxin worker`"
        )
    configs = []
    for name, spec in specs.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise JobsConfigError(f"[{name}] must be a table")
        configs.append(_job_config(spec, table, settings, tz))
    return Schedule(tz, embedded, tuple(configs))


def _job_config(
    spec: JobSpec, table: Mapping[str, Any], settings: Settings, tz: ZoneInfo
) -> JobConfig:
    name = spec.name
    unknown = set(table) - {"enabled", "cron", "every", *spec.options}
    if unknown:
        raise JobsConfigError(f"[{name}] has unknown key(s) {', '.join(sorted(unknown))}")
    if "cron" in table and "every" in table:
        raise JobsConfigError(f"[{name}] takes cron or every, not both")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise JobsConfigError(f"[{name}] enabled must be true or false")
    options = spec.defaults()
    for key, option in spec.options.items():
        if key in table:
            options[key] = _whole(name, key, table[key], option.low, option.high)
    config = JobConfig(name, enabled, cron=spec.cron, every=spec.every, options=options)
    if "every" in table:
        config = replace(config, cron=None, every=_whole(name, "every", table["every"], 1, 86_400))
    if "cron" in table:
        config = replace(config, cron=_cron(name, table["cron"], tz), every=None)
    reason = spec.unavailable(settings)
    if reason is not None and enabled:
        config = replace(config, enabled=False, off_reason=reason)
    return config


def _whole(job: str, key: str, value: object, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise JobsConfigError(f"[{job}] {key} must be a whole number from {low} to {high}")
    return value


def _cron(job: str, value: object, tz: ZoneInfo) -> str:
    if not isinstance(value, str):
        raise JobsConfigError(f'[{job}] cron must be a string such as "30 3 * * *"')
    fields = value.split()
    # APScheduler 3 counts weekdays from Monday = 0, crontab from Sunday = 0: a number there
    # would silently run a day off, so weekdays go by name (a step such as */2 is fine).
    if len(fields) == 5 and re.search(r"(?<![/\d])\d", fields[4]):
        raise JobsConfigError(
            f"[{job}] cron {value!r}: name the weekdays (mon-fri, sun), no numbers"
        )
    try:
        CronTrigger.from_crontab(value, timezone=tz)
    except ValueError as exc:
        raise JobsConfigError(f"[{job}] cron {value!r}: {exc}") from exc
    return " ".join(fields)


# -- the lease and the run ------------------------------------------------------------------


async def claim(job: str, slot: datetime, worker: str, *, now: datetime | None = None) -> bool:
    """Take the lease on one slot of one job: True for exactly one caller, whoever else
    tries at the same moment, on this machine or another."""
    now = now or datetime.now(UTC)
    row = JobRun(
        job=job,
        slot=slot.astimezone(UTC),
        worker=worker,
        started_at=now,
        lease_until=now + LEASE,
        outcome=JobOutcome.RUNNING,
        details={},
    )
    # INSERT … ON CONFLICT DO NOTHING (INSERT OR IGNORE on SQLite): the loser learns it lost
    # by reading the row back, and PostgreSQL logs no unique violation every few seconds.
    await JobRun.bulk_create([row], ignore_conflicts=True)
    holders = await JobRun.filter(job=job, slot=slot.astimezone(UTC)).values_list(
        "worker", flat=True
    )
    return [str(h) for h in holders] == [worker]


async def run_slot(
    spec: JobSpec, config: JobConfig, settings: Settings, slot: datetime, worker: str
) -> JobRun | None:
    """Run one slot of a job if this worker wins its lease; record how it went. None: another
    worker has (or had) this slot."""
    if not await claim(spec.name, slot, worker):
        log.debug("job slot taken by another worker", job=spec.name, slot=slot.isoformat())
        return None
    run = await JobRun.get(job=spec.name, slot=slot.astimezone(UTC))
    renewing = asyncio.create_task(_renew(run.id))
    try:
        details = await spec.run(JobContext(settings, config, slot))
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await _finish(run, JobOutcome.FAILED, error="Interrupted: the worker stopped")
        raise
    except Exception as exc:  # a failing job is recorded and shown, the schedule goes on
        log.exception("job failed", job=spec.name, slot=slot.isoformat())
        await _finish(run, JobOutcome.FAILED, error=describe(exc))
    else:
        log.info("job done", job=spec.name, slot=slot.isoformat(), **details)
        await _finish(run, JobOutcome.OK, details=details)
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewing
    try:
        await _prune(spec.name)
    except Exception:  # history kept a little longer is no reason to fail a run
        log.exception("pruning job history failed", job=spec.name)
    return run


def describe(exc: BaseException) -> str:
    text = exc.detail if isinstance(exc, FangxinError) else str(exc)
    return f"{type(exc).__name__}: {text}"[:2000]


async def _renew(run_id: int) -> None:
    while True:
        await asyncio.sleep(RENEW_EVERY)
        try:
            await JobRun.filter(id=run_id, finished_at=None).update(
                lease_until=datetime.now(UTC) + LEASE
            )
        except Exception:  # the run itself may still finish; the next renewal may work
            log.warning("job lease renewal failed", run=run_id, exc_info=True)


async def _finish(
    run: JobRun, outcome: JobOutcome, *, error: str | None = None, details: Details | None = None
) -> None:
    now = datetime.now(UTC)
    run.outcome = outcome
    run.finished_at = now
    run.lease_until = now
    run.error = error
    run.details = dict(details or {})
    # Saved through the model: JSON fields in a queryset update() are not encoded for asyncpg.
    await run.save(update_fields=["outcome", "finished_at", "lease_until", "error", "details"])


async def _prune(job: str) -> None:
    oldest_kept = (
        await JobRun.filter(job=job)
        .order_by("-slot")
        .offset(KEEP_RUNS - 1)
        .limit(1)
        .values_list("slot", flat=True)
    )
    if oldest_kept:
        await JobRun.filter(job=job, slot__lt=oldest_kept[0]).delete()


async def have_run(names: list[str]) -> set[str]:
    """Which of these jobs have a recorded run."""
    return {name for name in names if await JobRun.exists(job=name)}


# -- what officials see ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobStatus:
    name: str
    title: str  # gettext id
    config: JobConfig
    last: JobRun | None
    recent: list[JobRun]
    next_run_at: datetime | None
    # The latest slot due by now that no worker started (only once the job has run at all:
    # before its first run there is nothing to have missed).
    missed: datetime | None
    now: datetime

    @property
    def state(self) -> JobState:
        """What the latest run says (off: the job is not scheduled here)."""
        if not self.config.enabled:
            return "off"
        if self.last is None:
            return "never"
        return run_state(self.last, self.now)

    @property
    def warning(self) -> bool:
        return self.state in ("failed", "interrupted") or self.missed is not None


def run_state(run: JobRun, now: datetime) -> RunState:
    """A run still marked running past its lease was cut short: its worker stopped."""
    if run.outcome == JobOutcome.RUNNING:
        return "running" if run.lease_until > now else "interrupted"
    return "ok" if run.outcome == JobOutcome.OK else "failed"


def duration(run: JobRun) -> timedelta | None:
    return None if run.finished_at is None else run.finished_at - run.started_at


async def statuses(
    schedule: Schedule,
    *,
    now: datetime | None = None,
    recent: int = 5,
    specs: Mapping[str, JobSpec] = JOBS,
) -> list[JobStatus]:
    now = now or datetime.now(UTC)
    found = []
    for config in schedule.jobs:
        history = await JobRun.filter(job=config.name).order_by("-slot").limit(recent)
        last = history[0] if history else None
        missed = None
        if config.enabled and last is not None:
            due = config.previous_slot(schedule.timezone, now - LATE_AFTER)
            if due is not None and due > last.slot:
                missed = due
        found.append(
            JobStatus(
                name=config.name,
                title=specs[config.name].title,
                config=config,
                last=last,
                recent=history,
                next_run_at=config.next_slot(schedule.timezone, now) if config.enabled else None,
                missed=missed,
                now=now,
            )
        )
    return found


async def problems(schedule: Schedule) -> list[JobStatus]:
    """The jobs an official should look at: last run failed or interrupted, or a run missed."""
    return [s for s in await statuses(schedule, recent=1) if s.warning]


WEEKDAYS: Final = {
    "mon": N_("Mondays"),
    "tue": N_("Tuesdays"),
    "wed": N_("Wednesdays"),
    "thu": N_("Thursdays"),
    "fri": N_("Fridays"),
    "sat": N_("Saturdays"),
    "sun": N_("Sundays"),
}


def describe_schedule(config: JobConfig) -> tuple[str, dict[str, str]]:
    """A gettext id and its values saying when the job runs, for the common shapes; any
    other cron expression is shown as it is."""
    if config.every is not None:
        return N_("every %(n)s s"), {"n": str(config.every)}
    assert config.cron is not None
    minute, hour, day, month, weekday = config.cron.split()
    at_minute, at_hour = int_or_none(minute, max_digits=2), int_or_none(hour, max_digits=2)
    simple = at_minute is not None and day == "*" and month == "*"
    if simple and hour == "*" and weekday == "*":
        return N_("hourly at minute %(m)s"), {"m": minute}
    if simple and at_hour is not None:
        at = f"{at_hour:02d}:{at_minute:02d}"
        if weekday == "*":
            return N_("daily at %(t)s"), {"t": at}
        if weekday.lower() in WEEKDAYS:
            return N_("%(days)s at %(t)s"), {"days": WEEKDAYS[weekday.lower()], "t": at}
    return N_("cron %(expr)s"), {"expr": config.cron}
