"""Administrators manage API tokens and accounts; officials may not."""

from __future__ import annotations

import httpx

from service.models import ApiToken, AuditEvent, Role
from tests.helpers import make_token


async def test_an_admin_creates_lists_and_revokes_tokens(client: httpx.AsyncClient) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.ADMIN, 'it')}"
    r = await client.post("/api/v1/tokens", json={"name": "12315 feed", "role": "feed"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["token"].startswith("fx_")
    listed = (await client.get("/api/v1/tokens")).json()
    assert {t["name"] for t in listed} == {"it", "12315 feed"}
    assert all("token" not in t and "token_hash" not in t for t in listed)
    # The new token works for its role…
    feed = httpx.AsyncClient(
        transport=client._transport,
        base_url=str(client.base_url),
        headers={"authorization": f"Bearer {created['token']}"},
    )
    async with feed:
        assert (await feed.get("/api/v1/tokens")).status_code == 403
        r = await client.post(f"/api/v1/tokens/{created['id']}/revoke")
        assert r.json()["revoked"] is True
        # …until it is revoked.
        assert (await feed.get("/api/v1/areas")).status_code == 401
    assert await AuditEvent.filter(action="token.revoked").exists()
    assert await ApiToken.filter(revoked_at__not_isnull=True).count() == 1


async def test_an_admin_creates_accounts_with_the_same_rules_as_the_cli(
    client: httpx.AsyncClient,
) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.ADMIN, 'it')}"
    r = await client.post(
        "/api/v1/accounts",
        json={"username": "zhang.wei", "password": "long-enough-pass", "role": "official"},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/accounts", json={"username": "x", "password": "short", "role": "merchant"}
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"username", "password", "merchant"}
    accounts = (await client.get("/api/v1/accounts")).json()
    assert [a["username"] for a in accounts] == ["zhang.wei"]
    assert "password" not in str(accounts)


async def test_officials_cannot_administer(client: httpx.AsyncClient) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    assert (await client.get("/api/v1/tokens")).status_code == 403
    assert (await client.post("/api/v1/accounts", json={})).status_code == 403
