"""The one time zone people read: Asia/Shanghai, on every page, PDF and spreadsheet.

The database and the JSON API keep instants in UTC (ISO 8601 with an offset, unambiguous to
programs). People read dates: a certificate issued at 07:30 on a Beijing morning is still the
previous day in UTC, and printing the UTC date would put the wrong day on it. Everything that
formats a moment for a person goes through ``localdate`` / ``localtime`` here, which the page
templates and the PDF templates get as filters of the same names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Final
from zoneinfo import ZoneInfo

import jinja2

LOCAL_TZ_NAME: Final = "Asia/Shanghai"
LOCAL_TZ: Final = ZoneInfo(LOCAL_TZ_NAME)

# Spreadsheets (CSV and XLSX) show Beijing wall-clock time with the offset written out, so a
# reader knows which clock it is and a program can still read the instant back. In CSV as
# text, "2026-03-16 07:30:00+08:00"; in XLSX as a date-time cell whose format prints the
# offset (Excel has no time zones). A fixed "+08:00" is true of every date we hold: China
# has kept UTC+8 all year since it last used summer time, in 1991.
CSV_DATETIME: Final = "%Y-%m-%d %H:%M:%S%:z"
XLSX_DATETIME: Final = 'yyyy-mm-dd hh:mm:ss"+08:00"'


def to_local(moment: datetime) -> datetime:
    """A timezone-aware datetime in Asia/Shanghai."""
    # A naive datetime could be UTC or local depending on where it came from; guessing would
    # shift moments between 00:00 and 08:00 Beijing time onto the wrong day.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: need a timezone-aware one")
    return moment.astimezone(LOCAL_TZ)


def as_utc(moment: datetime) -> datetime:
    """An instant as UTC, for a query bound: SQLite compares the stored UTC text, so a bound
    written with +08:00 would sort eight hours off. Without an offset it is taken as UTC, as
    every instant of the API is."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def localdate(value: date) -> str:
    """``YYYY-MM-DD`` of the Asia/Shanghai day; a plain date is already a calendar day."""
    if isinstance(value, datetime):
        return to_local(value).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"localdate needs a date or datetime, got {type(value).__name__}")


def localtime(value: datetime, seconds: bool = False) -> str:
    """``YYYY-MM-DD HH:MM`` (``:SS`` with ``seconds``) on the Asia/Shanghai clock."""
    if not isinstance(value, datetime):
        raise TypeError(f"localtime needs a datetime, got {type(value).__name__}")
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def export_text(moment: datetime) -> str:
    """A moment as a CSV cell: ``2026-03-16 07:30:00+08:00`` (see ``CSV_DATETIME``)."""
    return to_local(moment).isoformat(sep=" ", timespec="seconds")


def spreadsheet_datetime(moment: datetime) -> datetime:
    """A moment as an XLSX cell: the naive Beijing wall-clock time (see ``XLSX_DATETIME``)."""
    return to_local(moment).replace(tzinfo=None)


def install(env: jinja2.Environment) -> None:
    """Give a template environment the ``localdate`` and ``localtime`` filters."""
    env.filters["localdate"] = localdate
    env.filters["localtime"] = localtime


def year_bounds(year: int) -> tuple[datetime, datetime]:
    """The year's first instant and the next year's, in UTC: the bureau's year runs on Beijing
    time, as its figures count by local day."""
    return (
        as_utc(datetime(year, 1, 1, tzinfo=LOCAL_TZ)),
        as_utc(datetime(year + 1, 1, 1, tzinfo=LOCAL_TZ)),
    )
