"""Declaring, replacing and ending merchants' commitments, and the ones in force.

One function each for the API, the pages, the eligibility check and the tests. A change never
edits a row in place: declaring a kind ends the one of that kind still running and starts a
new one, so the public can read what was promised when. A district's official acts on its
district's merchants only; anyone else's answers as missing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from certificates.commitments.models import RETURN_DAYS, Commitment, CommitmentKind
from certificates.commitments.schemas import CommitmentIn, CommitmentOut, CommitmentsOut
from scoring.credit.models import Complaint
from service.kernel import audit, scope
from service.kernel.audit import Actor
from service.kernel.db import chunked, connection
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.models import Area, Merchant
from service.kernel.validation import FUTURE_TOLERANCE, check_text, parse_time

EXCLUSIONS_MAX = 500
# Upheld broken-commitment complaints are counted over the last twelve months, like the
# complaints the area criteria look at.
BROKEN_WINDOW = timedelta(days=365)
KIND_ORDER = {k.value: i for i, k in enumerate(CommitmentKind)}  # how lists show them


@dataclass(frozen=True, slots=True)
class Declaration:
    """A commitment as checked, ready to store."""

    kind: CommitmentKind
    days: int | None
    exclusions: str
    other_branches: bool
    valid_from: datetime
    valid_until: datetime | None


def check(data: CommitmentIn, now: datetime) -> tuple[Declaration | None, list[FieldError]]:
    """The declaration, or every field that is wrong with it."""
    errors: list[FieldError] = []
    kind: CommitmentKind | None = None
    try:
        kind = CommitmentKind(data.kind)
    except ValueError:
        choices = ", ".join(k.value for k in CommitmentKind)
        errors.append(FieldError("kind", f"must be one of {choices}"))
    returns = kind == CommitmentKind.RETURNS
    allowed = ", ".join(str(d) for d in RETURN_DAYS)
    if returns and data.days is None:
        errors.append(FieldError("days", f"is required for returns: one of {allowed}"))
    elif returns and data.days not in RETURN_DAYS:
        errors.append(FieldError("days", f"must be one of {allowed}"))
    elif kind is not None and not returns and data.days is not None:
        errors.append(FieldError("days", "is only for a returns commitment"))
    exclusions = check_text(errors, "exclusions", data.exclusions, EXCLUSIONS_MAX, required=False)
    if kind is not None and not returns and exclusions:
        errors.append(FieldError("exclusions", "is only for a returns commitment"))
    if kind is not None and not returns and data.other_branches:
        errors.append(FieldError("other_branches", "is only for a returns commitment"))
    start, end = now, None
    if data.valid_from is not None:
        try:
            start = parse_time(data.valid_from)
        except ValueError as exc:
            errors.append(FieldError("valid_from", str(exc)))
        else:
            # A change starts now or later: what was promised before stays as it was.
            if start < now - FUTURE_TOLERANCE:
                errors.append(FieldError("valid_from", "must not be in the past"))
    if data.valid_until is not None:
        try:
            end = parse_time(data.valid_until)
        except ValueError as exc:
            errors.append(FieldError("valid_until", str(exc)))
        else:
            if end <= max(start, now):
                errors.append(FieldError("valid_until", "must be later than valid_from and now"))
    if errors or kind is None:
        return None, errors
    return (
        Declaration(
            kind,
            data.days if returns else None,
            exclusions if returns else "",
            data.other_branches if returns else False,
            start,
            end,
        ),
        [],
    )


async def _merchant(tx: BaseDBAsyncClient, uscc: str, district: Area | None) -> Merchant:
    """The merchant, locked for the change (PostgreSQL; SQLite serialises writers anyway)."""
    merchant = (
        await scope.merchants(district).filter(uscc=uscc).select_for_update().using_db(tx).first()
    )
    if merchant is None:
        raise NotFound(f"No merchant with USCC {uscc}")
    return merchant


def _running(now: datetime) -> Q:
    """Rows not ended and not past their end: the one of a kind a declaration replaces."""
    return Q(ended_at__isnull=True) & (Q(valid_until__isnull=True) | Q(valid_until__gt=now))


def _in_force(now: datetime) -> Q:
    return _running(now) & Q(valid_from__lte=now)


async def declare(
    uscc: str,
    data: CommitmentIn,
    *,
    actor: Actor,
    declared_as: str,
    district: Area | None,
    now: datetime | None = None,
) -> CommitmentOut:
    """Declare a commitment of a kind, ending the one of that kind still running (if any) at
    the same moment, audited. ``declared_as``: merchant or official."""
    now = now or datetime.now(UTC)
    declaration, errors = check(data, now)
    async with in_transaction() as tx:
        merchant = await _merchant(tx, uscc, district)
        if declaration is None:
            raise InvalidInput("The commitment is not valid", errors)
        old = (
            await Commitment.filter(_running(now), merchant_id=merchant.id, kind=declaration.kind)
            .using_db(tx)
            .order_by("-id")
        )
        for row in old:
            row.ended_at = now
            row.ended_by = actor.name
            await row.save(using_db=tx, update_fields=["ended_at", "ended_by"])
        row = await Commitment.create(
            using_db=tx,
            merchant_id=merchant.id,
            kind=declaration.kind,
            returns_days=declaration.days,
            exclusions=declaration.exclusions,
            other_branches=declaration.other_branches,
            valid_from=declaration.valid_from,
            valid_until=declaration.valid_until,
            declared_by=actor.name,
            declared_as=declared_as,
            declared_at=now,
            replaces_id=old[0].id if old else None,
        )
        await audit.record(
            tx,
            actor,
            "commitment.declared",
            f"merchant:{uscc}",
            {
                "id": row.id,
                "kind": declaration.kind.value,
                "days": declaration.days,
                "other_branches": declaration.other_branches,
                "valid_from": declaration.valid_from.isoformat(),
                "valid_until": declaration.valid_until.isoformat()
                if declaration.valid_until
                else None,
                "replaces": [r.id for r in old],
            },
        )
    return (await _out(uscc, [row], now))[0]


async def end(
    uscc: str,
    commitment_id: int,
    *,
    actor: Actor,
    district: Area | None,
    now: datetime | None = None,
) -> CommitmentOut:
    """End a commitment at once (it stays on record); one already ended or expired, or of
    another merchant, is missing."""
    now = now or datetime.now(UTC)
    async with in_transaction() as tx:
        merchant = await _merchant(tx, uscc, district)
        row = (
            await Commitment.filter(_running(now), id=commitment_id, merchant_id=merchant.id)
            .using_db(tx)
            .first()
        )
        if row is None:
            raise NotFound(f"No commitment {commitment_id} running for {uscc}")
        row.ended_at = now
        row.ended_by = actor.name
        await row.save(using_db=tx, update_fields=["ended_at", "ended_by"])
        await audit.record(
            tx,
            actor,
            "commitment.ended",
            f"merchant:{uscc}",
            {"id": row.id, "kind": row.kind.value},
        )
    return (await _out(uscc, [row], now))[0]


async def of_merchant(uscc: str, now: datetime | None = None) -> CommitmentsOut:
    """A merchant's commitments in force and its whole history (public)."""
    now = now or datetime.now(UTC)
    merchant = await Merchant.get_or_none(uscc=uscc)
    if merchant is None:
        raise NotFound(f"No merchant with USCC {uscc}")
    rows = await Commitment.filter(merchant_id=merchant.id).order_by("-declared_at", "-id")
    history = await _out(uscc, rows, now)
    current = sorted((c for c in history if c.in_force), key=lambda c: KIND_ORDER[c.kind])
    return CommitmentsOut(uscc, current, history)


async def in_force(uscc: str, now: datetime | None = None) -> list[CommitmentOut]:
    """The commitments of one merchant in force now, by kind (for its public page)."""
    return (await in_force_many([uscc], now)).get(uscc, [])


async def in_force_many(
    usccs: Collection[str], now: datetime | None = None
) -> dict[str, list[CommitmentOut]]:
    """The commitments in force of many merchants (a search list), by USCC; a merchant
    without any is left out."""
    now = now or datetime.now(UTC)
    codes = sorted(set(usccs))
    ids: dict[int, str] = {}
    for chunk in chunked(codes):
        ids.update(
            (int(i), str(u))
            for i, u in await Merchant.filter(uscc__in=chunk).values_list("id", "uscc")
        )
    rows: list[Commitment] = []
    for id_chunk in chunked(list(ids)):
        rows += await Commitment.filter(_in_force(now), merchant_id__in=id_chunk)
    broken = await broken_counts(connection(), list(ids), now)
    out: dict[str, list[CommitmentOut]] = {}
    for row in sorted(rows, key=lambda r: (KIND_ORDER[r.kind.value], r.id)):
        uscc = ids[row.merchant_id]
        out.setdefault(uscc, []).append(_one(uscc, row, now, broken))
    return out


async def broken_counts(
    conn: BaseDBAsyncClient, merchant_ids: Sequence[int], now: datetime
) -> Counter[tuple[int, str]]:
    """Upheld complaints marked as breaking a commitment, closed in the last twelve months,
    by (merchant id, kind)."""
    counts: Counter[tuple[int, str]] = Counter()
    for chunk in chunked(merchant_ids):
        for merchant_id, kind in (
            await Complaint.filter(
                merchant_id__in=chunk,
                upheld=True,
                broken_commitment__isnull=False,
                closed_at__gte=now - BROKEN_WINDOW,
            )
            .using_db(conn)
            .values_list("merchant_id", "broken_commitment")
        ):
            counts[(int(merchant_id), str(kind))] += 1
    return counts


async def returns_days(
    conn: BaseDBAsyncClient, merchant_ids: Collection[int] | None, now: datetime
) -> dict[int, int]:
    """The longest returns period each merchant commits to now, by merchant id (those with
    none are left out); every merchant's when ``merchant_ids`` is None."""
    base = Commitment.filter(_in_force(now), kind=CommitmentKind.RETURNS).using_db(conn)
    found: list[tuple[int, int | None]] = []
    if merchant_ids is None:
        found = list(await base.values_list("merchant_id", "returns_days"))
    else:
        for chunk in chunked(list(merchant_ids)):
            found += list(
                await base.filter(merchant_id__in=chunk).values_list("merchant_id", "returns_days")
            )
    days: dict[int, int] = {}
    for merchant_id, d in found:
        days[int(merchant_id)] = max(days.get(int(merchant_id), 0), int(d or 0))
    return days


async def shown_state(uscc: str, now: datetime) -> tuple[object, ...]:
    """What a page shows of a merchant's commitments, as a value that changes whenever that
    does: the rows in force, and the upheld broken-commitment complaints counted beside them
    (the verify page's cache keys on it)."""
    rows = Commitment.filter(_running(now), merchant__uscc=uscc, valid_from__lte=now)
    running: list[Any] = list(await rows.values_list("id", flat=True))
    broken = await Complaint.filter(
        merchant__uscc=uscc,
        upheld=True,
        broken_commitment__isnull=False,
        closed_at__gte=now - BROKEN_WINDOW,
    ).values_list("broken_commitment", flat=True)
    return (tuple(sorted(int(i) for i in running)), tuple(sorted(str(b) for b in broken)))


async def _out(uscc: str, rows: Sequence[Commitment], now: datetime) -> list[CommitmentOut]:
    ids = sorted({r.merchant_id for r in rows})
    broken = await broken_counts(connection(), ids, now)
    return [_one(uscc, r, now, broken) for r in rows]


def _one(
    uscc: str, row: Commitment, now: datetime, broken: Counter[tuple[int, str]]
) -> CommitmentOut:
    running = row.ended_at is None and (row.valid_until is None or row.valid_until > now)
    status = "ended" if row.ended_at is not None else "expired"
    if running:
        status = "in_force" if row.valid_from <= now else "upcoming"
    return CommitmentOut(
        id=row.id,
        uscc=uscc,
        kind=row.kind.value,
        days=row.returns_days,
        exclusions=row.exclusions,
        other_branches=row.other_branches,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        declared_as=row.declared_as,
        declared_at=row.declared_at,
        ended_at=row.ended_at,
        status=status,
        in_force=status == "in_force",
        broken_upheld_12m=broken[(row.merchant_id, row.kind.value)],
    )


# On the certificate, a line for each commitment: the frame holds one page.
PRINTED_EXCLUSIONS = 60


def printed(c: CommitmentOut) -> str:
    """A commitment as the certificate prints it (Chinese, the certificate's language)."""
    if c.kind == "pay_first":
        return "先行赔付"
    if c.kind == "marked_prices":
        return "明码标价"
    text = f"线下无理由退货 {c.days} 天"
    if c.other_branches:
        text += "，异地异店"
    if c.exclusions:
        shown = c.exclusions
        if len(shown) > PRINTED_EXCLUSIONS:
            shown = shown[: PRINTED_EXCLUSIONS - 1] + "…"
        text += f"（除外：{shown}）"
    return text
