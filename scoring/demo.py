"""The demo city's scoring: two years of complaints and credit events for the demo merchants,
last year's 12315 intake at the scale of the bureau's report, and a published score run."""

from __future__ import annotations

from datetime import UTC, datetime

from scoring.credit import complaints, repair, spot_checks, visits
from scoring.credit import demo as demo_credit
from scoring.credit import store as credit_store
from scoring.credit.demo_intake import SEED_REPORT, Targets, plan_year
from scoring.credit.models import CreditEvent
from scoring.credit.schemas import BATCH_MAX
from scoring.credit.workdays import local_date
from service.kernel.accounts import Principal
from service.kernel.localtime import to_local
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus, Role
from service.kernel.plugins import DemoContext
from service.kernel.uploads import Upload
from service.register.demo_city import CITY_CODE, SHOWCASE_AREAS

DEMO_CORRECTION = "已缴清罚款，全部商品已重新明码标价，并组织员工学习价格法规。"
# A one-page PDF's first bytes are all the evidence check reads (service.kernel.uploads).
DEMO_EVIDENCE = b"%PDF-1.4\n% Fangxin demo: rectification report\n%%EOF\n"


async def load_credit(ctx: DemoContext) -> None:
    """Complaints and credit events for the demo merchants, through the feeds' own ingest."""
    refs = [
        demo_credit.DemoMerchantRef(
            uscc,
            street,
            status == MerchantStatus.ACTIVE,
            showcase=street in SHOWCASE_AREAS or spot in SHOWCASE_AREAS,
        )
        for uscc, street, spot, status in await Merchant.all()
        .order_by("uscc")
        .values_list("uscc", "street__code", "scenic_spot__code", "status")
    ]
    loaded = await demo_credit.populate(
        refs, actor=ctx.actor, rules=credit_store.rules_for(ctx.settings.credit_rules)
    )
    ctx.facts.update(complaints=loaded.complaints, credit_events=loaded.events)


async def load_repairs(ctx: DemoContext) -> None:
    """Two credit repairs (信用修复): one approved, one awaiting an official. Each for the
    oldest penalty of a merchant that may be repaired today, through the store as a
    merchant and an official would, so the approved one's credit is rescored."""
    rules = credit_store.rules_for(ctx.settings.credit_rules)
    if rules.repair is None:
        return
    now = datetime.now(UTC)
    official = Principal(role=Role.OFFICIAL, name="demo-official")
    made = 0
    penalties = await CreditEvent.filter(kind="penalty_minor").order_by("occurred_at", "id")
    for event in penalties:
        merchant = await Merchant.get(id=event.merchant_id)
        found = await repair.repairables(merchant, rules, now)
        if not any(r.event.id == event.id and r.blocker(local_date(now)) is None for r in found):
            continue
        applied = await repair.submit(
            Principal(role=Role.MERCHANT, name=f"demo-{merchant.uscc}", merchant_id=merchant.id),
            repair.RepairForm(event.id, DEMO_CORRECTION, "王经理", pledge=True),
            [Upload("整改报告.pdf", DEMO_EVIDENCE)],
            rules=rules,
            data_dir=ctx.settings.data_dir,
            now=now,
            is_demo=True,
        )
        if made == 0:
            await repair.decide(
                applied.id,
                official,
                approve=True,
                reason="罚款已缴清，整改到位",
                rules=rules,
                now=now,
            )
        made += 1
        if made == 2:
            break
    ctx.facts.update(repairs=made)


async def load_intake(ctx: DemoContext) -> None:
    """Last year's 12315 intake, counter visits and spot checks at the scale of the bureau's
    report. Its parties are not in the demo register (as most of a real city's are not), so
    the demo merchants' credit, and the certificates that follow it, stay as planned."""
    targets: Targets = ctx.sizes.get("intake", SEED_REPORT)
    rules = credit_store.rules_for(ctx.settings.credit_rules)
    year = to_local(datetime.now(UTC)).year - 1
    districts = (
        await Area.filter(kind=AreaKind.DISTRICT).order_by("code").values_list("code", flat=True)
    )
    planned = plan_year(year, [str(d) for d in districts], targets=targets, region=CITY_CODE)
    for start in range(0, len(planned.records), BATCH_MAX):
        batch = planned.records[start : start + BATCH_MAX]
        await complaints.ingest_complaints(batch, actor=ctx.actor, rules=rules, origin="demo")
    await visits.ingest_tallies(planned.tallies, actor=ctx.actor, origin="demo")
    await spot_checks.ingest_spot_checks(
        planned.campaigns, actor=ctx.actor, rules=rules, origin="demo"
    )
    ctx.facts.update(intake_year=year, intake_records=len(planned.records))


async def publish_run(ctx: DemoContext) -> None:
    """A published run of the demo's responses (none, when the demo has none)."""
    if not ctx.facts.get("responses"):
        return
    from scoring.satisfaction import runs

    run = await runs.run_now(runs.parse_params({}), ctx.settings, actor=ctx.actor, publish=True)
    ctx.facts["score_run"] = run.id
