"""The creation rules hold under simultaneous requests (issue 29): one unresolved application
per subject, held by the database; the gate judges every unresolved application of a subject,
not only the latest; three objections an hour per address, counted one after another.

The requests are fired at once against the app on its own event loop: on PostgreSQL they run
in parallel on the connection pool (where the races were found), on SQLite they take turns."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api import migrate as tortoise_migrate

from certificates import issuance
from certificates.applications import gate, objections
from certificates.applications.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Objection,
)
from certificates.applications.schemas import ObjectionIn
from certificates.policy import Kind
from service.kernel import db as dbm
from service.kernel.errors import InvalidInput
from service.kernel.models import AuditEvent
from service.kernel.settings import Settings
from tests.certificates.applications.conftest import PDF, eligible_city, session
from tests.certificates.applications.test_journey import CHECKLIST, OBJECTION
from tests.certificates.applications.test_rules import T0, _in_notice
from tests.service.test_migrations import _drop, _fresh_settings

S = ApplicationStatus


async def test_six_simultaneous_applications_for_one_street_store_one(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    city = await eligible_city(lenient)
    manager = await session(served, "street-office")
    official = await session(served, "inspector")
    try:
        replies = await asyncio.gather(
            *[
                manager.post(
                    "/api/v1/applications",
                    data={"statement": f"申请创建放心消费示范街区（第{i}份）"},
                    files={"files": ("申报书.pdf", PDF, "application/pdf")},
                )
                for i in range(6)
            ]
        )
        assert sorted(r.status_code for r in replies) == [201, 409, 409, 409, 409, 409]
        (created,) = [r.json() for r in replies if r.status_code == 201]
        for r in replies:
            if r.status_code == 409:
                assert r.headers["content-type"].startswith("application/problem+json")
                assert str(created["id"]) in r.json()["detail"]
        (stored,) = await Application.filter(kind="street", subject_code=city.street)
        assert stored.id == created["id"]
        assert await ApplicationEvent.all().count() == 1
        assert await AuditEvent.filter(action="application.submitted").count() == 1

        # The web form says the same, in the applicant's language, and keeps what was typed.
        token = await manager.get("/area")
        assert token.status_code == 200
        form = await manager.post(
            "/area",
            data={"statement": "再交一份"},
            files={"files": ("b.pdf", PDF, "application/pdf")},
        )
        assert form.status_code == 409
        assert f"您的申报 {created['id']} 仍在办理中" in form.text and "再交一份" in form.text

        # The one application approved: its notice holds the street's certificate back.
        base = f"/api/v1/applications/{created['id']}"
        r = await official.post(
            f"{base}/inspections", json={"kind": "onsite", "checklist": CHECKLIST, "passed": True}
        )
        assert r.status_code == 201, r.text
        r = await official.post(f"{base}/decision", json={"decision": "approve", "reason": "合格"})
        assert r.json()["status"] == "in_notice"
        direct = await official.post(
            "/api/v1/certificates", json={"kind": "street", "subject": city.street}
        )
        assert direct.status_code == 409, direct.text
    finally:
        await manager.aclose()
        await official.aclose()


async def test_ten_simultaneous_objections_from_one_address_store_three(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "申请"},
            files={"files": ("a.pdf", PDF, "application/pdf")},
        )
        base = f"/api/v1/applications/{r.json()['id']}"
        await official.post(
            f"{base}/inspections", json={"kind": "onsite", "checklist": CHECKLIST, "passed": True}
        )
        r = await official.post(f"{base}/decision", json={"decision": "approve", "reason": "合格"})
        notice = r.json()["id"]
    finally:
        await shop.aclose()
        await official.aclose()
    # Every request from one client address (the in-process transport's), each text its own.
    replies = await asyncio.gather(
        *[
            served.post(
                f"/api/v1/notices/{notice}/objections", json={"text": f"{OBJECTION}（第{i}条）"}
            )
            for i in range(10)
        ]
    )
    assert sorted(r.status_code for r in replies) == [201] * 3 + [429] * 7
    assert await Objection.all().count() == 3
    assert await AuditEvent.filter(action="objection.lodged").count() == 3


async def test_simultaneous_identical_objections_store_one(db: Settings) -> None:
    """The duplicate check is made in the same turn as the insert: one text, lodged at once
    from eight addresses, is kept once."""
    app, _ = await _in_notice(db, T0)
    at = T0 + timedelta(hours=1)

    async def lodge(address: str) -> str:
        try:
            await objections.lodge(
                app.id, ObjectionIn(OBJECTION), address=address, secret="s", now=at
            )
        except InvalidInput as exc:
            return exc.errors[0].field
        return "stored"

    outcomes = await asyncio.gather(*[lodge(f"10.0.0.{i}") for i in range(8)])
    assert sorted(outcomes) == ["stored"] + ["text"] * 7
    assert await Objection.all().count() == 1


async def test_the_gate_judges_every_unresolved_application_not_only_the_latest(
    db: Settings,
) -> None:
    """An application in notice, and a later one of the same subject already refused (as
    migration 0019 leaves the surplus of a race): the refused one is the latest, and the
    notice still holds the subject back; so does an upheld objection."""
    app, _ = await _in_notice(db, T0)
    await Application.create(
        kind=app.kind,
        subject_code=app.subject_code,
        subject_name=app.subject_name,
        district_id=app.district_id,
        applicant_name="shop",
        statement="重复的申请",
        status=S.REFUSED,
        submitted_at=T0 + timedelta(hours=1),
    )
    conn = connections.get("default")
    request = issuance.Request(Kind.MERCHANT, app.subject_code)
    day1 = T0 + timedelta(days=1)
    assert await gate.refusals(conn, [request], day1) == {
        app.subject_code: f"application {app.id} is in public notice"
    }
    await Application.filter(id=app.id).update(status=S.BLOCKED)
    after = T0 + timedelta(days=30)
    assert app.subject_code in await gate.refusals(conn, [request], after)
    # Refused, the blocked application holds nothing back any more.
    await Application.filter(id=app.id).update(status=S.REFUSED)
    assert await gate.refusals(conn, [request], after) == {}


async def test_the_database_refuses_a_second_unresolved_application(db: Settings) -> None:
    """Whatever the code checks first, the index holds: a blocked application too."""
    app, _ = await _in_notice(db, T0)

    async def another(status: ApplicationStatus) -> Application:
        return await Application.create(
            kind=app.kind,
            subject_code=app.subject_code,
            subject_name=app.subject_name,
            district_id=app.district_id,
            applicant_name="shop",
            statement="again",
            submitted_at=T0,
            status=status,
        )

    await Application.filter(id=app.id).update(status=S.BLOCKED)
    with pytest.raises(IntegrityError):
        await another(S.SUBMITTED)
    await another(S.REFUSED)  # final ones are not counted
    await another(S.ISSUED)
    await Application.filter(id=app.id).update(status=S.REFUSED)
    await another(S.SUBMITTED)


# Applications a race left behind before the index: subject A three unresolved (one in
# notice), subject B a blocked one and a later one in notice, subject C one refused and one
# submitted (nothing to do).
LEFT_BY_A_RACE = [
    "INSERT INTO area (id, code, kind, name_zh, name_en, is_demo, created_at, updated_at)"
    " VALUES (1, 'D1', 'district', '驿城区', 'Yicheng', false, '2026-01-01', '2026-01-01')",
    *[
        "INSERT INTO cert_application (id, kind, subject_code, subject_name, district_id,"
        " applicant_name, statement, status, submitted_at, is_demo) VALUES"
        f" ({i}, 'street', '{subject}', '街', 1, 'm', 's', '{status}',"
        f" '2026-01-0{i} 00:00:00+00:00', false)"
        for i, subject, status in [
            (1, "A", "submitted"),
            (2, "A", "in_notice"),
            (3, "A", "submitted"),
            (4, "B", "blocked"),
            (5, "B", "in_notice"),
            (6, "C", "refused"),
            (7, "C", "submitted"),
        ]
    ],
]


async def test_the_migration_keeps_one_unresolved_application_per_subject(
    migrated: Settings, tmp_path: Path
) -> None:
    settings, name = await _fresh_settings(str(tmp_path))
    try:
        await tortoise_migrate(
            config=dbm.tortoise_config(settings), target="models.0018_yearly_review"
        )
        await dbm.close_db()
        await dbm.init_db(settings)
        try:
            for statement in LEFT_BY_A_RACE:
                await dbm.connection().execute_script(statement)
        finally:
            await dbm.close_db()
        assert "models.0019_one_unresolved_application" in await dbm.migrate(settings)
        await dbm.init_db(settings)
        try:
            statuses = dict(await Application.all().order_by("id").values_list("id", "status"))
            assert statuses == {
                1: "refused",
                2: "in_notice",
                3: "refused",
                4: "blocked",
                5: "refused",
                6: "refused",
                7: "submitted",
            }
            closed = await Application.filter(id__in=[1, 3, 5]).order_by("id")
            assert [a.decision_reason for a in closed] == [
                "Closed on upgrade: application 2 of the same subject was already open"
                " (one unresolved application per subject)",
                "Closed on upgrade: application 2 of the same subject was already open"
                " (one unresolved application per subject)",
                "Closed on upgrade: application 4 of the same subject was already open"
                " (one unresolved application per subject)",
            ]
            steps = await ApplicationEvent.all().order_by("application_id")
            assert [(s.application_id, s.old_status, s.new_status) for s in steps] == [
                (1, S.SUBMITTED, S.REFUSED),
                (3, S.SUBMITTED, S.REFUSED),
                (5, S.IN_NOTICE, S.REFUSED),
            ]
            assert {s.actor for s in steps} == {"system:migration"}
            with pytest.raises(IntegrityError):
                await Application.create(
                    kind="street",
                    subject_code="C",
                    subject_name="街",
                    district_id=1,
                    applicant_name="m",
                    statement="s",
                    status=S.SUBMITTED,
                    submitted_at=T0,
                )
        finally:
            await dbm.close_db()
    finally:
        await _drop(name)
