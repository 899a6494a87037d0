"""The scheduler: APScheduler's ``AsyncIOScheduler`` running the job schedule in this process.

``fangxin worker`` runs one (``run_worker``); outside production each web process runs one in
its lifespan too. Any number may run at once, on any machines: each slot's lease
(``jobs.claim``) lets one of them run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from service import jobs
from service.jobs import JOBS, Schedule
from service.kernel.periodic import JobConfig, JobSpec, worker_name
from service.kernel.settings import Settings

log = structlog.get_logger("fangxin.worker")

STOP_GRACE: Final = 10.0  # seconds a stopping worker lets running jobs finish before cancelling

_scheduled_for: ContextVar[datetime | None] = ContextVar("fangxin_job_slot", default=None)


class _SlotExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """The asyncio executor, telling each run the time it was scheduled for (its slot).

    APScheduler knows it but calls the job function without it; the job's task copies the
    context it is created in, so a context variable set around the submission reaches it."""

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        token = _scheduled_for.set(run_times[-1])  # coalesced: the latest missed time
        try:
            super()._do_submit_job(job, run_times)
        finally:
            _scheduled_for.reset(token)


class JobScheduler:
    """Every enabled job of a schedule on its trigger, each run behind its slot's lease."""

    def __init__(
        self,
        settings: Settings,
        schedule: Schedule,
        *,
        specs: Mapping[str, JobSpec] = JOBS,
    ) -> None:
        self.settings = settings
        self.schedule = schedule
        self.specs = specs
        # Distinct per scheduler, so two in one process (tests) race like two machines.
        self.worker = f"{worker_name()}:{secrets.token_hex(2)}"
        self._scheduler: Any = None
        self._running: set[asyncio.Task[Any]] = set()

    @property
    def enabled(self) -> list[JobConfig]:
        return [j for j in self.schedule.jobs if j.enabled and j.name in self.specs]

    async def start(self, *, now: datetime | None = None) -> None:
        now = now or datetime.now(UTC)
        tz = self.schedule.timezone
        try:
            ran = await jobs.have_run([j.name for j in self.enabled])
        except Exception:  # e.g. migrations pending: schedule on, without catching up
            log.warning("job history unreadable; no missed slot is caught up", exc_info=True)
            ran = set()
        scheduler = AsyncIOScheduler(
            timezone=tz,
            executors={"default": _SlotExecutor()},
            # One run of a job at a time in this process; a late start runs the latest slot
            # only (coalesce), and a slot may start as late as one period after its time.
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        for config in self.enabled:
            spec = self.specs[config.name]
            first = config.next_slot(tz, now)
            if spec.catch_up and config.name in ran:
                # A slot that went by while no worker ran: the lease makes it run once,
                # however many workers start.
                first = config.previous_slot(tz, now) or first
            scheduler.add_job(
                self._run,
                config.trigger(tz),
                args=[config],
                id=config.name,
                name=config.name,
                next_run_time=first,
                misfire_grace_time=max(1, int(config.period(tz, now).total_seconds())),
            )
        scheduler.start()
        self._scheduler = scheduler
        log.info(
            "job scheduler started",
            worker=self.worker,
            jobs=[j.name for j in self.enabled],
        )

    def next_runs(self) -> dict[str, datetime | None]:
        if self._scheduler is None:
            return {}
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}

    async def _run(self, config: JobConfig) -> None:
        slot = _scheduled_for.get()
        if slot is None:  # only the slot executor submits jobs
            raise RuntimeError(f"job {config.name} started without its scheduled time")
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            await jobs.run_slot(
                self.specs[config.name], config, self.settings, slot.astimezone(UTC), self.worker
            )
        finally:
            self._running.discard(task)

    async def stop(self, *, grace: float = STOP_GRACE) -> None:
        """Start no more runs; let running ones finish for ``grace`` seconds, then cancel them
        (they record themselves as interrupted)."""
        scheduler, self._scheduler = self._scheduler, None
        if scheduler is None:
            return
        scheduler.pause()
        if self._running:
            await asyncio.wait(set(self._running), timeout=grace)
        # The asyncio scheduler shuts down on the loop's next turn, cancelling what still runs.
        scheduler.shutdown(wait=False)
        await asyncio.sleep(0)
        left = set(self._running)
        for task in left:
            task.cancel()
        if left:
            await asyncio.gather(*left, return_exceptions=True)
        log.info("job scheduler stopped", worker=self.worker)


async def run_worker(
    settings: Settings, schedule: Schedule, *, stop: asyncio.Event | None = None
) -> JobScheduler:
    """``fangxin worker``: run the schedule until SIGTERM or SIGINT (or ``stop`` is set)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler = JobScheduler(settings, schedule)
    try:
        await scheduler.start()
        for name, at in scheduler.next_runs().items():
            log.info("job scheduled", job=name, next_run=at.isoformat() if at else None)
        await stop.wait()
    finally:
        await scheduler.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)
    return scheduler
