"""The complaints' periodic work: the deadlines (escalate what went unanswered, remind the
merchant before its deadline) and the retention of contacts (purge them once the policy's
days after closing have passed). Both are safe to run on every machine at once: each
complaint is changed in its own transaction by a compare-and-set, so two runs never both
escalate, remind or purge one complaint."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from scoring.credit.rules import Rules
from scoring.credit.workdays import local_date
from scoring.disputes import rules, timeline
from scoring.disputes.models import Dispute
from scoring.disputes.rules import DisputeStatus, EscalationReason, Policy, Step
from scoring.disputes.schemas import DeadlineRun
from scoring.disputes.store import escalate_late
from service.kernel import audit, outbox
from service.kernel.localtime import as_utc
from service.kernel.models import Merchant

S = DisputeStatus


async def escalate_due(
    *, credit: Rules, now: datetime | None = None, p: Policy | None = None, limit: int = 500
) -> DeadlineRun:
    """Escalate complaints whose merchant did not answer by its deadline, or whose consumer
    did not answer an offer by theirs; remind merchants whose deadline is near (once)."""
    now = as_utc(now or datetime.now(UTC))
    p = p or rules.policy()
    today = local_date(now)
    escalated = 0
    late = await Dispute.filter(status=S.WITH_MERCHANT, merchant_due__lt=today).limit(limit)
    for d in late:
        escalated += await escalate_late(d, EscalationReason.DEADLINE, credit=credit, now=now, p=p)
    unanswered = await Dispute.filter(status=S.OFFERED, answer_due__lt=today).limit(limit)
    for d in unanswered:
        escalated += await escalate_late(
            d, EscalationReason.UNANSWERED, credit=credit, now=now, p=p
        )
    reminded = 0
    waiting = await Dispute.filter(
        status=S.WITH_MERCHANT, reminded_at__isnull=True, merchant_due__gte=today
    ).limit(limit)
    for d in waiting:
        if d.merchant_due is not None and rules.reminder_due(d.merchant_due, now, p):
            reminded += await _remind(d, now)
    return DeadlineRun(reminded=reminded, escalated=escalated)


async def _remind(d: Dispute, now: datetime) -> bool:
    async with in_transaction() as tx:
        claimed = (
            await Dispute.filter(id=d.id, status=S.WITH_MERCHANT, reminded_at__isnull=True)
            .using_db(tx)
            .update(reminded_at=now)
        )
        if claimed != 1:
            return False
        merchant = await Merchant.filter(id=d.merchant_id).using_db(tx).get()
        await outbox.enqueue(
            tx,
            "dispute.deadline_approaching",
            {
                "code": d.code,
                "merchant": merchant.uscc,
                "merchant_due": d.merchant_due.isoformat() if d.merchant_due else None,
            },
            now=now,
        )
    return True


async def purge_contacts(
    *, now: datetime | None = None, p: Policy | None = None, limit: int = 1000
) -> int:
    """Clear the telephone number (ciphertext, keyed hash and mask) of complaints closed more
    than the retention period ago. Returns how many were purged."""
    now = as_utc(now or datetime.now(UTC))
    p = p or rules.policy()
    cutoff = now - timedelta(days=p.retention_days)  # closed before: past rules.purge_after
    due = await Dispute.filter(
        status__in=list(rules.FINAL),
        contact_purged_at__isnull=True,
        closed_at__lte=cutoff,
    ).limit(limit)
    purged = 0
    for d in due:
        async with in_transaction() as tx:
            claimed = (
                await Dispute.filter(id=d.id, contact_purged_at__isnull=True)
                .using_db(tx)
                .update(
                    contact_cipher=None,
                    contact_hash=None,
                    contact_masked=None,
                    contact_purged_at=now,
                )
            )
            if claimed != 1:
                continue
            await timeline.step(tx, d, Step.CONTACT_PURGED, timeline.SYSTEM, now=now)
            purged += 1
    if purged:
        async with in_transaction() as tx:
            await audit.record(
                tx,
                timeline.SYSTEM.actor,
                "dispute.contacts_purged",
                "disputes",
                {"purged": purged, "retention_days": p.retention_days},
            )
    return purged
