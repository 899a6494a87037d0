"""The holder's reply within 21 days, the official decision, and both on the verify page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from certificates.models import Certificate, Status
from certificates.policy import Kind
from service.kernel.models import Role
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.surveys.conftest import make_city


async def test_a_merchant_replies_and_an_official_upholds(client: httpx.AsyncClient) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000007-C", datetime.now(UTC)
    )
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    # Nothing to reply to while the certificate is active.
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    await make_account("tianzhong", Role.MERCHANT, merchant_uscc=city.other_merchant)
    assert await login(client, "laowang") == 303
    client.headers["x-csrftoken"] = await csrf(client)
    url = f"/api/v1/certificates/{cert.serial}/replies"
    assert (await client.post(url, json={"text": "我们没有问题"})).status_code == 409

    r = await client.post(
        f"/api/v1/certificates/{cert.serial}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    assert r.status_code == 200
    assert (await client.post(url, json={"text": " "})).status_code == 422
    sent = await client.post(url, json={"text": "宣传用语已整改，附整改报告。"})
    assert sent.status_code == 201, sent.text
    reply_id = sent.json()["id"]
    assert (await client.post(url, json={"text": "再说一次"})).status_code == 409  # one reply

    page = await client.get(f"/verify/{cert.serial}", headers={"accept": "text/html"})
    assert "宣传用语已整改" in page.text and "等待处理决定" in page.text

    decision = f"/api/v1/certificates/replies/{reply_id}/decision"
    bad = await client.post(decision, json={"decision": "maybe", "note": "x"}, headers=official)
    assert bad.status_code == 422
    upheld = await client.post(
        decision, json={"decision": "upheld", "note": "整改到位，宣传属实"}, headers=official
    )
    assert upheld.status_code == 200 and upheld.json()["decision"] == "upheld"
    stored = await Certificate.get(id=cert.id)
    assert (stored.status, stored.status_reason) == (Status.ACTIVE, "appeal_upheld")
    twice = await client.post(
        decision, json={"decision": "dismissed", "note": "再议"}, headers=official
    )
    assert twice.status_code == 409
    page = await client.get(f"/verify/{cert.serial}", headers={"accept": "text/html"})
    assert "申诉成立" in page.text and "整改到位" in page.text


async def test_only_the_holder_replies_and_only_within_21_days(client: httpx.AsyncClient) -> None:
    city = await make_city()
    long_ago = datetime.now(UTC) - timedelta(days=60)
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000008-A", long_ago
    )
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    await client.post(
        f"/api/v1/certificates/{cert.serial}/suspend",
        json={"reason": "mystery_shopping"},
        headers=official,
    )
    await make_account("tianzhong", Role.MERCHANT, merchant_uscc=city.other_merchant)
    assert await login(client, "tianzhong") == 303
    client.headers["x-csrftoken"] = await csrf(client)
    url = f"/api/v1/certificates/{cert.serial}/replies"
    assert (await client.post(url, json={"text": "不是我们的证书"})).status_code == 404
    # The suspension is fresh; move it back beyond the 21 days and the window is closed.
    from certificates.models import StatusChange

    await StatusChange.filter(certificate_id=cert.id, new_status=Status.SUSPENDED).update(
        at=datetime.now(UTC) - timedelta(days=22)
    )
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    await client.post("/logout", headers={"x-csrftoken": client.headers["x-csrftoken"]})
    del client.headers["x-csrftoken"]  # logging out rotates the CSRF token: the old one is void
    assert await login(client, "laowang") == 303
    client.headers["x-csrftoken"] = await csrf(client)
    late = await client.post(url, json={"text": "迟到的回应"})
    assert late.status_code == 409 and "21" in late.json()["detail"]
