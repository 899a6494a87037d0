"""Wire shapes of credit: event and complaint feeds, a merchant's credit (names as in design.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

BATCH_MAX = 5000  # items per ingest request

Timestamp = Annotated[
    str,
    msgspec.Meta(description="ISO 8601 with a UTC offset", examples=["2026-11-02T09:30:00+08:00"]),
]


class CreditEventIn(msgspec.Struct, forbid_unknown_fields=True):
    uscc: str
    kind: str
    occurred_at: Timestamp
    source: str
    external_ref: str
    note: str = ""
    # The regulator's A–D class, only for kind ``external_class``.
    risk_class: str | None = msgspec.field(default=None, name="class")


class CreditEventBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[CreditEventIn], msgspec.Meta(min_length=1, max_length=BATCH_MAX)]


class ComplaintIn(msgspec.Struct, forbid_unknown_fields=True):
    external_id: str
    uscc: str
    received_at: Timestamp
    status: str
    category: str
    accepted_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    amount_disputed: float = 0.0  # yuan
    amount_recovered: float = 0.0
    upheld: bool | None = None
    source: str = "12315"


class ComplaintBatch(msgspec.Struct, forbid_unknown_fields=True):
    complaints: Annotated[list[ComplaintIn], msgspec.Meta(min_length=1, max_length=BATCH_MAX)]


class IngestOut(msgspec.Struct):
    received: int
    stored: int  # new records
    updated: int  # complaints whose report moved on
    unchanged: int  # already known, identical: a replay
    merchants_changed: int  # merchants whose credit score or class changed


class CreditEventOut(msgspec.Struct):
    id: int
    kind: str
    occurred_at: datetime
    source: str
    external_ref: str
    note: str
    risk_class: str | None = msgspec.field(name="class")
    points: float  # what the event weighs today


class CreditChangeOut(msgspec.Struct):
    changed_at: datetime
    old_score: float
    old_class: str
    score: float
    risk_class: str = msgspec.field(name="class")
    cause: str
    event_ids: list[int]


class CreditOut(msgspec.Struct):
    uscc: str
    score: float
    risk_class: str = msgspec.field(name="class")
    updated_at: datetime | None
    abnormal_listed: bool
    serious_listed: bool
    external_class: str | None
    rules_version: str
    history: list[CreditChangeOut]
    events: list[CreditEventOut]
