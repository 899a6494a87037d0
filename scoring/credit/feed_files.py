"""``fangxin import credit|complaints|visits|spot-checks FILE``: a feed's export, checked and
stored as one batch.

The file goes through the same checks and the same transaction as an API batch; its problems
are reported by spreadsheet row (the header is row 1) instead of by item index.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import msgspec

from scoring.credit.complaints import ingest_complaints
from scoring.credit.rules import Rules
from scoring.credit.schemas import (
    ComplaintIn,
    CreditEventIn,
    SpotCheckBatchIn,
    SpotCheckCampaignIn,
    SpotCheckRoundIn,
    VisitTallyIn,
)
from scoring.credit.spot_checks import ingest_spot_checks
from scoring.credit.store import IngestResult, ingest_events
from scoring.credit.visits import ingest_tallies
from service.kernel.audit import Actor
from service.kernel.errors import InvalidInput
from service.kernel.plugins import FileImported, FileImporter
from service.kernel.settings import Settings
from service.kernel.tables import ImportRejected, RowError, load_table, row_structs
from service.kernel.validation import Text

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
    "kind",
    "channel",
    "handled_by",
    "district",
    "resolution",
    "followup",
    "followup_at",
    "party_name",
    "party_address",
    "broken_commitment",
)
_ITEM = re.compile(r"\w+\[([0-9]+)\]\.(\w+)")


def _as_rows(exc: InvalidInput, rownums: Sequence[int]) -> ImportRejected:
    errors = []
    for e in exc.errors:
        m = _ITEM.fullmatch(e.field)
        if m:
            errors.append(RowError(rownums[int(m.group(1))], m.group(2), e.message))
        else:
            errors.append(RowError(0, e.field, e.message))
    return ImportRejected(errors)


@dataclass(frozen=True, slots=True)
class FileIngestResult(IngestResult):
    """An ingest's counts, and what the file was read as (utf-8, utf-8-sig, gb18030, xlsx)."""

    encoding: str = ""

    @classmethod
    def of(cls, result: IngestResult, encoding: str) -> FileIngestResult:
        return cls(**asdict(result), encoding=encoding)


async def _import(
    kind: str,
    path: Path,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    struct: type[msgspec.Struct],
    ingest: Callable[..., Awaitable[IngestResult]],
    **kwargs: Any,
) -> FileIngestResult:
    table = load_table(path, columns, required, kind)
    parsed, errors = row_structs(table.frame, struct, {})
    if errors:
        raise ImportRejected(errors)
    rownums = [n for n, _ in parsed]
    try:
        result = await ingest([s for _, s in parsed], origin=path.name, **kwargs)
    except InvalidInput as exc:
        raise _as_rows(exc, rownums) from exc
    return FileIngestResult.of(result, table.encoding)


async def import_events(
    path: Path, *, actor: Actor, rules: Rules, dry_run: bool = False
) -> FileIngestResult:
    return await _import(
        "credit",
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
) -> FileIngestResult:
    return await _import(
        "complaints",
        path,
        COMPLAINT_COLUMNS,
        ("external_id", "received_at", "status", "category"),
        ComplaintIn,
        ingest_complaints,
        actor=actor,
        rules=rules,
        dry_run=dry_run,
    )


VISIT_COLUMNS = (
    "external_id",
    "day",
    "visits",
    "consultations",
    "handled_by",
    "district",
    "source",
)


async def import_visits(path: Path, *, actor: Actor, dry_run: bool = False) -> FileIngestResult:
    return await _import(
        "visits",
        path,
        VISIT_COLUMNS,
        ("external_id", "day"),
        VisitTallyIn,
        ingest_tallies,
        actor=actor,
        dry_run=dry_run,
    )


# One row per batch sampled; the campaign and round columns repeat on each of their rows.
SPOT_CHECK_COLUMNS = (
    "campaign",
    "campaign_name",
    "year",
    "district",
    "round",
    "held_on",
    "batch_no",
    "category",
    "failed",
    "case_opened",
    "uscc",
    "party_name",
)
_NESTED = re.compile(
    r"campaigns\[([0-9]+)\](?:\.rounds\[([0-9]+)\](?:\.batches\[([0-9]+)\])?)?\.(\w+)"
)
_COLUMN_OF = {"code": "campaign", "name": "campaign_name", "number": "round"}


class SpotCheckRowIn(msgspec.Struct, forbid_unknown_fields=True):
    campaign: Text
    campaign_name: Text
    year: int
    round: int
    held_on: str
    batch_no: Text
    category: Text
    failed: bool = False
    case_opened: bool = False
    uscc: str | None = None
    party_name: Text = ""
    district: str | None = None


def _campaigns(
    rows: Sequence[tuple[int, SpotCheckRowIn]],
) -> tuple[list[SpotCheckCampaignIn], dict[tuple[int, int | None, int | None], int]]:
    """The file's rows as campaigns, and the row each campaign, round and batch came from;
    a campaign or round described differently on two rows is refused by row."""
    campaigns: dict[str, SpotCheckCampaignIn] = {}
    rounds: dict[tuple[str, int], SpotCheckRoundIn] = {}
    where: dict[tuple[int, int | None, int | None], int] = {}
    errors: list[RowError] = []
    for rownum, r in rows:
        c = campaigns.get(r.campaign)
        if c is None:
            c = SpotCheckCampaignIn(r.campaign, r.campaign_name, r.year, r.district, [])
            campaigns[r.campaign] = c
            where[(len(campaigns) - 1, None, None)] = rownum
        elif (c.name, c.year, c.district) != (r.campaign_name, r.year, r.district):
            errors.append(RowError(rownum, "campaign", "describes the campaign unlike row before"))
            continue
        ci = list(campaigns).index(r.campaign)
        rnd = rounds.get((r.campaign, r.round))
        if rnd is None:
            rnd = SpotCheckRoundIn(r.round, r.held_on, [])
            rounds[(r.campaign, r.round)] = rnd
            c.rounds.append(rnd)
            where[(ci, len(c.rounds) - 1, None)] = rownum
        elif rnd.held_on != r.held_on:
            errors.append(RowError(rownum, "held_on", "differs from the round's earlier rows"))
            continue
        ri = c.rounds.index(rnd)
        rnd.batches.append(
            SpotCheckBatchIn(r.batch_no, r.category, r.failed, r.case_opened, r.uscc, r.party_name)
        )
        where[(ci, ri, len(rnd.batches) - 1)] = rownum
    if errors:
        raise ImportRejected(errors)
    return list(campaigns.values()), where


async def import_spot_checks(
    path: Path, *, actor: Actor, rules: Rules, dry_run: bool = False
) -> FileIngestResult:
    required = SPOT_CHECK_COLUMNS[:3] + SPOT_CHECK_COLUMNS[4:8]
    table = load_table(path, SPOT_CHECK_COLUMNS, required, "spot-checks")
    parsed, errors = row_structs(table.frame, SpotCheckRowIn, {})
    if errors:
        raise ImportRejected(errors)
    campaigns, where = _campaigns(parsed)
    try:
        result = await ingest_spot_checks(
            campaigns, actor=actor, rules=rules, dry_run=dry_run, origin=path.name
        )
    except InvalidInput as exc:
        out = []
        for e in exc.errors:
            m = _NESTED.fullmatch(e.field)
            if m is None:
                out.append(RowError(0, e.field, e.message))
                continue
            c, r, b, name = m.groups()
            key = (int(c), int(r) if r else None, int(b) if b else None)
            out.append(RowError(where.get(key, 0), _COLUMN_OF.get(name, name), e.message))
        raise ImportRejected(out) from exc
    return FileIngestResult.of(result, table.encoding)


def file_importer(kind: str) -> FileImporter:
    """``fangxin import``'s feed kinds for ``POST /api/v1/imports/{kind}``."""

    async def run(path: Path, settings: Settings, actor: Actor, dry_run: bool) -> FileImported:
        from scoring.credit.store import rules_for

        if kind == "visits":
            r = await import_visits(path, actor=actor, dry_run=dry_run)
        else:
            importer = {
                "credit": import_events,
                "complaints": import_complaints,
                "spot-checks": import_spot_checks,
            }[kind]
            rules = rules_for(settings.credit_rules)
            r = await importer(path, actor=actor, rules=rules, dry_run=dry_run)
        counts = {k: v for k, v in asdict(r).items() if k != "encoding"}
        return FileImported(kind, r.encoding, dry_run, counts)

    return run
