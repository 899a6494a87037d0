"""Eligibility gathered from the published run, credit, complaints and certificates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

import certificates
from certificates import eligibility
from certificates.models import Certificate, Status
from certificates.policy import Kind, Policy
from scoring.credit import complaints
from scoring.credit import store as credit_store
from scoring.credit.schemas import ComplaintIn, CreditEventIn
from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.helpers import TEST_ACTOR, commit_to_returns, csrf, login, make_account, make_token
from tests.scoring.satisfaction.test_pages import _responses
from tests.surveys.conftest import make_city

POLICY = Policy.load()
RULES = credit_store.rules_for(None)


async def test_facts_come_from_the_published_run_credit_complaints_and_certificates(
    db: Settings,
) -> None:
    city = await make_city()
    await _responses(city.merchant, 31, db.secret_key)
    await _responses(city.other_merchant, 5, db.secret_key)
    run = await runs.run_now(runs.parse_params({}), db, actor=TEST_ACTOR, publish=True)
    now = datetime.now(UTC)
    await credit_store.ingest_events(
        [
            CreditEventIn(
                city.other_merchant,
                "penalty_major",
                (now - timedelta(days=100)).isoformat(),
                "sfgs",
                "P-1",
            )
        ],
        actor=TEST_ACTOR,
        rules=RULES,
        now=now,
    )
    received = (now - timedelta(days=40)).isoformat()
    closed = (now - timedelta(days=38)).isoformat()
    await complaints.ingest_complaints(
        [
            ComplaintIn(
                external_id="K-1",
                uscc=city.merchant,
                received_at=received,
                status="closed",
                category="price",
                accepted_at=closed,
                closed_at=closed,
                upheld=False,
            ),
            ComplaintIn(
                external_id="K-2",
                uscc=city.merchant,
                received_at=received,
                status="received",
                category="price",
            ),
        ],
        actor=TEST_ACTOR,
        rules=RULES,
        now=now,
    )
    await Certificate.create(
        serial="ZMD-2026-M-000001-X",
        kind=Kind.MERCHANT,
        subject_code=city.merchant,
        subject_name="老王烩面馆",
        policy_version=POLICY.version,
        issued_by="test",
        issued_at=now,
        valid_from=now,
        valid_until=now + timedelta(days=730),
        status=Status.ACTIVE,
        status_changed_at=now,
    )

    found = {e.code: e for e in await eligibility.evaluate_all(POLICY, RULES, now)}
    published = await UnitScore.get(run_id=run.id, kind="merchant", code=city.merchant)
    first = {c.key: c for c in found[city.merchant].criteria}
    assert (first["score"].value, first["n"].value) == (published.score, 31)
    assert first["credit_class"].value == "A"
    second = {c.key: c for c in found[city.other_merchant].criteria}
    # Five responses: too few for a shown score; a major penalty 100 days ago: 100 − 30 → C.
    assert second["score"].value is None and not second["score"].passed
    assert second["credit_class"].value == "C"
    assert second["major_penalty"].passed is False

    street = {c.key: c for c in found[city.street].criteria}
    assert street["certified_share"].value == 0.5  # one of its two merchants
    # One of the two complaints of the last year closed: 50%.
    assert street["closure_rate"].value == 0.5 and not street["closure_rate"].passed
    assert found[city.street].kind == Kind.STREET
    assert not found[city.street].eligible


async def test_officials_read_each_criterion_on_the_eligibility_page(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    await _responses(city.merchant, 31, app_settings.secret_key)
    await runs.run_now(runs.parse_params({}), app_settings, actor=TEST_ACTOR, publish=True)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    client.headers["accept"] = "text/html"
    page = await client.get("/official/certificates/eligibility", params={"kind": "street"})
    assert page.status_code == 200
    assert "解放路步行街" in page.text and "已获证商户占比" in page.text
    assert "未达到" in page.text and "不符合条件" in page.text
    merchants = await client.get(
        "/official/certificates/eligibility", params={"kind": "merchant", "show": "failing"}
    )
    # The second merchant has no responses: it fails on its score, shown as "—".
    assert "天中超市" in merchants.text
    bad = await client.get("/official/certificates/eligibility", params={"kind": "planet"})
    assert bad.status_code in (400, 422)


async def test_an_official_issues_from_the_eligibility_page(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    from certificates import policy as policy_module
    from certificates.models import Certificate

    city = await make_city()
    await _responses(city.merchant, 31, app_settings.secret_key)
    await runs.run_now(runs.parse_params({}), app_settings, actor=TEST_ACTOR, publish=True)
    await make_account("issuer", Role.OFFICIAL)
    assert await login(client, "issuer") == 303
    token = await csrf(client)
    # Nothing ticked: back to the page with a message, nothing issued.
    r = await client.post(
        "/official/certificates/issue",
        data={"_csrf_token": token, "kind": "merchant"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "error=none" in r.headers.get("location", r.text), r.text
    # An ineligible subject ticked (crafted form): refused, the reason shown, nothing issued.
    r = await client.post(
        "/official/certificates/issue",
        data={"_csrf_token": token, "kind": "merchant", "subject": [city.other_merchant]},
        follow_redirects=False,
    )
    page = await client.get(r.headers["location"])
    assert "score" in page.text and await Certificate.all().count() == 0
    assert policy_module.Policy.load().merchant.min_n == 30


async def test_ticked_eligible_subjects_are_issued_from_the_page(
    app_settings: Settings, tmp_path: Path
) -> None:
    from certificates.models import Certificate
    from tests.conftest import empty_database, make_app, serve_in_process, with_env

    # A city whose policy asks any published score: the test merchant qualifies.
    lenient = tmp_path / "policy.toml"
    text = (Path(certificates.__file__).parent / "policy.toml").read_text(encoding="utf-8")
    lenient.write_text(text.replace("min_score = 80.0", "min_score = 0.0", 1), encoding="utf-8")
    settings = with_env(app_settings, certificate_policy=lenient)
    await empty_database(settings)
    async with serve_in_process(make_app(settings), "http://test") as client:
        city = await make_city()
        await commit_to_returns(city.merchant, city.other_merchant)
        await _responses(city.merchant, 31, settings.secret_key)
        await runs.run_now(runs.parse_params({}), settings, actor=TEST_ACTOR, publish=True)
        await make_account("issuer", Role.OFFICIAL)
        assert await login(client, "issuer") == 303
        page = await client.get("/official/certificates/eligibility", params={"kind": "merchant"})
        assert f'name="subject" value="{city.merchant}"' in page.text
        r = await client.post(
            "/official/certificates/issue",
            data={"_csrf_token": await csrf(client), "kind": "merchant", "subject": city.merchant},
            follow_redirects=False,
        )
        assert r.headers["location"].endswith("issued=1")
        cert = await Certificate.get(subject_code=city.merchant)
        assert cert.issued_by == "account:issuer"
        after = await client.get(r.headers["location"])
        assert "已颁发 1 张证书" in after.text and "已持证" in after.text
