"""``fangxin demo``: the demo city, loaded once into an empty database."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from certificates.applications.models import Application, ApplicationStatus
from certificates.commitments.models import Commitment, CommitmentKind
from certificates.models import YearlyReview
from certificates.yearly_review import store as reviews
from certificates.yearly_review.lists import public_list
from scoring.credit.models import Complaint, CounterVisit, SpotCheckBatch
from scoring.disputes.models import Dispute, DisputeEvent, DisputeFollowup, OdrParticipation
from service.demo import load_demo
from service.kernel.accounts import authenticate
from service.kernel.audit import Actor
from service.kernel.localtime import LOCAL_TZ
from service.kernel.models import Account, Area, AreaKind, AuditEvent, Merchant, Role
from service.kernel.settings import Settings
from service.reports import annual
from surveys.models import Response
from tests.helpers import SMALL_INTAKE

ACTOR = Actor("cli", "test")
# Most tests need the city, not a year of responses.
SMALL = 500
LOCKOUT = datetime.timedelta(minutes=15)


async def _counts() -> dict[str, int]:
    return {
        "areas": await Area.all().count(),
        "merchants": await Merchant.all().count(),
        "accounts": await Account.all().count(),
        "audit": await AuditEvent.all().count(),
        "disputes": await Dispute.all().count(),
        "dispute_events": await DisputeEvent.all().count(),
    }


async def test_demo_fills_an_empty_database_with_a_city_marked_as_demo(db: Settings) -> None:
    report = await load_demo(db, actor=ACTOR)

    assert report.loaded
    # The full demo: three open questionnaires and a year of screened responses.
    assert report.surveys == 3
    assert await Response.all().count() == report.responses >= 50_000
    assert await Response.filter(is_demo=False).count() == 0
    assert await Response.filter(excluded=True).count() == sum(report.flagged.values())
    assert set(report.flagged) == {"speeder", "straightliner", "duplicate_device", "burst"}
    merchants = await Merchant.all().count()
    assert merchants >= 1000
    assert report.merchants == merchants
    assert await Merchant.filter(is_demo=False).count() == 0
    assert report.areas == await Area.all().count()
    assert await Area.filter(is_demo=False).count() == 0
    assert await Area.filter(kind=AreaKind.CITY).count() == 1
    assert await Area.filter(kind=AreaKind.STREET).count() >= 6
    assert await Area.filter(kind=AreaKind.SCENIC_SPOT).count() >= 4
    assert await Merchant.filter(street_id__not_isnull=True).count() > 0
    assert await Merchant.filter(scenic_spot_id__not_isnull=True).count() > 0
    # Last year's 12315 intake at the scale of the bureau's report.
    assert report.intake_records == 37_534
    assert await CounterVisit.all().count() > 0
    assert await SpotCheckBatch.all().count() == 306
    # Issue 30: its follow-ups give rates with intervals (MIN_ANSWERS answers or more) in
    # at least two districts of the annual report.
    year = await annual.annual_report(report.intake_year)
    assert sum(not d.followups.too_few for d in year.by_district) >= 2
    # Issue 20: commitments, an application in notice, this year's review, advisories.
    assert await Commitment.filter(kind=CommitmentKind.RETURNS).count() > merchants * 0.8
    assert await Application.filter(status=ApplicationStatus.IN_NOTICE).count() == 1
    assert report.advisories == 2
    review = await YearlyReview.get()
    assert review.confirmed_at is not None
    listed = public_list(await reviews.get(review.year, confirmed_only=True))
    sections = {e.section for e in listed.items}
    assert {"entered", "exited"} <= sections
    assert sum(e.section == "entered" for e in listed.items) == report.certificates


async def test_demo_accounts_sign_in_with_the_reported_passwords(db: Settings) -> None:
    report = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)

    roles = {username: role for username, role, _ in report.accounts}
    assert sorted(roles.values()) == sorted(
        [
            Role.ADMIN.value,
            Role.OFFICIAL.value,
            Role.OFFICIAL.value,
            Role.MERCHANT.value,
            Role.AREA_MANAGER.value,
        ]
    )
    assert await Account.filter(is_demo=True).count() == 5
    for username, role, password in report.accounts:
        account = await authenticate(username, password, max_failures=5, lockout=LOCKOUT)
        assert account.username == username
        assert account.role == Role(role)
        assert account.is_demo
        if account.role == Role.MERCHANT:
            merchant = await Merchant.get_or_none(id=account.merchant_id)
            assert merchant is not None
            assert merchant.is_demo
        else:
            assert account.merchant_id is None
    # The district bureau's official works in the demo merchant's district; the city's in none.
    district = await Account.filter(username="demo-district").select_related("district").get()
    shop = await Account.filter(username="demo-merchant").select_related("merchant").get()
    assert district.district is not None and shop.merchant is not None
    assert district.district.id == shop.merchant.district_id
    assert (await Account.get(username="demo-official")).district_id is None
    # The street's manager applied for its street: in public notice, an objection answered.
    from certificates.applications.models import Application, ApplicationStatus, Objection

    manager = await Account.filter(username="demo-area").select_related("area").get()
    assert manager.area is not None and manager.area.kind == AreaKind.STREET
    (application,) = await Application.filter(subject_code=manager.area.code)
    assert application.status == ApplicationStatus.IN_NOTICE and application.is_demo
    assert [o.outcome for o in await Objection.filter(application_id=application.id)] == [
        "dismissed"
    ]


async def test_demo_report_lists_every_account_with_its_password(db: Settings) -> None:
    report = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)

    text = report.text()
    assert len(report.accounts) == 5
    for username, role, password in report.accounts:
        line = next(line for line in text.splitlines() if username in line)
        assert role in line
        assert password in line
    assert f"{report.merchants} merchants" in text


async def test_a_second_demo_load_changes_nothing(db: Settings) -> None:
    await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)
    before = await _counts()
    merchants_before = await Merchant.all().order_by("id").values()

    again = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)

    assert not again.loaded
    assert again.accounts == []
    assert "already holds data" in again.text()
    assert await _counts() == before
    assert await Merchant.all().order_by("id").values() == merchants_before


async def test_demo_is_not_loaded_over_an_operators_areas(db: Settings) -> None:
    await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Zhumadian")

    report = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)

    assert not report.loaded
    assert await Area.all().count() == 1
    assert await Merchant.all().count() == 0
    assert await Account.all().count() == 0


async def test_a_failure_half_way_leaves_no_demo_behind(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.kernel import accounts

    real = accounts.create_account
    calls = 0

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("disk full")
        return await real(*args, **kwargs)

    monkeypatch.setattr(accounts, "create_account", flaky)
    with pytest.raises(RuntimeError, match="disk full"):
        await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)
    assert await Area.all().count() == 0
    assert await Merchant.all().count() == 0
    assert await Account.all().count() == 0
    monkeypatch.setattr(accounts, "create_account", real)
    report = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)
    assert report.loaded


async def test_demo_complaints_filed_online_are_in_every_state(db: Settings) -> None:
    report = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)

    disputes = await Dispute.all()
    assert report.disputes == len(disputes) and all(d.is_demo for d in disputes)
    states = {d.status for d in disputes}
    assert states == {
        "with_merchant",
        "offered",
        "settled",
        "withdrawn",
        "escalated",
        "closed",
    }
    today = datetime.datetime.now(datetime.UTC).astimezone(LOCAL_TZ).date()
    # With the merchant, its deadline still running; an offer the consumer may still answer.
    (waiting,) = [d for d in disputes if d.status == "with_merchant"]
    assert waiting.merchant_due is not None and waiting.merchant_due >= today
    (offered,) = [d for d in disputes if d.status == "offered"]
    assert offered.answer_due is not None and offered.answer_due >= today
    assert [d.resolution for d in disputes if d.status == "settled"] == ["merchant_odr"]
    # Escalated and awaiting acceptance: one within its 7 working days, one overdue.
    waiting_ids = [d.complaint_id for d in disputes if d.status == "escalated"]
    records = await Complaint.filter(id__in=waiting_ids)
    accepting = [c for c in records if c.accepted_at is None]
    assert any(c.accept_due is not None and c.accept_due < today for c in accepting)
    assert any(c.accept_due is not None and c.accept_due >= today for c in accepting)
    # In mediation (accepted, a named mediator), refused by the bureau, closed with outcome.
    assert any(d.mediator and d.status == "escalated" for d in disputes)
    closed = [d for d in disputes if d.status == "closed"]
    assert any(d.resolution == "refused" for d in closed)
    assert sum(d.resolution not in ("refused", None) for d in closed) >= 8
    assert await DisputeFollowup.all().count() >= 9
    # Some merchants take part in online dispute resolution.
    assert await OdrParticipation.filter(left_at=None).count() >= 5


async def test_demo_credit_repairs_one_approved_one_awaiting(db: Settings) -> None:
    from scoring.credit.models import CreditEvent, CreditRepair

    report = await load_demo(db, actor=ACTOR, responses=SMALL, intake=SMALL_INTAKE)
    repairs = await CreditRepair.all().order_by("id")
    assert report.repairs == len(repairs) == 2 and all(r.is_demo for r in repairs)
    assert [r.status for r in repairs] == ["approved", "pending"]
    approved = await CreditEvent.get(id=repairs[0].event_id)
    assert approved.repaired_at is not None
    assert (await CreditEvent.get(id=repairs[1].event_id)).repaired_at is None
