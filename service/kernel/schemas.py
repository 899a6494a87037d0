"""Wire shapes of the shared resources (msgspec structs, named as in design.md)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from service.kernel.models import AreaKind, MerchantCategory, MerchantStatus, Role


class AreaOut(msgspec.Struct):
    code: str
    kind: AreaKind
    name_zh: str
    name_en: str
    parent: str | None
    is_demo: bool = False


class AreaIn(msgspec.Struct, forbid_unknown_fields=True):
    code: str
    kind: AreaKind
    name_zh: str
    name_en: str
    parent: str | None = None


class AreaPatch(msgspec.Struct, forbid_unknown_fields=True):
    name_zh: str | msgspec.UnsetType = msgspec.UNSET
    name_en: str | msgspec.UnsetType = msgspec.UNSET
    parent: str | msgspec.UnsetType | None = msgspec.UNSET


class MerchantOut(msgspec.Struct):
    uscc: str
    name: str
    category: MerchantCategory
    address: str
    district: str
    street: str | None
    scenic_spot: str | None
    status: MerchantStatus
    uscc_override: bool = False
    is_demo: bool = False


class MerchantIn(msgspec.Struct, forbid_unknown_fields=True):
    uscc: str
    name: str
    category: MerchantCategory
    district: str
    address: str = ""
    street: str | None = None
    scenic_spot: str | None = None
    status: MerchantStatus = MerchantStatus.ACTIVE
    # An official accepts a legal pilot code whose check character fails GB 32100.
    uscc_override: bool = False


class MerchantPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: str | msgspec.UnsetType = msgspec.UNSET
    category: MerchantCategory | msgspec.UnsetType = msgspec.UNSET
    address: str | msgspec.UnsetType = msgspec.UNSET
    district: str | msgspec.UnsetType = msgspec.UNSET
    street: str | msgspec.UnsetType | None = msgspec.UNSET
    scenic_spot: str | msgspec.UnsetType | None = msgspec.UNSET
    status: MerchantStatus | msgspec.UnsetType = msgspec.UNSET


class AreaPage(msgspec.Struct):
    items: list[AreaOut]
    total: int
    page: int
    page_size: int


class MerchantPage(msgspec.Struct):
    items: list[MerchantOut]
    total: int
    page: int
    page_size: int


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
    name: str
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
