"""Wire shapes of the register: areas and merchants (names as in design.md)."""

from __future__ import annotations

import msgspec

from service.kernel.models import AreaKind, MerchantCategory, MerchantStatus
from service.kernel.validation import Text


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
    name_zh: Text
    name_en: Text
    parent: str | None = None


class AreaPatch(msgspec.Struct, forbid_unknown_fields=True):
    name_zh: Text | msgspec.UnsetType = msgspec.UNSET
    name_en: Text | msgspec.UnsetType = msgspec.UNSET
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
    name: Text
    category: MerchantCategory
    district: str
    address: Text = ""
    street: str | None = None
    scenic_spot: str | None = None
    status: MerchantStatus = MerchantStatus.ACTIVE
    # An official accepts a legal pilot code whose check character fails GB 32100.
    uscc_override: bool = False


class MerchantPatch(msgspec.Struct, forbid_unknown_fields=True):
    name: Text | msgspec.UnsetType = msgspec.UNSET
    category: MerchantCategory | msgspec.UnsetType = msgspec.UNSET
    address: Text | msgspec.UnsetType = msgspec.UNSET
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
