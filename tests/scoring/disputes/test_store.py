"""Complaints filed online, step by step through the store, on hand-worked dates of the 2026
calendar (National Day 1–7 October off, Saturday 10 October worked)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from scoring.credit import complaints as intake
from scoring.credit import workdays
from scoring.credit.models import Complaint, ComplaintStatus, CreditEvent, Handler, Resolution
from scoring.credit.schemas import ComplaintIn
from scoring.disputes import contact, odr, store, sweeps
from scoring.disputes.intake import assign_mediator, bureau_accept, bureau_refuse, record_outcome
from scoring.disputes.models import Dispute, DisputeEvent, DisputeFile, DisputeFollowup
from scoring.disputes.schemas import (
    AnswerIn,
    FollowupIn,
    MediatorIn,
    OfferIn,
    OutcomeIn,
    ReasonIn,
)
from scoring.disputes.view import Audience, listing, out
from service.kernel.errors import Conflict, InvalidInput, NotFound
from service.kernel.i18n import gettext
from service.kernel.models import AuditEvent, OutboxMessage
from service.kernel.settings import Settings
from service.kernel.uploads import Upload
from service.reports import annual
from tests.helpers import TEST_ACTOR
from tests.scoring.disputes.conftest import (
    CREDIT,
    FAR,
    NO_ODR,
    PHONE,
    at,
    complaint,
    file,
    make_town,
    photo,
)

REFUND = OfferIn(kind="refund", amount="100.00", note="退一百元")


async def topics() -> list[str]:
    return [m.topic for m in await OutboxMessage.all().order_by("id")]


async def test_rejected_then_past_the_deadline_the_bureau_mediates_and_follows_up(
    db: Settings,
) -> None:
    town = await make_town()
    shop, district_official = town.principals["shop"], town.principals["district"]
    filed = await file(db, now=at("2026-09-29"), files=[Upload("IMG_1.jpg", photo())])
    d = filed.dispute
    assert filed.created and d.code.startswith("TS-2026-")
    # With the merchant for ten working days across National Day: to Monday 19 October.
    assert d.status == "with_merchant" and d.merchant_due == date(2026, 10, 19)
    stored = await DisputeFile.get(dispute_id=d.id)
    evidence = store.evidence_store(db.data_dir).read(stored.sha256)
    assert evidence.startswith(b"\xff\xd8") and b"PhoneMaker" not in evidence
    assert await topics() == ["dispute.filed"]

    # Offered on Friday 9 October: the consumer has five working days, Saturday 10 (worked),
    # 12, 13, 14 and 15 October.
    d = await store.merchant_offer(d.code, REFUND, who=shop, credit=CREDIT, now=at("2026-10-09"))
    assert d.status == "offered" and d.answer_due == date(2026, 10, 15)
    # Rejected while the merchant's time runs: back to the merchant for a better offer.
    d = await store.consumer_reject(
        d.code, filed.secret, AnswerIn("太少"), credit=CREDIT, now=at("2026-10-12")
    )
    assert d.status == "with_merchant" and d.answer_due is None

    # Two working days before its deadline the merchant is reminded, once.
    run = await sweeps.escalate_due(credit=CREDIT, now=at("2026-10-14"))
    assert (run.reminded, run.escalated) == (0, 0)
    run = await sweeps.escalate_due(credit=CREDIT, now=at("2026-10-15"))
    assert (run.reminded, run.escalated) == (1, 0)
    run = await sweeps.escalate_due(credit=CREDIT, now=at("2026-10-19", 23, 59))
    assert (run.reminded, run.escalated) == (0, 0)  # the last day is the merchant's still
    run = await sweeps.escalate_due(credit=CREDIT, now=at("2026-10-20", 0, 10))
    assert (run.reminded, run.escalated) == (0, 1)

    d = await Dispute.get(id=d.id)
    assert d.status == "escalated" and d.escalation_reason == "deadline"
    record = await Complaint.get(source="fangxin", external_id=d.code)
    assert d.complaint_id == record.id
    assert record.kind == "complaint" and record.channel == "web"
    assert record.handled_by == Handler.REGULATOR  # quality: the regulator's
    assert record.handling_district_id == town.district.id
    assert record.merchant_id == town.shop.id and record.status == ComplaintStatus.RECEIVED
    assert record.received_at == at("2026-10-20", 0, 10)
    # Accept or refuse within 7 working days of receipt: 21, 22, 23, 26, 27, 28, 29 October.
    assert record.accept_due == date(2026, 10, 29)

    # The county's official does not see it; the district's accepts and mediates it.
    with pytest.raises(NotFound):
        await bureau_accept(d.code, who=town.principals["county"], credit=CREDIT)
    d = await bureau_accept(d.code, who=district_official, credit=CREDIT, now=at("2026-10-22"))
    record = await Complaint.get(id=record.id)
    assert record.status == ComplaintStatus.ACCEPTED and record.accepted_at == at("2026-10-22")
    assert record.mediation_due == workdays.add_working_days(date(2026, 10, 22), 45)
    with pytest.raises(Conflict):  # accepted once
        await bureau_accept(d.code, who=district_official, credit=CREDIT)
    await assign_mediator(
        d.code,
        MediatorIn("people_mediation", "驿城区人民调解委员会"),
        who=district_official,
        credit=CREDIT,
        now=at("2026-10-23"),
    )
    d = await record_outcome(
        d.code,
        OutcomeIn("agreement", amount_recovered="150", upheld=True, note="商家退款150元"),
        who=district_official,
        credit=CREDIT,
        now=at("2026-10-30"),
    )
    assert d.status == "closed" and d.resolution == Resolution.PEOPLE_MEDIATION
    record = await Complaint.get(id=record.id)
    assert record.status == ComplaintStatus.CLOSED and record.upheld is True
    assert record.amount_recovered_fen == 15000
    # Upheld: the merchant's credit moves like any intake record's.
    assert await CreditEvent.filter(
        merchant_id=town.shop.id, kind="complaint_upheld", external_ref=f"{d.code}:upheld"
    ).exists()
    assert "dispute.followup_offered" in await topics()

    d = await store.follow_up(
        d.code, filed.secret, FollowupIn("satisfied", "处理及时"), now=at("2026-11-02")
    )
    record = await Complaint.get(id=record.id)
    assert record.followup == "satisfied" and record.followup_at == at("2026-11-02")
    with pytest.raises(Conflict):
        await store.follow_up(d.code, filed.secret, FollowupIn("dissatisfied"))
    report = await annual.annual_report(2026)
    assert report.followups.satisfied == 1 and report.all_channels.complaints == 1

    seen = await out(await Dispute.get(id=d.id), Audience.CONSUMER, now=at("2026-11-02"))
    assert [s.step for s in seen.timeline] == [
        "filed",
        "sent_to_merchant",
        "offered",
        "rejected",
        "escalated",
        "bureau_accepted",
        "mediator_assigned",
        "outcome",
        "followed_up",
    ]
    assert {s.by for s in seen.timeline} == {"consumer", "merchant", "official", "system"}
    assert all(s.actor is None for s in seen.timeline)  # names are for officials
    assert seen.contact == "138****1234" and seen.flag_many is None
    assert seen.intake is not None and seen.intake.accept_due == date(2026, 10, 29)
    assert not seen.followup_open and seen.followup is not None

    # 180 days after closing the number is purged, ciphertext, hash and mask alike.
    assert await sweeps.purge_contacts(now=at("2027-04-28", 9)) == 0
    assert await sweeps.purge_contacts(now=at("2027-04-28", 10, 1)) == 1
    purged = await Dispute.get(id=d.id)
    kept: list[object] = [purged.contact_cipher, purged.contact_hash, purged.contact_masked]
    assert kept == [None, None, None]
    assert purged.contact_purged_at == at("2027-04-28", 10, 1)
    assert await sweeps.purge_contacts(now=at("2027-05-01")) == 0
    steps = await DisputeEvent.filter(dispute_id=d.id).values_list("step", flat=True)
    assert "contact_purged" in [str(s) for s in steps]
    assert await AuditEvent.filter(action="dispute.contacts_purged").exists()


async def test_a_merchant_outside_odr_sends_the_complaint_to_the_bureau_at_once(
    db: Settings,
) -> None:
    await make_town()
    filed = await file(db, complaint(NO_ODR, category="service"), now=at("2026-09-29"))
    d = filed.dispute
    assert d.status == "escalated" and d.escalation_reason == "not_participating"
    assert d.merchant_due is None and not d.participating
    record = await Complaint.get(id=d.complaint_id)
    assert record.received_at == at("2026-09-29")
    assert record.handled_by == Handler.CONSUMER_ASSOCIATION  # service: the association's
    assert record.accept_due is None  # the regulator's clocks are not the association's


async def test_an_accepted_offer_settles_without_a_credit_effect_and_the_report_counts_it(
    db: Settings,
) -> None:
    town = await make_town()
    filed = await file(db, now=at("2026-09-29"))
    code = filed.dispute.code
    await store.merchant_offer(
        code, REFUND, who=town.principals["shop"], credit=CREDIT, now=at("2026-09-30")
    )
    d = await store.consumer_accept(code, filed.secret, credit=CREDIT, now=at("2026-10-08"))
    assert d.status == "settled" and d.resolution == Resolution.MERCHANT_ODR
    assert d.amount_recovered_fen == 10000 and d.closed_at == at("2026-10-08")
    record = await Complaint.get(source="fangxin", external_id=code)
    assert record.status == ComplaintStatus.CLOSED and record.resolution == "merchant_odr"
    assert record.received_at == at("2026-09-29") and record.amount_recovered_fen == 10000
    assert record.upheld is None
    assert record.accept_due is None and record.overdue_since is None  # never the regulator's
    assert not await CreditEvent.exists()
    # Long after, the nightly sweep still finds nothing overdue about it.
    marked, _ = await _sweep(at("2026-12-31"))
    assert marked == 0
    report = await annual.annual_report(2026)
    assert report.all_channels.complaints == 1
    assert report.all_channels.amount_recovered == annual.yuan(10000)
    seen = await out(d, Audience.CONSUMER, now=at("2026-10-09"))
    assert seen.followup_open and seen.intake is None  # never with the bureau
    with pytest.raises(Conflict):  # settled is final
        await store.withdraw(code, filed.secret, AnswerIn(), credit=CREDIT)


async def _sweep(now: datetime) -> tuple[int, int]:
    from tortoise.transactions import in_transaction

    from scoring.credit.store import credit_sql

    async with in_transaction() as tx:
        sql = credit_sql(tx)
        await sql.lock()
        marked, changes = await intake.sweep_overdue(sql, tx, CREDIT, now)
    return marked, len(changes)


async def test_withdrawing_an_escalated_complaint_ends_its_intake_record(db: Settings) -> None:
    await make_town()
    filed = await file(db, complaint(NO_ODR), now=at("2026-09-29"))
    d = await store.withdraw(
        filed.dispute.code,
        filed.secret,
        AnswerIn("已私下解决"),
        credit=CREDIT,
        now=at("2026-09-30"),
    )
    assert d.status == "withdrawn" and d.resolution == Resolution.WITHDRAWN
    record = await Complaint.get(id=d.complaint_id)
    assert record.status == ComplaintStatus.CLOSED and record.resolution == "withdrawn"
    seen = await out(d, Audience.CONSUMER, now=at("2026-10-01"))
    assert not seen.followup_open  # nothing was handled to be satisfied with


async def test_the_bureau_may_refuse_with_a_reason_and_the_consumer_is_followed_up(
    db: Settings,
) -> None:
    town = await make_town()
    filed = await file(db, complaint(NO_ODR), now=at("2026-09-29"))
    d = await bureau_refuse(
        filed.dispute.code,
        ReasonIn("不属于市场监管部门职责范围"),
        who=town.principals["city"],
        credit=CREDIT,
        now=at("2026-09-30"),
    )
    assert d.status == "closed" and d.resolution == Resolution.REFUSED
    record = await Complaint.get(id=d.complaint_id)
    assert record.status == ComplaintStatus.REJECTED and record.resolution == "refused"
    d = await store.follow_up(
        d.code, filed.secret, FollowupIn("dissatisfied"), now=at("2026-10-08")
    )
    assert (await DisputeFollowup.get(dispute_id=d.id)).answer == "dissatisfied"


async def test_answers_after_a_deadline_are_refused_and_the_complaint_escalates(
    db: Settings,
) -> None:
    town = await make_town()
    shop = town.principals["shop"]
    late_merchant = await file(db, now=at("2026-09-29"))
    with pytest.raises(Conflict, match=gettext(store.DEADLINE_PASSED)):
        await store.merchant_offer(
            late_merchant.dispute.code, REFUND, who=shop, credit=CREDIT, now=at("2026-10-20")
        )
    d = await Dispute.get(id=late_merchant.dispute.id)
    assert d.status == "escalated" and d.escalation_reason == "deadline"

    silent = await file(
        db, complaint(description="另一件事：微波炉也坏了"), now=at("2026-09-29", 11)
    )
    await store.merchant_offer(
        silent.dispute.code, REFUND, who=shop, credit=CREDIT, now=at("2026-10-16")
    )
    # Answer due Friday 23 October; on the 26th the consumer's acceptance comes too late.
    with pytest.raises(Conflict, match=gettext(store.DEADLINE_PASSED)):
        await store.consumer_accept(
            silent.dispute.code, silent.secret, credit=CREDIT, now=at("2026-10-26")
        )
    d = await Dispute.get(id=silent.dispute.id)
    assert d.status == "escalated" and d.escalation_reason == "unanswered"


async def test_a_rejection_after_the_merchants_deadline_escalates(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, now=at("2026-09-29"))
    code = filed.dispute.code
    await store.merchant_offer(
        code, REFUND, who=town.principals["shop"], credit=CREDIT, now=at("2026-10-19")
    )
    d = await store.consumer_reject(
        code, filed.secret, AnswerIn(), credit=CREDIT, now=at("2026-10-21")
    )
    assert d.status == "escalated" and d.escalation_reason == "rejected"


async def test_a_merchant_refusal_escalates_with_its_reasons(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, now=at("2026-09-29"))
    d = await store.merchant_refuse(
        filed.dispute.code,
        ReasonIn("商品已超过保修期"),
        who=town.principals["shop"],
        credit=CREDIT,
        now=at("2026-09-30"),
    )
    assert d.status == "escalated" and d.escalation_reason == "refused"
    assert d.refusal_reason == "商品已超过保修期"
    seen = await out(d, Audience.MERCHANT)
    assert seen.refusal_reason == "商品已超过保修期" and seen.intake is not None


async def test_every_bad_field_of_a_filing_is_named(db: Settings) -> None:
    await make_town()
    bad = complaint(
        merchant="NOPE",
        category="gossip",
        description=" ",
        occurred_on="2099-01-01",
        amount="12.345",
        wants="other",
        wants_detail="",
        phone="12345",
        consent_contact=False,
        client_submission_id="not-a-uuid",
    )
    with pytest.raises(InvalidInput) as caught:
        await file(db, bad, now=at("2026-09-29"), files=[Upload("a.jpg", b"<svg/>")])
    fields = {e.field for e in caught.value.errors}
    assert fields == {
        "merchant",
        "category",
        "description",
        "occurred_on",
        "amount",
        "wants_detail",
        "phone",
        "consent_contact",
        "client_submission_id",
        "files[0]",
    }
    assert not await Dispute.exists()


async def test_a_retried_filing_is_the_first_one_with_its_secret(db: Settings) -> None:
    await make_town()
    data = complaint()
    first = await file(db, data, now=at("2026-09-29"))
    again = await file(db, data, now=at("2026-09-29", 10, 1))
    assert not again.created
    assert again.dispute.id == first.dispute.id and again.secret == first.secret
    assert await Dispute.all().count() == 1
    # The key reused for another complaint (another merchant) is refused, not merged.
    with pytest.raises(Conflict):
        await file(
            db,
            complaint(NO_ODR, client_submission_id=data.client_submission_id),
            now=at("2026-09-29"),
        )


async def test_rate_limits_duplicates_and_the_many_complaints_flag(db: Settings) -> None:
    town = await make_town()
    now = at("2026-09-29")
    first = await file(db, now=now, ip="10.1.1.1")
    # The same contact, merchant and text (spacing and width aside) within a day: refused,
    # naming the first receipt.
    again = complaint(description=" 买的电饭煲第二天就坏了， 商家不给退。 ")
    with pytest.raises(InvalidInput) as caught:
        await file(db, again, now=now + timedelta(hours=2), ip="10.1.1.2")
    assert caught.value.errors[0].field == "description"
    assert first.dispute.code in caught.value.errors[0].message
    # A device files at most three a day; an address five.
    for i in range(2):
        await file(
            db,
            complaint(description=f"设备第{i}件事", phone="13900000000"),
            now=now,
            device="dev-1",
            ip=f"10.2.0.{i}",
        )
    await file(db, complaint(description="设备第三件"), now=now, device="dev-1", ip="10.2.1.1")
    with pytest.raises(store.TooManyComplaints):
        await file(db, complaint(description="第四件"), now=now, device="dev-1", ip="10.2.1.2")
    for i in range(5):
        await file(
            db, complaint(description=f"地址第{i}件"), now=now, ip="10.3.0.1", device=f"a{i}"
        )
    with pytest.raises(store.TooManyComplaints):
        await file(db, complaint(description="地址第六件"), now=now, ip="10.3.0.1", device="a9")
    # Five complaints from one number against three merchants in 90 days: flagged, not refused.
    caller = "13700000000"
    flags = []
    for i, (uscc, ip) in enumerate(
        [(town.shop.uscc, "1"), (NO_ODR, "2"), (FAR, "3"), (FAR, "4"), (NO_ODR, "5")]
    ):
        filed = await file(
            db,
            complaint(uscc, phone=caller, description=f"职业{i}"),
            now=now + timedelta(days=i),
            ip=f"10.9.9.{ip}",
        )
        flags.append(filed.dispute.flag_many)
    assert flags == [False, False, False, False, True]
    official = await out(filed.dispute, Audience.OFFICIAL)
    assert official.flag_many is True
    page = await listing(town.principals["city"], page_size=100)
    assert any(item.flag_many for item in page.items)


async def test_the_tracking_secret_opens_only_its_own_complaint(db: Settings) -> None:
    town = await make_town()
    mine = await file(db, now=at("2026-09-29"))
    theirs = await file(
        db, complaint(description="别人的投诉", phone="13900001111"), now=at("2026-09-29")
    )
    await store.merchant_offer(
        theirs.dispute.code,
        REFUND,
        who=town.principals["shop"],
        credit=CREDIT,
        now=at("2026-09-30"),
    )
    for code, secret in (
        (theirs.dispute.code, mine.secret),  # another consumer's code with my secret
        (theirs.dispute.code, "x" * 22),
        (theirs.dispute.code, None),
        ("TS-2026-ZZZZZZ", mine.secret),
    ):
        with pytest.raises(NotFound) as caught:
            await store.tracked(code, secret)
        assert caught.value.detail == store.NOT_TRACKED  # unknown and wrong alike
        with pytest.raises(NotFound):
            await store.consumer_accept(code, secret, credit=CREDIT)
    assert (await Dispute.get(id=theirs.dispute.id)).status == "offered"


async def test_merchants_and_officials_see_only_their_own(db: Settings) -> None:
    town = await make_town()
    near = await file(db, now=at("2026-09-29"))
    far = await file(db, complaint(FAR, description="西平的事"), now=at("2026-09-29"))
    # Another merchant answering this merchant's complaint: it does not exist for it.
    with pytest.raises(NotFound):
        await store.merchant_offer(
            near.dispute.code, REFUND, who=town.principals["far"], credit=CREDIT
        )
    with pytest.raises(NotFound):
        await store.merchant_refuse(
            near.dispute.code, ReasonIn("不是我家"), who=town.principals["far"], credit=CREDIT
        )
    with pytest.raises(NotFound):
        await store.get_for(near.dispute.code, town.principals["county"])
    assert (await store.get_for(far.dispute.code, town.principals["county"])).id == far.dispute.id
    county = await listing(town.principals["county"])
    assert [i.code for i in county.items] == [far.dispute.code]
    shop = await listing(town.principals["shop"])
    assert [i.code for i in shop.items] == [near.dispute.code]
    assert shop.items[0].flag_many is None and shop.items[0].due == date(2026, 10, 19)
    assert (await listing(town.principals["city"])).total == 2
    assert (await Dispute.get(id=near.dispute.id)).status == "with_merchant"


async def test_the_number_is_revealed_to_the_merchant_only_with_consent_and_audited(
    db: Settings,
) -> None:
    town = await make_town()
    shared = await file(db, now=at("2026-09-29"))
    private = await file(
        db,
        complaint(description="不愿透露号码", share_contact=False, phone="13911112222"),
        now=at("2026-09-29"),
    )
    shop = town.principals["shop"]
    assert await store.reveal_contact(shared.dispute.code, shop, db.data_dir) == PHONE
    with pytest.raises(Conflict):
        await store.reveal_contact(private.dispute.code, shop, db.data_dir)
    assert (
        await store.reveal_contact(private.dispute.code, town.principals["district"], db.data_dir)
        == "13911112222"
    )
    assert await AuditEvent.filter(action="dispute.contact_revealed").count() == 2
    d = await Dispute.get(id=shared.dispute.id)
    assert d.contact_cipher is not None and PHONE not in d.contact_cipher
    assert d.contact_hash == contact.contact_key(db.data_dir).digest(PHONE)


async def test_the_12315_feed_links_its_record_of_a_complaint_filed_here(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, complaint(NO_ODR), now=at("2026-09-29"))
    code = filed.dispute.code
    records = await Complaint.all().count()

    def item(**extra: object) -> ComplaintIn:
        fields: dict[str, object] = {
            "external_id": "12315-2026-000777",
            "received_at": at("2026-09-30").isoformat(),
            "status": "received",
            "category": "quality",
            "uscc": town.no_odr.uscc,
            **extra,
        }
        return ComplaintIn(**fields)  # type: ignore[arg-type]

    result = await intake.ingest_complaints(
        [item(fangxin_ref=code)], actor=TEST_ACTOR, rules=CREDIT, now=at("2026-10-01")
    )
    assert (result.stored, result.linked) == (0, 1)
    assert await Complaint.all().count() == records  # never a second row
    d = await Dispute.get(id=filed.dispute.id)
    assert d.feed_ref == "12315:12315-2026-000777"
    # Resent, it is linked again and nothing changes.
    again = await intake.ingest_complaints(
        [item(fangxin_ref=code)], actor=TEST_ACTOR, rules=CREDIT, now=at("2026-10-02")
    )
    assert again.linked == 1
    assert await DisputeEvent.filter(dispute_id=d.id, step="linked_12315").count() == 1
    # The receipt code as the feed's own id is the same complaint too.
    by_id = await intake.ingest_complaints(
        [item(external_id=code)], actor=TEST_ACTOR, rules=CREDIT, now=at("2026-10-02")
    )
    assert (by_id.stored, by_id.linked) == (0, 1)
    assert await Complaint.all().count() == records
    # A reference to no complaint filed here, or a feed writing as Fangxin, is refused.
    with pytest.raises(InvalidInput) as caught:
        await intake.ingest_complaints(
            [item(fangxin_ref="TS-2026-ZZZZZZ"), item(external_id="x", source="fangxin")],
            actor=TEST_ACTOR,
            rules=CREDIT,
        )
    assert {e.field for e in caught.value.errors} == {"complaints[1].source"}
    with pytest.raises(InvalidInput) as caught:
        await intake.ingest_complaints(
            [item(fangxin_ref="TS-2026-ZZZZZZ")], actor=TEST_ACTOR, rules=CREDIT
        )
    assert [e.field for e in caught.value.errors] == ["complaints[0].fangxin_ref"]


async def test_odr_participation_is_a_history(db: Settings) -> None:
    town = await make_town()
    with pytest.raises(Conflict):
        await odr.join(town.shop.id, actor=TEST_ACTOR)
    await odr.leave(town.shop.id, "人手不足", actor=TEST_ACTOR, now=at("2026-06-01"))
    with pytest.raises(Conflict):
        await odr.leave(town.shop.id, "", actor=TEST_ACTOR)
    await odr.join(town.shop.id, actor=TEST_ACTOR, now=at("2026-07-01"))
    status = await odr.status(town.shop.uscc)
    assert status.participating and status.since == at("2026-07-01")
    assert [(h.joined_at, h.left_at) for h in status.history] == [
        (at("2026-01-05"), at("2026-06-01")),
        (at("2026-07-01"), None),
    ]
    assert not (await odr.status(town.no_odr.uscc)).participating
