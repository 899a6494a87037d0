"""Credit repair (信用修复), on SQLite and PostgreSQL: when evidence may be repaired (the
rule table's periods, to the day), what an approval does to credit (worked by hand), refusals
and the wait after them, district scope, and simultaneous requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, date, datetime

import pytest
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from certificates import eligibility
from scoring.credit import repair, store
from scoring.credit.models import (
    CreditChange,
    CreditEvent,
    CreditRepair,
    CreditRepairFile,
    CreditStanding,
)
from scoring.credit.public import public_record
from scoring.credit.schemas import CreditEventIn
from scoring.credit.view import merchant_credit
from service.kernel import events
from service.kernel.accounts import Principal
from service.kernel.errors import Conflict, InvalidInput, NotFound
from service.kernel.events import CreditChanged
from service.kernel.i18n import gettext
from service.kernel.localtime import LOCAL_TZ
from service.kernel.models import Area, AreaKind, AuditEvent, Merchant, MerchantCategory, Role
from service.kernel.settings import Settings
from service.kernel.uploads import Upload
from tests.helpers import TEST_ACTOR

RULES = store.rules_for(None)
SHOP = "9144030071526726XG"  # retail, district 411702
CAFE = "91330100716105852F"  # catering (food): the longer period
PDF = Upload("整改报告.pdf", b"%PDF-1.4\n% rectified\n")


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    """A Beijing wall-clock moment, in UTC as scoring takes it."""
    local = datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00").replace(tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


class Town:
    shop: Merchant
    cafe: Merchant
    who: dict[str, Principal]


async def make_town() -> Town:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    district = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
    )
    far = await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=city
    )
    town = Town()
    town.shop = await Merchant.create(
        uscc=SHOP, name="天中超市", category=MerchantCategory.RETAIL, district=district
    )
    town.cafe = await Merchant.create(
        uscc=CAFE, name="老王烩面馆", category=MerchantCategory.CATERING, district=district
    )
    town.who = {
        "shop": Principal(role=Role.MERCHANT, name="shop", merchant_id=town.shop.id),
        "cafe": Principal(role=Role.MERCHANT, name="cafe", merchant_id=town.cafe.id),
        "city": Principal(role=Role.OFFICIAL, name="city-official"),
        "district": Principal(role=Role.OFFICIAL, name="yicheng", district_id=district.id),
        "far": Principal(role=Role.OFFICIAL, name="xiping", district_id=far.id),
    }
    return town


async def record(uscc: str, kind: str, ref: str, when: datetime) -> CreditEvent:
    item = CreditEventIn(uscc, kind, when.isoformat(), "sfgs", ref)
    await store.ingest_events([item], actor=TEST_ACTOR, rules=RULES, now=when)
    return await CreditEvent.get(source="sfgs", external_ref=ref)


def form(event: CreditEvent, **changes: object) -> repair.RepairForm:
    fields: dict[str, object] = {
        "event_id": event.id,
        "correction": "已缴清罚款，整改了明码标价。",
        "signatory": "王小明",
        "pledge": True,
    } | changes
    return repair.RepairForm(**fields)  # type: ignore[arg-type]


async def apply(
    db: Settings, who: Principal, event: CreditEvent, now: datetime, **changes: object
) -> CreditRepair:
    return await repair.submit(
        who, form(event, **changes), [PDF], rules=RULES, data_dir=db.data_dir, now=now
    )


def said(message: str, **values: str) -> str:
    """A message as the service says it, in its language (Chinese by default)."""
    return gettext(message) % values if values else gettext(message)


def fields_of(exc: pytest.ExceptionInfo[InvalidInput]) -> dict[str, str]:
    return {e.field: e.message for e in exc.value.errors}


async def test_an_approved_repair_stops_the_penalty_counting_worked_by_hand(db: Settings) -> None:
    town = await make_town()
    minor = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    major = await record(SHOP, "penalty_major", "p2", at("2026-01-15"))
    # Stored when they came in: 100 − 10 − 30 = 60.0, class C.
    standing = await CreditStanding.get(merchant_id=town.shop.id)
    assert (standing.score, standing.risk_class) == (60.0, "C")
    applied = await apply(db, town.who["shop"], major, at("2026-07-15"))
    assert applied.status == "pending"
    # 15 working days from Wednesday 15 July 2026: no holiday in between.
    assert applied.decide_by == date(2026, 8, 5)
    assert await CreditRepairFile.filter(repair_id=applied.id).count() == 1
    assert applied.pledge_sha256 == RULES.repair.pledge_sha256  # type: ignore[union-attr]
    seen: list[CreditChanged] = []

    async def listener(conn: BaseDBAsyncClient, batch: Sequence[CreditChanged]) -> None:
        seen.extend(batch)

    with events.listening(CreditChanged, listener):
        decided = await repair.decide(
            applied.id,
            town.who["district"],
            approve=True,
            reason="罚款已缴清，整改到位",
            rules=RULES,
            now=at("2026-07-15", 15),
        )
    # 181 days and 5 hours after the penalties, only the minor one counts:
    # −10 · 0.5^(181.2083/730) = −10 · 0.84193 = −8.419, so 100 − 8.419 = 91.6, class A.
    assert (decided.before.score, decided.before.risk_class) == (60.0, "C")
    assert (decided.after.score, decided.after.risk_class) == (91.6, "A")
    assert decided.repair.status == "approved"
    kept = await CreditEvent.get(id=major.id)  # kept, marked, never deleted
    assert kept.repaired_at == at("2026-07-15", 15)
    assert (await CreditEvent.get(id=minor.id)).repaired_at is None
    change = await CreditChange.filter(merchant_id=town.shop.id, cause="repair").get()
    assert (change.old_score, change.new_score, change.new_class) == (60.0, 91.6, "A")
    assert [(c.cause, c.new.score) for c in seen] == [("repair", 91.6)]
    trail = AuditEvent.filter(subject=f"credit_repair:{applied.id}").order_by("id")
    actions = [e.action for e in await trail]
    assert actions == ["credit_repair.submitted", "credit_repair.approved"]
    # What officials read: the repaired penalty weighs nothing and says when it was repaired.
    out = await merchant_credit(SHOP, RULES, at("2026-07-15", 15))
    by_id = {e.id: e for e in out.events}
    assert by_id[major.id].points == 0.0 and by_id[major.id].repaired_at is not None
    assert by_id[minor.id].points == -8.419
    # The public record keeps the penalty, marked repaired with its day.
    public = await public_record(town.shop.id, RULES, at("2026-07-16"))
    repaired = {p.kind: p.repaired_at for p in public.penalties}
    assert repaired == {"penalty_major": at("2026-07-15", 15), "penalty_minor": None}
    # A full recompute agrees: the repaired event stays out.
    async with in_transaction() as tx:
        sql = store.credit_sql(tx)
        await sql.lock()
        assert (
            await store.rescore(sql, tx, RULES, None, as_of=at("2026-07-15", 15), cause="x") == []
        )
    # Certificates judge the merchant without its repaired major penalty.
    facts = await eligibility.gather(RULES, at("2026-07-16"))
    assert next(f for f in facts.merchants if f.uscc == SHOP).last_major_penalty is None


async def test_a_penalty_may_be_repaired_from_the_day_six_months_on(db: Settings) -> None:
    town = await make_town()
    penalty = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    with pytest.raises(InvalidInput) as refused:
        await apply(db, town.who["shop"], penalty, at("2026-07-14", 23, 59))
    assert fields_of(refused) == {"event": said(repair.NOT_YET, date="2026-07-15")}
    assert await CreditRepair.all().count() == 0
    applied = await apply(db, town.who["shop"], penalty, at("2026-07-15", 0, 1))
    assert applied.status == "pending"


async def test_a_food_merchant_waits_twelve_months(db: Settings) -> None:
    town = await make_town()
    penalty = await record(CAFE, "penalty_major", "c1", at("2026-01-15"))
    listed = await repair.repairables(town.cafe, RULES, at("2026-07-15"))
    assert [(r.event.id, r.eligible_on) for r in listed] == [(penalty.id, date(2027, 1, 15))]
    for day in ("2026-07-15", "2027-01-14"):
        with pytest.raises(InvalidInput) as refused:
            await apply(db, town.who["cafe"], penalty, at(day, 18))
        assert fields_of(refused) == {"event": said(repair.NOT_YET, date="2027-01-15")}
    assert (await apply(db, town.who["cafe"], penalty, at("2027-01-15", 8))).status == "pending"


async def test_listings_each_by_their_own_rule(db: Settings) -> None:
    town = await make_town()
    abnormal = await record(SHOP, "abnormal_list_added", "a1", at("2026-03-01"))
    serious = await record(SHOP, "serious_list_added", "s1", at("2026-03-01"))
    gone = await record(SHOP, "penalty_minor", "p1", at("2025-01-31"))
    listed = {
        r.event.id: r.eligible_on
        for r in await repair.repairables(town.shop, RULES, at("2026-03-02"))
    }
    # The abnormal list on correction, the serious list after a year, a penalty after six
    # months (31 January + 6 months is 31 July).
    assert listed == {
        abnormal.id: date(2026, 3, 1),
        serious.id: date(2027, 3, 1),
        gone.id: date(2025, 7, 31),
    }
    # A listing already removed is not in force, so there is nothing to repair.
    await record(SHOP, "abnormal_list_removed", "a2", at("2026-03-05"))
    later = await repair.repairables(town.shop, RULES, at("2026-03-06"))
    assert abnormal.id not in {r.event.id for r in later}
    with pytest.raises(InvalidInput) as refused:
        await apply(db, town.who["shop"], abnormal, at("2026-03-06"))
    assert fields_of(refused) == {"event": said(repair.NOT_REPAIRABLE)}
    # A serious listing repaired lifts the forced class D.
    applied = await apply(db, town.who["shop"], serious, at("2027-03-01"))
    decided = await repair.decide(
        applied.id,
        town.who["city"],
        approve=True,
        reason="已履行",
        rules=RULES,
        now=at("2027-03-02"),
    )
    assert decided.before.risk_class == "D" and decided.before.serious_listed
    assert not decided.after.serious_listed and decided.after.risk_class != "D"


async def test_every_bad_field_is_named(db: Settings) -> None:
    town = await make_town()
    penalty = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    with pytest.raises(InvalidInput) as refused:
        await repair.submit(
            town.who["shop"],
            form(penalty, correction=" ", signatory="", pledge=False),
            [Upload("x.exe", b"MZ\x90\x00")],
            rules=RULES,
            data_dir=db.data_dir,
            now=at("2026-08-01"),
        )
    assert set(fields_of(refused)) == {"correction", "signatory", "pledge", "files[0]"}
    with pytest.raises(InvalidInput) as no_files:
        await repair.submit(
            town.who["shop"],
            form(penalty),
            [],
            rules=RULES,
            data_dir=db.data_dir,
            now=at("2026-08-01"),
        )
    assert set(fields_of(no_files)) == {"files"}
    # Another merchant's record is not there at all.
    with pytest.raises(NotFound):
        await apply(db, town.who["cafe"], penalty, at("2026-08-01"))


async def test_a_refusal_may_be_applied_again_after_the_wait(db: Settings) -> None:
    town = await make_town()
    penalty = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    first = await apply(db, town.who["shop"], penalty, at("2026-07-16"))
    with pytest.raises(Conflict):
        await apply(db, town.who["shop"], penalty, at("2026-07-17"))
    with pytest.raises(InvalidInput) as no_reason:
        await repair.decide(
            first.id,
            town.who["district"],
            approve=False,
            reason=" ",
            rules=RULES,
            now=at("2026-07-20"),
        )
    assert set(fields_of(no_reason)) == {"reason"}
    decided = await repair.decide(
        first.id,
        town.who["district"],
        approve=False,
        reason="整改证明不足",
        rules=RULES,
        now=at("2026-07-20"),
    )
    assert decided.repair.status == "refused" and decided.after == decided.before
    assert (await CreditEvent.get(id=penalty.id)).repaired_at is None
    # A second decision on it is refused, whoever makes it.
    with pytest.raises(Conflict):
        await repair.decide(
            first.id, town.who["city"], approve=True, reason="x", rules=RULES, now=at("2026-07-21")
        )
    # 30 days after 20 July is 19 August.
    with pytest.raises(InvalidInput) as waiting:
        await apply(db, town.who["shop"], penalty, at("2026-08-18", 23))
    assert fields_of(waiting) == {"event": said(repair.WAIT, date="2026-08-19")}
    again = await apply(db, town.who["shop"], penalty, at("2026-08-19", 9))
    assert again.status == "pending"
    assert await CreditRepair.filter(event_id=penalty.id).count() == 2


async def test_officials_see_and_decide_only_their_district(db: Settings) -> None:
    town = await make_town()
    penalty = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    applied = await apply(db, town.who["shop"], penalty, at("2026-07-16"))
    assert await repair.listing(town.who["far"]) == []
    assert [r.id for r in await repair.listing(town.who["district"])] == [applied.id]
    assert [r.id for r in await repair.listing(town.who["city"])] == [applied.id]
    for who in (town.who["far"], town.who["cafe"]):
        with pytest.raises(NotFound):
            await repair.get_for(applied.id, who)
    with pytest.raises(NotFound):
        await repair.decide(
            applied.id, town.who["far"], approve=True, reason="x", rules=RULES, now=at("2026-07-17")
        )
    # A merchant cannot decide even its own.
    with pytest.raises(NotFound):
        await repair.decide(
            applied.id,
            town.who["shop"],
            approve=True,
            reason="x",
            rules=RULES,
            now=at("2026-07-17"),
        )
    assert (await CreditRepair.get(id=applied.id)).status == "pending"
    assert repair.overdue(applied, at("2026-08-05", 23)) is False
    assert repair.overdue(applied, at("2026-08-07")) is True


async def test_two_applications_at_once_leave_one_open(db: Settings) -> None:
    """On PostgreSQL the submissions run side by side on the pool; SQLite serialises them."""
    town = await make_town()
    penalty = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    results = await asyncio.gather(
        *[apply(db, town.who["shop"], penalty, at("2026-07-16")) for _ in range(6)],
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, CreditRepair)]
    lost = [r for r in results if not isinstance(r, CreditRepair)]
    assert len(won) == 1
    assert all(isinstance(e, Conflict) for e in lost), lost
    assert await CreditRepair.filter(event_id=penalty.id, status="pending").count() == 1


async def test_the_database_refuses_a_second_open_application(db: Settings) -> None:
    town = await make_town()
    penalty = await record(SHOP, "penalty_minor", "p1", at("2026-01-15"))
    applied = await apply(db, town.who["shop"], penalty, at("2026-07-16"))
    copy = {
        k: getattr(applied, k)
        for k in (
            "merchant_id",
            "event_id",
            "district_id",
            "applicant_name",
            "correction",
            "signatory",
            "pledge_version",
            "pledge_sha256",
            "status",
            "submitted_at",
            "decide_by",
        )
    }
    with pytest.raises(IntegrityError):
        await CreditRepair.create(**copy)
    # A decided one does not hold the place.
    await CreditRepair.create(**(copy | {"status": "refused"}))


async def test_two_officials_deciding_at_once_decide_once(db: Settings) -> None:
    town = await make_town()
    penalty = await record(SHOP, "penalty_major", "p1", at("2026-01-15"))
    applied = await apply(db, town.who["shop"], penalty, at("2026-07-16"))
    results = await asyncio.gather(
        *[
            repair.decide(
                applied.id, who, approve=approve, reason="决定", rules=RULES, now=at("2026-07-17")
            )
            for who in (town.who["city"], town.who["district"])
            for approve in (True, False)
        ],
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, repair.Decided)]
    assert len(won) == 1
    assert all(isinstance(r, Conflict) for r in results if r not in won), results
    assert await CreditChange.filter(cause="repair").count() == (
        1 if won[0].repair.status == "approved" else 0
    )


async def test_a_repaired_serious_listing_lets_the_sweep_lift_its_streets_hold(
    db: Settings,
) -> None:
    """The street's certificate is held while one of its merchants is on the serious list
    (policy: none allowed); the repair takes the merchant off, and the sweep lifts the hold as
    its rules allow (criteria recovered within the grace)."""
    from dataclasses import replace

    from certificates import revocation, sweep
    from certificates.models import Certificate, Status
    from certificates.policy import Kind, Policy
    from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
    from tests.certificates.test_cascade import _certificate
    from tests.surveys.conftest import make_city

    strict = Policy.load()
    # As in tests/certificates/test_sweep.py: no certified or committed merchants asked, so
    # the serious list is what decides.
    policy = replace(
        strict,
        areas={
            k: replace(a, min_certified_share=0.0, min_committed_share=0.0)
            for k, a in strict.areas.items()
        },
    )
    t0 = at("2026-06-01")
    city = await make_city()
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=t0,
        window_since=t0,
        window_until=t0,
    )
    await UnitScore.create(
        run=run, kind="street", code=city.street, n=150, score=90.0, insufficient_data=False
    )
    street = await _certificate(
        Kind.STREET, city.street, "解放路步行街", "ZMD-2026-ST-000002-9", t0
    )
    revocation.register(policy)
    try:
        # A listing of 1 May 2025 recorded on t0: the street is held at once.
        when = at("2025-05-01")
        item = CreditEventIn(city.merchant, "serious_list_added", when.isoformat(), "sfgs", "s1")
        await store.ingest_events([item], actor=TEST_ACTOR, rules=RULES, now=t0)
        listed = await CreditEvent.get(external_ref="s1")
        held = await Certificate.get(id=street.id)
        assert (held.status, held.status_reason) == (Status.SUSPENDED, "criteria_failed")
        merchant = await Merchant.get(uscc=city.merchant)
        shop = Principal(role=Role.MERCHANT, name="shop", merchant_id=merchant.id)
        applied = await apply(db, shop, listed, at("2026-06-02"))
        city_official = Principal(role=Role.OFFICIAL, name="city-official")
        decided = await repair.decide(
            applied.id,
            city_official,
            approve=True,
            reason="已履行",
            rules=RULES,
            now=at("2026-06-03"),
        )
        assert decided.before.serious_listed and not decided.after.serious_listed
        # The credit listener never lifts a hold; the sweep does, once the criteria recover.
        assert (await Certificate.get(id=street.id)).status == Status.SUSPENDED
        result = await sweep.sweep(
            actor=TEST_ACTOR, policy=policy, credit_rules=RULES, now=at("2026-06-04")
        )
        assert result.lifted == [street.serial]
        lifted = await Certificate.get(id=street.id)
        assert (lifted.status, lifted.status_reason) == (Status.ACTIVE, "criteria_recovered")
    finally:
        revocation.register(strict)


async def test_the_annual_report_counts_repairs_by_district(db: Settings) -> None:
    from service.reports.annual import annual_report

    town = await make_town()
    shop = await record(SHOP, "penalty_minor", "p1", at("2025-01-15"))
    cafe = await record(CAFE, "penalty_minor", "c1", at("2025-01-15"))
    first = await apply(db, town.who["shop"], shop, at("2025-12-30"))
    await repair.decide(
        first.id,
        town.who["city"],
        approve=True,
        reason="整改到位",
        rules=RULES,
        now=at("2026-01-05"),
    )
    second = await apply(db, town.who["cafe"], cafe, at("2026-02-01"))
    await repair.decide(
        second.id,
        town.who["district"],
        approve=False,
        reason="材料不足",
        rules=RULES,
        now=at("2026-02-10"),
    )
    await apply(db, town.who["cafe"], cafe, at("2026-03-15"))  # pending at the year's end
    last_year, this_year = await annual_report(2025), await annual_report(2026)
    assert (last_year.repairs.submitted, last_year.repairs.approved) == (1, 0)
    # Submitted in 2026: the café's two; decided in 2026: the shop's approval, the refusal.
    r = this_year.repairs
    assert (r.submitted, r.approved, r.refused) == (2, 1, 1)
    by = {d.district: d.repairs for d in this_year.by_district}
    assert (by["411702"].submitted, by["411702"].approved, by["411702"].refused) == (2, 1, 1)
    assert (by["411721"].submitted, by["411721"].approved) == (0, 0)
    only = await annual_report(2026, "411721")
    assert only.repairs.submitted == 0
    desk = await repair.counts(None, now=at("2026-03-16"))
    assert (desk.pending, desk.overdue, desk.approved, desk.refused) == (1, 0, 1, 1)
    far = await repair.counts(town.who["far"].district_id, now=at("2026-03-16"))
    assert (far.pending, far.approved) == (0, 0)


@pytest.mark.parametrize(
    ("listing", "on"), [("abnormal_list", "2026-05-04"), ("serious_list", "2027-05-04")]
)
async def test_a_listing_added_twice_is_repaired_whole(db: Settings, listing: str, on: str) -> None:
    """Listed (abnormal list; serious list, repairable a year on) on 1 March, removed on 1
    April, listed again on 1 May and once more on 3 May (two adds, no removal between). Only
    the latest add is offered; its approved repair marks both adds since the removal
    repaired, so the merchant is off the list for the credit rules too (before the fix the
    earlier add of 1 May kept it listed while the public record read "repaired"). The add
    before the removal is left as it was: the removal already ended it."""
    town = await make_town()
    flag = listing.removesuffix("_list")
    old = await record(SHOP, f"{listing}_added", "a0", at("2026-03-01"))
    await record(SHOP, f"{listing}_removed", "r0", at("2026-04-01"))
    first = await record(SHOP, f"{listing}_added", "a1", at("2026-05-01"))
    second = await record(SHOP, f"{listing}_added", "a2", at("2026-05-03"))
    offered = await repair.repairables(town.shop, RULES, at(on))
    assert [r.event.id for r in offered] == [second.id]
    applied = await apply(db, town.who["shop"], second, at(on))
    decided = await repair.decide(
        applied.id,
        town.who["city"],
        approve=True,
        reason="已整改",
        rules=RULES,
        now=at(on, 11),
    )
    assert getattr(decided.before, f"{flag}_listed") and not getattr(
        decided.after, f"{flag}_listed"
    )
    repaired = {e.external_ref: e.repaired_at for e in await CreditEvent.all()}
    assert repaired["a1"] == repaired["a2"] == at(on, 11)
    assert repaired["a0"] is None and repaired["r0"] is None
    standing = await CreditStanding.get(merchant_id=town.shop.id)
    assert not getattr(standing, f"{flag}_listed")
    assert await repair.repairables(town.shop, RULES, at(on, 12)) == []
    (entry,) = (await public_record(town.shop.id, RULES, at(on, 12))).listings
    assert entry.repaired_at == at(on, 11)
    (audit_row,) = await AuditEvent.filter(action="credit_repair.approved")
    assert audit_row.details["events_repaired"] == [first.id, second.id]
    assert old.id not in audit_row.details["events_repaired"]
