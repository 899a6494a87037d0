"""The input rules every door shares (API bodies, forms, query parameters, imports, feeds):
one check of a text, one reading of a whole number, one reading of a timestamp, one range for
every date and instant.

Beyond the range the arithmetic (UTC conversion, a day added) overflows Python's datetime,
and no survey, complaint or credit event of this bureau lies there."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Final

import msgspec

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


# A sender's clock may run a little ahead of ours; anything later is a mistake.
FUTURE_TOLERANCE: Final = timedelta(minutes=5)

Timestamp = Annotated[
    str,
    msgspec.Meta(description="ISO 8601 with a UTC offset", examples=["2026-11-02T09:30:00+08:00"]),
]


def parse_time(value: str) -> datetime:
    """An ISO 8601 timestamp with its UTC offset, as UTC; ValueError with the message a
    FieldError carries."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("is not an ISO 8601 timestamp") from None
    if moment.tzinfo is None:
        raise ValueError("needs a UTC offset (e.g. +08:00)")
    return check_moment(moment).astimezone(UTC)


def check_text(
    errors: list[FieldError], name: str, value: str, limit: int, *, required: bool = True
) -> str:
    """A text field, from a person or a feed: ``value`` stripped, and a FieldError added to
    ``errors`` when it is blank (if ``required``), longer than ``limit`` characters, or holds a
    NUL (no database stores one, and nothing a person types has one)."""
    text = value.strip()
    if required and not text:
        errors.append(FieldError(name, "must not be empty"))
    elif len(value) > limit:
        errors.append(FieldError(name, f"must be at most {limit} characters"))
    elif "\x00" in value:
        errors.append(FieldError(name, "must not contain a NUL character"))
    return text


# --- whole numbers ------------------------------------------------------------------------

# A signed 64-bit column holds 18 digits whatever they are; int() refuses 4,300 and more.
INT_DIGITS_MAX: Final = 18
_ASCII_DIGITS: Final = re.compile(r"[0-9]+")


class NotAnInteger(ValueError):
    """Text that is not a whole number in ASCII digits; its message is what a FieldError says."""


def parse_int(text: str, *, max_digits: int = INT_DIGITS_MAX, negative: bool = False) -> int:
    """The whole number ``text`` spells in ASCII digits, and nothing else: no space, no "+",
    no "_", one leading "-" only where ``negative`` numbers make sense, at most ``max_digits``
    digits. ``str.isdigit()`` is true of "²" and "①", and ``int()`` reads "٣" and "1_0":
    neither is how a number reaches this service."""
    digits = text[1:] if negative and text.startswith("-") else text
    if len(digits) > max_digits or not _ASCII_DIGITS.fullmatch(digits):
        raise NotAnInteger(f"must be a whole number of at most {max_digits} digits (0-9)")
    return int(text)


def int_or_none(text: str | None, *, max_digits: int = INT_DIGITS_MAX) -> int | None:
    """``parse_int`` for an optional value where anything else means "not given"."""
    try:
        return None if text is None else parse_int(text, max_digits=max_digits)
    except NotAnInteger:
        return None
