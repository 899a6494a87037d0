"""Administrators manage API tokens and accounts; officials may not."""

from __future__ import annotations

import httpx

from service.kernel.models import Account, ApiToken, Area, AreaKind, AuditEvent, Role
from tests.helpers import csrf, login, make_account, make_token


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


async def _districts() -> None:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    for code, name in (("411702", "驿城区"), ("411721", "西平县")):
        await Area.create(
            code=code, kind=AreaKind.DISTRICT, name_zh=name, name_en=code, parent=city
        )
    await Area.create(
        code="411702-ST01", kind=AreaKind.STREET, name_zh="解放路", name_en="J",
        parent=await Area.get(code="411702"),
    )  # fmt: skip


async def test_an_admin_binds_an_official_to_a_district_by_the_api(
    client: httpx.AsyncClient,
) -> None:
    await _districts()
    client.headers["authorization"] = f"Bearer {await make_token(Role.ADMIN, 'it')}"
    official = {"username": "li.na", "password": "long-enough-pass", "role": "official"}
    r = await client.post("/api/v1/accounts", json={**official, "district": "411702"})
    assert r.status_code == 201 and r.json()["district"] == "411702", r.text
    for bad, role in (("NOPE", "official"), ("411702-ST01", "official"), ("411702", "admin")):
        r = await client.post(
            "/api/v1/accounts",
            json={**official, "username": "wang.fang", "role": role, "district": bad},
        )
        assert r.status_code == 422, (bad, role)
        assert [e["field"] for e in r.json()["errors"]] == ["district"]
    listed = {a["username"]: a["district"] for a in (await client.get("/api/v1/accounts")).json()}
    assert listed == {"li.na": "411702"}


async def test_the_accounts_page_lists_creates_and_moves_officials(
    client: httpx.AsyncClient,
) -> None:
    await _districts()
    await make_account("root.it", Role.ADMIN)
    await make_account("li.na", Role.OFFICIAL)
    assert await login(client, "root.it") == 303
    token = await csrf(client)
    page = await client.get("/official/accounts")
    assert page.status_code == 200 and "li.na" in page.text and "驿城区" in page.text
    assert 'name="_csrf_token"' in page.text

    r = await client.post(
        "/official/accounts",
        data={"username": "wang.fang", "password": "long-enough-pass", "role": "official",
              "district": "411721", "_csrf_token": token},
    )  # fmt: skip
    assert r.status_code == 303 and "error" not in r.headers["location"]
    assert (await Account.get(username="wang.fang")).district_id == (
        await Area.get(code="411721")
    ).id
    # Moved, then given the whole city again: each change audited.
    for district, expected in (("411702", "411702"), ("", None)):
        r = await client.post(
            "/official/accounts/wang.fang/district",
            data={"district": district, "_csrf_token": token},
        )
        assert r.status_code == 303 and "error" not in r.headers["location"]
        account = await Account.filter(username="wang.fang").select_related("district").get()
        assert (account.district.code if account.district else None) == expected
    changes = await AuditEvent.filter(action="account.district_changed").order_by("id")
    assert [e.details for e in changes] == [
        {"from": "411721", "to": "411702"},
        {"from": "411702", "to": None},
    ]
    # A bad one is refused with the reason; an administrator is no district's.
    r = await client.post(
        "/official/accounts/root.it/district", data={"district": "411702", "_csrf_token": token}
    )
    assert r.headers["location"] == "/official/accounts?error=district_not_set"
    page = await client.get(r.headers["location"])
    assert "only official accounts are bound to a district" in page.text
    # Without the CSRF token nothing changes.
    r = await client.post("/official/accounts/wang.fang/district", data={"district": "411702"})
    assert r.status_code == 403
    assert (await Account.get(username="wang.fang")).district_id is None


async def test_the_accounts_page_escapes_what_it_shows(client: httpx.AsyncClient) -> None:
    await make_account("root.it", Role.ADMIN)
    await Area.create(code="X", kind=AreaKind.DISTRICT, name_zh="<script>x</script>", name_en="x")
    assert await login(client, "root.it") == 303
    page = await client.get("/official/accounts")
    assert "<script>x</script>" not in page.text and "&lt;script&gt;" in page.text


async def test_officials_have_no_accounts_page(client: httpx.AsyncClient) -> None:
    await make_account("li.na", Role.OFFICIAL)
    assert await login(client, "li.na") == 303
    assert (await client.get("/official/accounts")).status_code == 403
