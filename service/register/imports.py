"""Importing the register: areas and merchants from a CSV or XLSX file (``fangxin import``)
or as structs (the demo city), all rows or none, through one routine.

The routine reads the rows, refuses a key given twice, has the kind check every row against
the register as it stands and plan its changes, refuses the whole file with every problem
named by row and column, or else writes the changes and audits them in one transaction. A
dry run stops before writing, with the counts a real run would give.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from service.kernel import audit, events
from service.kernel.audit import Actor
from service.kernel.db import chunked
from service.kernel.errors import FieldError
from service.kernel.events import MerchantRegistered
from service.kernel.models import Area, Merchant
from service.kernel.plugins import FileImported, FileImporter
from service.kernel.settings import Settings
from service.kernel.tables import ImportRejected, RowError, load_table, row_structs
from service.register.schemas import AreaIn, MerchantIn
from service.register.store import (
    AREA_COLUMNS,
    MERCHANT_COLUMNS,
    AreaIndex,
    check_area,
    check_merchant,
    merchant_fields,
    save_areas,
    stranded_merchants,
    would_cycle,
)

Rows = Sequence[tuple[int, Any]]  # (the row's number as a spreadsheet shows it, the row)


@dataclass(frozen=True, slots=True)
class ImportResult:
    kind: str
    rows: int
    created: int
    updated: int
    unchanged: int
    dry_run: bool
    # What the file was read as (utf-8, utf-8-sig, gb18030, xlsx); empty for structs.
    encoding: str = ""


@dataclass(slots=True)
class Plan:
    """What the rows would change, and each row's problems."""

    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    write: Callable[[], Awaitable[None]] | None = None  # makes the changes, when there are any


@dataclass(frozen=True, slots=True)
class Kind:
    """What differs between importing areas and merchants."""

    name: str  # the CLI's word and the audit's target
    key: str  # no two rows may share it
    columns: tuple[str, ...]
    required: tuple[str, ...]
    struct: type[msgspec.Struct]
    plan: Callable[[BaseDBAsyncClient, Rows, bool], Awaitable[Plan]]


async def import_file(
    kind: Kind, path: Path, *, actor: Actor, dry_run: bool = False, is_demo: bool = False
) -> ImportResult:
    table = load_table(path, kind.columns, kind.required, kind.name)
    parsed, errors = row_structs(table.frame, kind.struct, {})
    result = await _import(
        kind, parsed, errors, actor=actor, dry_run=dry_run, is_demo=is_demo, source=path.name
    )
    return replace(result, encoding=table.encoding)


async def import_structs(
    kind: Kind,
    rows: Sequence[msgspec.Struct],
    *,
    actor: Actor,
    is_demo: bool = False,
    source: str = "api",
) -> ImportResult:
    numbered = list(enumerate(rows, start=2))
    return await _import(
        kind, numbered, [], actor=actor, dry_run=False, is_demo=is_demo, source=source
    )


async def _import(
    kind: Kind,
    parsed: Rows,
    errors: list[RowError],
    *,
    actor: Actor,
    dry_run: bool,
    is_demo: bool,
    source: str,
) -> ImportResult:
    async with in_transaction() as conn:
        seen: dict[str, int] = {}
        unique = []
        for rownum, row in parsed:
            key = getattr(row, kind.key)
            if key in seen:
                errors.append(RowError(rownum, kind.key, f"duplicate of row {seen[key]}"))
                continue
            seen[key] = rownum
            unique.append((rownum, row))
        plan = await kind.plan(conn, unique, is_demo)
        errors.extend(plan.errors)
        if errors:
            raise ImportRejected(sorted(errors, key=lambda e: (e.row, e.column)))
        unchanged = len(parsed) - plan.created - plan.updated
        counts = {"created": plan.created, "updated": plan.updated, "unchanged": unchanged}
        result = ImportResult(
            kind.name, len(parsed), plan.created, plan.updated, unchanged, dry_run
        )
        if dry_run or plan.write is None:
            return result
        await plan.write()
        await audit.record(conn, actor, "registry.import", kind.name, {"source": source, **counts})
    return result


def _row_errors(rownum: int, errors: Sequence[FieldError]) -> list[RowError]:
    return [RowError(rownum, e.field, e.message) for e in errors]


async def _plan_areas(conn: BaseDBAsyncClient, rows: Rows, is_demo: bool) -> Plan:
    index = await AreaIndex.load(conn)
    existing = {a.code: a for a in await Area.all().using_db(conn).select_related("parent")}
    # Parents may come later in the file: every row is indexed before any is checked.
    for _, row in rows:
        index.add(row.code, row.kind, row.parent)
    plan = Plan()
    kept: list[AreaIn] = []
    for rownum, given in rows:
        row, errs = check_area(given, index)
        kept.append(row)
        old = existing.get(row.code)
        if old is not None and old.kind != row.kind:
            errs.append(FieldError("kind", f"{row.code} is already a {old.kind.value}"))
        if row.parent and would_cycle(row.code, row.parent, index):
            errs.append(FieldError("parent", "would make the area its own ancestor"))
        if old is not None:
            old_parent = old.parent.code if old.parent else None
            errs.extend(await stranded_merchants(conn, row, old_parent))
        plan.errors.extend(_row_errors(rownum, errs))
    ordered = _parents_first(kept, index)
    changed = [r for r in ordered if _area_changed(existing.get(r.code), r)]
    plan.created = sum(1 for r in changed if r.code not in existing)
    plan.updated = len(changed) - plan.created
    if changed:
        plan.write = lambda: save_areas(conn, changed, existing, is_demo=is_demo)
    return plan


def _parents_first(rows: list[AreaIn], index: AreaIndex) -> list[AreaIn]:
    def depth(code: str) -> int:
        d, cursor = 0, index.parents.get(code)
        while cursor and d < 10:
            d, cursor = d + 1, index.parents.get(cursor)
        return d

    return sorted(rows, key=lambda r: depth(r.code))


def _area_changed(old: Area | None, new: AreaIn) -> bool:
    if old is None:
        return True
    old_parent = old.parent.code if old.parent else None
    return (old.name_zh, old.name_en, old_parent) != (new.name_zh, new.name_en, new.parent)


_MERCHANT_VALUES = (
    "id",
    "uscc",
    "uscc_override",
    "name",
    "category",
    "address",
    "district_id",
    "street_id",
    "scenic_spot_id",
    "status",
)


async def _plan_merchants(conn: BaseDBAsyncClient, rows: Rows, is_demo: bool) -> Plan:
    index = await AreaIndex.load(conn)
    area_ids = dict(await Area.all().using_db(conn).values_list("code", "id"))
    existing = {r["uscc"]: r for r in await Merchant.all().using_db(conn).values(*_MERCHANT_VALUES)}
    plan = Plan()
    creates: list[Merchant] = []
    updates: list[tuple[int, dict[str, Any]]] = []
    for rownum, given in rows:
        row, errs = check_merchant(given, index)
        if errs:
            plan.errors.extend(_row_errors(rownum, errs))
            continue
        fields = merchant_fields(row, area_ids, is_demo=is_demo)
        old = existing.get(row.uscc)
        if old is None:
            creates.append(Merchant(**fields))
            continue
        fields.pop("is_demo")
        delta = {k: v for k, v in fields.items() if old[k] != v}
        if delta:
            updates.append((old["id"], delta))
    plan.created, plan.updated = len(creates), len(updates)
    if creates or updates:
        plan.write = lambda: _write_merchants(conn, creates, updates)
    return plan


async def _write_merchants(
    conn: BaseDBAsyncClient, creates: list[Merchant], updates: list[tuple[int, dict[str, Any]]]
) -> None:
    if creates:
        await Merchant.bulk_create(creates, batch_size=500, using_db=conn)
        at = datetime.now(UTC)
        # In slices: a bureau's register runs to hundreds of thousands of merchants, and
        # PostgreSQL takes at most 32,767 arguments in a statement.
        for codes in chunked([m.uscc for m in creates]):
            new = await Merchant.filter(uscc__in=codes).using_db(conn)
            await events.emit(conn, [MerchantRegistered(m.id, m.uscc, at) for m in new])
    for merchant_id, delta in updates:
        await Merchant.filter(id=merchant_id).using_db(conn).update(**delta)


AREAS = Kind(
    "areas",
    "code",
    AREA_COLUMNS,
    ("code", "kind", "name_zh", "name_en"),
    AreaIn,
    _plan_areas,
)
MERCHANTS = Kind(
    "merchants",
    "uscc",
    (*MERCHANT_COLUMNS, "uscc_override"),
    ("uscc", "name", "category", "district"),
    MerchantIn,
    _plan_merchants,
)
KINDS = {kind.name: kind for kind in (AREAS, MERCHANTS)}


async def import_areas(
    path: Path, *, actor: Actor, dry_run: bool = False, is_demo: bool = False
) -> ImportResult:
    return await import_file(AREAS, path, actor=actor, dry_run=dry_run, is_demo=is_demo)


async def import_merchants(
    path: Path, *, actor: Actor, dry_run: bool = False, is_demo: bool = False
) -> ImportResult:
    return await import_file(MERCHANTS, path, actor=actor, dry_run=dry_run, is_demo=is_demo)


async def import_area_structs(
    rows: Sequence[AreaIn], *, actor: Actor, is_demo: bool = False, source: str = "api"
) -> ImportResult:
    return await import_structs(AREAS, rows, actor=actor, is_demo=is_demo, source=source)


async def import_merchant_structs(
    rows: Sequence[MerchantIn], *, actor: Actor, is_demo: bool = False, source: str = "api"
) -> ImportResult:
    return await import_structs(MERCHANTS, rows, actor=actor, is_demo=is_demo, source=source)


def file_importer(kind: str) -> FileImporter:
    """``import_file`` for ``POST /api/v1/imports/{kind}``."""

    async def run(path: Path, settings: Settings, actor: Actor, dry_run: bool) -> FileImported:
        r = await import_file(KINDS[kind], path, actor=actor, dry_run=dry_run)
        counts = {"rows": r.rows, "created": r.created, "updated": r.updated}
        return FileImported(kind, r.encoding, dry_run, {**counts, "unchanged": r.unchanged})

    return run
