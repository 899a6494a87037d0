"""Does a signature cover the whole file? Decided from the file's bytes, not from a library's
summary of them.

pyHanko 0.38 calls a signature ``ENTIRE_FILE`` when the file's length equals
``len1 + len2 + 2·len(/Contents) + 2``, reading ``/Contents`` from the newest revision: an
incremental update that restates the signature dictionary with a padded *literal*
``/Contents`` passes that sum while painting anything it likes on the page. So the rule here is
the one a careful reader of ISO 32000 applies by hand: everything but the signature's own hex
string is signed, and nothing came after.

Pure: bytes and the values read from the signature dictionary in, a reason out.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

# PDF white space (ISO 32000-1 §7.2.2): NUL, HT, LF, FF, CR, SP.
_HEX_STRING = re.compile(rb"<[0-9A-Fa-f\x00\t\n\x0c\r ]*>")
_WHITE = re.compile(rb"[\x00\t\n\x0c\r ]")
# From the object header to the key whose value the gap is: within one object, no other
# object's end between them.
_HEADER = re.compile(rb"[\x00\t\n\x0c\r ]*(\d+)[\x00\t\n\x0c\r ]+(\d+)[\x00\t\n\x0c\r ]+obj\b")
_CONTENTS_KEY = re.compile(rb"/Contents[\x00\t\n\x0c\r ]*\Z")


@dataclass(frozen=True, slots=True)
class SignedObject:
    """Where the signature dictionary stands, as the file's cross-reference data says."""

    number: int
    generation: int
    offset: int | None  # its byte offset; None when it sits in an object stream
    introduced_in: int  # the revision that first defines it (0 = the original file)
    last_changed_in: int  # the newest revision that (re)defines it
    revisions: int  # how many revisions the file has


@dataclass(frozen=True, slots=True)
class Coverage:
    whole_file: bool
    reason: str  # why not, in a phrase; "" when whole


def _no(reason: str) -> Coverage:
    return Coverage(False, reason)


def _byte_range(values: Sequence[object]) -> tuple[int, int, int, int] | None:
    if len(values) != 4 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values
    ):
        return None
    start1, len1, start2, len2 = (int(v) for v in values)  # type: ignore[call-overload]
    return start1, len1, start2, len2


def whole_file(
    pdf: bytes, byte_range: Sequence[object], contents: bytes, where: SignedObject
) -> Coverage:
    """Whether the signature whose dictionary holds ``byte_range`` and ``contents`` (as
    read and verified) signs every byte of ``pdf`` but its own value, with nothing after."""
    found = _byte_range(byte_range)
    if found is None:
        return _no("the byte range is not four non-negative integers")
    start1, len1, start2, len2 = found
    if start1 != 0:
        return _no("the first signed range does not start at the beginning of the file")
    if not 0 < len1 < start2:
        return _no("the signed ranges do not leave one gap between them")
    if start2 + len2 != len(pdf):
        return _no("the second signed range does not end at the end of the file")
    gap = pdf[len1:start2]
    if _HEX_STRING.fullmatch(gap) is None:
        return _no("the unsigned gap is not exactly one hexadecimal string")
    digits = _WHITE.sub(b"", gap[1:-1])
    if len(digits) % 2:
        return _no("the unsigned gap holds an odd number of hexadecimal digits")
    if bytes.fromhex(digits.decode("ascii")) != contents:
        return _no("the signature that was checked is not the one in the unsigned gap")
    if where.revisions - 1 != where.last_changed_in:
        return _no("the file was updated after the signature was made")
    if where.introduced_in != where.last_changed_in:
        return _no("the signature dictionary was restated after it was first written")
    if where.offset is None or where.offset >= len1:
        return _no("the signature dictionary is not where the signed gap is")
    header = _HEADER.match(pdf, where.offset)
    if header is None or (int(header[1]), int(header[2])) != (where.number, where.generation):
        return _no("the cross-reference data does not point at the signature dictionary")
    before_gap = pdf[header.end() : len1]
    if b"endobj" in before_gap or _CONTENTS_KEY.search(before_gap) is None:
        return _no("the unsigned gap is not the signature dictionary's /Contents value")
    return Coverage(True, "")
