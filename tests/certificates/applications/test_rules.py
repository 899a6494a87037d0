"""The rules of applications on their own: the state machine, the screening of objections, the
checks of materials, the rate limit per address and the notice period on a chosen clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certificates import issuance
from certificates.applications import gate, materials, objections, transitions
from certificates.applications import store as applications
from certificates.applications.inspections import CHECKLIST
from certificates.applications.models import Application, ApplicationStatus, Objection
from certificates.applications.schemas import (
    ApplicationDecisionIn,
    ChecklistItemIn,
    InspectionIn,
    ObjectionIn,
)
from certificates.policy import Kind, Policy
from service.kernel.accounts import principal_for_account
from service.kernel.errors import Conflict, InvalidInput
from service.kernel.models import Account, AuditEvent
from service.kernel.settings import Settings
from tests.certificates.applications.conftest import PDF, PNG

S = ApplicationStatus
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
POLICY = Policy.load()
TEXT = "该店长期不明码标价，且拒绝七日无理由退货。"


def test_the_state_machine_allows_only_its_arrows() -> None:
    arrows = {(old, new) for old in [None, *S] for new in S if transitions.may_move(old, new)}
    assert arrows == {
        (None, S.SUBMITTED),
        (S.SUBMITTED, S.UNDER_REVIEW),
        (S.SUBMITTED, S.REFUSED),
        (S.UNDER_REVIEW, S.REFUSED),
        (S.UNDER_REVIEW, S.APPROVED),
        (S.APPROVED, S.IN_NOTICE),
        (S.IN_NOTICE, S.ISSUED),
        (S.IN_NOTICE, S.BLOCKED),
        (S.BLOCKED, S.REFUSED),  # an official closes what an upheld objection stopped
    }
    assert {S.REFUSED, S.ISSUED} == transitions.FINAL
    assert {S.SUBMITTED, S.UNDER_REVIEW, S.APPROVED, S.IN_NOTICE, S.BLOCKED} == (
        transitions.UNRESOLVED
    )


@pytest.mark.parametrize(
    ("text", "contact", "fields"),
    [
        (TEXT, "", []),
        (TEXT, "13800000000", []),
        (TEXT + " 证据见 https://example.org/a", "", []),  # one link: evidence
        ("太短了", "", ["text"]),
        ("x" * 1001, "", ["text"]),
        (TEXT + "\x07", "", ["text"]),  # a control character
        (TEXT + "\u202e", "", ["text"]),  # a right-to-left override
        (TEXT + " http://a.example http://b.example", "", ["text"]),  # link spam
        (TEXT, "call\nme", ["contact"]),
        (TEXT, "www.spam.example", ["contact"]),
        (TEXT, "1" * 101, ["contact"]),
        ("短", "1" * 101, ["text", "contact"]),
    ],
)
def test_objections_are_screened(text: str, contact: str, fields: list[str]) -> None:
    _, _, errors = objections.screen(ObjectionIn(text=text, contact=contact))
    assert [e.field for e in errors] == fields


def test_duplicates_are_the_same_text_whatever_its_case_width_and_spacing() -> None:
    assert objections.normalised("ＡＢＣ  价格\n欺诈") == objections.normalised("abc 价格 欺诈")
    assert objections.normalised("价格欺诈") != objections.normalised("价格不欺诈")


def test_materials_are_known_by_their_content_not_their_name() -> None:
    kept, errors = materials.check(
        [
            materials.Upload("scan.png", PDF),  # a PDF named .png: a PDF
            materials.Upload("../../etc/照片.jpg", b"\xff\xd8\xff\xe0" + b"0" * 10),
            materials.Upload("licence.pdf", b"MZ\x90\x00"),  # a program named .pdf
            materials.Upload("big.png", PNG + b"0" * materials.MAX_BYTES),
            materials.Upload("empty.pdf", b""),
            materials.Upload("", b""),  # a file input left blank: no file at all
        ]
    )
    assert [(k.filename, k.media_type) for k in kept] == [
        ("scan.png", "application/pdf"),
        ("照片.jpg", "image/jpeg"),
    ]
    assert [e.field for e in errors] == ["files[2]", "files[3]", "files[4]"]
    too_many, errors = materials.check([materials.Upload("a.pdf", PDF)] * 6)
    assert too_many == [] and [e.field for e in errors] == ["files"]
    assert "5" in errors[0].message


async def test_materials_are_stored_once_by_their_hash(tmp_path: Path) -> None:
    (checked,), _ = materials.check([materials.Upload("a.pdf", PDF)])
    materials.store(tmp_path, checked)
    materials.store(tmp_path, checked)
    stored = list((tmp_path / "applications").rglob("*"))
    assert [p.name for p in stored if p.is_file()] == [checked.sha256]
    assert materials.read(tmp_path, checked.sha256) == PDF


async def _in_notice(db: Settings, now: datetime) -> tuple[Application, object]:
    """An application of the test merchant, inspected and approved at ``now``."""
    from tests.certificates.applications.conftest import eligible_city

    await eligible_city(db)
    shop = principal_for_account(await Account.get(username="shop"))
    official = principal_for_account(await Account.get(username="inspector"))
    app = await applications.submit(
        shop,
        kind=None,
        subject=None,
        statement="申请",
        uploads=[materials.Upload("a.pdf", PDF)],
        data_dir=db.data_dir,
        now=now,
    )
    checklist = [ChecklistItemIn(k, True) for k in CHECKLIST]
    await applications.record_inspection(
        app.id, InspectionIn("onsite", checklist, True), who=official, now=now
    )
    app = await applications.decide(
        app.id, ApplicationDecisionIn("approve", "合格"), who=official, policy=POLICY, now=now
    )
    return app, official


async def test_the_notice_runs_the_policys_days_on_a_chosen_clock(db: Settings) -> None:
    app, _ = await _in_notice(db, T0)
    assert (app.notice_starts_at, app.notice_ends_at) == (T0, T0 + timedelta(days=7))
    day6 = T0 + timedelta(days=6, hours=23)
    assert "runs until" in str(await applications.why_not_issuable(app, day6))
    await objections.lodge(app.id, ObjectionIn(TEXT), address="10.0.0.1", secret="s", now=day6)
    with pytest.raises(Conflict):  # closed at the end of the seventh day
        await objections.lodge(
            app.id,
            ObjectionIn(TEXT + "又"),
            address="10.0.0.2",
            secret="s",
            now=T0 + timedelta(days=7),
        )
    with pytest.raises(Conflict):  # not yet open before it starts
        await objections.lodge(
            app.id,
            ObjectionIn(TEXT + "再"),
            address="10.0.0.3",
            secret="s",
            now=T0 - timedelta(hours=1),
        )
    after = T0 + timedelta(days=8)
    assert await applications.why_not_issuable(app, after) == "an objection is not answered yet"
    # The gate that direct issuance consults says the same on the same clock.
    request = issuance.Request(Kind.MERCHANT, app.subject_code)
    from tortoise import connections

    conn = connections.get("default")
    assert app.subject_code in await gate.refusals(conn, [request], day6)
    assert app.subject_code in await gate.refusals(conn, [request], after)  # unanswered
    await Objection.filter(application_id=app.id).update(outcome="dismissed", reply="不属实")
    assert await applications.why_not_issuable(app, after) is None
    assert await gate.refusals(conn, [request], after) == {}


async def test_objections_are_rate_limited_per_hashed_address_and_duplicates_refused(
    db: Settings,
) -> None:
    app, _ = await _in_notice(db, T0)
    at = T0 + timedelta(hours=1)
    await objections.lodge(app.id, ObjectionIn(TEXT), address="10.0.0.1", secret="s", now=at)
    with pytest.raises(InvalidInput) as dup:  # the same text, spaced differently, elsewhere
        await objections.lodge(
            app.id,
            ObjectionIn("  " + TEXT.replace("，", "， ")),
            address="10.0.0.9",
            secret="s",
            now=at,
        )
    assert dup.value.errors[0].field == "text"
    for i in (2, 3):
        await objections.lodge(
            app.id, ObjectionIn(f"{TEXT}第{i}次"), address="10.0.0.1", secret="s", now=at
        )
    with pytest.raises(objections.TooManyObjections):
        await objections.lodge(
            app.id, ObjectionIn(f"{TEXT}第4次"), address="10.0.0.1", secret="s", now=at
        )
    # Another address, or the same an hour later, may still object.
    await objections.lodge(
        app.id, ObjectionIn(f"{TEXT}他人"), address="10.0.0.2", secret="s", now=at
    )
    later = at + timedelta(hours=1, minutes=1)
    await objections.lodge(
        app.id, ObjectionIn(f"{TEXT}第5次"), address="10.0.0.1", secret="s", now=later
    )
    stored = await Objection.all()
    assert all(o.address_hash and "10.0.0" not in o.address_hash for o in stored)
    assert len({o.address_hash for o in stored}) == 2
    lodged = await AuditEvent.filter(action="objection.lodged").count()
    assert lodged == len(stored) == 5


async def test_approval_needs_a_passed_latest_inspection(db: Settings) -> None:
    from tests.certificates.applications.conftest import eligible_city

    await eligible_city(db)
    shop = principal_for_account(await Account.get(username="shop"))
    official = principal_for_account(await Account.get(username="inspector"))
    app = await applications.submit(
        shop,
        kind=None,
        subject=None,
        statement="申请",
        uploads=[materials.Upload("a.pdf", PDF)],
        data_dir=db.data_dir,
        now=T0,
    )
    failed = [ChecklistItemIn(k, k != "prices_marked") for k in CHECKLIST]
    await applications.record_inspection(
        app.id, InspectionIn("mystery_shopping", failed, False, "未明码标价"), who=official, now=T0
    )
    with pytest.raises(Conflict):
        await applications.decide(
            app.id, ApplicationDecisionIn("approve", "好"), who=official, policy=POLICY
        )
    assert (await Application.get(id=app.id)).status == S.UNDER_REVIEW
    passed = [ChecklistItemIn(k, True) for k in CHECKLIST]
    await applications.record_inspection(
        app.id, InspectionIn("onsite", passed, True), who=official, now=T0 + timedelta(days=1)
    )
    decided = await applications.decide(
        app.id,
        ApplicationDecisionIn("approve", "整改后合格"),
        who=official,
        policy=POLICY,
        now=T0 + timedelta(days=1),
    )
    assert decided.status == S.IN_NOTICE
    audit = await AuditEvent.filter(
        subject=f"application:{app.id}", action="application.approved"
    ).get()
    assert audit.actor == "account:inspector" and audit.details["reason"] == "整改后合格"


async def test_an_area_manager_has_no_token_only_an_account(db: Settings) -> None:
    from service.kernel.accounts import create_token
    from service.kernel.audit import Actor
    from service.kernel.models import ApiToken, Role

    with pytest.raises(InvalidInput) as refused:
        await create_token("street", Role.AREA_MANAGER, actor=Actor("test", "pytest"))
    assert [e.field for e in refused.value.errors] == ["role"]
    assert await ApiToken.all().count() == 0
