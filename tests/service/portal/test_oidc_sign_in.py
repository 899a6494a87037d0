"""Staff single sign-on (issue 32, item 4) against a real OpenID Connect provider started
here (oidc-provider-mock, in a process of its own on a free port): the role and the district
mapped from claims, a wrong issuer, an expired ID token, a replayed state and a merchant's
claim refused, and the second factor's policy on this path too."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import httpx
import pytest

from service.kernel import oidc
from service.kernel.models import Account, AuditEvent, ExternalIdentity, Role
from service.kernel.settings import OidcSettings, Settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process, with_env
from tests.helpers import free_port

HTML = {"accept": "text/html"}
CLIENT_ID = "fangxin-test"
ROLES = (("bureau-official", "official"), ("bureau-it", "admin"), ("shopkeeper", "merchant"))


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    yield from _provider()


@pytest.fixture(scope="module")
def expiring_provider() -> Iterator[str]:
    """A provider whose ID tokens expired five minutes before they were issued (beyond the
    minute of leeway allowed for clocks)."""
    yield from _provider("--token-max-age=-300")


def _provider(*args: str) -> Iterator[str]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    # Its own process: the provider's dependencies warn of deprecations, which this test
    # process turns into errors.
    process = subprocess.Popen(
        [
            sys.executable,
            "-W",
            "ignore",
            "-m",
            "oidc_provider_mock",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{issuer}/.well-known/openid-configuration").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the OpenID provider did not start"
            time.sleep(0.1)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)
        oidc.forget()


def configured(settings: Settings, issuer: str, **changes: object) -> Settings:
    sso = OidcSettings(
        issuer=issuer,
        client_id=CLIENT_ID,
        client_secret="not-checked-by-the-mock",
        roles=ROLES,
        role_claim="groups",
        district_claim="district",
    )
    return with_env(settings, oidc=sso, **changes)


@pytest.fixture
async def city(app_settings: Settings) -> Settings:
    await empty_database(app_settings)
    return app_settings


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from service.kernel.models import Area, AreaKind

    async with serve_in_process(make_app(settings), BASE_URL) as c:
        city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="市", name_en="C")
        await Area.create(
            code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
        )
        yield c


def user(issuer: str, subject: str, **claims: object) -> None:
    """The provider's claims for a subject (the mock's own API)."""
    r = httpx.put(f"{issuer}/users/{subject}", json=claims)
    assert r.status_code == 204


async def to_provider_and_back(client: httpx.AsyncClient, subject: str) -> str:
    """Start at our sign-in link, sign in at the provider as ``subject``; the callback URL
    (path and query) the provider sends the browser back to."""
    r = await client.get("/login/oidc?next=/official", headers=HTML, follow_redirects=False)
    assert r.status_code == 303, r.text
    authorize = r.headers["location"]
    query = urlsplit(authorize).query
    assert "code_challenge_method=S256" in query and "nonce=" in query and "state=" in query
    async with httpx.AsyncClient() as browser:
        back = await browser.post(authorize, data={"sub": subject})
    assert back.status_code == 302, back.text
    callback = urlsplit(back.headers["location"])
    assert callback.path == oidc.CALLBACK_PATH
    return f"{callback.path}?{callback.query}"


async def signed_in_as(client: httpx.AsyncClient) -> str | None:
    r = await client.get("/account", headers={"accept": "text/html"})
    if r.status_code != 200:
        return None
    return r.text


async def refusals() -> list[str]:
    rows = await AuditEvent.filter(action="login.oidc_refused").order_by("id")
    return [str(r.details["reason"]) for r in rows]


async def test_sign_in_maps_role_and_district_and_links_by_subject(
    city: Settings, provider: str
) -> None:
    user(
        provider,
        "li.wei",
        groups=["staff", "bureau-official"],
        district="411702",
        preferred_username="li.wei",
    )
    user(provider, "it-zhang", groups="bureau-it", district="411702")
    async with app_client(configured(city, provider)) as client:
        callback = await to_provider_and_back(client, "li.wei")
        r = await client.get(callback, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/official"
        assert await signed_in_as(client) is not None
        account = await Account.get(username="li.wei").prefetch_related("district")
        assert account.role == Role.OFFICIAL
        assert account.district is not None and account.district.code == "411702"
        assert account.password_hash == oidc.NO_PASSWORD  # no password to guess
        identity = await ExternalIdentity.get(account_id=account.id)
        assert (identity.issuer, identity.subject) == (provider, "li.wei")
        created = await AuditEvent.get(action="account.created", subject="account:li.wei")
        assert created.details["via"] == "oidc" and created.details["district"] == "411702"

        # Signing in again is the same account, even with the district taken away at the
        # provider (city bureau now), and no second account appears.
        user(provider, "li.wei", groups="bureau-official", preferred_username="li.wei")
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as again:
            r = await again.get(await to_provider_and_back(again, "li.wei"), follow_redirects=False)
            assert r.status_code == 303
        account = await Account.get(username="li.wei")
        assert account.district_id is None
        assert await Account.filter(role=Role.OFFICIAL).count() == 1
        assert await AuditEvent.exists(action="account.role_changed", subject="account:li.wei")

        # An administrator is never bound to a district; with no free preferred name, the
        # account is named from the subject.
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as admin:
            r = await admin.get(
                await to_provider_and_back(admin, "it-zhang"), follow_redirects=False
            )
            assert r.status_code == 303
        identity = await ExternalIdentity.get(subject="it-zhang").prefetch_related("account")
        assert identity.account.role == Role.ADMIN and identity.account.district_id is None
        assert identity.account.username.startswith("sso-")


async def test_a_token_from_another_issuer_is_refused(city: Settings, provider: str) -> None:
    user(provider, "li.wei", groups="bureau-official")
    async with app_client(configured(city, provider)) as client:
        callback = await to_provider_and_back(client, "li.wei")
        # The same provider under another name: it signs ID tokens with the same keys but
        # names itself http://localhost:PORT as their issuer.
        metadata = await oidc.metadata(configured(city, provider).oidc)  # type: ignore[arg-type]
        metadata["token_endpoint"] = metadata["token_endpoint"].replace("127.0.0.1", "localhost")
        try:
            r = await client.get(callback, headers=HTML, follow_redirects=False)
        finally:
            oidc.forget()
        assert r.status_code == 401 and "统一身份认证登录未成功" in r.text
        assert await signed_in_as(client) is None
        assert not await Account.exists()
        [reason] = await refusals()
        assert reason == "ID token refused: invalid_claim: Invalid claim: 'iss'", reason


async def test_an_expired_id_token_is_refused(city: Settings, expiring_provider: str) -> None:
    user(expiring_provider, "li.wei", groups="bureau-official")
    async with app_client(configured(city, expiring_provider)) as client:
        r = await client.get(
            await to_provider_and_back(client, "li.wei"), headers=HTML, follow_redirects=False
        )
        assert r.status_code == 401
        assert await signed_in_as(client) is None
        assert not await Account.exists()
        [reason] = await refusals()
        assert reason == "ID token refused: expired_token: The token is expired", reason


async def test_a_replayed_state_is_refused(city: Settings, provider: str) -> None:
    user(provider, "li.wei", groups="bureau-official")
    async with app_client(configured(city, provider)) as client:
        callback = await to_provider_and_back(client, "li.wei")
        assert (await client.get(callback, follow_redirects=False)).status_code == 303
        # The same callback again, in the browser that used it and in another one.
        r = await client.get(callback, headers=HTML, follow_redirects=False)
        assert r.status_code == 401
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as thief:
            r = await thief.get(callback, headers=HTML, follow_redirects=False)
            assert r.status_code == 401
            assert await signed_in_as(thief) is None
        assert await refusals() == ["unknown, spent or foreign state"] * 2
        assert await Account.filter().count() == 1


async def test_a_claim_mapped_to_merchant_is_refused(city: Settings, provider: str) -> None:
    user(provider, "shop-owner", groups=["shopkeeper"])
    user(provider, "both", groups=["shopkeeper", "bureau-official"])
    user(provider, "nobody", groups=["staff"])
    async with app_client(configured(city, provider)) as client:
        for subject in ("shop-owner", "both", "nobody"):
            r = await client.get(
                await to_provider_and_back(client, subject), headers=HTML, follow_redirects=False
            )
            assert r.status_code == 401 and "在本系统中没有角色" in r.text
            assert await signed_in_as(client) is None
        assert not await Account.exists()
        assert not await ExternalIdentity.exists()
        reasons = await refusals()
        assert "maps to merchant" in reasons[0]
        assert "maps to merchant, official" in reasons[1]
        assert "maps to no role" in reasons[2]


async def test_the_second_factor_policy_holds_on_this_path_too(
    city: Settings, provider: str
) -> None:
    user(provider, "li.wei", groups="bureau-official", preferred_username="li.wei")
    user(
        provider,
        "wang.fang",
        groups="bureau-official",
        amr=["pwd", "mfa"],
        preferred_username="wang.fang",
    )
    settings = configured(city, provider, second_factor_required=frozenset({"official"}))
    async with app_client(settings) as client:
        r = await client.get(await to_provider_and_back(client, "li.wei"), follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login/second-factor/enrol"
        assert await signed_in_as(client) is None
        desk = await client.get("/official", headers=HTML, follow_redirects=False)
        assert desk.status_code == 303 and desk.headers["location"].startswith("/login")
        # The provider asserting a second factor of its own (amr "mfa") is taken as one.
        async with httpx.AsyncClient(transport=client._transport, base_url=BASE_URL) as mfa:
            r = await mfa.get(await to_provider_and_back(mfa, "wang.fang"), follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"] == "/official"
            assert await signed_in_as(mfa) is not None


async def test_a_local_account_is_never_taken_over_by_a_matching_name(
    city: Settings, provider: str
) -> None:
    from tests.helpers import make_account

    user(provider, "attacker", groups="bureau-it", preferred_username="chief")
    async with app_client(configured(city, provider)) as client:
        local = await make_account("chief", Role.OFFICIAL)
        r = await client.get(await to_provider_and_back(client, "attacker"), follow_redirects=False)
        assert r.status_code == 303
        page = await signed_in_as(client)
        assert page is not None and "chief" not in page
        identity = await ExternalIdentity.get(subject="attacker").prefetch_related("account")
        assert identity.account.id != local.id and identity.account.username.startswith("sso-")
        assert (await Account.get(id=local.id)).role == Role.OFFICIAL  # untouched
