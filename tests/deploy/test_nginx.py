"""Debian's nginx, with the shipped locations (deploy/nginx/fangxin-locations.conf), in front
of `fangxin serve --workers 2` on SQLite or PostgreSQL (each pass its own) and Redis, with
FANGXIN_TRUSTED_PROXIES=127.0.0.1.

Clients on distinct loopback addresses are told apart (their own rate-limit buckets, their
own address hashes), a burst from one of them flags that client's responses only, and an
X-Forwarded-For sent to the app directly, or through nginx, changes nothing. The shipped
TLS server itself (deploy/nginx/fangxin.conf) is run too, with a certificate made here."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ipaddress
import os
import random
import secrets
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.kernel import db
from service.kernel.privacy import salted_hash
from service.kernel.settings import load_settings
from surveys.routes import DEVICE_HEADER, signed_device
from surveys.submit import issue_start_token
from tests.conftest import (
    PG_ADMIN_URL,
    _pg_admin,
    _pg_reachable,
    dialect,
    redis_url_or_skip,
    unavailable,
)
from tests.helpers import free_port
from tests.load.harness import FANGXIN, secret_of, served, wait_until
from tests.surveys.conftest import GOOD_ANSWERS, USCC, make_city

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "nginx"
WEB = ROOT / "service" / "web"
RATE_LIMIT = 30  # requests per address per minute, small enough to run out of here
SUBMIT = "/api/v1/surveys/merchant/responses"
SECURITY_HEADERS = (
    "content-security-policy",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
    "cross-origin-opener-policy",
    "permissions-policy",
)

# A test's own nginx: everything it writes under its prefix, in the foreground.
MAIN_CONF = """\
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
{http}
}}
"""
# The shipped locations in a plain-HTTP server on a port of the test's.
PLAIN_HTTP = """\
    upstream fangxin {{
        server 127.0.0.1:{app_port};
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        set $fangxin_web {web};
        include snippets/fangxin-locations.conf;
    }}
"""


def _nginx() -> str:
    # /usr/sbin is on root's PATH only.
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        unavailable("nginx is not installed (Makefile TEST_DEBS installs it)")
        raise AssertionError("unreachable")
    return found


@contextmanager
def nginx(prefix: Path, http: str, ports: list[int]) -> Iterator[None]:
    """nginx -p prefix with ``http`` inside its http block; ready once ``ports`` accept."""
    (prefix / "tmp").mkdir(parents=True)
    (prefix / "snippets").mkdir()
    # Included by a relative name as on Debian (/etc/nginx/snippets/), from the repository.
    (prefix / "snippets" / "fangxin-locations.conf").symlink_to(DEPLOY / "fangxin-locations.conf")
    conf = prefix / "nginx.conf"
    # As root, nginx's workers would drop to "nobody", who may not enter pytest's tmp dirs.
    user = "user root;" if os.geteuid() == 0 else ""
    conf.write_text(MAIN_CONF.format(prefix=prefix, user=user, http=http), encoding="utf-8")
    binary = _nginx()
    check = subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def listening() -> bool:
            assert proc.poll() is None, (prefix / "error.log").read_text()
            for port in ports:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
            return True

        wait_until(listening, 20, "nginx was not listening")
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@dataclass(frozen=True)
class Stack:
    proxy: str  # nginx, plain HTTP
    app: str  # the app itself
    app_port: int
    db_url: str
    env: dict[str, str]
    secret: str
    access_log: Path  # nginx's

    def client(self, address: str, *, direct: bool = False) -> httpx.Client:
        """A client whose connections leave from ``address`` (a loopback address)."""
        return httpx.Client(
            base_url=self.app if direct else self.proxy,
            transport=httpx.HTTPTransport(local_address=address),
            timeout=30,
        )


async def _city(env: dict[str, str]) -> None:
    async with db.database(load_settings(env)):
        await make_city()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    redis = redis_url_or_skip()
    _nginx()
    home = tmp_path_factory.mktemp("nginx-stack")
    # Each pass on its own database: two server processes share SQLite's file (WAL) as they
    # share a PostgreSQL database.
    name = None
    if dialect() == "postgres":
        problem = _pg_reachable()
        if problem:
            unavailable(problem)
        name = f"fangxin_nginx_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        db_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    else:
        db_url = f"sqlite://{home / 'data' / 'fangxin.sqlite3'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(home / "data"),
        "FANGXIN_DATABASE_URL": db_url,
        "FANGXIN_REDIS_URL": redis,
        "FANGXIN_ENV": "test",
        "FANGXIN_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
        "FANGXIN_TRUSTED_PROXIES": "127.0.0.1",
    }
    app_port, proxy_port = free_port(), free_port()
    try:
        subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True)
        asyncio.run(_city(env))
        http = PLAIN_HTTP.format(app_port=app_port, port=proxy_port, web=WEB)
        with (
            served(env, app_port, 2, home / "server.log"),
            nginx(home / "nginx", http, [proxy_port]),
        ):
            yield Stack(
                f"http://127.0.0.1:{proxy_port}",
                f"http://127.0.0.1:{app_port}",
                app_port,
                db_url,
                env,
                secret_of(env),
                home / "nginx" / "access.log",
            )
    finally:
        if name is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def addresses() -> Iterator[str]:
    """Fresh loopback addresses 127.x.y.2, .3 …: rate-limit buckets in the shared Redis
    outlive a run by a minute, and other test runs may use 127.0.0.2."""
    rng = random.Random()
    net = f"127.{rng.randint(1, 254)}.{rng.randint(0, 255)}"
    return (f"{net}.{i}" for i in range(2, 255))


def _submit(client: httpx.Client, secret: str, headers: dict[str, str] | None = None) -> int:
    """One API submission from a device of its own, shown 40 s before (not a speeder)."""
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=40)
    body: dict[str, Any] = {
        "target": USCC,
        "answers": dict(GOOD_ANSWERS),
        "client_submission_id": str(uuid.uuid4()),
        "start_token": issue_start_token(secret, "merchant", USCC, started),
    }
    device = signed_device(secret, uuid.uuid4().hex)
    r = client.post(SUBMIT, json=body, headers={DEVICE_HEADER: device, **(headers or {})})
    assert r.status_code == 201, r.text
    response_id: int = r.json()["id"]
    return response_id


async def _by_address(
    db_url: str, secret: str, addresses: list[str], ids: list[int] | None = None
) -> dict[str, tuple[int, int]]:
    """(responses, flagged as burst) for each address whose hash is stored, by address;
    a hash of no address given is shown as "other"."""
    if db_url.startswith("sqlite://"):
        rows = _sqlite_rows(db_url.removeprefix("sqlite://"), ids)
    else:
        conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://"))
        try:
            rows = await conn.fetch(
                f"SELECT r.ip_hash, count(*) AS n, count(*) FILTER (WHERE {BURST}) AS burst"
                " FROM response r WHERE $1::bigint[] IS NULL OR r.id = ANY($1)"
                " GROUP BY r.ip_hash",
                ids,
            )
        finally:
            await conn.close()
    named = {salted_hash(secret, "ip", a): a for a in addresses}
    found: dict[str, tuple[int, int]] = {}
    for row in rows:
        key = named.get(row["ip_hash"], "other")
        n, burst = found.get(key, (0, 0))
        found[key] = (n + row["n"], burst + row["burst"])
    return found


BURST = "EXISTS (SELECT 1 FROM response_flag f WHERE f.response_id = r.id AND f.kind = 'burst')"


def _sqlite_rows(path: str, ids: list[int] | None) -> list[dict[str, Any]]:
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute(f"SELECT r.id, r.ip_hash, {BURST} AS burst FROM response r").fetchall()
    wanted = None if ids is None else set(ids)
    totals: dict[str, dict[str, Any]] = {}
    for row in rows:
        if wanted is None or row["id"] in wanted:
            entry = totals.setdefault(
                row["ip_hash"], {"ip_hash": row["ip_hash"], "n": 0, "burst": 0}
            )
            entry["n"] += 1
            entry["burst"] += int(row["burst"])
    return list(totals.values())


def _table(title: str, figures: dict[str, tuple[int, int]]) -> None:
    print(f"\n{title}")  # noqa: T201 - the figures, to be quoted
    for address, (n, burst) in sorted(figures.items()):
        print(f"  {address:<16} {n:>2} responses, {burst:>2} flagged burst")  # noqa: T201


def test_clients_behind_nginx_are_told_apart_and_a_burst_flags_only_its_own(
    stack: Stack, addresses: Iterator[str]
) -> None:
    a, b, c = next(addresses), next(addresses), next(addresses)
    clients = {who: stack.client(who) for who in (a, b, c)}
    # One shop: a stuffer at a sends six within a minute, two customers two each.
    plan = [a, b, a, c, a, a, b, a, c, a]
    ids = [_submit(clients[who], stack.secret) for who in plan]
    for client in clients.values():
        client.close()
    everyone = [a, b, c, "127.0.0.1"]
    arrived = asyncio.run(_by_address(stack.db_url, stack.secret, everyone, ids))
    _table("through nginx, as they arrived:", arrived)
    screened = subprocess.run(
        [FANGXIN, "survey", "screen", "merchant"],
        env=stack.env,
        check=True,
        capture_output=True,
        text=True,
    )
    after = asyncio.run(_by_address(stack.db_url, stack.secret, everyone, ids))
    _table(f"after `fangxin survey screen`: {screened.stdout.strip()}", after)
    # Nothing counted as nginx's address; the fifth from a and after flagged on arrival,
    # all six of a's once screened; b's and c's never.
    assert arrived == {a: (6, 2), b: (2, 0), c: (2, 0)}
    assert after == {a: (6, 6), b: (2, 0), c: (2, 0)}


def test_each_client_behind_nginx_has_its_own_rate_limit(
    stack: Stack, addresses: Iterator[str]
) -> None:
    e, f = next(addresses), next(addresses)
    with stack.client(e) as ce, stack.client(f) as cf:
        served_e = 0
        while (r := ce.get("/api/v1/areas")).status_code == 200:
            served_e += 1
            assert served_e <= RATE_LIMIT, "the limit never came"
        assert r.status_code == 429
        other = cf.get("/api/v1/areas")
    print(  # noqa: T201 - the figures
        f"\nrate limit {RATE_LIMIT}/min: {e} served {served_e}, then {r.status_code}; "
        f"{f} right after: {other.status_code}, "
        f"{other.headers.get('ratelimit-remaining')} left"
    )
    assert served_e == RATE_LIMIT  # both workers counted into one bucket (Redis)
    assert other.status_code == 200
    assert other.headers["ratelimit-remaining"] == str(RATE_LIMIT - 1)


def test_a_spoofed_x_forwarded_for_is_ignored_straight_or_through_nginx(
    stack: Stack, addresses: Iterator[str]
) -> None:
    victim, direct, via_proxy = next(addresses), next(addresses), next(addresses)
    spoof = {"x-forwarded-for": victim, "forwarded": f"for={victim}"}
    with stack.client(direct, direct=True) as straight, stack.client(via_proxy) as proxied:
        ids = [_submit(straight, stack.secret, spoof), _submit(proxied, stack.secret, spoof)]
    seen = asyncio.run(
        _by_address(stack.db_url, stack.secret, [victim, direct, via_proxy, "127.0.0.1"], ids)
    )
    _table(f"claiming to be {victim} (X-Forwarded-For and Forwarded):", seen)
    # Straight to the app, the peer is no proxy of ours; through nginx, nginx overwrites.
    assert seen == {direct: (1, 0), via_proxy: (1, 0)}


def test_nginx_serves_static_files_and_refuses_large_bodies_as_problems(stack: Stack) -> None:
    with httpx.Client(base_url=stack.proxy, timeout=60) as client:
        css = client.get("/static/site.css")
        head = client.head("/static/site.css")
        missing = client.get("/static/no-such-file.css")
        page = client.get("/healthz")
        big = client.post(
            SUBMIT,
            content=b"{" + b" " * (12 * 1024 * 1024) + b"}",
            headers={"content-type": "application/json"},
        )
    assert css.status_code == 200 and css.content == (WEB / "static" / "site.css").read_bytes()
    assert css.headers["content-type"].startswith("text/css")
    # nginx answered it from disk: the app puts a request id on everything it answers.
    assert "x-request-id" not in css.headers and "x-request-id" in page.headers
    assert {h: css.headers.get(h) for h in SECURITY_HEADERS} == {
        h: page.headers.get(h) for h in SECURITY_HEADERS
    }
    assert head.status_code == 200 and head.content == b""
    assert missing.status_code == 404 and "x-request-id" in missing.headers  # the app's 404
    assert big.status_code == 413
    assert big.headers["content-type"] == "application/problem+json"
    assert big.json()["status"] == 413


def test_a_tracking_secret_in_a_link_never_reaches_nginxs_log(stack: Stack) -> None:
    secret = "Kq7wE2xR9mT4vB8nL3pZ6a"
    with httpx.Client(base_url=stack.proxy, timeout=30) as client:
        for path in ("/track/TS-2026-2222ZZ", "/api/v1/track/TS-2026-2222ZZ"):
            assert client.get(path, params={"k": secret}).status_code == 404  # (no such code)
        assert client.get("/healthz", params={"probe": "logged"}).status_code == 200

    def logged() -> bool:
        return "probe=logged" in stack.access_log.read_text()

    wait_until(logged, 10, "nginx logged nothing")  # (its log is written as requests end)
    log = stack.access_log.read_text()
    assert secret not in log and "/track/" not in log


# The shipped TLS server (deploy/nginx/fangxin.conf), its placeholders replaced.


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fangxin.example.gov.cn")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("fangxin.example.gov.cn"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    chain, private = directory / "fullchain.pem", directory / "privkey.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return chain, private


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"deploy/nginx/fangxin.conf no longer has {old!r} once"
    return text.replace(old, new)


def test_the_shipped_tls_server_redirects_http_and_proxies_https(
    stack: Stack, tmp_path: Path, addresses: Iterator[str]
) -> None:
    chain, private = _certificate(tmp_path)
    http_port, https_port = free_port(), free_port()
    shipped = (DEPLOY / "fangxin.conf").read_text(encoding="utf-8")
    conf = _replace_once(shipped, "server 127.0.0.1:8000;", f"server 127.0.0.1:{stack.app_port};")
    conf = _replace_once(conf, "listen 80;", f"listen 127.0.0.1:{http_port};")
    conf = _replace_once(conf, "listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;")
    conf = _replace_once(conf, "/etc/ssl/fangxin/fullchain.pem", str(chain))
    conf = _replace_once(conf, "/etc/ssl/fangxin/privkey.pem", str(private))
    conf = _replace_once(
        conf, "/opt/fangxin/venv/lib/python3.11/site-packages/service/web", str(WEB)
    )
    # This machine may have no IPv6.
    conf = "\n".join(line for line in conf.splitlines() if "[::]" not in line)
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    (prefix / "fangxin.conf").write_text(conf, encoding="utf-8")
    who = next(addresses)
    trust = ssl.create_default_context(cafile=str(chain))
    with nginx(prefix, f"    include {prefix / 'fangxin.conf'};", [http_port, https_port]):
        with httpx.Client(transport=httpx.HTTPTransport(local_address=who)) as plain:
            redirect = plain.get(
                f"http://127.0.0.1:{http_port}/scores?kind=merchant",
                headers={"host": "fangxin.example.gov.cn"},
            )
        with httpx.Client(
            base_url=f"https://127.0.0.1:{https_port}",
            transport=httpx.HTTPTransport(local_address=who, verify=trust),
        ) as tls:
            ready = tls.get("/readyz")
            ids = [_submit(tls, stack.secret)]
            css = tls.get("/static/favicon.svg")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == "https://fangxin.example.gov.cn/scores?kind=merchant"
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert css.status_code == 200 and "x-request-id" not in css.headers
    seen = asyncio.run(_by_address(stack.db_url, stack.secret, [who, "127.0.0.1"], ids))
    assert seen == {who: (1, 0)}
