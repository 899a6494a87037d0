"""The verify page is rendered once per state, and never shows a state that has passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from certificates import verify_cache
from certificates.models import Certificate
from certificates.policy import Kind
from service.kernel.models import Role
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.surveys.conftest import make_city

HTML = {"accept": "text/html"}


async def test_each_scan_shows_the_live_state_though_the_page_is_kept(
    client: httpx.AsyncClient,
) -> None:
    verify_cache.PAGES.clear()
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000007-C", datetime.now(UTC)
    )
    url = f"/verify/{cert.serial}"
    first = await client.get(url, headers=HTML)
    assert first.status_code == 200 and "有效" in first.text
    assert first.headers["content-type"].startswith("text/html")
    state = await verify_cache.fingerprint(cert.serial, datetime.now(UTC))
    assert state is not None
    assert verify_cache.PAGES.get((cert.serial, "zh_CN"), state) == first.content
    assert (await client.get(url, headers=HTML)).content == first.content  # served as kept

    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post(
        f"/api/v1/certificates/{cert.serial}/suspend",
        json={"reason": "mystery_shopping", "note": "暗访未明码标价"},
        headers=official,
    )
    assert r.status_code == 200
    held = await client.get(url, headers=HTML)
    assert "已暂停" in held.text and "暗访未明码标价" in held.text

    # A reply changes the page without changing the status.
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    merchant = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with merchant:
        assert await login(merchant, "laowang") == 303
        merchant.headers["x-csrftoken"] = await csrf(merchant)
        sent = await merchant.post(
            f"/api/v1/certificates/{cert.serial}/replies", json={"text": "已整改"}
        )
        assert sent.status_code == 201
        # A signed-in visitor is never served the anonymous page.
        own = await merchant.get(url, headers=HTML)
        assert "_csrf_token" in own.text  # the sign-out form of a signed-in page
    replied = await client.get(url, headers=HTML)
    assert "已整改" in replied.text
    decided = await client.post(
        f"/api/v1/certificates/replies/{sent.json()['id']}/decision",
        json={"decision": "dismissed", "note": "整改不到位"},
        headers=official,
    )
    assert decided.status_code == 200
    assert "整改不到位" in (await client.get(url, headers=HTML)).text

    # Expiry is by date: the kept page of a valid certificate is not served past its end.
    stored = await Certificate.get(id=cert.id)
    later = stored.valid_until + timedelta(seconds=1)
    assert await verify_cache.fingerprint(cert.serial, later) != await verify_cache.fingerprint(
        cert.serial, datetime.now(UTC)
    )
    assert await verify_cache.fingerprint("ZMD-2026-M-999999-X", datetime.now(UTC)) is None


def test_the_kept_pages_are_bounded() -> None:
    pages = verify_cache.RenderedPages(size=2)
    for n in range(3):
        pages.put((f"S{n}", "zh_CN"), ("active",), b"page")
    assert pages.get(("S0", "zh_CN"), ("active",)) is None  # the oldest went first
    assert pages.get(("S2", "zh_CN"), ("active",)) == b"page"
    assert pages.get(("S2", "zh_CN"), ("revoked",)) is None  # another state: not this page
