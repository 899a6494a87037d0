"""Credit repair (信用修复): a merchant asks for a penalty or a listing to stop counting, once
the minimum period of the rule table has passed (``[repair]`` in credit_rules.toml, after the
市场监督管理信用修复管理办法), with a signed pledge (守信承诺书) and evidence of the
correction; an official approves or refuses it with reasons within a deadline in working days.

An approved repair marks the event repaired (``CreditEvent.repaired_at``: it is kept, never
deleted) and rescores the merchant in the same transaction; rescoring announces the change
(``CreditChanged``), so certificates' listener re-judges it there too, and the sweep may lift
an area's suspension as its rules allow. Every step is audited.

Who sees what: the merchant its own applications; officials all, a district's official only
its district's — anything else answers as missing, as everywhere in Fangxin.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Final

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from scoring.credit.models import (
    CreditEvent,
    CreditRepair,
    CreditRepairFile,
    CreditStanding,
    RepairStatus,
)
from scoring.credit.rules import RepairRules, Rules
from scoring.credit.schemas import RepairableOut, RepairEventOut, RepairFileOut, RepairOut
from scoring.credit.store import credit_sql, rescore, start_state
from scoring.credit.workdays import add_working_days, local_date
from service.kernel import audit, scope, uploads
from service.kernel.accounts import Principal
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.events import CreditState
from service.kernel.i18n import N_, gettext
from service.kernel.models import Merchant, Role
from service.kernel.validation import NotText, clean_text

S = RepairStatus
OFFICIAL_ROLES: Final = (Role.OFFICIAL, Role.ADMIN)
# The same limits as a certificate application's materials (certificates/applications).
MAX_FILES: Final = 5
MAX_BYTES: Final = 5 * 1024 * 1024
FILES_DIR: Final = "repairs"
CORRECTION_MAX: Final = 4000
SIGNATORY_MAX: Final = 100
REASON_MAX: Final = 2000

EMPTY = N_("Please fill this in")
TOO_LONG = N_("At most %(limit)d characters")
BAD_TEXT = N_("This text contains characters that are not allowed")
NO_FILES = N_("Attach at least one PDF, JPEG or PNG file")
NO_PLEDGE = N_("Tick the box to sign the pledge")
NOT_REPAIRABLE = N_("This record cannot be repaired")
ALREADY_REPAIRED = N_("This record was already repaired")
NOT_YET = N_("This record may be repaired from %(date)s")
WAIT = N_("Your application was refused: you may apply again from %(date)s")
PENDING = N_("Your application %(id)s for this record is still open")
DECIDED = N_("Application %(id)s was already decided")
CHOOSE_DECISION = N_("Choose to approve or to refuse")
NO_REPAIR = N_("Credit repair is not offered under this rule table")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later; the month's last day when it has no such day
    (31 August + 6 months is 28 or 29 February)."""
    years, month0 = divmod(day.month - 1 + months, 12)
    year = day.year + years
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def _policy(rules: Rules) -> RepairRules:
    if rules.repair is None:
        raise NotFound(gettext(NO_REPAIR))
    return rules.repair


@dataclass(frozen=True, slots=True)
class Repairable:
    """One event of a merchant that may be repaired now or later, and where it stands."""

    event: CreditEvent
    eligible_on: date  # Asia/Shanghai: the first day an application is taken
    pending: CreditRepair | None
    reapply_on: date | None  # after a refusal, the first day it may be applied for again

    def blocker(self, today: date) -> str | None:
        """Why an application cannot be made today (a message for the person), or None."""
        if self.pending is not None:
            return gettext(PENDING) % {"id": self.pending.id}
        if today < self.eligible_on:
            return gettext(NOT_YET) % {"date": self.eligible_on.isoformat()}
        if self.reapply_on is not None and today < self.reapply_on:
            return gettext(WAIT) % {"date": self.reapply_on.isoformat()}
        return None


def _in_force(events: Sequence[CreditEvent], rules: Rules) -> set[int]:
    """The ids of the listing events that keep a listing in force, as the credit rules read
    it (scoring.credit.rules.credit_scores: the latest unrepaired add or remove; on the same
    instant the removal wins)."""
    out: set[int] = set()
    for listing in rules.listings:
        mine = [
            e
            for e in events
            if e.kind in (listing.added, listing.removed) and e.repaired_at is None
        ]
        if mine:
            latest = max(mine, key=lambda e: (e.occurred_at, e.kind, e.id))
            if latest.kind == listing.added:
                out.add(latest.id)
    return out


async def repairables(
    merchant: Merchant, rules: Rules, now: datetime, conn: BaseDBAsyncClient | None = None
) -> list[Repairable]:
    """The merchant's unrepaired penalties and listings in force, newest first, each with the
    day it becomes repairable."""
    policy = _policy(rules)
    events = (
        await CreditEvent.filter(merchant_id=merchant.id, occurred_at__lte=now)
        .using_db(conn)
        .order_by("-occurred_at", "-id")
    )
    listing_kinds = {k for r in rules.listings for k in (r.added, r.removed)}
    in_force = _in_force(events, rules)
    candidates = [
        e
        for e in events
        if e.repaired_at is None
        and policy.months_for(e.kind, merchant.category.value) is not None
        and (e.kind not in listing_kinds or e.id in in_force)
    ]
    if not candidates:
        return []
    applications = (
        await CreditRepair.filter(event_id__in=[e.id for e in candidates])
        .using_db(conn)
        .order_by("id")
    )
    wait = timedelta(days=policy.reapply_wait_days)
    out = []
    for e in candidates:
        mine = [a for a in applications if a.event_id == e.id]
        pending = next((a for a in mine if a.status == S.PENDING), None)
        refused = [a for a in mine if a.status == S.REFUSED and a.decided_at is not None]
        last = max((a.decided_at for a in refused if a.decided_at), default=None)
        months = policy.months_for(e.kind, merchant.category.value) or 0
        out.append(
            Repairable(
                e,
                add_months(local_date(e.occurred_at), months),
                pending,
                local_date(last + wait) if last is not None else None,
            )
        )
    return out


# --- applying ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RepairForm:
    """What the merchant sends: the event, what it corrected, its pledge, its evidence."""

    event_id: int | None
    correction: str
    signatory: str
    pledge: bool


def _text(errors: list[FieldError], name: str, value: str, limit: int) -> str:
    try:
        text = clean_text(value).strip()
    except NotText:
        errors.append(FieldError(name, gettext(BAD_TEXT)))
        return value.strip()
    if not text:
        errors.append(FieldError(name, gettext(EMPTY)))
    elif len(text) > limit:
        errors.append(FieldError(name, gettext(TOO_LONG) % {"limit": limit}))
    return text


def files_store(data_dir: Path) -> uploads.FileStore:
    return uploads.FileStore(data_dir / FILES_DIR)


async def own_merchant(who: Principal) -> Merchant:
    if who.role != Role.MERCHANT or who.merchant_id is None:
        raise NotFound("This account has no merchant")
    merchant = await Merchant.get_or_none(id=who.merchant_id)
    if merchant is None:
        raise NotFound("This account has no merchant")
    return merchant


async def submit(
    who: Principal,
    form: RepairForm,
    files: Sequence[uploads.Upload],
    *,
    rules: Rules,
    data_dir: Path,
    now: datetime | None = None,
    is_demo: bool = False,
) -> CreditRepair:
    """A merchant's application for the repair of one of its events. Every bad field is
    named (InvalidInput); an application already open for the event is a Conflict, whatever
    a simultaneous request saw (the database keeps one: migration 0023)."""
    now = now or datetime.now(UTC)
    policy = _policy(rules)
    merchant = await own_merchant(who)
    errors: list[FieldError] = []
    correction = _text(errors, "correction", form.correction, CORRECTION_MAX)
    signatory = _text(errors, "signatory", form.signatory, SIGNATORY_MAX)
    if not form.pledge:
        errors.append(FieldError("pledge", gettext(NO_PLEDGE)))
    kept, file_errors = uploads.check(
        files, field="files", max_files=MAX_FILES, max_bytes=MAX_BYTES, strip=True
    )
    errors += file_errors
    if not kept and not file_errors:
        errors.append(FieldError("files", gettext(NO_FILES)))
    target = await _target(merchant, form.event_id, rules, now, errors)
    if errors or target is None:
        raise InvalidInput("The application is not valid", errors)
    store = files_store(data_dir)
    for f in kept:
        store.store(f)
    try:
        async with in_transaction() as tx:
            repair = await CreditRepair.create(
                using_db=tx,
                merchant_id=merchant.id,
                event_id=target.event.id,
                district_id=merchant.district_id,
                applicant_id=who.account_id,
                applicant_name=who.name,
                correction=correction,
                signatory=signatory,
                pledge_version=rules.version,
                pledge_sha256=policy.pledge_sha256,
                status=S.PENDING,
                submitted_at=now,
                decide_by=add_working_days(local_date(now), policy.decision_working_days),
                is_demo=is_demo,
            )
            for f in kept:
                await CreditRepairFile.create(
                    using_db=tx,
                    repair=repair,
                    **uploads.row_of(f, now),
                )
            await audit.record(
                tx,
                who.actor,
                "credit_repair.submitted",
                f"credit_repair:{repair.id}",
                {
                    "merchant": merchant.uscc,
                    "event": target.event.id,
                    "kind": target.event.kind,
                    "pledge_version": rules.version,
                    "pledge_sha256": policy.pledge_sha256,
                    "signatory": signatory,
                    "files": [f.sha256 for f in kept],
                },
            )
            return repair
    except IntegrityError:
        pending = await CreditRepair.filter(event_id=target.event.id, status=S.PENDING).first()
        if pending is None:
            raise
        raise Conflict(gettext(PENDING) % {"id": pending.id}) from None


async def _target(
    merchant: Merchant,
    event_id: int | None,
    rules: Rules,
    now: datetime,
    errors: list[FieldError],
) -> Repairable | None:
    """The event applied for, if it may be repaired today; else a FieldError on ``event``
    (or a Conflict when an application for it is open)."""
    if event_id is None:
        errors.append(FieldError("event", gettext(EMPTY)))
        return None
    event = await CreditEvent.get_or_none(id=event_id, merchant_id=merchant.id)
    if event is None:
        raise NotFound(f"No credit record {event_id}")
    if event.repaired_at is not None:
        errors.append(FieldError("event", gettext(ALREADY_REPAIRED)))
        return None
    found = next(
        (r for r in await repairables(merchant, rules, now) if r.event.id == event_id), None
    )
    if found is None:
        errors.append(FieldError("event", gettext(NOT_REPAIRABLE)))
        return None
    if found.pending is not None:
        raise Conflict(gettext(PENDING) % {"id": found.pending.id})
    blocker = found.blocker(local_date(now))
    if blocker is not None:
        errors.append(FieldError("event", blocker))
        return None
    return found


# --- who sees what -------------------------------------------------------------------------


async def get_for(repair_id: int, who: Principal) -> CreditRepair:
    """The application if this caller may see it, else NotFound."""
    repair = await CreditRepair.get_or_none(id=repair_id)
    missing = NotFound(f"No credit repair {repair_id}")
    if repair is None:
        raise missing
    if who.role in OFFICIAL_ROLES:
        district = await scope.district_of(who)
        if district is not None and repair.district_id != district.id:
            raise missing
        return repair
    if who.role == Role.MERCHANT and who.merchant_id == repair.merchant_id:
        return repair
    raise missing


async def listing(who: Principal, *, status: RepairStatus | None = None) -> list[CreditRepair]:
    """The applications the caller may see, oldest deadline first for the pending ones."""
    qs = CreditRepair.all()
    if who.role in OFFICIAL_ROLES:
        district = await scope.district_of(who)
        if district is not None:
            qs = qs.filter(district_id=district.id)
    elif who.role == Role.MERCHANT and who.merchant_id is not None:
        qs = qs.filter(merchant_id=who.merchant_id)
    else:
        return []
    if status is not None:
        qs = qs.filter(status=status)
    return await qs.order_by("decide_by", "id").prefetch_related("merchant", "event")


def overdue(repair: CreditRepair, now: datetime) -> bool:
    return repair.status == S.PENDING and local_date(now) > repair.decide_by


# --- deciding ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decided:
    repair: CreditRepair
    before: CreditState
    after: CreditState


async def _state(conn: BaseDBAsyncClient, merchant_id: int, rules: Rules) -> CreditState:
    row = await CreditStanding.filter(merchant_id=merchant_id).using_db(conn).first()
    if row is None:
        return start_state(rules)
    return CreditState(row.score, row.risk_class, row.abnormal_listed, row.serious_listed)


async def decide(
    repair_id: int,
    who: Principal,
    *,
    approve: bool,
    reason: str,
    rules: Rules,
    now: datetime | None = None,
) -> Decided:
    """An official's decision. Approval marks the event repaired and rescores the merchant in
    the same transaction (its certificates re-judged by the credit listener there too). Two
    officials deciding at once: one wins, the other gets a Conflict."""
    # Scoring compares UTC instants (polars will not compare across time zones).
    now = (now or datetime.now(UTC)).astimezone(UTC)
    if who.role not in OFFICIAL_ROLES:
        raise NotFound(f"No credit repair {repair_id}")
    repair = await get_for(repair_id, who)
    errors: list[FieldError] = []
    text = _text(errors, "reason", reason, REASON_MAX)
    if errors:
        raise InvalidInput("The decision is not valid", errors)
    status = S.APPROVED if approve else S.REFUSED
    async with in_transaction() as tx:
        sql = credit_sql(tx)
        # The merchant's credit first, as every writer of credit takes it (store.py).
        await sql.lock([repair.merchant_id])
        moved = (
            await CreditRepair.filter(id=repair.id, status=S.PENDING)
            .using_db(tx)
            .update(status=status, decided_at=now, decided_by=str(who.actor), decision_reason=text)
        )
        if not moved:
            raise Conflict(gettext(DECIDED) % {"id": repair.id})
        before = await _state(tx, repair.merchant_id, rules)
        after = before
        if approve:
            await (
                CreditEvent.filter(id=repair.event_id, repaired_at=None)
                .using_db(tx)
                .update(repaired_at=now)
            )
            await rescore(sql, tx, rules, [repair.merchant_id], as_of=now, cause="repair")
            after = await _state(tx, repair.merchant_id, rules)
        await audit.record(
            tx,
            who.actor,
            f"credit_repair.{status.value}",
            f"credit_repair:{repair.id}",
            {
                "event": repair.event_id,
                "reason": text,
                "credit_before": {"score": before.score, "class": before.risk_class},
                "credit_after": {"score": after.score, "class": after.risk_class},
            },
        )
        fresh = await CreditRepair.filter(id=repair.id).using_db(tx).get()
    return Decided(fresh, before, after)


# --- what callers read ---------------------------------------------------------------------


def event_out(e: CreditEvent) -> RepairEventOut:
    return RepairEventOut(e.id, e.kind, e.occurred_at, e.note, e.repaired_at)


async def out(r: CreditRepair, now: datetime | None = None) -> RepairOut:
    await r.fetch_related("merchant", "event")
    files = await CreditRepairFile.filter(repair_id=r.id).order_by("id")
    return RepairOut(
        id=r.id,
        uscc=r.merchant.uscc,
        merchant_name=r.merchant.name,
        event=event_out(r.event),
        status=r.status.value,
        correction=r.correction,
        signatory=r.signatory,
        pledge_version=r.pledge_version,
        pledge_sha256=r.pledge_sha256,
        applicant_name=r.applicant_name,
        submitted_at=r.submitted_at,
        decide_by=r.decide_by,
        overdue=overdue(r, now or datetime.now(UTC)),
        decided_at=r.decided_at,
        decided_by=r.decided_by,
        decision_reason=r.decision_reason,
        files=[RepairFileOut(f.id, f.filename, f.media_type, f.size) for f in files],
    )


def repairable_out(r: Repairable, now: datetime) -> RepairableOut:
    why_not = r.blocker(local_date(now))
    return RepairableOut(
        event=event_out(r.event),
        eligible_on=r.eligible_on,
        may_apply=why_not is None,
        why_not=why_not,
        pending_id=r.pending.id if r.pending else None,
        reapply_on=r.reapply_on,
    )


async def file_for(repair_id: int, file_id: int, who: Principal) -> CreditRepairFile:
    """An evidence file of an application the caller may see, else NotFound."""
    r = await get_for(repair_id, who)
    f = await CreditRepairFile.get_or_none(id=file_id, repair_id=r.id)
    if f is None:
        raise NotFound(f"No file {file_id}")
    return f


def parse_decision(decision: str) -> bool:
    """approve → True, refuse → False; anything else names the field."""
    if decision in ("approve", "refuse"):
        return decision == "approve"
    raise InvalidInput(
        "The decision is not valid", [FieldError("decision", gettext(CHOOSE_DECISION))]
    )


@dataclass(frozen=True, slots=True)
class RepairCounts:
    pending: int
    overdue: int  # pending past its decision date
    approved: int
    refused: int


async def counts(
    district_id: int | None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> RepairCounts:
    """Applications of a district (None: the city): those awaiting a decision now, how many
    of them are overdue, and those approved and refused (decided in [since, until) if given)."""
    now = now or datetime.now(UTC)
    qs = CreditRepair.all()
    if district_id is not None:
        qs = qs.filter(district_id=district_id)
    decided = qs
    if since is not None:
        decided = decided.filter(decided_at__gte=since)
    if until is not None:
        decided = decided.filter(decided_at__lt=until)
    return RepairCounts(
        pending=await qs.filter(status=S.PENDING).count(),
        overdue=await qs.filter(status=S.PENDING, decide_by__lt=local_date(now)).count(),
        approved=await decided.filter(status=S.APPROVED).count(),
        refused=await decided.filter(status=S.REFUSED).count(),
    )
