"""A new password, a lock or a changed role ends every session of the account (issue 29,
item 4): a cookie taken before it opens nothing afterwards and can declare nothing, on any
worker, while signing in afresh works. The operator's commands run as the operator runs
them, on the test's own database (SQLite or PostgreSQL)."""

from __future__ import annotations

import os

import anyio
import httpx
import msgspec
import pytest

from certificates.commitments.models import Commitment
from service.kernel.models import Account, AuditEvent, Role
from service.kernel.security import SESSION_ACCOUNT_KEY, SESSION_COOKIE
from service.kernel.settings import Settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process
from tests.helpers import csrf, login, make_account
from tests.load.harness import FANGXIN
from tests.surveys.conftest import USCC, make_city

HTML = {"accept": "text/html"}
NEW_PASSWORD = "Lantern river 47 quietly"


async def fangxin(settings: Settings, *args: str, stdin: str = "", status: int = 0) -> str:
    """``fangxin ARGS`` in a process of its own on the test's database; its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(settings.data_dir),
        "FANGXIN_DATABASE_URL": settings.database_url,
        "FANGXIN_ENV": "test",
    }
    result = await anyio.run_process(
        [str(FANGXIN), *args], input=stdin.encode(), env=env, check=False
    )
    assert result.returncode == status, result.stderr.decode()
    return result.stdout.decode() + result.stderr.decode()


async def shut_out(client: httpx.AsyncClient) -> None:
    """This client's session opens no signed-in page and declares no commitment."""
    r = await client.get("/merchant", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    r = await client.get("/account", headers={"accept": "application/json"})
    assert r.status_code == 401
    r = await client.post(
        "/merchant/commitments",
        data={"kind": "returns", "days": "7", "_csrf_token": await csrf(client)},
        follow_redirects=False,
    )
    assert r.status_code in (303, 401, 403), r.text
    assert await Commitment.all().count() == 0


async def signed_in_merchant(client: httpx.AsyncClient) -> None:
    await make_city()
    await make_account("shopkeeper", Role.MERCHANT, merchant_uscc=USCC)
    assert await login(client, "shopkeeper") == 303
    assert (await client.get("/merchant", headers=HTML)).status_code == 200


async def test_a_password_set_by_the_operator_ends_the_sessions_opened_before(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await signed_in_merchant(client)
    out = await fangxin(
        app_settings, "user", "passwd", "shopkeeper", "--password-stdin", stdin=NEW_PASSWORD
    )
    assert "every session of the account has ended" in out
    await shut_out(client)
    # The holder signs in again with the new password, and is in.
    client.cookies.clear()
    assert await login(client, "shopkeeper") == 401  # the old password
    assert await login(client, "shopkeeper", NEW_PASSWORD) == 303
    assert (await client.get("/merchant", headers=HTML)).status_code == 200
    event = await AuditEvent.filter(action="account.password_changed").get()
    assert event.details == {"sessions_ended": True}


async def test_a_lock_ends_the_sessions_for_good_even_after_the_unlock(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await signed_in_merchant(client)
    stolen = httpx.Cookies(client.cookies)
    await fangxin(app_settings, "user", "lock", "shopkeeper")
    await shut_out(client)
    client.cookies.clear()
    assert await login(client, "shopkeeper") == 401
    await fangxin(app_settings, "user", "unlock", "shopkeeper")
    # The cookie taken before the lock stays dead; the holder signs in afresh.
    client.cookies = stolen
    await shut_out(client)
    client.cookies.clear()
    assert await login(client, "shopkeeper") == 303
    assert (await client.get("/merchant", headers=HTML)).status_code == 200
    for action in ("account.locked", "account.unlocked"):
        assert await AuditEvent.filter(subject="account:shopkeeper", action=action).exists()


async def test_taking_a_role_away_ends_the_sessions_opened_under_it(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await signed_in_merchant(client)
    out = await fangxin(app_settings, "user", "role", "shopkeeper", "--role", "official")
    assert "is now official" in out
    # The session opened as the merchant does not go on as an official either.
    await shut_out(client)
    r = await client.get("/official", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    account = await Account.get(username="shopkeeper")
    assert (account.role, account.merchant_id) == (Role.OFFICIAL, None)


async def test_a_session_from_before_the_epoch_column_is_of_epoch_zero(
    app_settings: Settings,
) -> None:
    """Sessions written before the upgrade hold no epoch: they stay valid until the
    account's first change, as the migration promises."""
    await empty_database(app_settings)
    app = make_app(app_settings)
    async with serve_in_process(app, BASE_URL) as client:
        await signed_in_merchant(client)
        account = await Account.get(username="shopkeeper")
        old_style = msgspec.json.encode({SESSION_ACCOUNT_KEY: account.id})
        await app.stores.get("sessions").set(client.cookies[SESSION_COOKIE], old_style)
        assert (await client.get("/merchant", headers=HTML)).status_code == 200
        await fangxin(app_settings, "user", "lock", "shopkeeper")
        await shut_out(client)


@pytest.mark.parametrize(("name", "role"), [("shopkeeper", "area_manager"), ("nobody", "official")])
async def test_a_role_change_that_cannot_be_made_changes_nothing(
    client: httpx.AsyncClient, app_settings: Settings, name: str, role: str
) -> None:
    await signed_in_merchant(client)
    await fangxin(app_settings, "user", "role", name, "--role", role, status=1)
    assert (await client.get("/merchant", headers=HTML)).status_code == 200
    assert (await Account.get(username="shopkeeper")).role == Role.MERCHANT
