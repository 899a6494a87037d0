"""Issuing, reading status then and now, and the cascade: a credit drop revokes a merchant's
certificate and suspends its street's in the same transaction, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from tortoise.backends.base.client import BaseDBAsyncClient

from certificates import issuance, revocation
from certificates.models import Certificate, Status, StatusChange
from certificates.policy import Kind, Policy
from certificates.serials import is_valid
from scoring.credit import store as credit_store
from scoring.credit.models import CreditEvent
from scoring.satisfaction import runs
from service.kernel import events
from service.kernel.errors import Conflict
from service.kernel.events import CreditChanged
from service.kernel.models import AuditEvent, OutboxMessage, Role
from service.kernel.settings import Settings
from tests.helpers import TEST_ACTOR, commit_to_returns, make_token
from tests.scoring.satisfaction.test_pages import _responses
from tests.surveys.conftest import City, make_city

POLICY = Policy.load()
RULES = credit_store.rules_for(None)
# A policy any scored merchant meets (the test city's scores are whatever its answers give).
LENIENT = replace(POLICY, merchant=replace(POLICY.merchant, min_score=0.0))


async def test_issuing_follows_the_policy_and_numbers_serials(db: Settings) -> None:
    city = await make_city()
    await commit_to_returns(city.merchant, city.other_merchant)
    await _responses(city.merchant, 31, db.secret_key)
    await _responses(city.other_merchant, 5, db.secret_key)
    await runs.run_now(runs.parse_params({}), db, actor=TEST_ACTOR, publish=True)
    (cert,) = await issuance.issue(
        [issuance.Request(Kind.MERCHANT, city.merchant)],
        actor=TEST_ACTOR,
        policy=LENIENT,
        credit_rules=RULES,
    )
    year = cert.issued_at.year
    assert cert.serial.startswith(f"ZMD-{year}-M-000001-") and is_valid(cert.serial)
    assert cert.basis["n"] == 31 and cert.score_run_id is not None
    assert cert.valid_until == issuance.add_years(cert.issued_at, 2)
    with pytest.raises(Conflict):
        await issuance.issue(
            [issuance.Request(Kind.MERCHANT, city.merchant)],
            actor=TEST_ACTOR,
            policy=LENIENT,
            credit_rules=RULES,
        )
    # Five responses: no shown score, too few answers; refused with both, nothing stored.
    with pytest.raises(issuance.NotEligible) as refused:
        await issuance.issue(
            [issuance.Request(Kind.MERCHANT, city.other_merchant)],
            actor=TEST_ACTOR,
            policy=LENIENT,
            credit_rules=RULES,
        )
    assert [e.field for e in refused.value.errors] == ["score", "n"]
    assert refused.value.errors[1].message == "5 (needs ≥ 30)"
    assert await Certificate.all().count() == 1
    assert issuance.add_years(datetime(2028, 2, 29, tzinfo=UTC), 2).day == 28


async def _certificate(kind: Kind, code: str, name: str, serial: str, now: datetime) -> Certificate:
    cert = await Certificate.create(
        serial=serial,
        kind=kind,
        subject_code=code,
        subject_name=name,
        policy_version=POLICY.version,
        issued_by="test",
        issued_at=now,
        valid_from=now,
        valid_until=now + timedelta(days=730),
        status=Status.ACTIVE,
        status_changed_at=now,
    )
    await StatusChange.create(
        certificate=cert, at=now, new_status=Status.ACTIVE, reason="issued", actor="test"
    )
    return cert


async def _certified_merchant_and_street(city: City) -> tuple[Certificate, Certificate, datetime]:
    """The test city's merchant and its street, both certified ten days ago."""
    issued_at = datetime.now(UTC) - timedelta(days=10)
    merchant = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000001-O", issued_at
    )
    street = await _certificate(
        Kind.STREET, city.street, "解放路步行街", "ZMD-2026-ST-000001-B", issued_at
    )
    return merchant, street, issued_at


async def test_a_credit_drop_revokes_and_suspends_in_the_same_transaction(
    client: httpx.AsyncClient,
) -> None:
    revocation.register(POLICY)
    city = await make_city()
    merchant, street, issued_at = await _certified_merchant_and_street(city)
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    fine = {
        "uscc": city.merchant,
        "kind": "penalty_major",
        "occurred_at": datetime.now(UTC).isoformat(),
        "source": "sfgs",
        "external_ref": "P-1",
        "note": "价格欺诈",
    }
    r = await client.post("/api/v1/credit/events", json={"events": [fine]})
    assert r.status_code == 200 and r.json()["merchants_changed"] == 1

    # 100 − 30 = 70 < 75: revoked, with the credit evidence; the street re-judged and held.
    merchant = await Certificate.get(id=merchant.id)
    assert (merchant.status, merchant.status_reason) == (Status.REVOKED, "credit_below_threshold")
    change = await StatusChange.filter(certificate_id=merchant.id).order_by("-id").first()
    assert change is not None and change.evidence["credit_after"] == {
        "score": 70.0,
        "class": "C",
        "serious_listed": False,
    }
    street = await Certificate.get(id=street.id)
    assert (street.status, street.status_reason) == (Status.SUSPENDED, "criteria_failed")
    assert street.grace_until is not None
    assert street.grace_until - street.status_changed_at == timedelta(days=POLICY.grace_days)
    assert await AuditEvent.filter(action="certificate.revoked", subject=merchant.serial).exists()
    topics = [str(t) for t in await OutboxMessage.all().values_list("topic", flat=True)]
    assert topics == ["certificate.status_changed", "certificate.status_changed"]

    # Anyone sees it: the certificate now, the certificate before, and the status list.
    del client.headers["authorization"]
    now_view = (await client.get(f"/api/v1/certificates/{merchant.serial}")).json()
    assert (now_view["status"], now_view["reason"]) == ("revoked", "credit_below_threshold")
    then = (issued_at + timedelta(days=1)).isoformat()
    before = await client.get(f"/api/v1/certificates/{merchant.serial}", params={"at": then})
    assert before.json()["status"] == "active"
    early = (issued_at - timedelta(days=1)).isoformat()
    not_yet = await client.get(f"/api/v1/certificates/{merchant.serial}", params={"at": early})
    assert not_yet.status_code == 404
    listing = await client.get("/api/v1/certificates/status-list")
    statuses = {c["serial"]: c["status"] for c in listing.json()["certificates"]}
    assert statuses == {merchant.serial: "revoked", street.serial: "suspended"}
    again = await client.get(
        "/api/v1/certificates/status-list", headers={"if-none-match": listing.headers["etag"]}
    )
    assert again.status_code == 304

    # The page the QR code opens, on a phone, in Chinese: each check and the live status.
    page = await client.get(f"/verify/{merchant.serial}", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "已撤销" in page.text and "信用分低于标准" in page.text and "老王烩面馆" in page.text
    assert "驻马店市市场监督管理局" in page.text
    held = await client.get(f"/verify/{street.serial}", headers={"accept": "text/html"})
    assert "已暂停" in held.text and "不再符合条件" in held.text
    typo = merchant.serial[:-1] + ("A" if merchant.serial[-1] != "A" else "B")
    missing = await client.get(f"/verify/{typo}", headers={"accept": "text/html"})
    assert missing.status_code == 404 and "校验位不符" in missing.text


async def test_a_failure_in_the_cascade_rolls_the_credit_event_back(
    client: httpx.AsyncClient,
) -> None:
    revocation.register(POLICY)
    city = await make_city()
    now = datetime.now(UTC)
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000002-M", now
    )

    async def fails_after(conn: BaseDBAsyncClient, batch: Sequence[CreditChanged]) -> None:
        raise RuntimeError("the outbox is full")

    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    with events.listening(CreditChanged, fails_after):
        r = await client.post(
            "/api/v1/credit/events",
            json={
                "events": [
                    {
                        "uscc": city.merchant,
                        "kind": "serious_list_added",
                        "occurred_at": now.isoformat(),
                        "source": "sfgs",
                        "external_ref": "S-1",
                    }
                ]
            },
        )
    assert r.status_code == 500
    # The revocation ran before the failing listener, and went with everything else.
    assert (await Certificate.get(id=cert.id)).status == Status.ACTIVE
    assert await CreditEvent.all().count() == 0
    assert not await AuditEvent.filter(action="certificate.revoked").exists()
    assert await OutboxMessage.all().count() == 0  # the notification went with it


async def test_officials_issue_over_the_api_and_are_told_why_not(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await commit_to_returns(city.merchant, city.other_merchant)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    r = await client.post(
        "/api/v1/certificates", json={"kind": "merchant", "subject": city.merchant}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"score", "n"}
    missing = await client.post("/api/v1/certificates", json={"kind": "street", "subject": "NOPE"})
    assert missing.status_code == 404
    assert await Certificate.all().count() == 0


async def test_a_city_wide_change_beyond_one_query_still_reaches_the_certificates(
    db: Settings,
) -> None:
    # A new rule table can move every merchant of the city at once: more changes than one
    # query may bind values (32,767 on PostgreSQL), the certified merchant last among them.
    from tortoise.transactions import in_transaction

    from service.kernel.events import CreditState
    from service.kernel.models import Merchant

    revocation.register(POLICY)
    city = await make_city()
    merchant, street, _ = await _certified_merchant_and_street(city)
    before, after = CreditState(100.0, "A", False, False), CreditState(70.0, "C", False, False)
    now = datetime.now(UTC)
    changes = [
        CreditChanged(10_000_000 + i, f"9141170000X{i:07d}", before, after, "recompute", (), now)
        for i in range(40_000)
    ]
    certified = await Merchant.get(uscc=city.merchant)
    changes.append(CreditChanged(certified.id, city.merchant, before, after, "recompute", (), now))
    async with in_transaction() as tx:
        await events.emit(tx, changes)
    assert (await Certificate.get(id=merchant.id)).status == Status.REVOKED
    assert (await Certificate.get(id=street.id)).status == Status.SUSPENDED
