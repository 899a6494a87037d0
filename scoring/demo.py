"""The demo city's scoring: two years of complaints and credit events for the demo merchants,
last year's 12315 intake at the scale of the bureau's report, and a published score run."""

from __future__ import annotations

from datetime import UTC, datetime

from scoring.credit import complaints, spot_checks, visits
from scoring.credit import demo as demo_credit
from scoring.credit import store as credit_store
from scoring.credit.demo_intake import SEED_REPORT, Targets, plan_year
from scoring.credit.schemas import BATCH_MAX
from service.kernel.localtime import to_local
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus
from service.kernel.plugins import DemoContext
from service.register.demo_city import CITY_CODE, SHOWCASE_AREAS


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
