"""12315 complaints: ingest, working-day deadlines, and the credit events they give rise to.

A complaint is a record that moves on (received → accepted → mediating → closed), so the feed
resends it and the latest report wins, keyed by (source, external id); an identical resend
changes nothing. Two facts about a complaint count against the merchant's credit: it was
upheld, and it went past a time limit. They become ordinary credit events, derived here and
kept in step with the complaint (withdrawn if a later report takes them back), so the credit
score has one source of truth: the events.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Protocol, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from scoring.credit import workdays
from scoring.credit.feeds import Feed, IngestResult, ingest
from scoring.credit.models import (
    FINAL_STATUSES,
    Channel,
    Complaint,
    ComplaintStatus,
    Followup,
    Handler,
    IntakeKind,
    Resolution,
)
from scoring.credit.rules import Rules
from scoring.credit.schemas import ComplaintIn
from scoring.credit.store import (
    DERIVED_SOURCE_PREFIX,
    CreditSql,
    EventRow,
    credit_sql,
    replace_derived_events,
    rescore,
)
from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.db import in_slices
from service.kernel.errors import FieldError
from service.kernel.events import CreditChanged
from service.kernel.models import Merchant
from service.kernel.validation import FUTURE_TOLERANCE, check_text, parse_time
from service.register import store as registry
from service.register import uscc

DERIVED_PREFIX = DERIVED_SOURCE_PREFIX  # + the complaint's source
# The source of the records of complaints filed through Fangxin itself (scoring.disputes),
# their external id the receipt code: no feed may write under it.
FANGXIN_SOURCE = "fangxin"
# The commitments a complaint may say were broken: the values of
# certificates.commitments.models.CommitmentKind
# (scoring does not import the packages above it; a test keeps the two in step).
COMMITMENT_KINDS = ("returns", "pay_first", "marked_prices")
# An upheld complaint that broke a public commitment weighs more, by its own rule; a city's
# rule table without that rule counts it as a plain upheld complaint.
UPHELD = "complaint_upheld"
UPHELD_BROKEN = "complaint_upheld_commitment"
E = TypeVar("E", bound=Enum)
MAX_AMOUNT_FEN = 10**14  # a trillion yuan: anything above is a typo
NEEDS_ACCEPTANCE = frozenset({ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATING})
# What each kind of record may report as its status: a consultation is answered or not yet; a
# report is decided on (filed as a case: accepted; not filed: rejected) and its case closed.
KIND_STATUSES: dict[IntakeKind, frozenset[ComplaintStatus]] = {
    IntakeKind.CONSULTATION: frozenset({ComplaintStatus.RECEIVED, ComplaintStatus.CLOSED}),
    IntakeKind.COMPLAINT: frozenset(ComplaintStatus),
    IntakeKind.REPORT: frozenset(
        {
            ComplaintStatus.RECEIVED,
            ComplaintStatus.ACCEPTED,
            ComplaintStatus.REJECTED,
            ComplaintStatus.CLOSED,
        }
    ),
}
# The regulator's time limits (working days): to accept (a report: to decide on filing), and
# from acceptance to the end of mediation. A consultation has none; nor has a complaint the
# consumer association handles — its limits are the association's own, not the regulator's.
LIMITS: dict[IntakeKind, tuple[int, int | None]] = {
    IntakeKind.COMPLAINT: (workdays.ACCEPT_LIMIT, workdays.MEDIATION_LIMIT),
    IntakeKind.REPORT: (workdays.REPORT_DECISION_LIMIT, None),
}


def limits_of(kind: IntakeKind, handled_by: Handler) -> tuple[int, int | None] | None:
    if handled_by != Handler.REGULATOR:
        return None
    return LIMITS.get(kind)


@dataclass(frozen=True, slots=True)
class Register:
    """What the checks need to know of the register: merchants by USCC (id, district id) and
    districts by code."""

    merchants: dict[str, tuple[int, int]]
    districts: dict[str, int]


@dataclass(frozen=True, slots=True)
class ComplaintRow:
    source: str
    external_id: str
    kind: IntakeKind
    merchant_id: int | None
    received_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    status: ComplaintStatus
    category: str
    amount_disputed_fen: int
    amount_recovered_fen: int
    upheld: bool | None
    channel: Channel | None = None
    handled_by: Handler = Handler.REGULATOR
    handling_district_id: int | None = None
    resolution: Resolution | None = None
    followup: Followup | None = None
    followup_at: datetime | None = None
    party_name: str = ""
    party_address: str = ""
    party_uscc: str | None = None
    broken_commitment: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.external_id)

    def fields(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "merchant_id": self.merchant_id,
            "received_at": self.received_at,
            "accepted_at": self.accepted_at,
            "closed_at": self.closed_at,
            "status": self.status,
            "category": self.category,
            "amount_disputed_fen": self.amount_disputed_fen,
            "amount_recovered_fen": self.amount_recovered_fen,
            "upheld": self.upheld,
            "channel": self.channel,
            "handled_by": self.handled_by,
            "handling_district_id": self.handling_district_id,
            "resolution": self.resolution,
            "followup": self.followup,
            "followup_at": self.followup_at,
            "party_name": self.party_name,
            "party_address": self.party_address,
            "party_uscc": self.party_uscc,
            "broken_commitment": self.broken_commitment,
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


def _choice(errors: list[FieldError], where: str, value: str | None, enum: type[E]) -> E | None:
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(e.value for e in enum)
        errors.append(FieldError(where, f"must be one of {choices}"))
        return None


def _party(
    bad: list[FieldError], at: str, item: ComplaintIn, kind: IntakeKind | None, register: Register
) -> tuple[int | None, int | None, str | None]:
    """(merchant id, its district id, the USCC to keep) of the party a record is about."""
    check_text(bad, f"{at}.party_name", item.party_name, 200, required=False)
    check_text(bad, f"{at}.party_address", item.party_address, 300, required=False)
    if item.uscc is None:
        if kind != IntakeKind.CONSULTATION and not item.party_name.strip():
            bad.append(FieldError(f"{at}.uscc", "name the party: a USCC or party_name"))
        return None, None, None
    known = register.merchants.get(item.uscc)
    if known is not None:
        return known[0], known[1], item.uscc
    try:
        uscc.validate(item.uscc)
    except uscc.USCCError as exc:
        bad.append(FieldError(f"{at}.uscc", str(exc)))
    return None, None, item.uscc


def check_complaints(
    items: Sequence[ComplaintIn], register: Register, now: datetime
) -> tuple[list[ComplaintRow], list[FieldError]]:
    errors: list[FieldError] = []
    rows: list[ComplaintRow] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        at = f"complaints[{i}]"
        bad: list[FieldError] = []
        kind = _choice(bad, f"{at}.kind", item.kind, IntakeKind)
        merchant_id, merchant_district, party_uscc = _party(bad, at, item, kind, register)
        check_text(bad, f"{at}.external_id", item.external_id, 128)
        check_text(bad, f"{at}.source", item.source, 64 - len(DERIVED_PREFIX))
        if item.source == FANGXIN_SOURCE:
            bad.append(FieldError(f"{at}.source", "is reserved for complaints filed on Fangxin"))
        if item.fangxin_ref is not None:
            check_text(bad, f"{at}.fangxin_ref", item.fangxin_ref, 32)
        check_text(bad, f"{at}.category", item.category, 32)
        status = _choice(bad, f"{at}.status", item.status, ComplaintStatus)
        channel = _choice(bad, f"{at}.channel", item.channel, Channel)
        handled_by = _choice(bad, f"{at}.handled_by", item.handled_by, Handler)
        resolution = _choice(bad, f"{at}.resolution", item.resolution, Resolution)
        followup = _choice(bad, f"{at}.followup", item.followup, Followup)
        if item.broken_commitment is not None and item.broken_commitment not in COMMITMENT_KINDS:
            choices = ", ".join(COMMITMENT_KINDS)
            bad.append(FieldError(f"{at}.broken_commitment", f"must be one of {choices}"))
        district_id = merchant_district
        if item.district is not None:
            district_id = register.districts.get(item.district)
            if district_id is None:
                bad.append(FieldError(f"{at}.district", f"no district with code {item.district!r}"))
        received = _time(bad, f"{at}.received_at", item.received_at, now)
        accepted = _time(bad, f"{at}.accepted_at", item.accepted_at, now)
        closed = _time(bad, f"{at}.closed_at", item.closed_at, now)
        followup_at = _time(bad, f"{at}.followup_at", item.followup_at, now)
        for name, moment in (("accepted_at", accepted), ("closed_at", closed)):
            if moment is not None and received is not None and moment < received:
                bad.append(FieldError(f"{at}.{name}", "is before received_at"))
        if status is not None and kind is not None:
            _check_status(bad, at, item, kind, status)
        if followup_at is not None and closed is not None and followup_at < closed:
            bad.append(FieldError(f"{at}.followup_at", "is before closed_at"))
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
        if bad or kind is None or status is None or received is None or handled_by is None:
            errors.extend(bad)  # the None cases each left an error above
            continue
        rows.append(
            ComplaintRow(
                item.source,
                item.external_id,
                kind,
                merchant_id,
                received,
                accepted,
                closed,
                status,
                item.category,
                fen[0],
                fen[1],
                item.upheld,
                channel,
                handled_by,
                district_id,
                resolution,
                followup,
                followup_at,
                item.party_name.strip(),
                item.party_address.strip(),
                party_uscc,
                item.broken_commitment,
            )
        )
    return rows, errors


def _check_status(
    bad: list[FieldError], at: str, item: ComplaintIn, kind: IntakeKind, status: ComplaintStatus
) -> None:
    """The status, its dates and its outcome agree with each other and with the kind."""
    if status not in KIND_STATUSES[kind]:
        allowed = ", ".join(sorted(s.value for s in KIND_STATUSES[kind]))
        bad.append(FieldError(f"{at}.status", f"a {kind} is one of {allowed}"))
        return
    final = status in FINAL_STATUSES
    if final and item.closed_at is None:
        bad.append(FieldError(f"{at}.closed_at", f"is required when status is {status}"))
    if not final and item.closed_at is not None:
        bad.append(FieldError(f"{at}.closed_at", f"must be empty while {status}"))
    if status in NEEDS_ACCEPTANCE and item.accepted_at is None:
        bad.append(FieldError(f"{at}.accepted_at", f"is required when status is {status}"))
    if status == ComplaintStatus.RECEIVED and item.accepted_at is not None:
        bad.append(FieldError(f"{at}.accepted_at", "must be empty while received"))
    if kind == IntakeKind.CONSULTATION and item.accepted_at is not None:
        bad.append(FieldError(f"{at}.accepted_at", "a consultation is answered, not accepted"))
    if item.upheld is not None:
        if kind == IntakeKind.CONSULTATION:
            bad.append(FieldError(f"{at}.upheld", "a consultation is not upheld or dismissed"))
        elif not final:
            bad.append(FieldError(f"{at}.upheld", "is decided only when the complaint ends"))
    if item.resolution is not None:
        if kind != IntakeKind.COMPLAINT:
            bad.append(FieldError(f"{at}.resolution", "is how a complaint ended"))
        elif not final:
            bad.append(FieldError(f"{at}.resolution", "is decided only when the complaint ends"))
        elif (status == ComplaintStatus.REJECTED) != (item.resolution == Resolution.REFUSED):
            bad.append(FieldError(f"{at}.resolution", "is refused exactly when status is rejected"))
    if item.followup is not None and not final:
        bad.append(FieldError(f"{at}.followup", "comes after the record is closed"))
    if item.followup_at is not None and item.followup is None:
        bad.append(FieldError(f"{at}.followup", "is required with followup_at"))


def settled_before_the_regulator(row: ComplaintRow | Complaint) -> bool:
    """Settled by the merchant (online dispute resolution) before the regulator accepted it:
    the record never reached the regulator's clocks, so none runs against it."""
    return row.resolution == Resolution.MERCHANT_ODR and row.accepted_at is None


def _overdue(row: ComplaintRow | Complaint, now: datetime) -> date | None:
    limits = limits_of(IntakeKind(row.kind), Handler(row.handled_by))
    if limits is None or settled_before_the_regulator(row):
        return None
    return workdays.overdue_since(
        row.received_at,
        row.accepted_at,
        row.closed_at,
        row.status == ComplaintStatus.REJECTED,
        now,
        *limits,
    )


def _deadlines(row: ComplaintRow) -> workdays.Deadlines | None:
    limits = limits_of(row.kind, row.handled_by)
    if limits is None or settled_before_the_regulator(row):
        return None
    return workdays.complaint_deadlines(row.received_at, row.accepted_at, *limits)


def derived_events(
    row: ComplaintRow | Complaint, overdue: date | None, rules: Rules | None = None
) -> list[EventRow]:
    """The credit events a complaint gives rise to, as it stands: none for a consultation or
    a report, none while its party is not a registered merchant. Upheld and marked as a broken
    commitment, it is the heavier ``complaint_upheld_commitment`` when ``rules`` have
    that rule."""
    if row.kind != IntakeKind.COMPLAINT or row.merchant_id is None:
        return []
    source = DERIVED_PREFIX + row.source
    out = []
    if row.upheld and row.closed_at is not None:
        note = f"complaint {row.external_id} upheld ({row.category})"
        ref = f"{row.external_id}:upheld"
        kind = UPHELD
        if row.broken_commitment and (rules is None or UPHELD_BROKEN in rules.events):
            kind = UPHELD_BROKEN
            note += f", broke its {row.broken_commitment} commitment"
        out.append(EventRow(row.merchant_id, kind, row.closed_at, source, ref, note, None))
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
    pairs = zip(complaints, overdue, strict=True)
    wanted = [e for c, o in pairs for e in derived_events(c, o, rules)]
    # Per source: two feeds may use the same external ids for different complaints.
    refs: dict[str, list[str]] = {}
    for c in complaints:
        refs.setdefault(DERIVED_PREFIX + c.source, []).extend(
            f"{c.external_id}:{what}" for what in ("upheld", "overdue")
        )
    return await replace_derived_events(sql, tx, wanted, refs, rules, now)


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
    feed = ComplaintFeed(items, rules, now or datetime.now(UTC))
    return await ingest(feed, actor=actor, origin=origin, dry_run=dry_run)


class ReceiptBook(Protocol):
    """The complaints filed through Fangxin itself (scoring.disputes), as the 12315 feed may
    send them back: by receipt code. Registered by that package (``register_receipts``), so
    credit does not import it."""

    async def known(self, tx: BaseDBAsyncClient, codes: Collection[str]) -> set[str]:
        """Which of these codes are receipt codes of complaints filed through Fangxin."""

    async def link(self, tx: BaseDBAsyncClient, refs: Mapping[str, str], now: datetime) -> None:
        """Record that the feed holds these complaints: receipt code → the feed's reference
        (``source:external_id``)."""


_receipts: ReceiptBook | None = None


def register_receipts(book: ReceiptBook | None) -> None:
    """The receipt book the complaint feed links its records to (None: none)."""
    global _receipts
    _receipts = book


@dataclass(frozen=True, slots=True)
class CheckedComplaints:
    rows: list[ComplaintRow]  # to store
    linked: dict[str, str]  # receipt code → the feed's reference: the same complaint


async def _link_receipts(
    tx: BaseDBAsyncClient, items: Sequence[ComplaintIn], rows: list[ComplaintRow]
) -> tuple[CheckedComplaints, list[FieldError]]:
    """Split off the records that are a complaint filed through Fangxin: named by
    ``fangxin_ref``, or by an external id that is a receipt code. A ``fangxin_ref`` naming no
    such complaint is an error; an external id merely shaped like one is an ordinary record."""
    if _receipts is None or not rows:
        return CheckedComplaints(rows, {}), []
    # The check made a row of every item (it found no error), in the items' order.
    refs = [item.fangxin_ref or item.external_id for item in items]
    known = await _receipts.known(tx, set(refs))
    kept: list[ComplaintRow] = []
    linked: dict[str, str] = {}
    errors: list[FieldError] = []
    for i, (item, row, ref) in enumerate(zip(items, rows, refs, strict=True)):
        if ref in known:
            linked[ref] = f"{row.source}:{row.external_id}"
        elif item.fangxin_ref is not None:
            errors.append(
                FieldError(
                    f"complaints[{i}].fangxin_ref", "no complaint filed through Fangxin has it"
                )
            )
        else:
            kept.append(row)
    return CheckedComplaints(kept, linked), errors


@dataclass(frozen=True, slots=True)
class ComplaintFeed(Feed[CheckedComplaints]):
    """Complaints take credit exclusively before reading what is stored: two batches resending
    one complaint would otherwise both compare it with the same stored version, and both
    create it or both derive its events."""

    action = "complaints.ingest"
    subject = "complaints"
    counts = ("received", "stored", "updated", "unchanged", "merchants_changed")

    items: Sequence[ComplaintIn]
    rules: Rules
    now: datetime

    async def check(self, tx: BaseDBAsyncClient) -> tuple[CheckedComplaints, list[FieldError]]:
        await credit_sql(tx).lock()
        register = await _register(tx, {i.uscc for i in self.items if i.uscc is not None})
        rows, errors = check_complaints(self.items, register, self.now)
        if errors:
            return CheckedComplaints(rows, {}), errors
        return await _link_receipts(tx, self.items, rows)

    async def write(self, tx: BaseDBAsyncClient, checked: CheckedComplaints) -> IngestResult:
        if checked.linked and _receipts is not None:
            await _receipts.link(tx, checked.linked, self.now)
        saved = await _save(tx, checked.rows, self.now)
        sql = credit_sql(tx)  # the lock taken in check is the transaction's
        changes = await _sync_derived(sql, tx, saved.moved, saved.overdue, self.rules, self.now)
        unchanged = len(checked.rows) - len(saved.moved)
        return IngestResult(
            len(self.items),
            saved.created,
            saved.updated,
            unchanged,
            len(changes),
            len(checked.linked),
        )

    def audited(self, checked: CheckedComplaints) -> dict[str, object]:
        return {"linked": sorted(checked.linked)} if checked.linked else {}


async def record(
    tx: BaseDBAsyncClient, row: ComplaintRow, rules: Rules, now: datetime
) -> tuple[Complaint, list[CreditChanged]]:
    """One intake record written by Fangxin itself (a complaint filed online, escalated or
    worked by officials), kept exactly as a feed's record is: the same deadlines, the same
    overdue marking, the same derived credit events, under the same exclusive credit lock."""
    sql = credit_sql(tx)
    await sql.lock()
    saved = await _save(tx, [row], now)
    changes = await _sync_derived(sql, tx, saved.moved, saved.overdue, rules, now)
    stored = (
        await Complaint.filter(source=row.source, external_id=row.external_id).using_db(tx).get()
    )
    return stored, changes


def row_of(c: Complaint) -> ComplaintRow:
    """A stored record as the row that would store it again, to change a field or two."""
    return ComplaintRow(
        source=c.source,
        external_id=c.external_id,
        kind=IntakeKind(c.kind),
        merchant_id=c.merchant_id,
        received_at=c.received_at,
        accepted_at=c.accepted_at,
        closed_at=c.closed_at,
        status=ComplaintStatus(c.status),
        category=c.category,
        amount_disputed_fen=c.amount_disputed_fen,
        amount_recovered_fen=c.amount_recovered_fen,
        upheld=c.upheld,
        channel=Channel(c.channel) if c.channel else None,
        handled_by=Handler(c.handled_by),
        handling_district_id=c.handling_district_id,
        resolution=Resolution(c.resolution) if c.resolution else None,
        followup=Followup(c.followup) if c.followup else None,
        followup_at=c.followup_at,
        party_name=c.party_name,
        party_address=c.party_address,
        party_uscc=c.party_uscc,
        broken_commitment=c.broken_commitment,
    )


@dataclass(frozen=True, slots=True)
class SavedComplaints:
    created: int
    updated: int
    moved: list[ComplaintRow]  # the records created or changed, in batch order
    overdue: list[date | None]  # since when each of them is past a time limit


async def _save(
    tx: BaseDBAsyncClient, rows: Sequence[ComplaintRow], now: datetime
) -> SavedComplaints:
    """Store the records that are new or changed; an identical resend changes nothing."""
    existing = await _stored(tx, rows)
    creates: list[Complaint] = []
    updates: list[Complaint] = []
    moved: list[ComplaintRow] = []
    overdue: list[date | None] = []
    for row in rows:
        old = existing.get(row.key)
        if old is not None and all(getattr(old, k) == v for k, v in row.fields().items()):
            continue
        deadlines = _deadlines(row)
        late = _overdue(row, now)
        extra = {
            "accept_due": deadlines and deadlines.accept_due,
            "mediation_due": deadlines and deadlines.mediation_due,
            "overdue_since": late,
        }
        if old is None:
            creates.append(
                Complaint(source=row.source, external_id=row.external_id, **row.fields(), **extra)
            )
        else:
            updates.append(old)
            old.update_from_dict({**row.fields(), **extra})
        moved.append(row)
        overdue.append(late)
    if creates:
        await Complaint.bulk_create(creates, batch_size=1000, using_db=tx)
    for old in updates:
        await old.save(using_db=tx)
    return SavedComplaints(len(creates), len(updates), moved, overdue)


async def _stored(
    tx: BaseDBAsyncClient, rows: Sequence[ComplaintRow]
) -> dict[tuple[str, str], Complaint]:
    sources = {r.source for r in rows}
    found = await in_slices(
        lambda ids: Complaint.filter(source__in=sources, external_id__in=ids).using_db(tx),
        {r.external_id for r in rows},
    )
    return {(c.source, c.external_id): c for c in found}


async def _register(tx: BaseDBAsyncClient, usccs: set[str]) -> Register:
    merchants = {
        code: (mid, did)
        for code, mid, did in await in_slices(
            lambda c: (
                Merchant.filter(uscc__in=c).using_db(tx).values_list("uscc", "id", "district_id")
            ),
            usccs,
        )
    }
    return Register(merchants, await registry.district_ids(tx))


async def link_registered(
    tx: BaseDBAsyncClient, merchants: dict[str, int], rules: Rules, now: datetime
) -> int:
    """Records about parties not in the register whose USCC a merchant now has: linked to it,
    and their credit events derived. Returns how many records were linked."""
    if not merchants:
        return 0
    waiting = await in_slices(
        lambda c: Complaint.filter(merchant_id__isnull=True, party_uscc__in=c).using_db(tx),
        merchants,
    )
    if not waiting:
        return 0
    sql = credit_sql(tx)
    await sql.lock()
    for c in waiting:
        c.merchant_id = merchants[c.party_uscc or ""]
        await c.save(using_db=tx, update_fields=["merchant_id", "updated_at"])
    await _sync_derived(sql, tx, waiting, [c.overdue_since for c in waiting], rules, now)
    return len(waiting)


async def sweep_overdue(
    sql: CreditSql, tx: BaseDBAsyncClient, rules: Rules, now: datetime
) -> tuple[int, list[CreditChanged]]:
    """Open complaints that went past a time limit since their last report: marked overdue,
    with their credit event. Returns how many were marked and the credit changes."""
    today = workdays.local_date(now)
    candidates = await Complaint.filter(
        overdue_since__isnull=True,
        accept_due__isnull=False,
        status__not_in=list(FINAL_STATUSES),
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
