"""A complaint as each of its parties sees it, and the lists of the merchant and officials.

Everyone sees the steps and the deadlines; the telephone number only masked; an official's
name, the 职业索赔 flag and the 12315 link only officials."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum

from scoring.credit.models import Complaint
from scoring.disputes import rules
from scoring.disputes.models import (
    Dispute,
    DisputeEvent,
    DisputeFile,
    DisputeFollowup,
    DisputeOffer,
)
from scoring.disputes.rules import DisputeStatus
from scoring.disputes.schemas import (
    DisputeOut,
    DisputePage,
    DisputeSummary,
    FileOut,
    FollowupOut,
    IntakeOut,
    MerchantRef,
    OfferOut,
    StepOut,
)
from service.kernel import scope
from service.kernel.accounts import Principal
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.localtime import as_utc
from service.kernel.models import Merchant, Role

S = DisputeStatus


class Audience(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    OFFICIAL = "official"


def audience_of(who: Principal) -> Audience:
    return Audience.MERCHANT if who.role == Role.MERCHANT else Audience.OFFICIAL


def _intake(c: Complaint) -> IntakeOut:
    return IntakeOut(
        status=c.status.value,
        handled_by=c.handled_by.value,
        received_at=c.received_at,
        accept_due=c.accept_due,
        accepted_at=c.accepted_at,
        mediation_due=c.mediation_due,
        closed_at=c.closed_at,
        resolution=c.resolution.value if c.resolution else None,
        upheld=c.upheld,
        overdue_since=c.overdue_since,
    )


def _offer(o: DisputeOffer) -> OfferOut:
    return OfferOut(
        round=o.round,
        kind=o.kind.value,
        amount_fen=o.amount_fen,
        note=o.note,
        offered_at=o.offered_at,
        answer=o.answer.value if o.answer else None,
        answered_at=o.answered_at,
        answer_note=o.answer_note,
    )


async def out(d: Dispute, audience: Audience, now: datetime | None = None) -> DisputeOut:
    now = as_utc(now or datetime.now(UTC))
    official = audience == Audience.OFFICIAL
    merchant = await Merchant.get(id=d.merchant_id)
    offers = await DisputeOffer.filter(dispute_id=d.id).order_by("round")
    record = await Complaint.get_or_none(id=d.complaint_id) if d.complaint_id else None
    followup = await DisputeFollowup.get_or_none(dispute_id=d.id)
    files = await DisputeFile.filter(dispute_id=d.id).order_by("id")
    steps = await DisputeEvent.filter(dispute_id=d.id).order_by("at", "id")
    return DisputeOut(
        code=d.code,
        status=d.status.value,
        merchant=MerchantRef(merchant.uscc, merchant.name),
        category=d.category.value,
        description=d.description,
        occurred_on=d.occurred_on,
        amount_fen=d.amount_fen,
        wants=d.wants.value,
        wants_detail=d.wants_detail,
        contact=d.contact_masked,
        contact_purged_at=d.contact_purged_at,
        share_contact=d.share_contact,
        filed_at=d.filed_at,
        merchant_due=d.merchant_due,
        answer_due=d.answer_due,
        refusal_reason=d.refusal_reason,
        offer=_offer(offers[-1]) if offers else None,
        offers=[_offer(o) for o in offers],
        escalated_at=d.escalated_at,
        escalation_reason=d.escalation_reason.value if d.escalation_reason else None,
        intake=_intake(record) if record and d.escalated_at else None,
        mediation_mode=d.mediation_mode.value if d.mediation_mode else None,
        mediator=d.mediator,
        outcome_note=d.outcome_note,
        closed_at=d.closed_at,
        resolution=d.resolution.value if d.resolution else None,
        amount_recovered_fen=d.amount_recovered_fen,
        files=[FileOut(f.id, f.filename, f.media_type, f.size) for f in files],
        timeline=[
            StepOut(
                at=s.at,
                step=s.step.value,
                status=s.status.value,
                by=s.actor_role,
                note=s.note,
                actor=s.actor if official else None,
            )
            for s in steps
        ],
        followup=FollowupOut(followup.answer.value, followup.comment, followup.answered_at)
        if followup
        else None,
        followup_open=followup is None
        and rules.followup_open(d.status, d.closed_at, now, rules.policy()),
        flag_many=d.flag_many if official else None,
        participating=d.participating if official else None,
        feed_ref=d.feed_ref if official else None,
    )


def next_due(d: Dispute, record_due: date | None) -> date | None:
    """The deadline that runs now: the merchant's, the consumer's, or the bureau's."""
    if d.status == S.WITH_MERCHANT:
        return d.merchant_due
    if d.status == S.OFFERED:
        return d.answer_due
    if d.status == S.ESCALATED:
        return record_due
    return None


async def listing(
    who: Principal,
    *,
    status: str | None = None,
    page: int = 1,
    page_size: int = 50,
    district: str | None = None,
) -> DisputePage:
    """The merchant's own complaints, or an official's district's (all for the city), newest
    first. ``district`` (an area code) narrows an official's list further: a district's
    official naming another district sees nothing, never that district's."""
    qs = Dispute.all()
    if who.role == Role.MERCHANT:
        if who.merchant_id is None:
            raise NotFound("This account has no merchant")
        qs = qs.filter(merchant_id=who.merchant_id)
    else:
        own = await scope.district_of(who)
        if own is not None:
            qs = qs.filter(district_id=own.id)
        if district:
            qs = qs.filter(district__code=district)
    if status:
        try:
            qs = qs.filter(status=DisputeStatus(status))
        except ValueError:
            choices = ", ".join(s.value for s in DisputeStatus)
            raise InvalidInput(
                "Unknown status", [FieldError("status", f"must be one of {choices}")]
            ) from None
    total = await qs.count()
    rows = await qs.order_by("-filed_at", "-id").offset((page - 1) * page_size).limit(page_size)
    merchants = {m.id: m for m in await Merchant.filter(id__in=list({d.merchant_id for d in rows}))}
    records = {
        c.id: c
        for c in await Complaint.filter(
            id__in=[d.complaint_id for d in rows if d.complaint_id is not None]
        )
    }
    official = who.role != Role.MERCHANT
    items = []
    for d in rows:
        record = records.get(d.complaint_id) if d.complaint_id else None
        record_due = None
        if record is not None:
            record_due = record.accept_due if record.accepted_at is None else record.mediation_due
        m = merchants[d.merchant_id]
        items.append(
            DisputeSummary(
                code=d.code,
                status=d.status.value,
                merchant=MerchantRef(m.uscc, m.name),
                category=d.category.value,
                filed_at=d.filed_at,
                due=next_due(d, record_due),
                flag_many=d.flag_many if official else None,
            )
        )
    return DisputePage(items, total, page, page_size)
