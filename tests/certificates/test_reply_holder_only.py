"""Only the holder writes "the holder's reply"; the bureau's words are labelled as its own."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from certificates.models import Reply
from certificates.policy import Kind
from service.kernel.models import Role
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.surveys.conftest import make_city


async def test_officials_cannot_reply_in_the_holders_name(client: httpx.AsyncClient) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000017-C", datetime.now(UTC)
    )
    url = f"/api/v1/certificates/{cert.serial}/replies"
    for role in (Role.OFFICIAL, Role.ADMIN):
        headers = {"authorization": f"Bearer {await make_token(role, f'{role.value}-bot')}"}
        if role == Role.OFFICIAL:
            r = await client.post(
                f"/api/v1/certificates/{cert.serial}/revoke",
                json={"reason": "false_advertising", "note": "宣传不实"},
                headers=headers,
            )
            assert r.status_code == 200, r.text
        r = await client.post(url, json={"text": "商户承认错误"}, headers=headers)
        assert r.status_code == 403, r.text
    assert await Reply.all().count() == 0

    # A signed-in official, with a session, is refused as well.
    await make_account("ofc", Role.OFFICIAL)
    assert await login(client, "ofc") == 303
    r = await client.post(
        url, json={"text": "商户承认错误"}, headers={"x-csrftoken": await csrf(client)}
    )
    assert r.status_code == 403
    assert await Reply.all().count() == 0


async def test_the_holder_replies_and_the_decision_is_the_bureaus(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000018-A", datetime.now(UTC)
    )
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    await client.post(
        f"/api/v1/certificates/{cert.serial}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    assert await login(client, "laowang") == 303
    r = await client.post(
        f"/api/v1/certificates/{cert.serial}/replies",
        json={"text": "已整改"},
        headers={"x-csrftoken": await csrf(client)},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        f"/api/v1/certificates/replies/{r.json()['id']}/decision",
        json={"decision": "dismissed", "note": "整改不到位"},
        headers=official,
    )
    assert r.status_code == 200
    page = await client.get(f"/verify/{cert.serial}", headers={"accept": "text/html"})
    holder, _, bureau = page.text.partition("市场监管局的决定")
    assert "已整改" in holder and "整改不到位" in bureau and "整改不到位" not in holder
