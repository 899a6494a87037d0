"""The periodic jobs as officials see them: each job's last run, how long it took, how it
ended (the error when it failed) and when it runs next; as a page and as JSON."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from service import jobs
from service.jobs import JobState, JobStatus, RunState
from service.kernel.i18n import N_, gettext
from service.kernel.models import JobRun
from service.kernel.periodic import JobConfig
from service.kernel.security import CITY_OFFICIALS
from service.kernel.settings import Settings

STATE_LABELS = {
    "off": N_("off"),
    "never": N_("not run yet"),
    "running": N_("running"),
    "interrupted": N_("interrupted"),
    "ok": N_("ok"),
    "failed": N_("failed"),
}


class JobRunOut(msgspec.Struct):
    slot: Annotated[datetime, msgspec.Meta(description="the scheduled time this run is for")]
    worker: Annotated[str, msgspec.Meta(description="machine:process that ran it")]
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    outcome: Annotated[
        RunState, msgspec.Meta(description="interrupted: its worker stopped before the end")
    ]
    error: str | None
    details: dict[str, int | str]


class JobOut(msgspec.Struct):
    name: str
    title: str
    enabled: bool
    off_reason: str | None
    cron: Annotated[str | None, msgspec.Meta(description="minute hour day month weekday")]
    every_s: int | None
    timezone: str
    state: Annotated[JobState, msgspec.Meta(description="what the latest run says")]
    next_run_at: datetime | None
    missed_slot: Annotated[
        datetime | None,
        msgspec.Meta(description="a past slot no worker started: is a worker running?"),
    ]
    last_run: JobRunOut | None
    recent_runs: list[JobRunOut]


class JobsOut(msgspec.Struct):
    generated_at: datetime
    web_runs_jobs: Annotated[
        bool,
        msgspec.Meta(description="false: only `fangxin worker` processes run the schedule"),
    ]
    jobs: list[JobOut]


def run_out(run: JobRun, now: datetime) -> JobRunOut:
    took = jobs.duration(run)
    return JobRunOut(
        slot=run.slot,
        worker=run.worker,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_s=None if took is None else round(took.total_seconds(), 3),
        outcome=jobs.run_state(run, now),
        error=run.error,
        details={k: v for k, v in run.details.items() if isinstance(v, int | str)},
    )


def job_out(status: JobStatus, timezone: str) -> JobOut:
    config = status.config
    return JobOut(
        name=status.name,
        title=status.title,
        enabled=config.enabled,
        off_reason=config.off_reason,
        cron=config.cron,
        every_s=config.every,
        timezone=timezone,
        state=status.state,
        next_run_at=status.next_run_at,
        missed_slot=status.missed,
        last_run=None if status.last is None else run_out(status.last, status.now),
        recent_runs=[run_out(r, status.now) for r in status.recent],
    )


def schedule_text(config: JobConfig) -> str:
    """When the job runs, in the reader's language."""
    message, values = jobs.describe_schedule(config)
    day = values.get("days")
    if day is not None:  # a weekday's name is a gettext id too
        values = {**values, "days": gettext(day)}
    return gettext(message) % values


def duration_text(run: JobRun) -> str:
    took = jobs.duration(run)
    if took is None:
        return "—"
    seconds = took.total_seconds()
    if seconds < 10:
        return gettext("%(s)s s") % {"s": f"{seconds:.2f}"}
    if seconds < 120:
        return gettext("%(s)s s") % {"s": f"{seconds:.0f}"}
    return gettext("%(m)s min") % {"m": f"{seconds / 60:.1f}"}


@get("/official/jobs", opt=CITY_OFFICIALS, include_in_schema=False)
async def jobs_page(request: Request[Any, Any, State]) -> Template:
    settings: Settings = request.app.state.settings
    schedule = jobs.schedule_for(settings)
    found = await jobs.statuses(schedule)
    return Template(
        "portal/jobs.html",
        context={
            "jobs": found,
            "schedule": schedule,
            "production": settings.production,
            "states": STATE_LABELS,
            "labels": jobs.DETAIL_LABELS,
            "schedule_text": schedule_text,
            "duration_text": duration_text,
            "run_state": lambda run: jobs.run_state(run, datetime.now(UTC)),
        },
    )


@get("/api/v1/jobs", opt=CITY_OFFICIALS, tags=["jobs"])
async def list_jobs(request: Request[Any, Any, State]) -> JobsOut:
    """Every periodic job: its schedule, its latest runs (outcome, duration, the error of a
    failed one) and its next run."""
    settings: Settings = request.app.state.settings
    schedule = jobs.schedule_for(settings)
    found = await jobs.statuses(schedule)
    return JobsOut(
        generated_at=datetime.now(UTC),
        web_runs_jobs=schedule.embedded,
        jobs=[job_out(s, schedule.timezone.key) for s in found],
    )


PAGES: list[ControllerRouterHandler] = [jobs_page, list_jobs]
