"""Wire shapes of consumer advisories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from service.kernel.validation import Text, Timestamp


class AdvisoryIn(msgspec.Struct, forbid_unknown_fields=True):
    title: Text
    text: Text
    category: str  # price, quality, safety, prepaid, online, travel, fraud, other
    valid_from: Timestamp | None = None  # default: now
    valid_until: Timestamp | None = None  # default: until withdrawn
    merchants: Annotated[list[str], msgspec.Meta(max_length=200)] = []  # USCCs
    areas: Annotated[list[str], msgspec.Meta(max_length=50)] = []  # street, spot, district codes


class AdvisoryOut(msgspec.Struct):
    id: int
    title: str
    text: str
    category: str
    valid_from: datetime
    valid_until: datetime | None
    published_at: datetime
    withdrawn_at: datetime | None
    merchants: list[str]
    areas: list[str]
