"""Certificate status as W3C Bitstring Status List v1.0 bitstrings: one bit per certificate, at
an index fixed when it is issued, in a revocation list and a suspension list.

Indexes are drawn at random from the whole list (the spec's herd privacy: neither the index
nor a fetch of the list tells anyone which certificate is being checked, nor when it was
issued). The list is at least 131,072 bits and doubles whenever more than half would be used,
so a random draw finds a free index in under two tries on average; indexes never move, so a
larger list keeps every earlier index where it was.
"""

from __future__ import annotations

import base64
import gzip
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import cast

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Count, Max

from certificates.models import Certificate, Status

MIN_BITS = 131_072  # 16 KiB uncompressed, the spec's minimum


class Purpose(StrEnum):
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


# The stored status, not the status by date: an expired certificate is neither revoked nor
# suspended (its credential's validUntil says it has lapsed), and the list then changes only
# when a row does, so one state of the table always gives the same list.
FLAGGED = {Purpose.REVOCATION: Status.REVOKED, Purpose.SUSPENSION: Status.SUSPENDED}


def list_size(used: int, highest: int | None = None) -> int:
    """Bits in the list when ``used`` indexes are taken, the highest being ``highest``."""
    size = MIN_BITS
    while used > size // 2 or (highest is not None and highest >= size):
        size *= 2
    return size


@dataclass(frozen=True, slots=True)
class Extent:
    count: int
    highest: int | None
    newest_change: datetime | None  # the latest issue or status change of any certificate


async def extent(conn: BaseDBAsyncClient | None = None) -> Extent:
    row = (
        await Certificate.annotate(
            n=Count("id"), top=Max("status_index"), newest=Max("status_changed_at")
        )
        .using_db(conn)
        .values("n", "top", "newest")
    )[0]
    newest = row["newest"]
    if isinstance(newest, str):  # SQLite returns an aggregate of datetimes as text
        newest = datetime.fromisoformat(newest)
    return Extent(int(row["n"] or 0), row["top"], newest)


async def allocate(conn: BaseDBAsyncClient) -> int:
    """A random index no certificate holds. Call it inside the transaction that creates the
    certificate, under issuance's serial lock, so two issuers cannot draw the same one (the
    unique constraint would refuse the second)."""
    now = await extent(conn)
    size = list_size(now.count + 1, now.highest)
    while True:
        candidate = secrets.randbelow(size)
        if not await Certificate.filter(status_index=candidate).using_db(conn).exists():
            return candidate


def bitstring(indexes: Iterable[int], size: int) -> bytes:
    """``size`` bits with those at ``indexes`` set; index 0 is the most significant bit of the
    first byte."""
    if size % 8:
        raise ValueError(f"a bitstring is whole bytes, not {size} bits")
    bits = bytearray(size // 8)
    for index in indexes:
        if not 0 <= index < size:
            raise ValueError(f"index {index} is outside a list of {size} bits")
        bits[index >> 3] |= 0x80 >> (index & 7)
    return bytes(bits)


def encode_list(bits: bytes) -> str:
    """Multibase base64url without padding (prefix ``u``) of the GZIP of the bits. The GZIP
    header's time is zero: the same bits always give the same text, on every worker."""
    compressed = gzip.compress(bits, compresslevel=9, mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


@dataclass(frozen=True, slots=True)
class ListState:
    purpose: Purpose
    size: int
    encoded: str
    newest_change: datetime | None


async def current(purpose: Purpose) -> ListState:
    """The list now: one query for the flagged indexes, one for the list's extent."""
    flagged = cast(
        "list[int]",
        await Certificate.filter(status=FLAGGED[purpose]).values_list("status_index", flat=True),
    )
    # Read second, so its size covers every index just read and its time is no older than
    # any change the bits show.
    now = await extent()
    size = list_size(now.count, now.highest)
    encoded = encode_list(bitstring(flagged, size))
    return ListState(purpose, size, encoded, now.newest_change)
