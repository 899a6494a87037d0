"""Sign-in, sessions, lockout, CSRF and API tokens over real HTTP."""

from __future__ import annotations

from dataclasses import replace

import httpx

from service.kernel import accounts
from service.kernel.models import Account, AuditEvent, Role
from service.kernel.security import SESSION_COOKIE
from service.kernel.settings import Settings
from tests.conftest import make_app, serve_in_process
from tests.helpers import TEST_ACTOR, csrf, login, make_account, make_token


async def test_login_sets_an_httponly_lax_session_and_shows_the_account(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    token = await csrf(client)
    r = await client.post(
        "/login",
        data={
            "username": "ofc",
            "password": "correct-horse-battery",
            "next": "/account",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/account"
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # development: plain http
    page = await client.get("/account")
    assert page.status_code == 200
    assert "ofc" in page.text


async def test_login_never_redirects_off_site(client: httpx.AsyncClient) -> None:
    await make_account("ofc", Role.OFFICIAL)
    token = await csrf(client)
    r = await client.post(
        "/login",
        data={
            "username": "ofc",
            "password": "correct-horse-battery",
            "next": "https://evil.example/",
            "_csrf_token": token,
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/"


async def test_session_id_rotates_at_login_and_the_old_id_is_dead(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    # A fixation attempt: the visitor arrives with a session id chosen by someone else.
    client.cookies.set(SESSION_COOKIE, "a" * 64, domain="testserver.local")
    assert await login(client, "ofc") == 303
    first = client.cookies.get(SESSION_COOKIE)
    assert first and first != "a" * 64
    assert await login(client, "ofc") == 303
    second = client.cookies.get(SESSION_COOKIE)
    assert second and second != first
    # Replaying the first id gets nothing: it was deleted from the store at the second login.
    client.cookies.set(SESSION_COOKIE, first, domain="testserver.local")
    r = await client.get("/account", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/login")


async def test_logout_kills_the_session(client: httpx.AsyncClient) -> None:
    await make_account("ofc", Role.OFFICIAL)
    assert await login(client, "ofc") == 303
    sid = client.cookies.get(SESSION_COOKIE)
    r = await client.post(
        "/logout", data={"_csrf_token": await csrf(client)}, follow_redirects=False
    )
    assert r.status_code == 303
    client.cookies.set(SESSION_COOKIE, sid or "", domain="testserver.local")
    r = await client.get("/account", follow_redirects=False)
    assert r.status_code == 303  # back to the login page: the id no longer opens a session


async def test_form_post_without_csrf_token_is_rejected(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    await csrf(client)  # the cookie alone is not enough
    r = await client.post(
        "/login",
        data={"username": "ofc", "password": "correct-horse-battery"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert client.cookies.get(SESSION_COOKIE) is None


async def test_five_failures_from_one_address_throttle_it_and_are_audited(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    for _ in range(5):
        assert await login(client, "ofc", "wrong-password!") == 401
    account = await Account.get(username="ofc")
    assert account.failed_logins == 5
    # One address guessing never locks the account itself …
    assert account.locked_until is None
    # … but that address now waits, and even the right password is refused there, with the
    # same answer as a wrong one.
    token = await csrf(client)
    r = await client.post(
        "/login",
        data={"username": "ofc", "password": "correct-horse-battery", "_csrf_token": token},
    )
    assert r.status_code == 401
    assert "用户名或密码错误" in r.text and "锁定" not in r.text
    events = await AuditEvent.filter(subject="account:ofc").values("action", "details")
    actions = [str(e["action"]) for e in events]
    assert actions.count("login.failed") == 5
    assert "login.throttled" in actions
    # The address is kept only as a keyed hash.
    addresses = {e["details"]["address"] for e in events if e["action"] == "login.failed"}
    assert len(addresses) == 1 and len(next(iter(addresses))) == 64
    assert "127.0.0.1" not in str(events)


async def test_lock_expires_after_the_lockout(db: Settings) -> None:
    from datetime import UTC, datetime, timedelta

    import pytest

    from service.kernel.errors import LoginFailed

    await make_account("ofc", Role.OFFICIAL)
    t0 = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
    lockout = timedelta(minutes=15)
    # Failures from ten addresses within the hour lock the account for everyone new.
    for i in range(accounts.LOCK_ADDRESSES):
        with pytest.raises(LoginFailed):
            await accounts.authenticate(
                "ofc",
                "nope-nope-nope",
                max_failures=5,
                lockout=lockout,
                address=f"guesser-{i}",
                now=t0,
            )
    assert (await Account.get(username="ofc")).locked_until == t0 + lockout
    with pytest.raises(LoginFailed):
        await accounts.authenticate(
            "ofc",
            "correct-horse-battery",
            max_failures=5,
            lockout=lockout,
            address="holder",
            now=t0 + timedelta(minutes=14),
        )
    ok = await accounts.authenticate(
        "ofc",
        "correct-horse-battery",
        max_failures=5,
        lockout=lockout,
        address="holder",
        now=t0 + timedelta(minutes=16),
    )
    assert ok.failed_logins == 0 and ok.locked_until is None


async def test_unknown_user_and_wrong_password_look_the_same(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    token = await csrf(client)
    a = await client.post(
        "/login", data={"username": "ofc", "password": "nope-nope-nope", "_csrf_token": token}
    )
    b = await client.post(
        "/login", data={"username": "ghost", "password": "nope-nope-nope", "_csrf_token": token}
    )
    assert a.status_code == b.status_code == 401
    assert "用户名或密码错误" in a.text
    assert "用户名或密码错误" in b.text


async def test_bearer_token_works_and_a_revoked_one_gets_401(
    client: httpx.AsyncClient,
) -> None:
    plain = await make_token(Role.OFFICIAL)
    body = {"code": "T1", "kind": "city", "name_zh": "测试市", "name_en": "Test City"}
    r = await client.post("/api/v1/areas", json=body, headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 201, r.text
    token = await accounts.principal_for_token(plain)
    assert token is not None and token.token_id is not None
    await accounts.revoke_token(token.token_id, actor=TEST_ACTOR)
    r = await client.get("/api/v1/areas", headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
    r = await client.get("/api/v1/areas", headers={"Authorization": "Bearer fx_madeup"})
    assert r.status_code == 401


async def test_tokens_are_stored_only_as_hashes(db: Settings) -> None:
    import hashlib

    from service.kernel.models import ApiToken

    plain = await make_token(Role.FEED)
    stored = await ApiToken.get(name="machine")
    assert stored.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in str(await ApiToken.all().values())


async def test_session_user_posting_json_to_the_api_needs_the_csrf_header(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    assert await login(client, "ofc") == 303
    body = {"code": "T1", "kind": "city", "name_zh": "测试市", "name_en": "Test City"}
    r = await client.post("/api/v1/areas", json=body)
    assert r.status_code == 403
    r = await client.post("/api/v1/areas", json=body, headers={"x-csrftoken": await csrf(client)})
    assert r.status_code == 201, r.text


async def test_production_cookies_are_secure(migrated: Settings) -> None:
    from service.kernel import db as dbm

    settings = replace(migrated, env="production")
    await dbm.init_db(settings)
    try:
        await make_account("prod", Role.OFFICIAL)
    finally:
        await dbm.close_db()
    async with serve_in_process(make_app(settings), "https://testserver.local") as c:
        assert await login(c, "prod") == 303
        r = await c.get("/healthz")
        assert "max-age=31536000" in r.headers["strict-transport-security"]
    # The session cookie was issued with Secure (httpx keeps it only for https).
    assert c.cookies.get(SESSION_COOKIE) is not None
