"""Working-day arithmetic for the complaint-handling time limits.

The market regulator counts its limits in working days, not calendar days: official public
holidays are off and some weekends are make-up workdays (调休), so neither ``timedelta`` nor
Monday–Friday gives the right due date around the Spring Festival or National Day. A complaint
must be accepted or rejected within ``ACCEPT_LIMIT`` working days of receipt, and mediation ends
``MEDIATION_LIMIT`` working days after acceptance.

The official calendar comes from ``chinese_calendar``, which only has data for the years the
State Council has published. Outside them we fall back to Monday–Friday rather than fail, and
make that visible: ``calendar_covers`` says whether a date is on the official calendar, and the
first use of each uncovered year logs a warning, since due dates there may be off by the
holidays nobody has announced yet.

Dates are local dates in Asia/Shanghai: a complaint received at 01:30 Beijing time belongs to
that Beijing day even though it is still the previous day in UTC.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
ACCEPT_LIMIT = 7  # working days from receipt to acceptance or rejection
MEDIATION_LIMIT = 45  # working days from acceptance to the end of mediation

_ONE_DAY = timedelta(days=1)
_log = logging.getLogger(__name__)


@cache
def _year_covered(year: int) -> bool:
    # Probed once per year: the library raises NotImplementedError on every call outside its
    # data, and raising per date would be slow and would hide the gap in a flood of exceptions.
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        _log.warning(
            "no official holiday calendar for %d: counting Monday–Friday as working days", year
        )
        return False
    return True


def calendar_covers(day: date) -> bool:
    """Whether the official holiday calendar has data for ``day``'s year."""
    return _year_covered(day.year)


@lru_cache(maxsize=16384)
def _is_workday(day: date) -> bool:
    # Cached per date: deadlines for ~100k complaints walk the same few hundred dates over and
    # over. Sized for several decades of dates, so the hot set never gets evicted.
    if _year_covered(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day: the official calendar, Monday–Friday outside it."""
    # A datetime is a date subclass; hashing it would key the cache on the time of day too.
    if isinstance(day, datetime):
        raise TypeError("is_workday takes a date; use local_date() on a datetime first")
    return _is_workday(day)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a timezone-aware datetime."""
    # A naive datetime could be UTC or local depending on where it came from; guessing would
    # shift receipts made between 00:00 and 08:00 Beijing time onto the wrong day.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: need a timezone-aware one")
    return moment.astimezone(LOCAL_TZ).date()


@lru_cache(maxsize=16384)
def _add_working_days(start: date, n: int) -> date:
    # Many complaints share a receipt or acceptance date, so whole results are worth caching.
    day = start
    while n > 0:
        day += _ONE_DAY
        if _is_workday(day):
            n -= 1
    return day


def add_working_days(start: date, n: int) -> date:
    """The ``n``-th working day after ``start``; ``start`` itself never counts.

    ``n == 0`` returns ``start`` unchanged, whether or not it is a working day.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if isinstance(start, datetime):
        raise TypeError("add_working_days takes a date; use local_date() on a datetime first")
    return _add_working_days(start, n)


def working_days_between(start: date, end: date) -> int:
    """The number of working days ``d`` with ``start < d <= end``; 0 if ``end <= start``.

    The inverse of ``add_working_days``: ``working_days_between(s, add_working_days(s, n)) == n``.
    """
    count = 0
    day = start + _ONE_DAY
    while day <= end:
        count += _is_workday(day)
        day += _ONE_DAY
    return count


@dataclass(frozen=True, slots=True)
class Deadlines:
    """The last local dates on which a complaint is still within its limits."""

    accept_due: date  # accept or reject by the end of this day
    mediation_due: date | None  # close by the end of this day; None until accepted


def complaint_deadlines(received_at: datetime, accepted_at: datetime | None) -> Deadlines:
    """The acceptance and mediation due dates of a complaint."""
    accept_due = add_working_days(local_date(received_at), ACCEPT_LIMIT)
    mediation_due = (
        None if accepted_at is None else add_working_days(local_date(accepted_at), MEDIATION_LIMIT)
    )
    return Deadlines(accept_due=accept_due, mediation_due=mediation_due)


def overdue_since(
    received_at: datetime,
    accepted_at: datetime | None,
    closed_at: datetime | None,
    rejected: bool,
    as_of: datetime,
) -> date | None:
    """The first local date on which the complaint was overdue, or None if it is not, as of
    ``as_of``.

    Rules (all dates local to Asia/Shanghai, a due date counts to the end of that day):

    - Acceptance: the complaint must be answered by ``accept_due``. The answer is
      ``accepted_at``; without acceptance it is ``closed_at`` (a rejection, or a closure such
      as a withdrawal). No answer yet, or an answer dated after ``accept_due`` (answered late
      stays overdue on the record), makes it overdue from ``accept_due + 1 day``.
    - Mediation: once accepted it must be closed by ``mediation_due``. Not closed yet, or closed
      after ``mediation_due``, makes it overdue from ``mediation_due + 1 day``.
    - The earlier breach wins: a complaint accepted late is overdue from the acceptance breach
      even if its mediation then also ran late.
    - It only counts once that first overdue date has arrived: a date after
      ``local_date(as_of)`` gives None.

    ``rejected`` with no ``closed_at`` raises ValueError: the rejection date decides whether it
    was late, and guessing either way would misreport the complaint.
    """
    if rejected and accepted_at is None and closed_at is None:
        raise ValueError("a rejected complaint needs closed_at, the date it was rejected")
    today = local_date(as_of)
    deadlines = complaint_deadlines(received_at, accepted_at)
    answered_at = accepted_at if accepted_at is not None else closed_at

    if answered_at is None or local_date(answered_at) > deadlines.accept_due:
        first = deadlines.accept_due + _ONE_DAY
    elif deadlines.mediation_due is not None and (
        closed_at is None or local_date(closed_at) > deadlines.mediation_due
    ):
        first = deadlines.mediation_due + _ONE_DAY
    else:
        return None
    return first if first <= today else None
