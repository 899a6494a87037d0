"""Regressions for an attacker's probe: CSRF decided on the authenticated session, bad tokens
rate limited, cookies bound and secured, and oversized bodies answered with a clean 413."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from service.kernel.i18n import LOCALE_COOKIE
from service.kernel.models import ApiToken, Role
from service.kernel.security import CSRF_COOKIE, SESSION_COOKIE
from service.kernel.settings import Settings, load_settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process
from tests.helpers import csrf, free_port, login, make_account, make_token

FANGXIN = str(Path(sys.executable).parent / "fangxin")
TWELVE_MB = 12 * 1024 * 1024


def set_cookies(r: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers of one response, by cookie name."""
    found: dict[str, str] = {}
    for header in r.headers.get_list("set-cookie"):
        name = header.split("=", 1)[0].strip()
        found[name] = header
    return found


async def _admin_and_token(client: httpx.AsyncClient) -> int:
    await make_account("admin1", Role.ADMIN)
    await make_token(Role.FEED, name="victim-token")
    assert await login(client, "admin1") == 303
    stored = await ApiToken.get(name="victim-token")
    return stored.id


# 1. CSRF: decided by how the request authenticated, never by text in the Cookie header.


@pytest.mark.parametrize(
    "planted",
    [
        "xfangxin_session=null",
        "fangxin_session_x=null",
        "a=fangxin_session=null",
        "fangxin_sessionnull=1",
        'x="fangxin_session=null"',
    ],
)
async def test_planted_cookie_text_does_not_skip_csrf_for_a_session(
    client: httpx.AsyncClient, planted: str
) -> None:
    token_id = await _admin_and_token(client)
    sid = client.cookies.get(SESSION_COOKIE)
    assert sid
    for header in (f"{SESSION_COOKIE}={sid}; {planted}", f"{planted}; {SESSION_COOKIE}={sid}"):
        r = await client.post(
            f"/api/v1/tokens/{token_id}/revoke",
            headers={"cookie": header, "origin": "https://evil.example"},
        )
        assert r.status_code == 403, (header, r.status_code, r.text)
    assert (await ApiToken.get(id=token_id)).revoked_at is None


async def test_bearer_token_without_cookies_needs_no_csrf(app_settings: Settings) -> None:
    await empty_database(app_settings)
    async with serve_in_process(make_app(app_settings), BASE_URL) as c:
        plain = await make_token(Role.ADMIN, name="admin-machine")
        await make_token(Role.FEED, name="victim-token")
        token_id = (await ApiToken.get(name="victim-token")).id
        r = await c.post(
            f"/api/v1/tokens/{token_id}/revoke", headers={"authorization": f"Bearer {plain}"}
        )
        assert r.status_code == 200, r.text
        assert not c.cookies


# 2. Every request counts towards the rate limit, including those that fail authentication.


async def test_bad_bearer_tokens_are_rate_limited(app_settings: Settings) -> None:
    await empty_database(app_settings)
    app = make_app(replace(app_settings, rate_limit_per_minute=5))
    async with serve_in_process(app, BASE_URL) as c:
        statuses = [
            (await c.get("/api/v1/areas", headers={"authorization": "Bearer fx_guess"})).status_code
            for _ in range(8)
        ]
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 3


# 3. Cookies.


async def test_a_csrf_token_from_before_login_is_refused_after_login(
    client: httpx.AsyncClient,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    before = await csrf(client)
    r = await client.post(
        "/login",
        data={"username": "ofc", "password": "correct-horse-battery", "_csrf_token": before},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert CSRF_COOKIE in set_cookies(r), "login issues a new CSRF cookie"
    after = client.cookies.get(CSRF_COOKIE)
    assert after and after != before
    body = {"code": "T1", "kind": "city", "name_zh": "测试市", "name_en": "Test City"}
    # The pre-login token, even sent as cookie and header together (a planted pair), fails.
    sid = client.cookies.get(SESSION_COOKIE)
    r = await client.post(
        "/api/v1/areas",
        json=body,
        headers={
            "x-csrftoken": before,
            "cookie": f"{SESSION_COOKIE}={sid}; {CSRF_COOKIE}={before}",
        },
    )
    assert r.status_code == 403
    r = await client.post("/api/v1/areas", json=body, headers={"x-csrftoken": after})
    assert r.status_code == 201, r.text


async def test_a_csrf_token_of_another_session_is_refused(app_settings: Settings) -> None:
    await empty_database(app_settings)
    async with serve_in_process(make_app(app_settings), BASE_URL) as attacker:
        await make_account("victim", Role.OFFICIAL)
        await make_account("mallory", Role.OFFICIAL)
        assert await login(attacker, "mallory") == 303
        planted = await csrf(attacker)
        async with httpx.AsyncClient(transport=attacker._transport, base_url=BASE_URL) as victim:
            assert await login(victim, "victim") == 303
            sid = victim.cookies.get(SESSION_COOKIE)
            r = await victim.post(
                "/logout",
                data={"_csrf_token": planted},
                headers={"cookie": f"{SESSION_COOKIE}={sid}; {CSRF_COOKIE}={planted}"},
                follow_redirects=False,
            )
            assert r.status_code == 403


async def test_logout_issues_a_fresh_csrf_cookie(client: httpx.AsyncClient) -> None:
    await make_account("ofc", Role.OFFICIAL)
    assert await login(client, "ofc") == 303
    r = await client.post(
        "/logout", data={"_csrf_token": await csrf(client)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert CSRF_COOKIE in set_cookies(r)
    # The next sign-in works with the cookie logout left behind.
    assert await login(client, "ofc") == 303


@pytest.fixture
async def production(migrated: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        {
            "FANGXIN_DATA_DIR": str(migrated.data_dir),
            "FANGXIN_DATABASE_URL": migrated.database_url,
            "FANGXIN_ENV": "production",
        }
    )
    assert settings.production
    await empty_database(settings)
    async with serve_in_process(make_app(settings), "https://testserver.local") as c:
        yield c


async def test_production_cookies_are_secure_and_hsts_is_sent(
    production: httpx.AsyncClient,
) -> None:
    c = production
    await make_account("prod", Role.OFFICIAL)
    r = await c.get("/login")
    assert "max-age=31536000" in r.headers["strict-transport-security"]
    assert "Secure" in set_cookies(r)[CSRF_COOKIE]
    token = c.cookies.get(CSRF_COOKIE)
    r = await c.post(
        "/login",
        data={"username": "prod", "password": "correct-horse-battery", "_csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookies = set_cookies(r)
    assert "Secure" in cookies[SESSION_COOKIE] and "HttpOnly" in cookies[SESSION_COOKIE]
    assert "Secure" in cookies[CSRF_COOKIE]
    assert "max-age=31536000" in r.headers["strict-transport-security"]
    r = await c.get("/", params={"lang": "en"})
    assert "Secure" in set_cookies(r)[LOCALE_COOKIE]
    for path in ("/healthz", "/api/v1/areas", "/no-such-page"):
        assert "includeSubDomains" in (await c.get(path)).headers["strict-transport-security"]


async def test_the_language_switch_sets_only_the_language_cookie(
    client: httpx.AsyncClient,
) -> None:
    store = client._transport.app.stores.get("sessions")  # type: ignore[attr-defined]
    r = await client.get("/", params={"lang": "en"})
    assert r.status_code == 200
    assert set(set_cookies(r)) == {LOCALE_COOKIE}
    r = await client.get("/login", params={"lang": "en"})
    assert set(set_cookies(r)) == {LOCALE_COOKIE}
    assert await store.exists(SESSION_COOKIE) is False
    # Signed in: switching language touches neither the session nor the CSRF token.
    await make_account("ofc", Role.OFFICIAL)
    assert await login(client, "ofc") == 303
    sid, token = client.cookies.get(SESSION_COOKIE), client.cookies.get(CSRF_COOKIE)
    r = await client.get("/account", params={"lang": "zh"})
    assert r.status_code == 200
    assert set(set_cookies(r)) == {LOCALE_COOKIE}
    assert (client.cookies.get(SESSION_COOKIE), client.cookies.get(CSRF_COOKIE)) == (sid, token)
    assert (await client.get("/account")).status_code == 200


# 4. Oversized bodies: a clean 413, never a dropped connection.


def _big_json() -> bytes:
    return b'{"answers": "' + b"a" * TWELVE_MB + b'"}'


def _big_form() -> bytes:
    return b"username=x&password=" + b"a" * TWELVE_MB


async def test_a_12_mb_json_body_gets_a_problem_413(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/api/v1/surveys/nope/responses",
        content=_big_json(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 413


async def test_a_12_mb_form_body_gets_a_413(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/s/nope/NOPE"):
        r = await client.post(
            path,
            content=_big_form(),
            headers={"content-type": "application/x-www-form-urlencoded", "accept": "text/html"},
        )
        assert r.status_code == 413, path


async def test_a_12_mb_chunked_body_gets_a_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(12):
            yield b"a" * (1024 * 1024)

    r = await client.post(
        "/api/v1/surveys/nope/responses",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("application/problem+json")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "production"}
    env.pop("FANGXIN_DATABASE_URL", None)
    subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True, text=True)
    port = free_port()
    proc = subprocess.Popen(
        [FANGXIN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /healthz within 30 s")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_served_server_answers_12_mb_bodies_with_413(served: str) -> None:
    with httpx.Client(base_url=served, timeout=30) as c:
        r = c.post(
            "/api/v1/surveys/nope/responses",
            content=_big_json(),
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 413
        assert r.headers["content-type"].startswith("application/problem+json")
        for path in ("/login", "/s/nope/NOPE"):
            r = c.post(
                path,
                content=_big_form(),
                headers={"content-type": "application/x-www-form-urlencoded"},
            )
            assert r.status_code == 413, path
        # The connection (or a new one) still serves the next request.
        assert c.get("/healthz").status_code == 200
