"""The demo city's certificates: every eligible subject certified, then a holder fined (its
certificate revoked by the listener, as a feed would), one suspended after mystery shopping, an
area put on hold, one expired; merchants' commitments; last year's confirmed yearly review; an
area manager's application in public notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q

from certificates import documents, eligibility, issuance, sweep
from certificates.models import Certificate, Status
from certificates.policy import Kind, policy_for
from scoring.credit import store as credit_store
from scoring.credit.schemas import CreditEventIn
from service.kernel.audit import Actor
from service.kernel.models import Account, Merchant, MerchantStatus
from service.kernel.plugins import DemoContext
from service.kernel.settings import Settings
from service.register.demo_city import SHOWCASE_AREAS


async def load_commitments(ctx: DemoContext) -> None:
    from certificates.commitments import demo as commitments

    await commitments.populate(ctx.actor)


async def load_certificates(ctx: DemoContext) -> None:
    """Certificates follow a published score run: none without one."""
    if ctx.facts.get("score_run") is None:
        return
    issued, revoked = await _load_certificates(ctx.settings, ctx.actor)
    ctx.facts.update(certificates=issued, revoked=revoked)
    await _certified_demo_merchant()
    from certificates.yearly_review.store import demo_review

    await demo_review(ctx.settings, ctx.actor)  # last year's yearly review (后评价), confirmed


async def load_application(ctx: DemoContext) -> None:
    """An area manager's application in public notice, one objection answered."""
    from certificates.applications import demo as applications

    await applications.load(ctx.settings, actor=ctx.actor, accounts_out=ctx.accounts)


async def _load_certificates(settings: Settings, actor: Actor) -> tuple[int, int]:
    """Certificates for every eligible subject; then one holder is fined, and its
    certificate is revoked by the listener, as it would be by a feed."""
    policy = policy_for(settings.certificate_policy)
    rules = credit_store.rules_for(settings.credit_rules)
    issued = []
    # A certificate of two years ago, expired since, so that the register shows every status:
    # its holder is certified again below, as a merchant renewing would be.
    first = next(
        (
            e
            for e in await eligibility.evaluate_all(policy, rules)
            if e.eligible and e.kind == Kind.MERCHANT
        ),
        None,
    )
    if first is not None:
        long_ago = datetime.now(UTC) - timedelta(days=365 * policy.validity_years + 30)
        await issuance.issue(
            [issuance.Request(Kind.MERCHANT, first.code)],
            actor=actor,
            policy=policy,
            credit_rules=rules,
            now=long_ago,
            is_demo=True,
        )
        await sweep.sweep(actor=actor, policy=policy, credit_rules=rules)
    # Merchants first: a street or scenic spot counts its certified merchants. One eligible
    # street is left waiting in the officials' queue.
    for kinds in ((Kind.MERCHANT,), (Kind.STREET, Kind.SCENIC_SPOT)):
        eligible = [
            issuance.Request(e.kind, e.code)
            for e in await eligibility.evaluate_all(policy, rules)
            if e.eligible and e.kind in kinds and e.code != SHOWCASE_AREAS[2]
        ]
        if eligible:
            issued += await issuance.issue(
                eligible, actor=actor, policy=policy, credit_rules=rules, is_demo=True
            )
    merchant = next((c for c in issued if c.kind == Kind.MERCHANT), None)
    if merchant is None:
        return len(issued), 0
    # The demo's 160-odd PDFs are signed on their first download, while active, as the
    # recovery path does (signing them all here would add half a minute to `make run`); the
    # ones withdrawn below are signed now, as at any issue, so their files exist.
    held = next((c for c in issued if c.kind == Kind.MERCHANT and c.id != merchant.id), None)
    await documents.render_all([c for c in (merchant, held) if c], settings, policy)
    fine = CreditEventIn(
        merchant.subject_code,
        "penalty_major",
        datetime.now(UTC).isoformat(),
        "demo",
        "demo-penalty-1",
        note="演示：价格欺诈",
    )
    await credit_store.ingest_events([fine], actor=actor, rules=rules, origin="demo")
    # And one held by an official after mystery shopping: on hold until reinstated.
    if held is not None:
        await sweep.decide(
            held.serial, "suspend", "mystery_shopping", "演示：暗访发现未明码标价", actor=actor
        )
    # A certified area put on hold: one of its certified merchants is put on the serious
    # violation list, which revokes the merchant's certificate and suspends the area's.
    area = next((c for c in issued if c.subject_code == SHOWCASE_AREAS[1]), None)
    if area is not None:
        member = (
            await Merchant.filter(
                Q(street__code=area.subject_code) | Q(scenic_spot__code=area.subject_code),
                uscc__in=[c.subject_code for c in issued if c.kind == Kind.MERCHANT],
            )
            .order_by("uscc")
            .first()
        )
        if member is not None:
            listing = CreditEventIn(
                member.uscc,
                "serious_list_added",
                datetime.now(UTC).isoformat(),
                "demo",
                "demo-serious-1",
                note="演示：列入严重违法失信名单",
            )
            await credit_store.ingest_events([listing], actor=actor, rules=rules, origin="demo")
    return len(issued), 1


async def _certified_demo_merchant() -> None:
    """Once certificates are issued, the demo merchant becomes one of its street's certified
    merchants, so that its page shows a certificate of its own."""
    on_street = (
        await Merchant.filter(street__code=SHOWCASE_AREAS[2], status=MerchantStatus.ACTIVE)
        .order_by("uscc")
        .values_list("uscc", flat=True)
    )
    held = set(
        await Certificate.filter(subject_code__in=on_street, status=Status.ACTIVE).values_list(
            "subject_code", flat=True
        )
    )
    uscc = next((str(u) for u in on_street if u in held), None)
    if uscc is not None:
        merchant = await Merchant.get(uscc=uscc)
        await Account.filter(username="demo-merchant").update(merchant_id=merchant.id)
