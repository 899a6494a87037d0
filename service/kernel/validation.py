"""One range for every date and instant the service accepts, from any door (API bodies,
query parameters, imports): beyond it the arithmetic (UTC conversion, a day added) overflows
Python's datetime, and no survey, complaint or credit event of this bureau lies there."""

from datetime import date, datetime
from typing import Final

from service.kernel.errors import FieldError, InvalidInput

EARLIEST_YEAR: Final = 2000
LATEST_YEAR: Final = 2100
OUT_OF_RANGE: Final = f"must lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}"


def in_range(value: date) -> bool:
    """Checked on the wall-clock year, before any conversion: converting year 9999 at -14:00
    to UTC is itself what overflows."""
    return EARLIEST_YEAR <= value.year <= LATEST_YEAR


def check_moment(value: datetime) -> datetime:
    """The value itself, or ValueError with the message a FieldError carries."""
    if not in_range(value):
        raise ValueError(OUT_OF_RANGE)
    return value


def require_in_range(**values: date | None) -> None:
    """422 naming each out-of-range parameter, before anything computes with them."""
    bad = [
        FieldError(name, OUT_OF_RANGE)
        for name, value in values.items()
        if value is not None and not in_range(value)
    ]
    if bad:
        raise InvalidInput("A date is out of range", bad)
