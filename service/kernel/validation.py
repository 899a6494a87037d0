"""The input rules every door shares (API bodies, forms, query parameters, imports, feeds):
one check of a text, one reading of a whole number, one reading of a timestamp, one range for
every date and instant.

Beyond the range the arithmetic (UTC conversion, a day added) overflows Python's datetime,
and no survey, complaint or credit event of this bureau lies there."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Final

import msgspec

from service.kernel.errors import FieldError, InvalidInput
from service.kernel.i18n import N_, gettext

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


# --- text ---------------------------------------------------------------------------------

# What no text of ours holds, whoever sends it (issue 29): the C0 and C1 controls but a tab and
# a line break (a NUL ends a C string; U+000B makes the advisories' RSS invalid XML), the
# bidirectional embeddings, overrides and isolates U+202A–U+202E and U+2066–U+2069 (they print
# the words that follow reversed: a commitment's exclusions on a signed certificate), lone
# surrogates and the two non-characters XML 1.0 forbids. A carriage return is read as a line
# break. The marks U+200E, U+200F and U+061C stay: they reorder no run of text, and Uyghur and
# other right-to-left writing needs them.
_NOT_TEXT_CLASS: Final = (
    r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufffe\uffff"
)
# Surrogates only here: JSON decoding refuses a lone one already, and the schema's regular
# expression dialect cannot name them.
_NOT_TEXT: Final = re.compile(f"[{_NOT_TEXT_CLASS}\\ud800-\\udfff]")
# The schema's form of the rule, which msgspec checks at the door and OpenAPI publishes.
# JSON Schema's regular expressions have no \Z; "$" is right here all the same: the class
# admits a line break, so a match before a final one is a match of the whole text.
_TEXT_PATTERN: Final = f"^[^{_NOT_TEXT_CLASS}]*$"
# In the reader's language: these reach people on every form of the site.
EMPTY: Final = N_("must not be empty")
TOO_LONG: Final = N_("must be at most %(n)d characters")
NOT_TEXT: Final = (
    "must not contain control characters (a tab and a line break excepted) "
    "or bidirectional overrides and isolates"
)

Text = Annotated[
    str,
    msgspec.Meta(
        pattern=_TEXT_PATTERN,
        description="text: no control characters but tab and line break, no bidi overrides",
    ),
]
"""Every free-text field of every request body: refused at the door, named by its path."""


class NotText(ValueError):
    """A text holding a character no text of ours holds; its message is a FieldError's."""


def clean_text(value: str) -> str:
    """``value`` as it is kept: line breaks as "\\n", composed (NFC, so that one word is one
    string whatever keyboard typed it); NotText if it holds a character :data:`Text` refuses."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if _NOT_TEXT.search(text):
        raise NotText(NOT_TEXT)
    return unicodedata.normalize("NFC", text)


def check_text(
    errors: list[FieldError], name: str, value: str, limit: int, *, required: bool = True
) -> str:
    """A text field, from a person, a form, a file or a feed: ``value`` cleaned
    (:func:`clean_text`) and stripped, as it is to be stored; a FieldError added to ``errors``
    when it holds a character no text may hold, is blank (if ``required``) or is longer than
    ``limit`` characters."""
    try:
        text = clean_text(value).strip()
    except NotText as exc:
        errors.append(FieldError(name, str(exc)))
        return value.strip()
    if required and not text:
        errors.append(FieldError(name, gettext(EMPTY)))
    elif len(text) > limit:
        errors.append(FieldError(name, gettext(TOO_LONG) % {"n": limit}))
    return text


def plain_problem(message: str) -> str:
    """msgspec's words for a value that broke :data:`Text` ("Expected `str` matching regex
    '^[^\\x00-…'") as a person reads them; any other message as it is."""
    return NOT_TEXT if repr(_TEXT_PATTERN)[1:-1] in message else message


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
