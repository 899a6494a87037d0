"""Wire shapes of commitments."""

from __future__ import annotations

from datetime import datetime

import msgspec

from service.kernel.validation import Text, Timestamp


class CommitmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """A commitment of one kind, declared or replacing the one in force of that kind."""

    kind: str  # returns, pay_first, marked_prices
    days: int | None = None  # returns only: 7, 15 or 30
    exclusions: Text = ""  # returns only: what is not taken back, in the merchant's words
    other_branches: bool = False  # returns only: any branch takes goods back (异地异店)
    valid_from: Timestamp | None = None  # default: now
    valid_until: Timestamp | None = None  # default: open-ended


class CommitmentOut(msgspec.Struct):
    id: int
    uscc: str
    kind: str
    days: int | None
    exclusions: str
    other_branches: bool
    valid_from: datetime
    valid_until: datetime | None
    declared_as: str  # merchant, official
    declared_at: datetime
    ended_at: datetime | None
    status: str  # in_force, upcoming, ended, expired
    in_force: bool
    # Upheld complaints marked as breaking a commitment of this kind, last twelve months.
    broken_upheld_12m: int


class CommitmentsOut(msgspec.Struct):
    uscc: str
    in_force: list[CommitmentOut]
    history: list[CommitmentOut]  # every row, newest first, those in force included
