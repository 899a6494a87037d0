"""Behind a reverse proxy: the client a trusted proxy names (X-Forwarded-For or Forwarded)
is the address rate limits, screening, login throttling and the audit log see; from any
other peer those headers are ignored. In process, on the app create_app builds."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from service.kernel.models import AuditEvent, Role
from service.kernel.privacy import salted_hash
from service.kernel.settings import Settings, SettingsError, load_settings
from service.middleware import behind_proxies, parse_forwarded
from surveys.models import FlagKind, Response, ResponseFlag
from surveys.routes import DEVICE_HEADER, signed_device
from surveys.submit import issue_start_token
from tests.conftest import BASE_URL, asgi, empty_database, make_app, with_env
from tests.helpers import csrf, make_account
from tests.surveys.conftest import GOOD_ANSWERS, USCC, make_city

URL = "/api/v1/surveys/merchant/responses"
PROXY = "127.0.0.1"  # where httpx's ASGI transport says every request comes from
TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))


# The setting.


def _settings(tmp_path: Path, value: str | None) -> Settings:
    env = {"FANGXIN_DATA_DIR": str(tmp_path)}
    if value is not None:
        env["FANGXIN_TRUSTED_PROXIES"] = value
    return load_settings(env)


def test_trusted_proxies_are_addresses_and_networks(tmp_path: Path) -> None:
    assert _settings(tmp_path, None).trusted_proxies == ()
    assert _settings(tmp_path, " ").trusted_proxies == ()
    assert _settings(tmp_path, "127.0.0.1, 10.0.0.0/8,,::1").trusted_proxies == (
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )


@pytest.mark.parametrize("bad", ["proxy.internal", "10.0.0.1/8", "256.0.0.1", "*", "10.0.0.0/33"])
def test_a_bad_trusted_proxy_entry_stops_start_up_naming_it(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SettingsError) as caught:
        _settings(tmp_path, f"127.0.0.1,{bad}")
    assert "FANGXIN_TRUSTED_PROXIES" in str(caught.value)
    assert repr(bad) in str(caught.value)


# The Forwarded header (RFC 7239 §4 and its examples).


def test_forwarded_elements_are_read_left_to_right_with_quotes_undone() -> None:
    assert parse_forwarded('for="_gazonk"') == [{"for": "_gazonk"}]
    assert parse_forwarded('For="[2001:db8:cafe::17]:4711"') == [
        {"for": "[2001:db8:cafe::17]:4711"}
    ]
    assert parse_forwarded("for=192.0.2.60;proto=http;by=203.0.113.43") == [
        {"for": "192.0.2.60", "proto": "http", "by": "203.0.113.43"}
    ]
    assert parse_forwarded('for=192.0.2.43, for="[2001:db8:cafe::17]" ; proto=https') == [
        {"for": "192.0.2.43"},
        {"for": "[2001:db8:cafe::17]", "proto": "https"},
    ]
    assert parse_forwarded(r'for="a\"b"') == [{"for": 'a"b'}]
    assert parse_forwarded("for=192.0.2.1;") == [{"for": "192.0.2.1"}]


@pytest.mark.parametrize("bad", ["", "for", "for=1.2.3.4 by=5.6.7.8", 'for="unterminated', ",a=b"])
def test_a_malformed_forwarded_header_gives_nothing(bad: str) -> None:
    assert parse_forwarded(bad) == []


# The scope the app sees.


async def _scope_seen(headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(client=scope["client"], scheme=scope["scheme"])

    wrapped = behind_proxies(app, TRUSTED)
    scope = {"type": "http", "client": (PROXY, 40000), "scheme": "http", "headers": headers}
    await wrapped(scope, None, None)  # type: ignore[arg-type]
    return seen


@pytest.mark.parametrize(
    ("headers", "client", "scheme"),
    [
        pytest.param(
            [(b"x-forwarded-for", b"203.0.113.7"), (b"x-forwarded-proto", b"https")],
            "203.0.113.7",
            "https",
            id="xff",
        ),
        pytest.param(
            [(b"forwarded", b"for=203.0.113.8;proto=HTTPS")], "203.0.113.8", "https", id="fwd"
        ),
        pytest.param(
            [(b"forwarded", b"for=203.0.113.8;proto=gopher")], "203.0.113.8", "http", id="odd"
        ),
        # Two header lines are one list, in order.
        pytest.param(
            [(b"forwarded", b"for=203.0.113.9"), (b"forwarded", b"for=10.0.0.3;proto=https")],
            "203.0.113.9",
            "http",
            id="two-lines",
        ),
    ],
)
async def test_the_client_and_scheme_come_from_the_trusted_headers(
    headers: list[tuple[bytes, bytes]], client: str, scheme: str
) -> None:
    seen = await _scope_seen(headers)
    assert (seen["client"][0], seen["scheme"]) == (client, scheme)


# What the consumers of the client address see.


@asynccontextmanager
async def _served(settings: Settings, peer: str = PROXY) -> AsyncIterator[httpx.AsyncClient]:
    await empty_database(settings)
    app = make_app(settings)
    transport = asgi(app)
    transport.client = (peer, 50000)
    async with app.lifespan(), httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


async def _submit(
    client: httpx.AsyncClient, settings: Settings, headers: dict[str, str]
) -> Response:
    """One API submission from a device of its own, answered 40 s after it was shown."""
    started = datetime.now(UTC) - timedelta(seconds=40)
    body: dict[str, Any] = {
        "target": USCC,
        "answers": dict(GOOD_ANSWERS),
        "client_submission_id": str(uuid.uuid4()),
        "start_token": issue_start_token(settings.secret_key, "merchant", USCC, started),
    }
    device = signed_device(settings.secret_key, uuid.uuid4().hex)
    r = await client.post(URL, json=body, headers={DEVICE_HEADER: device, **headers})
    assert r.status_code == 201, r.text
    return await Response.get(id=r.json()["id"])


def _ip_hash(settings: Settings, address: str) -> str:
    return salted_hash(settings.secret_key, "ip", address)


@pytest.mark.parametrize(
    ("headers", "client"),
    [
        pytest.param({"x-forwarded-for": "203.0.113.7"}, "203.0.113.7", id="xff"),
        # Appended by each hop: the right-most address that is not a proxy of ours.
        pytest.param(
            {"x-forwarded-for": "6.6.6.6, 198.51.100.9, 10.1.2.3"}, "198.51.100.9", id="xff-hops"
        ),
        pytest.param({"x-forwarded-for": "198.51.100.9:5123"}, "198.51.100.9", id="xff-port"),
        pytest.param(
            {"forwarded": 'for="[2001:db8:cafe::17]:4711";proto=https'},
            "2001:db8:cafe::17",
            id="forwarded-ipv6",
        ),
        pytest.param(
            {"forwarded": "for=6.6.6.6, for=198.51.100.8;by=10.0.0.1, for=10.0.0.9"},
            "198.51.100.8",
            id="forwarded-hops",
        ),
        # Both: X-Forwarded-For, which proxies set by default, is believed.
        pytest.param(
            {"x-forwarded-for": "198.51.100.5", "forwarded": "for=6.6.6.6"},
            "198.51.100.5",
            id="both",
        ),
        # Nothing usable named: the proxy itself, as without the header.
        pytest.param({"forwarded": "for=unknown"}, PROXY, id="forwarded-unknown"),
        pytest.param({"forwarded": "for=1.2.3.4 garbage"}, PROXY, id="forwarded-malformed"),
        pytest.param({}, PROXY, id="no-header"),
    ],
)
async def test_the_client_a_trusted_proxy_names_is_the_one_screening_sees(
    app_settings: Settings, headers: dict[str, str], client: str
) -> None:
    settings = with_env(app_settings, trusted_proxies=TRUSTED)
    async with _served(settings) as c:
        await make_city()
        stored = await _submit(c, settings, headers)
    assert stored.ip_hash == _ip_hash(settings, client)


@pytest.mark.parametrize(
    ("trusted", "peer"),
    [
        pytest.param((), PROXY, id="trust-nobody"),
        pytest.param(TRUSTED, "192.0.2.77", id="peer-outside"),
        pytest.param((ipaddress.ip_network("10.0.0.0/8"),), PROXY, id="loopback-not-listed"),
    ],
)
async def test_proxy_headers_from_a_peer_not_trusted_are_ignored(
    app_settings: Settings, trusted: tuple[Any, ...], peer: str
) -> None:
    settings = with_env(app_settings, trusted_proxies=trusted)
    spoofed = {"x-forwarded-for": "203.0.113.7", "forwarded": "for=203.0.113.8"}
    async with _served(settings, peer=peer) as c:
        await make_city()
        stored = await _submit(c, settings, spoofed)
    assert stored.ip_hash == _ip_hash(settings, peer)


async def test_each_forwarded_client_has_its_own_rate_limit(app_settings: Settings) -> None:
    settings = with_env(app_settings, trusted_proxies=TRUSTED, rate_limit_per_minute=3)
    a, b = {"x-forwarded-for": "203.0.113.1"}, {"x-forwarded-for": "203.0.113.2"}
    async with _served(settings) as c:
        assert [(await c.get("/api/v1/areas", headers=a)).status_code for _ in range(4)] == [
            200,
            200,
            200,
            429,
        ]
        assert (await c.get("/api/v1/areas", headers=b)).status_code == 200


async def test_a_burst_flags_only_the_client_it_came_from(app_settings: Settings) -> None:
    settings = with_env(app_settings, trusted_proxies=TRUSTED)
    a, b = {"x-forwarded-for": "203.0.113.1"}, {"forwarded": "for=203.0.113.2"}
    async with _served(settings) as c:
        await make_city()
        # Interleaved, as a street's phones and one stuffer's would be.
        stored = [await _submit(c, settings, who) for who in (a, b, a, a, b, a, a, a)]
        flagged = {f.response_id for f in await ResponseFlag.filter(kind=FlagKind.BURST.value)}
    from_a = [r.id for r in stored if r.ip_hash == _ip_hash(settings, "203.0.113.1")]
    from_b = [r.id for r in stored if r.ip_hash == _ip_hash(settings, "203.0.113.2")]
    assert (len(from_a), len(from_b)) == (6, 2)
    # Flagged on arrival from the fifth within ten minutes on.
    assert flagged == set(from_a[4:])


async def test_login_failures_are_counted_and_audited_per_forwarded_address(
    app_settings: Settings,
) -> None:
    settings = with_env(app_settings, trusted_proxies=TRUSTED)
    async with _served(settings) as c:
        await make_account("official1", Role.OFFICIAL)
        token = await csrf(c)
        for address in ("203.0.113.1", "203.0.113.1", "203.0.113.2"):
            r = await c.post(
                "/login",
                data={"username": "official1", "password": "wrong-but-long-enough"}
                | {"next": "/", "_csrf_token": token},
                headers={"x-forwarded-for": address},
            )
            assert r.status_code == 401
        failures = await AuditEvent.filter(action="login.failed").order_by("id")
    login_hash = {
        salted_hash(settings.secret_key, "login", a): a for a in ("203.0.113.1", "203.0.113.2")
    }
    assert [login_hash.get(str(e.details["address"])) for e in failures] == [
        "203.0.113.1",
        "203.0.113.1",
        "203.0.113.2",
    ]
