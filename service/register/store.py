"""Areas and merchants: validation, listing, create/update, and CSV/XLSX import.

One validation per kind of record serves the API, the importer and the demo city, so a
merchant the API refuses is also refused by ``fangxin import merchants``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from service.kernel import audit, events, scope
from service.kernel.audit import Actor
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.events import MerchantRegistered
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, MerchantStatus
from service.kernel.validation import check_text
from service.register import uscc
from service.register.schemas import (
    AreaIn,
    AreaOut,
    AreaPatch,
    MerchantIn,
    MerchantOut,
    MerchantPatch,
)

CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
PARENT_KIND = {
    AreaKind.CITY: None,
    AreaKind.DISTRICT: AreaKind.CITY,
    AreaKind.STREET: AreaKind.DISTRICT,
    AreaKind.SCENIC_SPOT: AreaKind.DISTRICT,
}
MAX_PAGE_SIZE = 500
MAX_PAGE = 1_000_000  # beyond, an offset no database takes kindly, and nobody pages that far
AREA_COLUMNS = ("code", "kind", "name_zh", "name_en", "parent")
MERCHANT_COLUMNS = (
    "uscc",
    "name",
    "category",
    "address",
    "district",
    "street",
    "scenic_spot",
    "status",
)


# --- validation -------------------------------------------------------------------------


@dataclass(slots=True)
class AreaIndex:
    """What validation needs to know about areas: code → (kind, parent code)."""

    kinds: dict[str, AreaKind] = field(default_factory=dict)
    parents: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    async def load(
        cls, conn: BaseDBAsyncClient | None = None, within: Area | None = None
    ) -> AreaIndex:
        """Every area, or (``within`` a district) only the district and its streets and
        scenic spots: what a district's official may name, so that naming any other reads
        as naming nothing."""
        rows = await scope.areas(within).using_db(conn).values_list("code", "kind", "parent__code")
        index = cls()
        for code, kind, parent in rows:
            index.kinds[code] = AreaKind(kind)
            index.parents[code] = parent
        return index

    def add(self, code: str, kind: AreaKind, parent: str | None) -> None:
        self.kinds[code] = kind
        self.parents[code] = parent


def check_area(data: AreaIn, index: AreaIndex) -> tuple[AreaIn, list[FieldError]]:
    """The area as it is to be kept (its names cleaned), and every field wrong with it."""
    errors: list[FieldError] = []
    if not CODE_RE.fullmatch(data.code):
        errors.append(FieldError("code", "1–32 letters, digits, '-' or '_'"))
    kept = msgspec.structs.replace(
        data,
        name_zh=check_text(errors, "name_zh", data.name_zh, 100),
        name_en=check_text(errors, "name_en", data.name_en, 200),
    )
    errors.extend(_check_parent(data.code, data.kind, data.parent, index))
    return kept, errors


def _check_parent(
    code: str, kind: AreaKind, parent: str | None, index: AreaIndex
) -> list[FieldError]:
    wanted = PARENT_KIND[kind]
    if wanted is None:
        return [FieldError("parent", "a city has no parent")] if parent else []
    if not parent:
        return [FieldError("parent", f"a {kind.value} needs a parent {wanted.value}")]
    if parent == code:
        return [FieldError("parent", "an area cannot be its own parent")]
    found = index.kinds.get(parent)
    if found is None:
        return [FieldError("parent", f"no area with code {parent}")]
    if found != wanted:
        return [FieldError("parent", f"{parent} is a {found.value}, expected a {wanted.value}")]
    return []


def check_merchant(data: MerchantIn, index: AreaIndex) -> tuple[MerchantIn, list[FieldError]]:
    """The merchant as it is to be kept (its name and address cleaned), and every field
    wrong with it."""
    errors: list[FieldError] = []
    try:
        uscc.validate(data.uscc)
    except uscc.USCCError as exc:
        if not (exc.checksum_only and data.uscc_override):
            hint = (
                " (an official may accept a legal pilot code with uscc_override)"
                if (exc.checksum_only)
                else ""
            )
            errors.append(FieldError("uscc", f"{exc}{hint}"))
    kept = msgspec.structs.replace(
        data,
        name=check_text(errors, "name", data.name, 200),
        address=check_text(errors, "address", data.address, 300, required=False),
    )
    if index.kinds.get(data.district) != AreaKind.DISTRICT:
        errors.append(FieldError("district", f"no district with code {data.district}"))
    if data.street and data.scenic_spot:
        errors.append(FieldError("scenic_spot", "a merchant is on a street or in a scenic spot"))
    for name, value, kind in (
        ("street", data.street, AreaKind.STREET),
        ("scenic_spot", data.scenic_spot, AreaKind.SCENIC_SPOT),
    ):
        if not value:
            continue
        if index.kinds.get(value) != kind:
            errors.append(FieldError(name, f"no {kind.value} with code {value}"))
        elif index.parents.get(value) != data.district:
            errors.append(FieldError(name, f"{value} is not in district {data.district}"))
    return kept, errors


# --- reading ------------------------------------------------------------------------------


def area_out(area: Area, parent_code: str | None) -> AreaOut:
    return AreaOut(
        code=area.code,
        kind=area.kind,
        name_zh=area.name_zh,
        name_en=area.name_en,
        parent=parent_code,
        is_demo=area.is_demo,
    )


@dataclass(frozen=True, slots=True)
class Page:
    page: int = 1
    page_size: int = 50

    def __post_init__(self) -> None:
        errors = []
        if not 1 <= self.page <= MAX_PAGE:
            errors.append(FieldError("page", f"must be between 1 and {MAX_PAGE}"))
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            errors.append(FieldError("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
        if errors:
            raise InvalidInput("Bad pagination", errors)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def merchants_within(
    district: str | None = None,
    area: str | None = None,
    category: MerchantCategory | None = None,
) -> QuerySet[Merchant]:
    """Merchants of a district, of a street or scenic spot (either), of a category: the
    filter every officials' list offers."""
    qs = Merchant.all()
    if district:
        qs = qs.filter(district__code=district)
    if area:
        qs = qs.filter(Q(street__code=area) | Q(scenic_spot__code=area))
    if category:
        qs = qs.filter(category=category)
    return qs


async def district_ids(conn: BaseDBAsyncClient) -> dict[str, int]:
    """The districts and counties by code: what feeds name as the one handling a record."""
    rows = await Area.filter(kind=AreaKind.DISTRICT).using_db(conn).values_list("code", "id")
    return {str(code): int(pk) for code, pk in rows}


async def list_areas(
    page: Page, *, kind: AreaKind | None = None, parent: str | None = None
) -> tuple[list[AreaOut], int]:
    qs = Area.all()
    if kind:
        qs = qs.filter(kind=kind)
    if parent:
        qs = qs.filter(parent__code=parent)
    total = await qs.count()
    rows = (
        await qs.order_by("code")
        .offset(page.offset)
        .limit(page.page_size)
        .values("code", "kind", "name_zh", "name_en", "parent__code", "is_demo")
    )
    return [_area_from_row(r) for r in rows], total


def _area_from_row(r: Mapping[str, Any]) -> AreaOut:
    return AreaOut(
        code=r["code"],
        kind=AreaKind(r["kind"]),
        name_zh=r["name_zh"],
        name_en=r["name_en"],
        parent=r["parent__code"],
        is_demo=r["is_demo"],
    )


async def get_area(code: str) -> AreaOut:
    rows = await Area.filter(code=code).values(
        "code", "kind", "name_zh", "name_en", "parent__code", "is_demo"
    )
    if not rows:
        raise NotFound(f"No area with code {code}")
    return _area_from_row(rows[0])


_MERCHANT_VALUES = (
    "uscc",
    "name",
    "category",
    "address",
    "district__code",
    "street__code",
    "scenic_spot__code",
    "status",
    "uscc_override",
    "is_demo",
)


def _merchant_from_row(r: Mapping[str, Any]) -> MerchantOut:
    return MerchantOut(
        uscc=r["uscc"],
        name=r["name"],
        category=MerchantCategory(r["category"]),
        address=r["address"],
        district=r["district__code"],
        street=r["street__code"],
        scenic_spot=r["scenic_spot__code"],
        status=MerchantStatus(r["status"]),
        uscc_override=r["uscc_override"],
        is_demo=r["is_demo"],
    )


@dataclass(frozen=True, slots=True)
class MerchantFilter:
    district: str | None = None
    street: str | None = None
    scenic_spot: str | None = None
    category: MerchantCategory | None = None
    status: MerchantStatus | None = None
    q: str | None = None


async def list_merchants(page: Page, f: MerchantFilter) -> tuple[list[MerchantOut], int]:
    qs = Merchant.all()
    if f.district:
        qs = qs.filter(district__code=f.district)
    if f.street:
        qs = qs.filter(street__code=f.street)
    if f.scenic_spot:
        qs = qs.filter(scenic_spot__code=f.scenic_spot)
    if f.category:
        qs = qs.filter(category=f.category)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.q:
        qs = qs.filter(name__icontains=f.q[:100])
    total = await qs.count()
    rows = (
        await qs.order_by("uscc")
        .offset(page.offset)
        .limit(page.page_size)
        .values(*_MERCHANT_VALUES)
    )
    return [_merchant_from_row(r) for r in rows], total


async def get_merchant(code: str) -> MerchantOut:
    rows = await Merchant.filter(uscc=code).values(*_MERCHANT_VALUES)
    if not rows:
        raise NotFound(f"No merchant with USCC {code}")
    return _merchant_from_row(rows[0])


# --- writing ------------------------------------------------------------------------------


async def create_area(data: AreaIn, *, actor: Actor, district: Area | None = None) -> AreaOut:
    """A new area; ``district``: made by that district's official, who may add streets and
    scenic spots to it and nothing else."""
    async with in_transaction() as conn:
        index = await AreaIndex.load(conn, district)
        data, errors = check_area(data, index)
        if district is not None and data.kind.value not in scope.PLACES:
            errors.append(FieldError("kind", "a district adds streets and scenic spots only"))
        # Against every area, not the index: codes are unique city-wide (and public).
        if await Area.filter(code=data.code).using_db(conn).exists():
            errors.append(FieldError("code", f"an area with code {data.code} exists"))
        if errors:
            raise InvalidInput("The area is not valid", errors)
        await save_areas(conn, [data], {}, is_demo=False)
        await audit.record(
            conn, actor, "area.created", f"area:{data.code}", msgspec.to_builtins(data)
        )
    return await get_area(data.code)


async def update_area(
    code: str, patch: AreaPatch, *, actor: Actor, district: Area | None = None
) -> AreaOut:
    """Change an area; ``district``: by that district's official, who may change its streets
    and scenic spots (the district itself, like the city, is the city bureau's)."""
    async with in_transaction() as conn:
        writable = Area.all() if district is None else scope.places(district)
        area = await writable.filter(code=code).using_db(conn).select_related("parent").first()
        if area is None:
            raise NotFound(f"No area with code {code}")
        current = AreaIn(
            code=area.code,
            kind=area.kind,
            name_zh=area.name_zh,
            name_en=area.name_en,
            parent=area.parent.code if area.parent else None,
        )
        merged = msgspec.structs.replace(
            current,
            **{k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET},
        )
        index = await AreaIndex.load(conn, district)
        merged, errors = check_area(merged, index)
        if merged.parent and would_cycle(code, merged.parent, index):
            errors.append(FieldError("parent", "would make the area its own ancestor"))
        errors.extend(await stranded_merchants(conn, merged, current.parent))
        if errors:
            raise InvalidInput("The area is not valid", errors)
        changes = _diff(msgspec.to_builtins(current), msgspec.to_builtins(merged))
        if changes:
            await save_areas(conn, [merged], {code: area}, is_demo=area.is_demo)
            await audit.record(conn, actor, "area.updated", f"area:{code}", changes)
    return await get_area(code)


async def stranded_merchants(
    conn: BaseDBAsyncClient, area: AreaIn, old_parent: str | None
) -> list[FieldError]:
    """A street or scenic spot may not move to another district while merchants on it are
    registered in the old one: every merchant's street must lie in its district."""
    if area.kind not in (AreaKind.STREET, AreaKind.SCENIC_SPOT) or area.parent == old_parent:
        return []
    link = "street__code" if area.kind == AreaKind.STREET else "scenic_spot__code"
    count = (
        await Merchant.filter(**{link: area.code})
        .using_db(conn)
        .exclude(district__code=area.parent)
        .count()
    )
    if not count:
        return []
    return [
        FieldError(
            "parent",
            f"{count} merchant(s) on {area.code} are registered in district {old_parent}; "
            "move them first",
        )
    ]


def would_cycle(code: str, parent: str, index: AreaIndex) -> bool:
    seen = {code}
    cursor: str | None = parent
    while cursor:
        if cursor in seen:
            return True
        seen.add(cursor)
        cursor = index.parents.get(cursor)
    return False


def _diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: {"from": before.get(k), "to": v} for k, v in after.items() if before.get(k) != v}


async def save_areas(
    conn: BaseDBAsyncClient, rows: Iterable[AreaIn], existing: dict[str, Area], *, is_demo: bool
) -> None:
    """Create or update areas in order (parents first)."""
    ids = dict(await Area.all().using_db(conn).values_list("code", "id"))
    for row in rows:
        parent_id = ids[row.parent] if row.parent else None
        area = existing.get(row.code)
        if area is None:
            area = await Area.create(
                using_db=conn,
                code=row.code,
                kind=row.kind,
                name_zh=row.name_zh,
                name_en=row.name_en,
                parent_id=parent_id,
                is_demo=is_demo,
            )
        else:
            area.name_zh, area.name_en, area.parent_id = row.name_zh, row.name_en, parent_id
            await area.save(using_db=conn, update_fields=["name_zh", "name_en", "parent_id"])
        ids[row.code] = area.id


async def create_merchant(
    data: MerchantIn, *, actor: Actor, district: Area | None = None
) -> MerchantOut:
    """Register a merchant; ``district``: by that district's official, in that district."""
    async with in_transaction() as conn:
        index = await AreaIndex.load(conn, district)
        data, errors = check_merchant(data, index)
        if await Merchant.filter(uscc=data.uscc).using_db(conn).exists():
            errors.append(FieldError("uscc", f"a merchant with USCC {data.uscc} exists"))
        if errors:
            raise InvalidInput("The merchant is not valid", errors)
        area_ids = dict(await Area.all().using_db(conn).values_list("code", "id"))
        merchant = await Merchant.create(
            using_db=conn, **merchant_fields(data, area_ids, is_demo=False)
        )
        details = msgspec.to_builtins(data)
        await audit.record(conn, actor, "merchant.created", f"merchant:{data.uscc}", details)
        if data.uscc_override and not uscc.is_valid(data.uscc):
            await audit.record(
                conn,
                actor,
                "merchant.uscc_override",
                f"merchant:{data.uscc}",
                {"reason": "legal pilot code failing the GB 32100 check"},
            )
        await events.emit(conn, [MerchantRegistered(merchant.id, merchant.uscc, datetime.now(UTC))])
    return await get_merchant(data.uscc)


async def update_merchant(
    code: str, patch: MerchantPatch, *, actor: Actor, district: Area | None = None
) -> MerchantOut:
    """Change a merchant; ``district``: by that district's official, who may neither see
    another district's merchants nor move one there."""
    async with in_transaction() as conn:
        current_out = await _merchant_in(conn, code, district)
        merged = msgspec.structs.replace(
            current_out,
            **{k: v for k, v in msgspec.structs.asdict(patch).items() if v is not msgspec.UNSET},
        )
        index = await AreaIndex.load(conn, district)
        merged, errors = check_merchant(merged, index)
        if errors:
            raise InvalidInput("The merchant is not valid", errors)
        changes = _diff(msgspec.to_builtins(current_out), msgspec.to_builtins(merged))
        if changes:
            area_ids = dict(await Area.all().using_db(conn).values_list("code", "id"))
            fields = merchant_fields(merged, area_ids, is_demo=False)
            fields.pop("is_demo")
            await Merchant.filter(uscc=code).using_db(conn).update(**fields)
            await audit.record(conn, actor, "merchant.updated", f"merchant:{code}", changes)
    return await get_merchant(code)


async def _merchant_in(conn: BaseDBAsyncClient, code: str, district: Area | None) -> MerchantIn:
    rows = (
        await scope.merchants(district).filter(uscc=code).using_db(conn).values(*_MERCHANT_VALUES)
    )
    if not rows:
        raise NotFound(f"No merchant with USCC {code}")
    out = _merchant_from_row(rows[0])
    return MerchantIn(
        uscc=out.uscc,
        name=out.name,
        category=out.category,
        district=out.district,
        address=out.address,
        street=out.street,
        scenic_spot=out.scenic_spot,
        status=out.status,
        uscc_override=out.uscc_override,
    )


def merchant_fields(data: MerchantIn, area_ids: dict[str, int], *, is_demo: bool) -> dict[str, Any]:
    return {
        "uscc": data.uscc,
        "uscc_override": data.uscc_override and not uscc.is_valid(data.uscc),
        "name": data.name,
        "category": data.category,
        "address": data.address,
        "district_id": area_ids[data.district],
        "street_id": area_ids[data.street] if data.street else None,
        "scenic_spot_id": area_ids[data.scenic_spot] if data.scenic_spot else None,
        "status": data.status,
        "is_demo": is_demo,
    }
