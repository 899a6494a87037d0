"""Wire shapes of what every part shares: problems (errors), accounts and API tokens."""

from __future__ import annotations

from datetime import datetime

import msgspec

from service.kernel.models import Role
from service.kernel.validation import Text


class FieldErrorOut(msgspec.Struct):
    field: str
    message: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, with the bad fields of a 422 in ``errors``."""

    type: str
    title: str
    status: int
    detail: str = ""
    errors: list[FieldErrorOut] = msgspec.field(default_factory=list)
    request_id: str | None = None


class TokenIn(msgspec.Struct, forbid_unknown_fields=True):
    name: Text
    role: Role


class TokenOut(msgspec.Struct):
    id: int
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool


class TokenCreated(msgspec.Struct):
    id: int
    name: str
    role: Role
    token: str  # shown once; only its hash is kept


class AccountIn(msgspec.Struct, forbid_unknown_fields=True):
    username: str
    password: str
    role: Role
    merchant: str | None = None
    district: str | None = None  # a district's code: an official confined to it
    area: str | None = None  # a street's or scenic spot's code: the area a manager manages


class AccountOut(msgspec.Struct):
    username: str
    role: Role
    merchant: str | None
    active: bool
    locked_until: datetime | None
    last_login_at: datetime | None
    district: str | None = None
    area: str | None = None
