"""``fangxin import credit|complaints FILE``: a feed's export, checked and stored as one batch.

The file goes through the same checks and the same transaction as an API batch; its problems
are reported by spreadsheet row (the header is row 1) instead of by item index.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from scoring.credit.complaints import ingest_complaints
from scoring.credit.rules import Rules
from scoring.credit.schemas import ComplaintIn, CreditEventIn
from scoring.credit.store import IngestResult, ingest_events
from service.audit import Actor
from service.errors import InvalidInput
from service.registry import ImportRejected, RowError, read_table, row_structs

EVENT_COLUMNS = ("uscc", "kind", "occurred_at", "source", "external_ref", "note", "class")
COMPLAINT_COLUMNS = (
    "external_id",
    "uscc",
    "received_at",
    "accepted_at",
    "closed_at",
    "status",
    "category",
    "amount_disputed",
    "amount_recovered",
    "upheld",
    "source",
)
_ITEM = re.compile(r"^\w+\[(\d+)\]\.(\w+)$")


def _as_rows(exc: InvalidInput, rownums: Sequence[int]) -> ImportRejected:
    errors = []
    for e in exc.errors:
        m = _ITEM.match(e.field)
        if m:
            errors.append(RowError(rownums[int(m.group(1))], m.group(2), e.message))
        else:
            errors.append(RowError(0, e.field, e.message))
    return ImportRejected(errors)


async def _import(
    path: Path,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    struct: type[msgspec.Struct],
    ingest: Callable[..., Awaitable[IngestResult]],
    **kwargs: Any,
) -> IngestResult:
    df = read_table(path, columns, required)
    parsed, errors = row_structs(df, struct, {})
    if errors:
        raise ImportRejected(errors)
    rownums = [n for n, _ in parsed]
    try:
        return await ingest([s for _, s in parsed], origin=path.name, **kwargs)
    except InvalidInput as exc:
        raise _as_rows(exc, rownums) from exc


async def import_events(
    path: Path, *, actor: Actor, rules: Rules, dry_run: bool = False
) -> IngestResult:
    return await _import(
        path,
        EVENT_COLUMNS,
        ("uscc", "kind", "occurred_at", "source", "external_ref"),
        CreditEventIn,
        ingest_events,
        actor=actor,
        rules=rules,
        dry_run=dry_run,
    )


async def import_complaints(
    path: Path, *, actor: Actor, rules: Rules, dry_run: bool = False
) -> IngestResult:
    return await _import(
        path,
        COMPLAINT_COLUMNS,
        ("external_id", "uscc", "received_at", "status", "category"),
        ComplaintIn,
        ingest_complaints,
        actor=actor,
        rules=rules,
        dry_run=dry_run,
    )
