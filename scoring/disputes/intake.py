"""A complaint in the bureau's intake: escalation writes it as an intake record (scoring.credit
``Complaint``: source ``fangxin``, external id = the receipt code, kind complaint, channel web,
the merchant's district, handled by the policy's category rule, received when escalated), and
officials' steps move that record on — accepted or refused within 7 working days, mediated,
closed or terminated — so that the overdue sweep, credit and the annual report count it like
any record of the 12315 feed. A complaint the merchant settled is written too (closed,
``merchant_odr``, no credit effect), so that the report counts it.

Every transaction here that writes an intake record takes credit's exclusive lock before it
touches the complaint: the 12315 feed, which links its records to complaints filed here,
holds that lock while it does, so the two always lock in the same order.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from scoring.credit import complaints as intake
from scoring.credit.complaints import FANGXIN_SOURCE, ComplaintRow
from scoring.credit.models import (
    Channel,
    Complaint,
    ComplaintStatus,
    IntakeKind,
    Resolution,
)
from scoring.credit.rules import Rules
from scoring.credit.store import credit_sql
from scoring.disputes import rules, timeline
from scoring.disputes.models import Dispute, DisputeOffer, find
from scoring.disputes.rules import (
    RESOLUTION_OF,
    DisputeStatus,
    EscalationReason,
    MediationMode,
    Outcome,
    Policy,
    Step,
)
from scoring.disputes.schemas import MediatorIn, OutcomeIn, ReasonIn
from scoring.disputes.timeline import Party, party_of
from service.kernel import outbox, scope
from service.kernel.accounts import Principal
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.localtime import as_utc
from service.kernel.models import Merchant, Role
from service.kernel.validation import check_text

S = DisputeStatus
NOT_ESCALATED = N_("This complaint is not with the bureau")
NOT_RECEIVED = N_("This complaint was already accepted or refused")
NOT_ACCEPTED = N_("Accept this complaint before mediating it")
ONE_OF = N_("Choose one of: %(choices)s")
NEEDS_NAME = N_("Name the mediator")
NO_AMOUNT_WITHOUT_AGREEMENT = N_("Money is recovered only with an agreement")
OFFICIAL_ROLES = (Role.OFFICIAL, Role.ADMIN)


async def lock_intake(tx: BaseDBAsyncClient) -> None:
    """Credit's exclusive lock: taken first by every transaction that may write an intake
    record (see the module's note on lock order)."""
    await credit_sql(tx).lock()


def _row(d: Dispute, merchant: Merchant, p: Policy, received_at: datetime) -> ComplaintRow:
    return ComplaintRow(
        source=FANGXIN_SOURCE,
        external_id=d.code,
        kind=IntakeKind.COMPLAINT,
        merchant_id=d.merchant_id,
        received_at=received_at,
        accepted_at=None,
        closed_at=None,
        status=ComplaintStatus.RECEIVED,
        category=d.category.value,
        amount_disputed_fen=d.amount_fen,
        amount_recovered_fen=0,
        upheld=None,
        channel=Channel.WEB,
        handled_by=rules.handler_for(d.category.value, p),
        handling_district_id=d.district_id,
        party_name=merchant.name,
        party_address=merchant.address,
        party_uscc=merchant.uscc,
    )


async def escalate(
    tx: BaseDBAsyncClient,
    d: Dispute,
    reason: EscalationReason,
    by: Party,
    *,
    now: datetime,
    credit: Rules,
    p: Policy,
    note: str = "",
) -> None:
    """Move the complaint to the bureau (the caller holds ``lock_intake``): its intake record
    is received now, and the statutory clocks start."""
    merchant = await Merchant.filter(id=d.merchant_id).using_db(tx).get()
    await timeline.step(
        tx,
        d,
        Step.ESCALATED,
        by,
        now=now,
        to=S.ESCALATED,
        note=note,
        details={"reason": reason.value},
        escalated_at=now,
        escalation_reason=reason,
        answer_due=None,
    )
    record, _ = await intake.record(tx, _row(d, merchant, p, now), credit, now)
    await Dispute.filter(id=d.id).using_db(tx).update(complaint_id=record.id)
    d.complaint_id = record.id
    await outbox.enqueue(
        tx,
        "dispute.escalated",
        {
            "code": d.code,
            "merchant": merchant.uscc,
            "reason": reason.value,
            "handled_by": record.handled_by.value,
            "accept_due": record.accept_due.isoformat() if record.accept_due else None,
        },
        now=now,
    )


async def record_settlement(
    tx: BaseDBAsyncClient, d: Dispute, offer: DisputeOffer, *, now: datetime, credit: Rules
) -> None:
    """The intake record of a complaint the merchant settled (the caller holds
    ``lock_intake``): closed as ``merchant_odr`` with the amount recovered, received when
    filed, never accepted by the regulator (so no clock ran), upheld unknown (no credit
    effect)."""
    merchant = await Merchant.filter(id=d.merchant_id).using_db(tx).get()
    row = dataclasses.replace(
        _row(d, merchant, rules.policy(), d.filed_at),
        status=ComplaintStatus.CLOSED,
        closed_at=now,
        resolution=Resolution.MERCHANT_ODR,
        amount_recovered_fen=offer.amount_fen,
    )
    record, _ = await intake.record(tx, row, credit, now)
    await Dispute.filter(id=d.id).using_db(tx).update(complaint_id=record.id)
    d.complaint_id = record.id


async def record_withdrawal(
    tx: BaseDBAsyncClient, d: Dispute, *, now: datetime, credit: Rules
) -> None:
    """An escalated complaint the consumer withdrew: its intake record ends, withdrawn."""
    if d.complaint_id is None:
        return
    c = await Complaint.filter(id=d.complaint_id).using_db(tx).get()
    if c.status in (ComplaintStatus.CLOSED, ComplaintStatus.TERMINATED, ComplaintStatus.REJECTED):
        return
    row = dataclasses.replace(
        intake.row_of(c),
        status=ComplaintStatus.CLOSED,
        closed_at=now,
        resolution=Resolution.WITHDRAWN,
    )
    await intake.record(tx, row, credit, now)


async def record_followup(tx: BaseDBAsyncClient, d: Dispute, answer: str, now: datetime) -> None:
    """The follow-up, on the intake record too (the annual report's 满意率 reads it there).
    It moves no credit, so the record is updated directly."""
    if d.complaint_id is not None:
        await (
            Complaint.filter(id=d.complaint_id)
            .using_db(tx)
            .update(followup=answer, followup_at=now, updated_at=now)
        )


# --- officials' steps ------------------------------------------------------------------------


async def for_official(code: str, who: Principal) -> Dispute:
    """The complaint if this official may see it (its district's, or any for the city);
    anything else answers as missing."""
    missing = NotFound(f"No complaint {code}")
    d = await find(code)
    if d is None or who.role not in OFFICIAL_ROLES:
        raise missing
    district = await scope.district_of(who)
    if district is not None and d.district_id != district.id:
        raise missing
    return d


@dataclass(frozen=True, slots=True)
class Worked:
    """A complaint and its intake record, locked for an official's step."""

    dispute: Dispute
    record: Complaint


async def _worked(tx: BaseDBAsyncClient, d: Dispute) -> Worked:
    await lock_intake(tx)
    fresh = await Dispute.filter(id=d.id).using_db(tx).get()
    if fresh.status != S.ESCALATED or fresh.complaint_id is None:
        raise Conflict(gettext(NOT_ESCALATED))
    record = await Complaint.filter(id=fresh.complaint_id).using_db(tx).get()
    return Worked(fresh, record)


E = TypeVar("E", MediationMode, Outcome)


def _choice(errors: list[FieldError], field: str, value: str, enum: type[E]) -> E | None:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(e.value for e in enum)
        errors.append(FieldError(field, gettext(ONE_OF) % {"choices": choices}))
        return None


async def bureau_accept(
    code: str, *, who: Principal, credit: Rules, now: datetime | None = None
) -> Dispute:
    """Accept the complaint (受理): the 45-day mediation clock starts."""
    now = as_utc(now or datetime.now(UTC))
    d = await for_official(code, who)
    async with in_transaction() as tx:
        w = await _worked(tx, d)
        if w.record.status != ComplaintStatus.RECEIVED:
            raise Conflict(gettext(NOT_RECEIVED))
        row = dataclasses.replace(
            intake.row_of(w.record), status=ComplaintStatus.ACCEPTED, accepted_at=now
        )
        await intake.record(tx, row, credit, now)
        await timeline.step(tx, w.dispute, Step.BUREAU_ACCEPTED, party_of(who), now=now)
    return w.dispute


async def bureau_refuse(
    code: str, data: ReasonIn, *, who: Principal, credit: Rules, now: datetime | None = None
) -> Dispute:
    """Refuse the complaint (不予受理), with the reason the parties read; it ends here."""
    now = as_utc(now or datetime.now(UTC))
    d = await for_official(code, who)
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", data.reason, rules.policy().reason_max)
    if errors:
        raise InvalidInput("The refusal is not valid", errors)
    async with in_transaction() as tx:
        w = await _worked(tx, d)
        if w.record.status != ComplaintStatus.RECEIVED:
            raise Conflict(gettext(NOT_RECEIVED))
        row = dataclasses.replace(
            intake.row_of(w.record),
            status=ComplaintStatus.REJECTED,
            closed_at=now,
            resolution=Resolution.REFUSED,
        )
        await _close(tx, w, row, Step.BUREAU_REFUSED, party_of(who), reason, credit, now)
    return w.dispute


async def assign_mediator(
    code: str, data: MediatorIn, *, who: Principal, credit: Rules, now: datetime | None = None
) -> Dispute:
    """Put an accepted complaint in mediation: the bureau's own, people's mediation, the
    courts' (诉调对接), or a named volunteer or lawyer. Assigning again replaces the mediator."""
    now = as_utc(now or datetime.now(UTC))
    d = await for_official(code, who)
    errors: list[FieldError] = []
    mode = _choice(errors, "mode", data.mode, MediationMode)
    name = check_text(
        errors, "mediator", data.mediator, rules.policy().mediator_max, required=False
    )
    if mode in (MediationMode.VOLUNTEER, MediationMode.LAWYER) and not name:
        errors.append(FieldError("mediator", gettext(NEEDS_NAME)))
    if errors or mode is None:
        raise InvalidInput("The assignment is not valid", errors)
    async with in_transaction() as tx:
        w = await _worked(tx, d)
        if w.record.status not in (ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATING):
            raise Conflict(gettext(NOT_ACCEPTED))
        if w.record.status == ComplaintStatus.ACCEPTED:
            row = dataclasses.replace(intake.row_of(w.record), status=ComplaintStatus.MEDIATING)
            await intake.record(tx, row, credit, now)
        await timeline.step(
            tx,
            w.dispute,
            Step.MEDIATOR_ASSIGNED,
            party_of(who),
            now=now,
            note=name,
            details={"mode": mode.value},
            mediation_mode=mode,
            mediator=name,
        )
    return w.dispute


async def record_outcome(
    code: str, data: OutcomeIn, *, who: Principal, credit: Rules, now: datetime | None = None
) -> Dispute:
    """How mediation ended: an agreement (closed, with the amount recovered) or none
    (terminated); whether the complaint was upheld, which moves the merchant's credit."""
    now = as_utc(now or datetime.now(UTC))
    d = await for_official(code, who)
    errors: list[FieldError] = []
    outcome = _choice(errors, "outcome", data.outcome, Outcome)
    note = check_text(errors, "note", data.note, rules.policy().reason_max, required=False)
    recovered = rules.fen_field(errors, "amount_recovered", data.amount_recovered)
    if outcome == Outcome.NO_AGREEMENT and recovered:
        errors.append(FieldError("amount_recovered", gettext(NO_AMOUNT_WITHOUT_AGREEMENT)))
    if errors or outcome is None:
        raise InvalidInput("The outcome is not valid", errors)
    async with in_transaction() as tx:
        w = await _worked(tx, d)
        if w.record.status not in (ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATING):
            raise Conflict(gettext(NOT_ACCEPTED))
        agreed = outcome == Outcome.AGREEMENT
        resolution = (
            RESOLUTION_OF[w.dispute.mediation_mode or MediationMode.BUREAU]
            if agreed
            else Resolution.TERMINATED
        )
        row = dataclasses.replace(
            intake.row_of(w.record),
            status=ComplaintStatus.CLOSED if agreed else ComplaintStatus.TERMINATED,
            closed_at=now,
            resolution=resolution,
            amount_recovered_fen=recovered,
            upheld=data.upheld,
        )
        details = {"outcome": outcome.value, "upheld": data.upheld}
        await _close(tx, w, row, Step.OUTCOME, party_of(who), note, credit, now, details)
    return w.dispute


async def _close(
    tx: BaseDBAsyncClient,
    w: Worked,
    row: ComplaintRow,
    what: Step,
    by: Party,
    note: str,
    credit: Rules,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> None:
    """The bureau's last step, in one transaction: the intake record as ``row`` says (the
    overdue and credit rules see it as any 12315 record), the complaint closed with the same
    resolution and amount, and the follow-up offered."""
    await intake.record(tx, row, credit, now)
    await timeline.step(
        tx,
        w.dispute,
        what,
        by,
        now=now,
        to=S.CLOSED,
        note=note,
        details=details,
        closed_at=now,
        resolution=row.resolution,
        amount_recovered_fen=row.amount_recovered_fen,
        outcome_note=note,
    )
    await offer_followup(tx, w.dispute, now)


async def offer_followup(tx: BaseDBAsyncClient, d: Dispute, now: datetime) -> None:
    """The message that offers the consumer the follow-up (回访). It names the complaint and
    its tracking page, never the person: the bureau's SMS connector asks for the number
    through the officials' contact route, which is audited."""
    await outbox.enqueue(
        tx,
        "dispute.followup_offered",
        {
            "code": d.code,
            "status": d.status.value,
            "tracking_path": f"/track/{d.code}",
            "contact": d.contact_masked,
            "open_until": (now + timedelta(days=rules.policy().followup_days)).isoformat(),
        },
        now=now,
    )
