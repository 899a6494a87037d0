"""Passwords people manage (issue 32, item 5): every account changes its own, keeping the
browser it changed it in signed in and signing every other one out; an official gives a
merchant or area manager of the district a one-time reset code, shown once, kept hashed,
expiring, single use and audited; the holder redeems it on a public page."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from functools import cache

import httpx
import pytest

from service.kernel import passwords
from service.kernel.accounts import hash_password
from service.kernel.audit import Actor
from service.kernel.models import (
    Account,
    Area,
    AreaKind,
    AuditEvent,
    Merchant,
    MerchantCategory,
    PasswordReset,
    Role,
)
from service.kernel.security import SESSION_COOKIE
from tests.helpers import PASSWORD, csrf, login, make_account

HTML = {"accept": "text/html"}
NEW = "Lantern river 47 quietly"
OTHER_NEW = "Copper kettle sings 83 times"
CODE = re.compile(r'<code id="reset-code">([A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4})</code>')
MINE_USCC, THEIR_USCC = "9144030071526726XG", "91330100716105852F"


@cache
def password_hash() -> str:
    """PASSWORD's hash, made once: argon2 is slow on purpose, and these tests make many
    accounts."""
    return hash_password(PASSWORD)


async def two_districts() -> None:
    """Districts D1 and D2, each with a merchant (and its account) and a street (and its
    manager's account); an official of each district, one of the city, an administrator."""
    city = await Area.create(code="C", kind=AreaKind.CITY, name_zh="市", name_en="City")
    made = password_hash()
    for n, uscc in ((1, MINE_USCC), (2, THEIR_USCC)):
        district = await Area.create(
            code=f"D{n}", kind=AreaKind.DISTRICT, name_zh=f"区{n}", name_en=f"D{n}", parent=city
        )
        street = await Area.create(
            code=f"D{n}-ST", kind=AreaKind.STREET, name_zh=f"街{n}", name_en="S", parent=district
        )
        merchant = await Merchant.create(
            uscc=uscc, name=f"商户{n}号", category=MerchantCategory.RETAIL, district=district
        )
        await Account.create(
            username=f"shop{n}", password_hash=made, role=Role.MERCHANT, merchant=merchant
        )
        await Account.create(
            username=f"street{n}", password_hash=made, role=Role.AREA_MANAGER, area=street
        )
        await Account.create(
            username=f"county{n}", password_hash=made, role=Role.OFFICIAL, district=district
        )
    await Account.create(username="cityofficial", password_hash=made, role=Role.OFFICIAL)
    await make_account("admin1", Role.ADMIN)  # (one made the ordinary way)


def another(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A second browser on the same app."""
    return httpx.AsyncClient(transport=client._transport, base_url=client.base_url)


async def fresh_login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> int:
    """Sign in from a browser of its own: the status of the login form's answer."""
    browser = another(client)
    try:
        return await login(browser, username, password)
    finally:
        await browser.aclose()


async def signed_in(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> None:
    assert await login(client, username, password) == 303
    client.headers["x-csrftoken"] = await csrf(client)


async def is_signed_in(client: httpx.AsyncClient) -> bool:
    r = await client.get("/account", headers=HTML, follow_redirects=False)
    assert r.status_code in (200, 303), r.status_code
    return r.status_code == 200


async def change(client: httpx.AsyncClient, current: str, new: str, confirm: str) -> httpx.Response:
    return await client.post(
        "/account/password",
        data={"current": current, "password": new, "confirm": confirm},
        headers=HTML,
        follow_redirects=False,
    )


# --- changing one's own password -------------------------------------------------------------


async def test_a_change_keeps_this_browser_signed_in_and_signs_out_every_other(
    client: httpx.AsyncClient,
) -> None:
    await two_districts()
    await signed_in(client, "shop1")
    before = client.cookies[SESSION_COOKIE]
    elsewhere = another(client)
    try:
        await signed_in(elsewhere, "shop1")
        page = await client.get("/account/password", headers=HTML)
        assert page.status_code == 200 and 'name="current"' in page.text
        r = await change(client, PASSWORD, NEW, NEW)
        assert r.status_code == 303 and r.headers["location"] == "/account?done=password"
        # This browser goes on, under a new session id (and the CSRF token bound to it).
        assert client.cookies[SESSION_COOKIE] != before
        client.headers["x-csrftoken"] = await csrf(client)
        assert (await client.get("/merchant", headers=HTML)).status_code == 200
        done = await client.get("/account?done=password&lang=en", headers=HTML)
        assert "Every other session of your account has ended" in done.text
        # The other browser, signed in with the old password, is out.
        assert not await is_signed_in(elsewhere)
        r = await elsewhere.get("/merchant", headers=HTML, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
    finally:
        await elsewhere.aclose()
    # The old password no longer opens the account; the new one does.
    assert await fresh_login(client, "shop1", PASSWORD) == 401
    assert await fresh_login(client, "shop1", NEW) == 303
    event = await AuditEvent.filter(action="account.password_changed").get()
    assert (event.actor, event.subject) == ("account:shop1", "account:shop1")
    assert event.details == {"sessions_ended": True, "by": "self"}
    assert (await Account.get(username="shop1")).session_epoch == 1


@pytest.mark.parametrize("username", ["street1", "county1", "cityofficial", "admin1"])
async def test_every_kind_of_account_changes_its_own(
    client: httpx.AsyncClient, username: str
) -> None:
    await two_districts()
    await signed_in(client, username)
    assert (await change(client, PASSWORD, NEW, NEW)).status_code == 303
    assert await is_signed_in(client)
    assert await fresh_login(client, username, NEW) == 303


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("wrong-password-here", NEW, NEW, "current", "This is not your current password."),
        (PASSWORD, "short", "short", "password", "Use at least 12 characters"),
        (PASSWORD, "password1234", "password1234", "password", "Too easy to guess"),
        (PASSWORD, NEW, OTHER_NEW, "confirm", "The two new passwords differ."),
        (PASSWORD, PASSWORD, PASSWORD, "password", "Choose a password other than"),
        ("", NEW, NEW, "current", "Required."),
    ],
)
async def test_a_refused_change_names_the_field_and_changes_nothing(
    client: httpx.AsyncClient, current: str, new: str, confirm: str, field: str, message: str
) -> None:
    await two_districts()
    await signed_in(client, "shop1")
    elsewhere = another(client)
    try:
        await signed_in(elsewhere, "shop1")
        before = await Account.get(username="shop1")
        r = await client.post(
            "/account/password?lang=en",
            data={"current": current, "password": new, "confirm": confirm},
            headers=HTML,
            follow_redirects=False,
        )
        assert r.status_code == 422
        assert r.headers["content-type"].startswith("text/html")
        # The form again, the refused field marked and its reason beside it.
        assert f'id="{field}-error"' in r.text and 'aria-invalid="true"' in r.text
        assert message in r.text
        assert current not in r.text or not current  # passwords are never written back
        after = await Account.get(username="shop1")
        assert (after.password_hash, after.session_epoch) == (
            before.password_hash,
            before.session_epoch,
        )
        assert await is_signed_in(client) and await is_signed_in(elsewhere)
        assert not await AuditEvent.filter(action="account.password_changed").exists()
    finally:
        await elsewhere.aclose()


async def test_wrong_current_passwords_are_counted_and_then_even_the_right_one_waits(
    client: httpx.AsyncClient,
) -> None:
    """A session left open is no way to guess the password: after the login limit of wrong
    current passwords (5 by default) within a quarter hour, the form refuses every try."""
    await two_districts()
    await signed_in(client, "shop1")
    for _ in range(5):
        assert (await change(client, "not-my-password", NEW, NEW)).status_code == 422
    r = await change(client, PASSWORD, NEW, NEW)
    assert r.status_code == 422 and 'id="current-error"' in r.text
    assert await AuditEvent.filter(action="account.password_change_failed").count() == 5
    assert not await AuditEvent.filter(action="account.password_changed").exists()
    assert await fresh_login(client, "shop1") == 303  # the password is still the old one


async def test_the_change_form_needs_its_csrf_token(client: httpx.AsyncClient) -> None:
    await two_districts()
    await signed_in(client, "shop1")
    del client.headers["x-csrftoken"]
    r = await change(client, PASSWORD, NEW, NEW)
    assert r.status_code == 403
    assert await fresh_login(client, "shop1") == 303


# --- reset codes -----------------------------------------------------------------------------


async def issue(client: httpx.AsyncClient, username: str) -> httpx.Response:
    return await client.post(
        f"/official/password-resets/{username}", headers=HTML, follow_redirects=False
    )


async def code_for(client: httpx.AsyncClient, username: str) -> str:
    r = await issue(client, username)
    assert r.status_code == 200, r.text
    found = CODE.search(r.text)
    assert found, r.text
    return found.group(1)


async def redeem(
    client: httpx.AsyncClient, username: str, code: str, new: str = NEW, confirm: str | None = None
) -> httpx.Response:
    token = await csrf(client)
    return await client.post(
        "/password-reset?lang=en",
        data={
            "username": username,
            "code": code,
            "password": new,
            "confirm": new if confirm is None else confirm,
            "_csrf_token": token,
        },
        headers=HTML,
        follow_redirects=False,
    )


async def reasons() -> list[object]:
    rows = await AuditEvent.filter(action="password_reset.failed").order_by("id")
    return [r.details.get("reason") for r in rows]


async def test_a_reset_code_is_shown_once_kept_hashed_works_once_and_signs_the_holder_out(
    client: httpx.AsyncClient,
) -> None:
    await two_districts()
    holder = another(client)
    public = another(client)
    try:
        await signed_in(holder, "shop1")
        await signed_in(client, "county1")
        listing = await client.get("/official/password-resets", headers=HTML)
        assert listing.status_code == 200
        assert "shop1" in listing.text and "street1" in listing.text
        code = await code_for(client, "shop1")
        # Kept as a hash only; the listing says a code is in force, never which.
        reset = await PasswordReset.get()
        plain = code.replace("-", "")
        assert reset.code_hash == hashlib.sha256(plain.encode()).hexdigest()
        assert timedelta(hours=23, minutes=59) < reset.expires_at - reset.issued_at
        assert reset.expires_at - reset.issued_at <= timedelta(hours=24)
        again = await client.get("/official/password-resets", headers=HTML)
        assert code not in again.text and plain not in again.text
        assert "official:county1" not in again.text and "county1" in again.text
        issued = await AuditEvent.filter(action="password_reset.issued").get()
        assert (issued.actor, issued.subject) == ("account:county1", "account:shop1")
        assert issued.details["reset"] == reset.id

        # Redeemed on the public page, typed loosely (case, spaces).
        page = await public.get("/password-reset")
        assert page.status_code == 200 and 'name="code"' in page.text
        r = await redeem(public, "shop1", " " + code.lower().replace("-", " ") + " ")
        assert r.status_code == 200, r.text
        assert "Your new password is set" in r.text
        assert not await is_signed_in(holder)  # the session from before is over
        assert await fresh_login(client, "shop1", NEW) == 303
        used = await AuditEvent.filter(action="password_reset.used").get()
        assert (used.actor, used.subject) == ("reset:shop1", "account:shop1")
        changed = await AuditEvent.filter(action="account.password_changed").get()
        assert changed.details == {"sessions_ended": True, "by": "reset_code", "reset": reset.id}

        # Single use: the same code again is refused, and nothing changes.
        r = await redeem(public, "shop1", code, OTHER_NEW)
        assert r.status_code == 422 and 'id="code-error"' in r.text
        assert "do not match a valid reset code" in r.text
        assert await reasons() == ["used"]
        assert await fresh_login(client, "shop1", NEW) == 303
    finally:
        await holder.aclose()
        await public.aclose()


async def test_an_expired_code_is_refused(client: httpx.AsyncClient) -> None:
    await two_districts()
    _, code = await passwords.issue(
        "shop1",
        district=None,
        actor=Actor("account", "cityofficial"),
        hours=24,
        now=datetime.now(UTC) - timedelta(hours=24, seconds=1),
    )
    r = await redeem(client, "shop1", code)
    assert r.status_code == 422 and 'id="code-error"' in r.text
    assert await reasons() == ["expired"]
    assert await login(client, "shop1") == 303  # the old password stands


async def test_a_code_is_the_one_accounts_only_and_a_newer_one_replaces_it(
    client: httpx.AsyncClient,
) -> None:
    await two_districts()
    await signed_in(client, "cityofficial")
    public = another(client)
    try:
        code = await code_for(client, "shop1")
        # Somebody else's name with the code: refused, and the code's account unchanged.
        r = await redeem(public, "shop2", code)
        assert r.status_code == 422 and 'id="code-error"' in r.text
        # A newer code for shop1 cancels this one.
        newer = await code_for(client, "shop1")
        assert newer != code
        r = await redeem(public, "shop1", code)
        assert r.status_code == 422
        assert await reasons() == ["wrong_account", "revoked"]
        assert (await redeem(public, "shop1", newer)).status_code == 200
        assert await fresh_login(client, "shop2") == 303
        events = await AuditEvent.filter(action="password_reset.issued").order_by("id")
        assert [e.details["earlier_revoked"] for e in events] == [0, 1]
    finally:
        await public.aclose()


async def test_guessing_spends_the_code_and_then_the_address_waits(
    client: httpx.AsyncClient,
) -> None:
    await two_districts()
    await signed_in(client, "cityofficial")
    public = another(client)
    try:
        code = await code_for(client, "shop1")
        for _ in range(passwords.RESET_MAX_ATTEMPTS):
            assert (await redeem(public, "shop1", "AAAA-BBBB-CCCC")).status_code == 422
        reset = await PasswordReset.get()
        assert reset.attempts == 5 and reset.revoked_at is not None
        # Spent: even the right code no longer works.
        assert (await redeem(public, "shop1", code)).status_code == 422
        assert (await reasons())[-1] == "revoked"
        # More failures from this address, against any name: past ten in the hour, even a
        # good code is refused unseen.
        for name in ("nobody", "shop2", "street2", "admin1"):
            assert (await redeem(public, name, "AAAA-BBBB-CCCC")).status_code == 422
        assert len(await reasons()) == passwords.RESET_ADDRESS_FAILURES
        fresh = await code_for(client, "shop1")
        r = await redeem(public, "shop1", fresh)
        assert r.status_code == 422 and 'id="code-error"' in r.text
        assert await AuditEvent.filter(action="password_reset.throttled").count() == 1
        assert await PasswordReset.filter(used_at__isnull=False).count() == 0
    finally:
        await public.aclose()


@pytest.mark.parametrize(
    ("new", "confirm", "field"),
    [("short", "short", "password"), (NEW, OTHER_NEW, "confirm"), ("", "", "password")],
)
async def test_a_weak_or_mismatched_new_password_spends_no_try(
    client: httpx.AsyncClient, new: str, confirm: str, field: str
) -> None:
    await two_districts()
    await signed_in(client, "cityofficial")
    public = another(client)
    try:
        code = await code_for(client, "street1")
        r = await redeem(public, "street1", code, new, confirm)
        assert r.status_code == 422 and f'id="{field}-error"' in r.text
        assert 'value="street1"' in r.text  # the name is kept, the code and passwords not
        assert code not in r.text
        assert (await PasswordReset.get()).attempts == 0
        assert (await redeem(public, "street1", code)).status_code == 200
        assert await fresh_login(client, "street1", NEW) == 303
    finally:
        await public.aclose()


async def test_the_public_form_needs_its_csrf_token(client: httpx.AsyncClient) -> None:
    await two_districts()
    r = await client.post(
        "/password-reset",
        data={"username": "shop1", "code": "AAAA-BBBB-CCCC", "password": NEW, "confirm": NEW},
        headers=HTML,
    )
    assert r.status_code == 403


async def test_a_district_official_issues_codes_for_its_district_only(
    client: httpx.AsyncClient,
) -> None:
    """Outside the district an account does not exist (404, as for a name nobody has), and
    officials' and administrators' accounts are not resettable here at all."""
    await two_districts()
    await signed_in(client, "county1")
    listing = await client.get("/official/password-resets", headers=HTML)
    for other in ("shop2", "street2", "商户2号", THEIR_USCC, "county2", "cityofficial"):
        assert other not in listing.text
    for own in ("shop1", "street1"):
        assert (await issue(client, own)).status_code == 200
    missing = await issue(client, "nobody")
    assert missing.status_code == 404
    for other in ("shop2", "street2", "county2", "cityofficial", "admin1", "county1"):
        r = await issue(client, other)
        assert r.status_code == 404, other
        assert not CODE.search(r.text)
    assert await PasswordReset.all().count() == 2
    # The city's officials and administrators reach every district's merchants and managers.
    city = another(client)
    try:
        await signed_in(city, "cityofficial")
        shown = (await city.get("/official/password-resets", headers=HTML)).text
        assert all(name in shown for name in ("shop1", "shop2", "street1", "street2"))
        # Found by merchant name, USCC or area code too.
        for q, found, hidden in (
            ("商户2", "shop2", "shop1"),
            (MINE_USCC.lower(), "shop1", "shop2"),
            ("D2-ST", "street2", "street1"),
        ):
            page = (await city.get("/official/password-resets", params={"q": q})).text
            assert f">{found}<" in page and f">{hidden}<" not in page, q
        # The district's official searches its own district only.
        page = (await client.get("/official/password-resets", params={"q": "shop"})).text
        assert ">shop1<" in page and "shop2" not in page
        assert (await issue(city, "street2")).status_code == 200
        assert (await issue(city, "admin1")).status_code == 404
    finally:
        await city.aclose()
    # Merchants may not issue codes at all.
    shop = another(client)
    try:
        await signed_in(shop, "shop1")
        assert (await issue(shop, "shop1")).status_code == 403
    finally:
        await shop.aclose()
