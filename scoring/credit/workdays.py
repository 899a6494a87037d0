"""Working-day arithmetic for the complaint-handling time limits.

The market regulator counts its limits in working days, not calendar days: official public
holidays are off and some weekends are make-up workdays (调休), so neither ``timedelta`` nor
Monday–Friday gives the right due date around the Spring Festival or National Day. A complaint
must be accepted or rejected within ``ACCEPT_LIMIT`` working days of receipt, and mediation ends
``MEDIATION_LIMIT`` working days after acceptance; a report (举报) must be decided on — filed
as a case or not — within ``REPORT_DECISION_LIMIT`` working days of receipt.

Where a year's calendar comes from, first match wins:

1. an entry marked ``official`` in a calendar file: the bureau's own (``FANGXIN_WORKDAYS_FILE``,
   else ``workdays.toml`` in the data dir) over the one we ship (``calendars/workdays.toml``),
   for a year the State Council has announced but no release of the library carries yet, or
   to correct one;
2. the ``chinese_calendar`` library, which has the State Council's notices up to its release;
3. a provisional (not official) entry of a calendar file;
4. from 2025 on, the statutory holidays of 《全国年节及纪念日放假办法》 as revised by 国务院令
   第798号, computed (lunar dates with ``lunar_python``): New Year's Day is then off, but the
   make-up workdays and the compensatory days off for festivals that fall on a weekend are
   what each year's notice decides, and stay unknown until someone enters it;
5. before that, Monday–Friday.

Only 1 and 2 are official: ``calendar_covers`` says whether a date's year is, the officials'
desk warns while this year or the next is not, and the first use of each year that is not
logs a warning, since due dates there may be off by the days nobody has announced yet.

Dates are local dates in Asia/Shanghai: a complaint received at 01:30 Beijing time belongs to
that Beijing day even though it is still the previous day in UTC.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

import chinese_calendar  # type: ignore[import-untyped]

from service.kernel.localtime import LOCAL_TZ, to_local
from service.kernel.validation import int_or_none

__all__ = [
    "ACCEPT_LIMIT",
    "LOCAL_TZ",
    "MEDIATION_LIMIT",
    "REPORT_DECISION_LIMIT",
    "SHIPPED_CALENDAR",
    "CalendarFileError",
    "Deadlines",
    "YearCalendar",
    "add_working_days",
    "calendar_covers",
    "complaint_deadlines",
    "configure",
    "is_workday",
    "load_calendar_file",
    "local_date",
    "overdue_since",
    "statutory_holidays",
    "unofficial_years",
    "working_days_between",
    "year_calendar",
]

ACCEPT_LIMIT = 7  # working days from receipt to acceptance or rejection
MEDIATION_LIMIT = 45  # working days from acceptance to the end of mediation
REPORT_DECISION_LIMIT = 15  # working days from receipt of a report to the decision on filing

SHIPPED_CALENDAR: Final = Path(__file__).parent / "calendars" / "workdays.toml"
# 国务院令第798号 (the revised 全国年节及纪念日放假办法) took effect on 2025-01-01; the
# statutory days before it were different, so they are never computed for earlier years.
STATUTORY_SINCE: Final = 2025
STATUTORY_SOURCE: Final = (
    "《全国年节及纪念日放假办法》（国务院令第798号修订，2025年1月1日起施行）规定的全体公民"
    "放假节日，农历日期推算；调休上班日和节日适逢周六、周日的补假日期未知"
)
LIBRARY_SOURCE: Final = f"chinese_calendar {chinese_calendar.__version__}"
_KEYS: Final = ("official", "source", "holidays", "makeup_workdays")
_WEEKDAYS: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

_ONE_DAY = timedelta(days=1)
_log = logging.getLogger(__name__)


class CalendarFileError(ValueError):
    """A working-day calendar file that cannot be used, naming the file and the entry."""


@dataclass(frozen=True, slots=True)
class YearCalendar:
    """One year's days off and make-up workdays, and where they come from."""

    year: int
    holidays: frozenset[date]  # days off, festivals and the weekdays moved around them
    makeup_workdays: frozenset[date]  # Saturdays and Sundays worked (调休上班)
    official: bool  # the State Council's notice for the year, as announced
    source: str  # the notice, the law or the library the dates come from
    origin: str  # the file or library that holds them, for messages

    def is_workday(self, day: date) -> bool:
        if day in self.makeup_workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


# The calendar files' years, the bureau's over ours: read at ``configure`` (or, if nothing
# configured, the shipped file at first use).
_entries: dict[int, YearCalendar] | None = None


def configure(override: Path | None) -> None:
    """Use the shipped calendar file, then ``override`` (the bureau's) over it; raises
    ``CalendarFileError`` on a file that cannot be used. Every process start calls this once,
    with ``settings.workdays_file``."""
    global _entries
    entries = load_calendar_file(SHIPPED_CALENDAR)
    if override is not None:
        entries.update(load_calendar_file(override))
    _entries = entries
    # Every cached answer was worked out on the calendars before.
    year_calendar.cache_clear()
    _is_workday.cache_clear()
    _add_working_days.cache_clear()


def _file_entries() -> dict[int, YearCalendar]:
    global _entries
    if _entries is None:
        _entries = load_calendar_file(SHIPPED_CALENDAR)
    return _entries


def load_calendar_file(path: Path) -> dict[int, YearCalendar]:
    """The years of a calendar file (TOML, one table per year; see calendars/workdays.toml)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CalendarFileError(f"{path}: cannot be read: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CalendarFileError(f"{path}: not valid TOML: {exc}") from exc
    return dict(_entry(path, k, v) for k, v in raw.items())


def _entry(path: Path, key: str, value: Any) -> tuple[int, YearCalendar]:
    where = f"{path}: [{key}]"
    year = int_or_none(key, max_digits=4)
    if year is None or not 1900 <= year <= 2100:
        raise CalendarFileError(f"{where}: not a year; the file holds one table per year")
    if not isinstance(value, dict):
        raise CalendarFileError(f"{where}: must be a table (official, source, holidays, ...)")
    unknown = sorted(set(value) - set(_KEYS))
    if unknown:
        raise CalendarFileError(
            f"{where}: unknown key {unknown[0]!r} (a year has {', '.join(_KEYS)})"
        )
    missing = [k for k in _KEYS if k not in value]
    if missing:
        raise CalendarFileError(f"{where}: missing {missing[0]!r} (a year has {', '.join(_KEYS)})")
    official, source = value["official"], value["source"]
    if not isinstance(official, bool):
        raise CalendarFileError(f"{where} official: must be true or false")
    if not isinstance(source, str) or not source.strip():
        raise CalendarFileError(f"{where} source: say where the dates come from")
    holidays = _dates(where, "holidays", value["holidays"], year)
    makeup = _dates(where, "makeup_workdays", value["makeup_workdays"], year)
    if not holidays:
        raise CalendarFileError(f"{where} holidays: a year has holidays; none are listed")
    for i, day in enumerate(makeup):
        if day.weekday() < 5:
            raise CalendarFileError(
                f"{where} makeup_workdays[{i}]: {day} is a {_WEEKDAYS[day.weekday()]}; a "
                "make-up workday is a Saturday or Sunday worked"
            )
    both = sorted(set(holidays) & set(makeup))
    if both:
        raise CalendarFileError(f"{where}: {both[0]} is both a holiday and a make-up workday")
    entry = YearCalendar(
        year, frozenset(holidays), frozenset(makeup), official, source.strip(), str(path)
    )
    return year, entry


def _dates(where: str, name: str, value: Any, year: int) -> list[date]:
    if not isinstance(value, list):
        raise CalendarFileError(f"{where} {name}: must be a list of dates, e.g. [{year}-01-01]")
    seen: list[date] = []
    for i, item in enumerate(value):
        at = f"{where} {name}[{i}]"
        # tomllib gives a bare 2027-01-01 as a date; quoted, it is text, and with a time of
        # day a datetime (a date subclass), neither of which names one whole day.
        if isinstance(item, datetime) or not isinstance(item, date):
            raise CalendarFileError(
                f"{at}: {item!r} is not a date; write it bare, without quotes: {year}-01-01"
            )
        if item.year != year:
            raise CalendarFileError(f"{at}: {item} is not in {year}")
        if item in seen:
            raise CalendarFileError(f"{at}: {item} is listed twice")
        seen.append(item)
    return seen


def statutory_holidays(year: int) -> frozenset[date]:
    """The festival days off of 《全国年节及纪念日放假办法》 (国务院令第798号, from 2025):
    元旦 1 day (1 January), 春节 4 days (除夕 to 正月初三), 清明节 1 day, 劳动节 2 days
    (1–2 May), 端午节 1 day, 中秋节 1 day, 国庆节 3 days (1–3 October).

    Only the days the law names: each year's notice adds the compensatory days off for
    festivals that fall on a weekend and moves days around them."""
    if year < STATUTORY_SINCE:
        raise ValueError(f"the statutory holidays of 国务院令第798号 apply from 2025, not {year}")
    from lunar_python import Lunar  # type: ignore[import-untyped]

    def solar(lunar_month: int, lunar_day: int) -> date:
        s = Lunar.fromYmd(year, lunar_month, lunar_day).getSolar()
        return date(s.getYear(), s.getMonth(), s.getDay())

    spring = solar(1, 1)  # 正月初一; 除夕 is the day before it, whatever the month's length
    (qingming,) = (
        d
        for d, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
        if name == "清明"
    )
    return frozenset(
        {
            date(year, 1, 1),
            *(spring + timedelta(days=n) for n in range(-1, 3)),
            qingming,
            date(year, 5, 1),
            date(year, 5, 2),
            solar(5, 5),
            solar(8, 15),
            *(date(year, 10, d) for d in (1, 2, 3)),
        }
    )


def _library_year(year: int) -> YearCalendar | None:
    years = {d.year for d in chinese_calendar.holidays}
    if year not in years:
        return None
    return YearCalendar(
        year,
        frozenset(d for d in chinese_calendar.holidays if d.year == year),
        frozenset(d for d in chinese_calendar.workdays if d.year == year),
        official=True,
        source=f"国务院办公厅关于{year}年部分节假日安排的通知",
        origin=LIBRARY_SOURCE,
    )


@cache
def year_calendar(year: int) -> YearCalendar:
    """The calendar a year is counted on (see the module's docstring for the order)."""
    # Cached per year: worked out once, and the warning for a year that is not official
    # is logged once rather than per date.
    entry = _file_entries().get(year)
    if entry is not None and entry.official:
        return entry
    library = _library_year(year)
    if library is not None:
        return library
    if entry is not None:
        _log.warning(
            "no official holiday calendar for %d: counting the provisional entry of %s (%s)",
            year,
            entry.origin,
            entry.source,
        )
        return entry
    if year >= STATUTORY_SINCE:
        _log.warning(
            "no official holiday calendar for %d: counting only the statutory holidays of "
            "国务院令第798号; make-up workdays and compensatory days off are unknown until "
            "the State Council's notice is entered in the workdays file",
            year,
        )
        return YearCalendar(
            year, statutory_holidays(year), frozenset(), False, STATUTORY_SOURCE, "statutory"
        )
    _log.warning(
        "no official holiday calendar for %d: counting Monday–Friday as working days", year
    )
    return YearCalendar(
        year, frozenset(), frozenset(), False, "Monday–Friday", "no calendar for this year"
    )


def calendar_covers(day: date) -> bool:
    """Whether ``day``'s year is on an official calendar (the library, or an entry marked
    official in a calendar file)."""
    return year_calendar(day.year).official


def unofficial_years(years: Iterable[int]) -> list[YearCalendar]:
    """Of ``years``, the calendars that are not official, for a warning."""
    return [c for c in (year_calendar(y) for y in years) if not c.official]


@lru_cache(maxsize=16384)
def _is_workday(day: date) -> bool:
    # Cached per date: deadlines for ~100k complaints walk the same few hundred dates over and
    # over. Sized for several decades of dates, so the hot set never gets evicted.
    return year_calendar(day.year).is_workday(day)


def is_workday(day: date) -> bool:
    """Whether ``day`` is a working day on the calendar of its year (``year_calendar``)."""
    # A datetime is a date subclass; hashing it would key the cache on the time of day too.
    if isinstance(day, datetime):
        raise TypeError("is_workday takes a date; use local_date() on a datetime first")
    return _is_workday(day)


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a timezone-aware datetime."""
    return to_local(moment).date()


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


def complaint_deadlines(
    received_at: datetime,
    accepted_at: datetime | None,
    accept_limit: int = ACCEPT_LIMIT,
    mediation_limit: int | None = MEDIATION_LIMIT,
) -> Deadlines:
    """The acceptance and mediation due dates of a complaint; with ``REPORT_DECISION_LIMIT``
    and no mediation limit, the decision due date of a report."""
    accept_due = add_working_days(local_date(received_at), accept_limit)
    mediation_due = (
        None
        if accepted_at is None or mediation_limit is None
        else add_working_days(local_date(accepted_at), mediation_limit)
    )
    return Deadlines(accept_due=accept_due, mediation_due=mediation_due)


def overdue_since(
    received_at: datetime,
    accepted_at: datetime | None,
    closed_at: datetime | None,
    rejected: bool,
    as_of: datetime,
    accept_limit: int = ACCEPT_LIMIT,
    mediation_limit: int | None = MEDIATION_LIMIT,
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
    deadlines = complaint_deadlines(received_at, accepted_at, accept_limit, mediation_limit)
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
