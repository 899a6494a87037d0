"""The demo city: a lived-in Zhumadian for ``make run``, loaded only into an empty database.

Rows go through the same validated import path as an operator's files, marked as demo data.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from certificates.commitments import demo as demo_commitments
from scoring.credit.demo_intake import SEED_REPORT, Targets
from service.kernel import accounts
from service.kernel.audit import Actor
from service.kernel.localtime import to_local
from service.kernel.models import (
    Account,
    Area,
    AreaKind,
    Merchant,
    MerchantCategory,
    MerchantStatus,
    Role,
)
from service.kernel.schemas import AreaIn, MerchantIn
from service.kernel.settings import Settings
from service.portal.advisories import demo as advisories_demo
from service.register import store as registry
from service.register.demo_city import (
    CITY_CODE,
    SHOWCASE_AREAS,
    DemoArea,
    DemoMerchant,
    demo_areas,
    demo_merchants,
)

DEMO_MERCHANTS = 1200
DEMO_RESPONSES = 60_000


@dataclass(slots=True)
class DemoReport:
    loaded: bool
    areas: int = 0
    merchants: int = 0
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, pw)
    surveys: int = 0
    responses: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    score_run: int | None = None
    complaints: int = 0
    credit_events: int = 0
    intake_year: int = 0
    intake_records: int = 0
    certificates: int = 0
    revoked: int = 0
    advisories: int = 0

    def text(self) -> str:
        if not self.loaded:
            return "The database already holds data; the demo city was not loaded."
        flags = ", ".join(f"{k} {v}" for k, v in self.flagged.items())
        lines = [
            f"Demo city loaded: {self.areas} areas, {self.merchants} merchants (marked as demo).",
            f"Surveys: {self.surveys} questionnaires open, {self.responses:,} responses "
            f"(screening flagged: {flags or 'none'}).",
            f"Scores: run {self.score_run} published." if self.score_run else "Scores: none.",
            f"Credit: {self.complaints:,} complaints and {self.credit_events:,} credit events.",
            f"12315 intake of {self.intake_year} at the bureau's scale: "
            f"{self.intake_records:,} consultations, complaints and reports, counter visits "
            "and a Red Shield campaign (the annual report: /official/reports/annual).",
            f"Certificates: {self.certificates} issued, {self.revoked} revoked after a fine, "
            "one suspended after mystery shopping; a scenic spot on hold after a merchant's "
            "serious listing; one expired (issued two years ago); one eligible street left "
            "for an official to certify.",
            f"Consumer advisories: {self.advisories} in force (home, a scenic spot, a merchant).",
            "Demo accounts (passwords are shown only now):",
        ]
        lines += [f"  {u:<16} {r:<9} {p}" for u, r, p in self.accounts]
        return "\n".join(lines)


async def database_is_empty() -> bool:
    return not (await Area.exists() or await Merchant.exists() or await Account.exists())


async def load_demo(
    settings: Settings,
    *,
    actor: Actor,
    responses: int = DEMO_RESPONSES,
    intake: Targets = SEED_REPORT,
) -> DemoReport:
    """The demo city; ``responses`` and ``intake`` size its survey answers and last year's
    12315 intake (the bureau's report by default; tests that need neither take less)."""
    if not await database_is_empty():
        return DemoReport(loaded=False)
    # All or nothing: a failure half-way must not leave a city that blocks the next try.
    async with in_transaction():
        report = await _load(actor)
        await _load_surveys(report, actor, responses)
        await _load_credit(report, settings, actor)
        await _load_intake(report, settings, actor, intake)
        report.advisories = await advisories_demo.publish_demo(actor)
        await demo_commitments.populate(actor)
    if responses:
        # Scored once the city is committed: the run reads it through its own connection.
        from scoring.satisfaction import runs

        run = await runs.run_now(runs.parse_params({}), settings, actor=actor, publish=True)
        report.score_run = run.id
        report.certificates, report.revoked = await _load_certificates(settings, actor)
        await _certified_demo_merchant()
        from certificates.yearly_review.store import demo_review

        await demo_review(settings, actor)  # last year's yearly review (后评价), confirmed
    # An area manager's application in public notice, one objection answered
    # (certificates/applications/).
    from certificates.applications import demo as creation_demo

    await creation_demo.load(settings, actor=actor, accounts_out=report.accounts)
    return report


async def _load_certificates(settings: Settings, actor: Actor) -> tuple[int, int]:
    """Certificates for every eligible subject; then one holder is fined, and its
    certificate is revoked by the listener, as it would be by a feed."""
    from datetime import UTC, datetime, timedelta

    from certificates import documents, eligibility, issuance, revocation, sweep
    from certificates.policy import Kind, policy_for
    from scoring.credit import store as credit_store
    from scoring.credit.schemas import CreditEventIn

    policy = policy_for(settings.certificate_policy)
    revocation.register(policy)
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


async def _load_surveys(report: DemoReport, actor: Actor, responses: int) -> None:
    """The default questionnaires, opened, with a year of synthetic responses screened."""
    from surveys import demo_responses, quality
    from surveys.questionnaire import default_files, load_file

    for path in default_files():
        await load_file(path, actor=actor, is_demo=True)
        report.surveys += 1
    if responses:
        batch = await demo_responses.populate(count=responses)
        report.responses = len(batch.responses.survey_id)
        screened = await quality.recompute_flags()
        report.flagged = {k: v for k, v in screened.raised.items() if v}


async def _load_credit(report: DemoReport, settings: Settings, actor: Actor) -> None:
    """Complaints and credit events for the demo merchants, through the feeds' own ingest."""
    from scoring.credit import demo as demo_credit
    from scoring.credit import store as credit_store

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
        refs, actor=actor, rules=credit_store.rules_for(settings.credit_rules)
    )
    report.complaints, report.credit_events = loaded.complaints, loaded.events


async def _load_intake(
    report: DemoReport, settings: Settings, actor: Actor, targets: Targets
) -> None:
    """Last year's 12315 intake, counter visits and spot checks at the scale of the bureau's
    report. Its parties are not in the demo register (as most of a real city's are not), so
    the demo merchants' credit, and the certificates that follow it, stay as planned above."""
    from scoring.credit import complaints, spot_checks, visits
    from scoring.credit import store as credit_store
    from scoring.credit.demo_intake import plan_year
    from scoring.credit.schemas import BATCH_MAX

    rules = credit_store.rules_for(settings.credit_rules)
    year = to_local(datetime.now(UTC)).year - 1
    districts = (
        await Area.filter(kind=AreaKind.DISTRICT).order_by("code").values_list("code", flat=True)
    )
    planned = plan_year(year, [str(d) for d in districts], targets=targets, region=CITY_CODE)
    for start in range(0, len(planned.records), BATCH_MAX):
        batch = planned.records[start : start + BATCH_MAX]
        await complaints.ingest_complaints(batch, actor=actor, rules=rules, origin="demo")
    await visits.ingest_tallies(planned.tallies, actor=actor, origin="demo")
    await spot_checks.ingest_spot_checks(planned.campaigns, actor=actor, rules=rules, origin="demo")
    report.intake_year, report.intake_records = year, len(planned.records)


def area_ins(areas: Sequence[DemoArea]) -> list[AreaIn]:
    """The demo areas as the registry's import takes them."""
    return [AreaIn(a.code, AreaKind(a.kind), a.name_zh, a.name_en, a.parent) for a in areas]


def merchant_ins(merchants: Sequence[DemoMerchant]) -> list[MerchantIn]:
    """The demo merchants as the registry's import takes them."""
    return [
        MerchantIn(
            uscc=m.uscc,
            name=m.name,
            category=MerchantCategory(m.category),
            district=m.district,
            address=m.address,
            street=m.street,
            scenic_spot=m.scenic_spot,
            status=MerchantStatus(m.status),
        )
        for m in merchants
    ]


async def _load(actor: Actor) -> DemoReport:
    areas = demo_areas()
    merchants = demo_merchants(areas, count=DEMO_MERCHANTS)
    await registry.import_area_structs(
        area_ins(areas),
        actor=actor,
        is_demo=True,
        source="demo",
    )
    await registry.import_merchant_structs(
        merchant_ins(merchants),
        actor=actor,
        is_demo=True,
        source="demo",
    )
    report = DemoReport(loaded=True, areas=len(areas), merchants=len(merchants))
    # The demo merchant trades on the street left for an official to certify.
    on_street = next(m for m in merchants if m.street == SHOWCASE_AREAS[2] and m.status == "active")
    # The district bureau's official works where the demo merchant trades, so that its
    # confined view has certificates, appeals and flags to show.
    for username, role, uscc, district in (
        ("demo-admin", Role.ADMIN, None, None),
        ("demo-official", Role.OFFICIAL, None, None),
        ("demo-district", Role.OFFICIAL, None, on_street.district),
        ("demo-merchant", Role.MERCHANT, on_street.uscc, None),
    ):
        await _account(report, username, role, uscc, district, actor)
    return report


async def _account(
    report: DemoReport,
    username: str,
    role: Role,
    uscc: str | None,
    district: str | None,
    actor: Actor,
) -> None:
    password = secrets.token_urlsafe(12)
    await accounts.create_account(
        username,
        password,
        role,
        merchant_uscc=uscc,
        district_code=district,
        actor=actor,
        is_demo=True,
    )
    report.accounts.append((username, role.value, password))


async def _certified_demo_merchant() -> None:
    """Once certificates are issued, the demo merchant becomes one of its street's certified
    merchants, so that its page shows a certificate of its own."""
    from certificates.models import Certificate, Status

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
