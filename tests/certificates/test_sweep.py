"""The sweep with a frozen clock, and officials' decisions, on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from certificates import sweep
from certificates.models import Certificate, Status
from certificates.policy import Kind, Policy
from scoring.credit import store as credit_store
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.helpers import TEST_ACTOR, make_token
from tests.surveys.conftest import make_city

POLICY = Policy.load()
RULES = credit_store.rules_for(None)
T0 = datetime(2026, 6, 1, tzinfo=UTC)


async def test_the_sweep_expires_suspends_revokes_after_grace_and_lifts(db: Settings) -> None:
    city = await make_city()
    old = await _certificate(
        Kind.MERCHANT,
        city.other_merchant,
        "天中超市",
        "ZMD-2024-M-000001-A",
        T0 - timedelta(days=800),
    )
    old.valid_until = T0 - timedelta(days=70)
    await old.save()
    merchant = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000001-O", T0
    )
    street = await _certificate(
        Kind.STREET, city.street, "解放路步行街", "ZMD-2026-ST-000001-B", T0
    )

    # The street has no published score: its criteria fail → suspended with 30 days' grace.
    first = await sweep.sweep(actor=TEST_ACTOR, policy=POLICY, credit_rules=RULES, now=T0)
    assert first.expired == [old.serial] and first.suspended == [street.serial]
    assert first.revoked == [] and first.lifted == []
    street = await Certificate.get(id=street.id)
    assert street.grace_until == T0 + timedelta(days=30)
    # Within the grace nothing more happens; past it, the hold becomes a revocation.
    within = await sweep.sweep(
        actor=TEST_ACTOR, policy=POLICY, credit_rules=RULES, now=T0 + timedelta(days=29)
    )
    assert (within.revoked, within.suspended, within.expired) == ([], [], [])
    past = await sweep.sweep(
        actor=TEST_ACTOR, policy=POLICY, credit_rules=RULES, now=T0 + timedelta(days=31)
    )
    assert past.revoked == [street.serial]
    assert (await Certificate.get(id=street.id)).status_reason == "grace_expired"
    assert (await Certificate.get(id=merchant.id)).status == Status.ACTIVE


async def test_a_hold_is_lifted_when_the_criteria_recover(db: Settings) -> None:
    city = await make_city()
    street = await _certificate(
        Kind.STREET, city.street, "解放路步行街", "ZMD-2026-ST-000002-9", T0
    )
    await sweep.sweep(actor=TEST_ACTOR, policy=POLICY, credit_rules=RULES, now=T0)
    assert (await Certificate.get(id=street.id)).status == Status.SUSPENDED
    # A run is published in which the street scores 90 from 150 responses; this city's policy
    # asks no certified or committed merchants: within the grace, the hold is lifted.
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=T0,
        window_since=T0 - timedelta(days=365),
        window_until=T0,
    )
    await UnitScore.create(
        run=run, kind="street", code=city.street, n=150, score=90.0, insufficient_data=False
    )
    relaxed = replace(
        POLICY,
        areas={
            k: replace(a, min_certified_share=0.0, min_committed_share=0.0)
            for k, a in POLICY.areas.items()
        },
    )
    later = T0 + timedelta(days=5)
    result = await sweep.sweep(actor=TEST_ACTOR, policy=relaxed, credit_rules=RULES, now=later)
    assert result.lifted == [street.serial]
    lifted = await Certificate.get(id=street.id)
    assert (lifted.status, lifted.status_reason, lifted.grace_until) == (
        Status.ACTIVE,
        "criteria_recovered",
        None,
    )


async def test_officials_revoke_suspend_and_reinstate_with_a_reason(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    cert = await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000003-K", T0)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    url = f"/api/v1/certificates/{cert.serial}"
    no_reason = await client.post(f"{url}/suspend", json={"reason": " "})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "reason"
    held = await client.post(f"{url}/suspend", json={"reason": "mystery_shopping", "note": "暗访"})
    assert held.status_code == 200 and held.json()["status"] == "suspended"
    back = await client.post(f"{url}/reinstate", json={"reason": "rectified"})
    assert back.json()["status"] == "active"
    gone = await client.post(f"{url}/revoke", json={"reason": "false_advertising"})
    assert (gone.json()["status"], gone.json()["reason"]) == ("revoked", "false_advertising")
    final = await client.post(f"{url}/reinstate", json={"reason": "appeal"})
    assert final.status_code == 409  # revoked is final
    assert await AuditEvent.filter(subject=cert.serial).count() == 3
    unknown = await client.post(
        "/api/v1/certificates/ZMD-2026-M-999999-X/revoke", json={"reason": "x"}
    )
    assert unknown.status_code == 404


async def test_the_public_register_lists_standing_certificates(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000005-G", T0)
    gone = await _certificate(
        Kind.MERCHANT, city.other_merchant, "天中超市", "ZMD-2026-M-000006-E", T0
    )
    await Certificate.filter(id=gone.id).update(status=Status.REVOKED)
    page = await client.get("/certificates", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "老王烩面馆" in page.text and "天中超市" not in page.text  # revoked: off the register
    assert 'href="/verify/ZMD-2026-M-000005-G"' in page.text
    found = await client.get("/certificates", params={"q": "000005"})
    assert "老王烩面馆" in found.text
    none = await client.get("/certificates", params={"q": "不存在"})
    assert "没有符合条件的证书" in none.text


async def test_the_service_sweeps_on_its_own_schedule(
    app_settings: Settings, tmp_path: Path
) -> None:
    import asyncio

    from tests.conftest import empty_database, make_app, serve_in_process

    # Outside production the web process runs the job schedule itself (service/jobs.py);
    # here the sweep's slot comes every second instead of every hour.
    jobs_file = tmp_path / "jobs.toml"
    jobs_file.write_text("embedded = true\n[certificate_sweep]\nevery = 1\n", encoding="utf-8")
    await empty_database(app_settings)
    app = make_app(replace(app_settings, jobs_file=jobs_file))
    async with serve_in_process(app, "http://test"):
        city = await make_city()
        old = await _certificate(
            Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2024-M-000009-8", T0
        )
        await Certificate.filter(id=old.id).update(
            valid_until=datetime.now(UTC) - timedelta(days=1)
        )
        for _ in range(50):
            if (await Certificate.get(id=old.id)).status == Status.EXPIRED:
                break
            await asyncio.sleep(0.1)
        assert (await Certificate.get(id=old.id)).status_reason == "validity_ended"
