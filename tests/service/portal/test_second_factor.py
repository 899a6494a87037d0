"""The second factor of staff sign-in (issue 32, item 4): enrolment with a QR code, a wrong
and a right code, recovery codes spent once, a policy that turns a password alone into
"enrol first", the throttle on codes, and the administrator's reset."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pyotp
import pytest

from service.kernel import second_factor
from service.kernel.models import Account, AuditEvent, RecoveryCode, Role, SecondFactor
from service.kernel.second_factor import CodeRefused
from service.kernel.settings import Settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process, with_env
from tests.helpers import TEST_ACTOR, csrf, login, make_account, make_token
from tests.service.test_session_epoch import fangxin

HTML = {"accept": "text/html"}


@pytest.fixture
async def required(app_settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    """An app whose policy requires a second factor of officials and administrators."""
    settings = with_env(app_settings, second_factor_required=frozenset({"official", "admin"}))
    await empty_database(settings)
    async with serve_in_process(make_app(settings), BASE_URL) as c:
        yield c, settings


async def post(client: httpx.AsyncClient, path: str, **form: str) -> httpx.Response:
    form["_csrf_token"] = await csrf(client)
    return await client.post(path, data=form, headers=HTML, follow_redirects=False)


def secret_on(page: str) -> str:
    found = re.search(r'<code class="secret" translate="no">([A-Z2-7 ]+)</code>', page)
    assert found, page
    return found.group(1).replace(" ", "")


def codes_on(page: str) -> list[str]:
    return re.findall(
        r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code></li>", page
    )


async def audit_actions(subject: str) -> list[str]:
    rows = await AuditEvent.filter(subject=subject).order_by("id").values_list("action", flat=True)
    return [str(a) for a in rows]


def code_at(secret: str, step_offset: int = 0) -> str:
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(datetime.now(UTC).timestamp()) // 30 + step_offset)


async def signed_in(client: httpx.AsyncClient) -> bool:
    r = await client.get("/account", headers={"accept": "application/json"})
    return r.status_code == 200


async def enrol_by_pages(client: httpx.AsyncClient, username: str) -> tuple[str, list[str]]:
    """Password, then the enrolment the policy sends an unenrolled official to; the secret
    and the recovery codes shown."""
    assert await login(client, username) == 303
    page = await client.get("/login/second-factor/enrol", headers=HTML)
    assert page.status_code == 200
    assert "<svg" in page.text  # the QR code, inline
    secret = secret_on(page.text)
    right = code_at(secret)
    wrong = "000000" if right != "000000" else "111111"
    r = await post(client, "/login/second-factor/enrol", code=wrong)
    assert r.status_code == 401 and "验证码不正确" in r.text  # the default language
    assert not await signed_in(client)
    r = await post(client, "/login/second-factor/enrol", code=right)
    assert r.status_code == 200, r.text
    codes = codes_on(r.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    return secret, codes


async def test_policy_sends_a_password_only_official_to_enrol_first(
    required: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, _settings = required
    await make_account("offi", Role.OFFICIAL)
    r = await client.post(
        "/login",
        data={
            "username": "offi",
            "password": "correct-horse-battery",
            "next": "/official",
            "_csrf_token": await csrf(client),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/login/second-factor/enrol"
    # A password alone opens nothing: not the account page, not the desk, not the API.
    assert not await signed_in(client)
    desk = await client.get("/official", headers=HTML, follow_redirects=False)
    assert desk.status_code == 303 and desk.headers["location"].startswith("/login")
    api = await client.get("/api/v1/accounts", headers={"accept": "application/json"})
    assert api.status_code == 401
    # Another route to the enrolment's second half is no way round it either.
    verify = await client.get("/login/second-factor", headers=HTML, follow_redirects=False)
    assert verify.status_code == 303 and verify.headers["location"] == "/login/second-factor/enrol"
    r = await post(client, "/login/second-factor", code="123456")
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert not await signed_in(client)


async def test_a_merchant_is_not_held_by_the_staff_policy(
    required: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, _settings = required
    from tests.surveys.conftest import USCC, make_city

    await make_city()
    await make_account("shop", Role.MERCHANT, merchant_uscc=USCC)
    assert await login(client, "shop") == 303
    assert await signed_in(client)


async def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code_once(
    required: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = required
    account = await make_account("offi", Role.OFFICIAL)
    secret, codes = await enrol_by_pages(client, "offi")
    assert await signed_in(client)
    # Sealed at rest: the secret is nowhere in the row, and opens only for its account.
    row = await SecondFactor.get(account_id=account.id)
    assert secret not in row.secret_sealed and row.confirmed_at is not None
    assert (
        second_factor.key(settings.data_dir).open(
            row.secret_sealed, f"second-factor:account:{account.id}"
        )
        == secret
    )
    # Only hashes of the recovery codes are kept.
    hashes = {
        str(h)
        for h in await RecoveryCode.filter(account_id=account.id).values_list(
            "code_hash", flat=True
        )
    }
    assert len(hashes) == 10 and not any(c in hashes for c in codes)
    assert hashes == {second_factor.hash_recovery_code(c) for c in codes}

    async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as other:
        assert await login(other, "offi") == 303
        assert not await signed_in(other)
        # The enrolment's own code is spent: the next one is not.
        r = await post(other, "/login/second-factor", code=code_at(secret))
        assert r.status_code == 401
        r = await post(other, "/login/second-factor", code=code_at(secret, 1))
        assert r.status_code == 303 and r.headers["location"] == "/"
        assert await signed_in(other)

    for attempt in range(2):
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as other:
            assert await login(other, "offi") == 303
            r = await post(other, "/login/second-factor", code=codes[0].upper())
            if attempt == 0:
                assert r.status_code == 303, r.text
                assert await signed_in(other)
            else:  # spent
                assert r.status_code == 401
                assert not await signed_in(other)
    assert await second_factor.recovery_codes_left(account.id) == 9
    actions = await audit_actions("account:offi")
    for action in (
        "second_factor.enrolment_started",
        "second_factor.enrolled",
        "second_factor.verified",
        "second_factor.recovery_code_used",
        "second_factor.failed",
    ):
        assert action in actions, action


async def test_codes_are_throttled_after_repeated_failures(db: Settings) -> None:
    account = await make_account("offi", Role.OFFICIAL)
    enrolment = await second_factor.begin_enrolment(db, account)
    now = datetime.now(UTC)
    totp = pyotp.TOTP(enrolment.secret)
    step = int(now.timestamp()) // 30
    await second_factor.confirm_enrolment(db, account, totp.generate_otp(step), now=now)
    later = now + timedelta(minutes=1)
    right = totp.generate_otp(int(later.timestamp()) // 30)
    wrong = "000000" if right != "000000" else "111111"
    for attempt in range(1, db.login_max_failures + 1):
        # The last failure allowed blocks, and says so.
        expected = "Too many" if attempt == db.login_max_failures else "not right"
        with pytest.raises(CodeRefused, match=expected):
            await second_factor.verify(db, account, wrong, now=later)
    # Blocked: even the right code is refused until the lockout has passed.
    with pytest.raises(CodeRefused, match="Too many"):
        await second_factor.verify(db, account, right, now=later)
    after = later + timedelta(minutes=db.login_lockout_minutes, seconds=31)
    fresh = totp.generate_otp(int(after.timestamp()) // 30)
    assert await second_factor.verify(db, account, fresh, now=after) == "totp"
    actions = await audit_actions("account:offi")
    assert actions.count("second_factor.failed") == db.login_max_failures
    assert "second_factor.refused_blocked" in actions


async def test_reset_by_the_administrator_sends_the_holder_to_enrol_again(
    required: tuple[httpx.AsyncClient, Settings],
) -> None:
    client, settings = required
    account = await make_account("offi", Role.OFFICIAL)
    await enrol_by_pages(client, "offi")
    assert await signed_in(client)
    out = await fangxin(settings, "user", "reset-2fa", "offi")
    assert "Removed the second factor of offi" in out
    # Every session of the account has ended, the authenticator and the codes are gone.
    assert not await signed_in(client)
    assert not await SecondFactor.exists(account_id=account.id)
    assert await RecoveryCode.filter(account_id=account.id).count() == 0
    event = await AuditEvent.filter(action="second_factor.reset").get()
    assert event.actor.startswith("cli:") and event.subject == "account:offi"
    assert event.details["recovery_codes"] == 10
    async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as other:
        r = await other.post(
            "/login",
            data={
                "username": "offi",
                "password": "correct-horse-battery",
                "next": "/",
                "_csrf_token": await csrf(other),
            },
            follow_redirects=False,
        )
        assert r.headers["location"] == "/login/second-factor/enrol"
    assert await second_factor.reset("offi", actor=TEST_ACTOR) is False


async def test_a_machine_token_has_no_second_factor(client: httpx.AsyncClient) -> None:
    token = await make_token(Role.OFFICIAL)
    r = await client.get(
        "/account/second-factor",
        headers={"authorization": f"Bearer {token}", "accept": "application/json"},
    )
    assert r.status_code == 403


async def test_enrolment_from_the_account_page_when_not_required(client: httpx.AsyncClient) -> None:
    account = await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303  # no policy, nothing enrolled: signed in
    page = await client.get("/account/second-factor", headers=HTML)
    assert page.status_code == 200 and 'action="/account/second-factor/enrol"' in page.text
    r = await post(client, "/account/second-factor/enrol")
    assert r.status_code == 200
    secret = secret_on(r.text)
    r = await post(client, "/account/second-factor/enrol", code=code_at(secret))
    assert r.status_code == 200 and len(codes_on(r.text)) == 10
    page = await client.get("/account/second-factor", headers=HTML)
    assert 'action="/account/second-factor/enrol"' not in page.text and "剩余恢复码" in page.text
    # Enrolled of its own accord: asked at the next sign-in, policy or not.
    async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as other:
        assert await login(other, "offi") == 303
        assert not await signed_in(other)
    assert (await Account.get(id=account.id)).username == "offi"
