"""What a periodic job is: its schedule, its options and the function it runs. Domains
declare their jobs with these (in their plugin); the shell's ``service.jobs`` runs them, one
worker per slot, and records each run.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.kernel.settings import Settings
from service.kernel.validation import int_or_none

Details = dict[str, int | str]
# Interval slots are counted from this instant, so every worker computes the same slots
# wherever and whenever it started.
GRID_START: Final = datetime(2000, 1, 1, tzinfo=UTC)
WINDOWS: Final = (timedelta(hours=2), timedelta(days=2), timedelta(days=9), timedelta(days=400))


def worker_name() -> str:
    """Who runs a slot (or holds any other lease), as shown to officials: the machine and
    the process."""
    return f"{socket.gethostname()}:{os.getpid()}"[:90]


@dataclass(frozen=True, slots=True)
class JobOption:
    """A whole-number option a job takes in FANGXIN_JOBS, its default and its bounds."""

    default: int
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class JobConfig:
    """When one job runs, and its options."""

    name: str
    enabled: bool
    cron: str | None = None  # crontab: minute hour day month weekday
    every: int | None = None  # seconds
    off_reason: str | None = None  # why a job the schedule wants cannot run (gettext id)
    # The job's options (JobSpec.options), each its default unless FANGXIN_JOBS sets it.
    options: Mapping[str, int] = field(default_factory=dict)

    def option(self, name: str) -> int:
        return self.options[name]

    def trigger(self, tz: ZoneInfo) -> Any:
        if self.every is not None:
            return IntervalTrigger(seconds=self.every, start_date=GRID_START, timezone=UTC)
        return CronTrigger.from_crontab(self.cron, timezone=tz)

    def next_slot(self, tz: ZoneInfo, now: datetime) -> datetime | None:
        """The first slot after ``now``."""
        found: datetime | None = self.trigger(tz).get_next_fire_time(
            None, now + timedelta(microseconds=1)
        )
        return None if found is None else found.astimezone(UTC)

    def previous_slot(self, tz: ZoneInfo, now: datetime) -> datetime | None:
        """The latest slot at or before ``now`` (None: none in the last year)."""
        if self.every is not None:
            step = timedelta(seconds=self.every)
            return GRID_START + ((now - GRID_START) // step) * step
        trigger = self.trigger(tz)
        # Widening windows: an hourly job is found in a few steps, a monthly one still found.
        for window in WINDOWS:
            slot: datetime | None = trigger.get_next_fire_time(None, now - window)
            if slot is None or slot > now:
                continue
            while True:
                later: datetime | None = trigger.get_next_fire_time(
                    None, slot + timedelta(microseconds=1)
                )
                if later is None or later > now:
                    return slot.astimezone(UTC)
                slot = later
        return None

    def period(self, tz: ZoneInfo, now: datetime) -> timedelta:
        """The time between the slots around ``now``."""
        if self.every is not None:
            return timedelta(seconds=self.every)
        last, upcoming = self.previous_slot(tz, now), self.next_slot(tz, now)
        if last is None or upcoming is None:
            return timedelta(days=1)
        return upcoming - last


@dataclass(frozen=True, slots=True)
class JobContext:
    settings: Settings
    config: JobConfig
    slot: datetime


JobFunction = Callable[[JobContext], Awaitable[Details]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """What a job does, and its default schedule."""

    name: str
    title: str  # gettext id, shown to officials
    run: JobFunction
    cron: str | None = None
    every: int | None = None
    # Whether a worker starting after a missed slot runs it: pointless for the outbox, whose
    # next round comes within seconds anyway.
    catch_up: bool = True
    options: Mapping[str, JobOption] = field(default_factory=dict)
    # Why the job cannot run with these settings (a gettext id), or None.
    unavailable: Callable[[Settings], str | None] = lambda settings: None
    # What the numbers a run reports mean, for the officials' page (gettext ids).
    labels: Mapping[str, str] = field(default_factory=dict)

    def defaults(self) -> dict[str, int]:
        return {name: option.default for name, option in self.options.items()}

    def night_order(self) -> tuple[int, int, int]:
        """Where the job stands in the day: interval jobs first, then by the time of day of
        its cron (the night's order is deliberate, see ``service.jobs``)."""
        if self.cron is None:
            return (0, 0, 0)
        minute, hour = (f.split(",")[0] for f in self.cron.split()[:2])
        at_hour, at_minute = int_or_none(hour, max_digits=2), int_or_none(minute, max_digits=2)
        return (1, -1 if at_hour is None else at_hour, 0 if at_minute is None else at_minute)
