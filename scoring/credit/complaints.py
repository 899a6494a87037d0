"""12315 complaints: ingest, working-day deadlines, and the credit events they give rise to.

A complaint is a record that moves on (received → accepted → mediating → closed), so the feed
resends it and the latest report wins, keyed by (source, external id); an identical resend
changes nothing. Two facts about a complaint count against the merchant's credit: it was
upheld, and it went past a time limit. They become ordinary credit events, derived here and
kept in step with the complaint (withdrawn if a later report takes them back), so the credit
score has one source of truth: the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from scoring.credit import workdays
from scoring.credit.models import FINAL_STATUSES, Complaint, ComplaintStatus, CreditEvent
from scoring.credit.rules import Rules
from scoring.credit.schemas import ComplaintIn
from scoring.credit.store import (
    DERIVED_SOURCE_PREFIX,
    FUTURE_TOLERANCE,
    CreditSql,
    DryRun,
    EventRow,
    IngestResult,
    credit_sql,
    parse_time,
    rescore,
    store_events,
)
from service import audit
from service.audit import Actor
from service.errors import FieldError, InvalidInput
from service.events import CreditChanged

DERIVED_PREFIX = DERIVED_SOURCE_PREFIX  # + the complaint's source
MAX_AMOUNT_FEN = 10**14  # a trillion yuan: anything above is a typo
NEEDS_ACCEPTANCE = frozenset({ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATING})


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    source: str
    external_id: str
    merchant_id: int
    received_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    status: ComplaintStatus
    category: str
    amount_disputed_fen: int
    amount_recovered_fen: int
    upheld: bool | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.external_id)

    def fields(self) -> dict[str, object]:
        return {
            "merchant_id": self.merchant_id,
            "received_at": self.received_at,
            "accepted_at": self.accepted_at,
            "closed_at": self.closed_at,
            "status": self.status,
            "category": self.category,
            "amount_disputed_fen": self.amount_disputed_fen,
            "amount_recovered_fen": self.amount_recovered_fen,
            "upheld": self.upheld,
        }


def to_fen(yuan: float) -> int:
    """Yuan with at most two decimals, as integer fen."""
    try:
        exact = Decimal(str(yuan))
    except InvalidOperation:
        raise ValueError("is not a number") from None
    if not exact.is_finite():
        raise ValueError("is not a number")
    if exact < 0:
        raise ValueError("must not be negative")
    fen = exact * 100
    if fen != fen.to_integral_value():
        raise ValueError("has more than two decimals (fen)")
    if fen > MAX_AMOUNT_FEN:
        raise ValueError("is implausibly large")
    return int(fen)


def _time(
    errors: list[FieldError], where: str, value: str | None, now: datetime
) -> datetime | None:
    if value is None:
        return None
    try:
        moment = parse_time(value)
    except ValueError as exc:
        errors.append(FieldError(where, str(exc)))
        return None
    if moment > now + FUTURE_TOLERANCE:
        errors.append(FieldError(where, "is in the future"))
    return moment


def check_complaints(
    items: Sequence[ComplaintIn], merchant_ids: dict[str, int], now: datetime
) -> tuple[list[ComplaintRow], list[FieldError]]:
    errors: list[FieldError] = []
    rows: list[ComplaintRow] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        at = f"complaints[{i}]"
        bad: list[FieldError] = []
        merchant_id = merchant_ids.get(item.uscc)
        if merchant_id is None:
            bad.append(FieldError(f"{at}.uscc", f"no merchant with USCC {item.uscc!r}"))
        for name, value, limit in (
            ("external_id", item.external_id, 128),
            ("source", item.source, 64 - len(DERIVED_PREFIX)),
            ("category", item.category, 32),
        ):
            if not value.strip():
                bad.append(FieldError(f"{at}.{name}", "must not be empty"))
            elif len(value) > limit:
                bad.append(FieldError(f"{at}.{name}", f"must be at most {limit} characters"))
        status: ComplaintStatus | None = None
        try:
            status = ComplaintStatus(item.status)
        except ValueError:
            choices = ", ".join(s.value for s in ComplaintStatus)
            bad.append(FieldError(f"{at}.status", f"must be one of {choices}"))
        received = _time(bad, f"{at}.received_at", item.received_at, now)
        accepted = _time(bad, f"{at}.accepted_at", item.accepted_at, now)
        closed = _time(bad, f"{at}.closed_at", item.closed_at, now)
        for name, moment in (("accepted_at", accepted), ("closed_at", closed)):
            if moment is not None and received is not None and moment < received:
                bad.append(FieldError(f"{at}.{name}", "is before received_at"))
        if status is not None:
            if status in FINAL_STATUSES and item.closed_at is None:
                bad.append(FieldError(f"{at}.closed_at", f"is required when status is {status}"))
            if status not in FINAL_STATUSES and item.closed_at is not None:
                bad.append(FieldError(f"{at}.closed_at", f"must be empty while {status}"))
            if status in NEEDS_ACCEPTANCE and item.accepted_at is None:
                bad.append(FieldError(f"{at}.accepted_at", f"is required when status is {status}"))
            if status == ComplaintStatus.RECEIVED and item.accepted_at is not None:
                bad.append(FieldError(f"{at}.accepted_at", "must be empty while received"))
            if item.upheld is not None and status not in FINAL_STATUSES:
                bad.append(FieldError(f"{at}.upheld", "is decided only when the complaint ends"))
        fen: list[int] = []
        for name, yuan in (
            ("amount_disputed", item.amount_disputed),
            ("amount_recovered", item.amount_recovered),
        ):
            try:
                fen.append(to_fen(yuan))
            except ValueError as exc:
                bad.append(FieldError(f"{at}.{name}", str(exc)))
        key = (item.source, item.external_id)
        if key in seen:
            bad.append(FieldError(f"{at}.external_id", f"repeats item {seen[key]} of this batch"))
        seen.setdefault(key, i)
        if bad or merchant_id is None or status is None or received is None:
            errors.extend(bad)  # the None cases each left an error above
            continue
        rows.append(
            ComplaintRow(
                item.source,
                item.external_id,
                merchant_id,
                received,
                accepted,
                closed,
                status,
                item.category,
                fen[0],
                fen[1],
                item.upheld,
            )
        )
    return rows, errors


def _overdue(row: ComplaintRow | Complaint, now: datetime) -> date | None:
    return workdays.overdue_since(
        row.received_at,
        row.accepted_at,
        row.closed_at,
        row.status == ComplaintStatus.REJECTED,
        now,
    )


def derived_events(row: ComplaintRow | Complaint, overdue: date | None) -> list[EventRow]:
    """The credit events a complaint gives rise to, as it stands."""
    source = DERIVED_PREFIX + row.source
    out = []
    if row.upheld and row.closed_at is not None:
        note = f"complaint {row.external_id} upheld ({row.category})"
        ref = f"{row.external_id}:upheld"
        out.append(
            EventRow(row.merchant_id, "complaint_upheld", row.closed_at, source, ref, note, None)
        )
    if overdue is not None:
        start = datetime.combine(overdue, time(), tzinfo=workdays.LOCAL_TZ).astimezone(UTC)
        note = f"complaint {row.external_id} past its time limit"
        ref = f"{row.external_id}:overdue"
        out.append(EventRow(row.merchant_id, "complaint_overdue", start, source, ref, note, None))
    return out


async def _sync_derived(
    sql: CreditSql,
    tx: BaseDBAsyncClient,
    complaints: Sequence[ComplaintRow | Complaint],
    overdue: Sequence[date | None],
    rules: Rules,
    now: datetime,
) -> list[CreditChanged]:
    """Make the stored derived events of these complaints exactly what they give rise to now."""
    wanted = [e for c, o in zip(complaints, overdue, strict=True) for e in derived_events(c, o)]
    wanted_keys = {e.key: e for e in wanted}
    # Per source: two feeds may use the same external ids for different complaints.
    refs: dict[str, list[str]] = {}
    for c in complaints:
        refs.setdefault(DERIVED_PREFIX + c.source, []).extend(
            f"{c.external_id}:{what}" for what in ("upheld", "overdue")
        )
    stale: list[int] = []
    stale_merchants: set[int] = set()
    for source, source_refs in refs.items():
        stored = await CreditEvent.filter(source=source, external_ref__in=source_refs).using_db(tx)
        for e in stored:
            want = wanted_keys.get((e.source, e.external_ref))
            row = EventRow(
                e.merchant_id, e.kind, e.occurred_at, e.source, e.external_ref, e.note, None
            )
            if want is None or want.content() != row.content():
                stale.append(e.id)
                stale_merchants.add(e.merchant_id)
    if stale:
        await CreditEvent.filter(id__in=stale).using_db(tx).delete()
    if not wanted and not stale_merchants:
        return []
    result = await store_events(sql, tx, wanted, rules, now, extra_rescore=stale_merchants)
    return result.changes


async def ingest_complaints(
    items: Sequence[ComplaintIn],
    *,
    actor: Actor,
    rules: Rules,
    now: datetime | None = None,
    origin: str = "api",
    dry_run: bool = False,
) -> IngestResult:
    """One batch from the 12315 feed: all of it or none of it, audited."""
    now = now or datetime.now(UTC)
    try:
        return await _ingest_complaints(items, actor, rules, now, origin, dry_run)
    except DryRun as done:
        return done.result


async def _ingest_complaints(
    items: Sequence[ComplaintIn],
    actor: Actor,
    rules: Rules,
    now: datetime,
    origin: str,
    dry_run: bool,
) -> IngestResult:
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        sql = credit_sql(tx)
        await sql.lock()
        ids = await sql.merchant_ids({i.uscc for i in items})
        rows, errors = check_complaints(items, ids, now)
        if errors:
            bad = len({e.field.split(".", 1)[0] for e in errors})
            raise InvalidInput(f"{bad} item(s) are invalid; nothing was stored", errors)
        sources = {r.source for r in rows}
        existing = {
            (c.source, c.external_id): c
            for c in await Complaint.filter(
                source__in=sources, external_id__in=[r.external_id for r in rows]
            ).using_db(tx)
        }
        creates: list[Complaint] = []
        updates: list[tuple[Complaint, ComplaintRow]] = []
        moved: list[ComplaintRow] = []
        overdue: list[date | None] = []
        for row in rows:
            old = existing.get(row.key)
            if old is not None and all(getattr(old, k) == v for k, v in row.fields().items()):
                continue
            deadlines = workdays.complaint_deadlines(row.received_at, row.accepted_at)
            late = _overdue(row, now)
            extra = {
                "accept_due": deadlines.accept_due,
                "mediation_due": deadlines.mediation_due,
                "overdue_since": late,
            }
            if old is None:
                creates.append(
                    Complaint(
                        source=row.source, external_id=row.external_id, **row.fields(), **extra
                    )
                )
            else:
                updates.append((old, row))
                old.update_from_dict({**row.fields(), **extra})
            moved.append(row)
            overdue.append(late)
        if creates:
            await Complaint.bulk_create(creates, batch_size=1000, using_db=tx)
        for old, _row in updates:
            await old.save(using_db=tx)
        changes = await _sync_derived(sql, tx, moved, overdue, rules, now)
        result = IngestResult(
            len(rows), len(creates), len(updates), len(rows) - len(moved), len(changes)
        )
        await audit.record(
            tx,
            actor,
            "complaints.ingest",
            "complaints",
            {
                "origin": origin,
                "received": result.received,
                "stored": result.stored,
                "updated": result.updated,
                "unchanged": result.unchanged,
                "merchants_changed": result.merchants_changed,
            },
        )
        if dry_run:
            raise DryRun(result)
    return result


async def sweep_overdue(
    sql: CreditSql, tx: BaseDBAsyncClient, rules: Rules, now: datetime
) -> tuple[int, list[CreditChanged]]:
    """Open complaints that went past a time limit since their last report: marked overdue,
    with their credit event. Returns how many were marked and the credit changes."""
    today = workdays.local_date(now)
    candidates = await Complaint.filter(
        overdue_since__isnull=True, status__not_in=list(FINAL_STATUSES)
    ).using_db(tx)
    late: list[Complaint] = []
    dates: list[date | None] = []
    for c in candidates:
        due = c.accept_due if c.accepted_at is None else c.mediation_due
        if due is None or due >= today:
            continue
        since = _overdue(c, now)
        if since is not None:
            c.overdue_since = since
            late.append(c)
            dates.append(since)
    for c in late:
        await c.save(using_db=tx, update_fields=["overdue_since", "updated_at"])
    if not late:
        return 0, []
    return len(late), await _sync_derived(sql, tx, late, dates, rules, now)


@dataclass(frozen=True, slots=True)
class RecomputeResult:
    overdue_marked: int
    merchants_changed: int
    changes: list[CreditChanged]


async def recompute(
    *,
    actor: Actor,
    rules: Rules,
    now: datetime | None = None,
    database_url: str | None = None,
) -> RecomputeResult:
    """The periodic job: mark newly overdue complaints, then rescore every merchant as of now
    (deductions fade with time; a new rule table applies to all). Safe to start anywhere at
    once: each step holds credit exclusively for its transaction.

    With ``database_url`` (PostgreSQL), the events are read as Arrow over a connection of
    their own: committed rows only, which is why the sweep commits first and the rescoring
    transaction holds the credit lock (no writer can commit in between)."""
    now = now or datetime.now(UTC)
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        sql = credit_sql(tx)
        await sql.lock()
        marked, swept = await sweep_overdue(sql, tx, rules, now)
    async with in_transaction(conn.connection_name) as tx:
        sql = credit_sql(tx, database_url)
        await sql.lock()
        changes = await rescore(sql, tx, rules, None, as_of=now, cause="recompute")
        await audit.record(
            tx,
            actor,
            "credit.recompute",
            "credit_standing",
            {
                "rules_version": rules.version,
                "overdue_marked": marked,
                "merchants_changed": len({c.merchant_id for c in (*swept, *changes)}),
            },
        )
    everything = [*swept, *changes]
    return RecomputeResult(marked, len({c.merchant_id for c in everything}), everything)
