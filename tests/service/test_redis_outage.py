"""Redis away (issue 29, item 3): public pages and survey submissions go on, quickly; rate
limits hold per process; signed-in pages answer 503 saying why; /readyz names Redis; and
when Redis is back, so is everything — the sessions too, when Redis kept them on disk.

"Away" three ways: a port nobody listens on (refused at once), a port that accepts and never
answers (every reply a timeout), and a private redis-server this test starts and stops (the
machine's Redis is shared and stays up)."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from service.kernel.models import Role
from service.kernel.security import SESSION_COOKIE
from service.kernel.settings import Settings
from service.kernel.stores import (
    COOLDOWN,
    FALLBACK_SWEEP_EVERY,
    FailOpenStore,
    GuardedStore,
    RedisGuard,
    StoreUnavailable,
    guard_of,
)
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process, with_env
from tests.helpers import free_port, login, make_account
from tests.service.test_metrics import METRICS_TOKEN, samples
from tests.surveys.conftest import GOOD_ANSWERS, OTHER_USCC, USCC, make_city

pytestmark = pytest.mark.redis
HTML = {"accept": "text/html"}
QUICK = 1.5  # seconds: what a request may take while Redis is away
SUBMIT = "/api/v1/surveys/merchant/responses"


@contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung Redis)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(64)
        yield s.getsockname()[1]


class PrivateRedis:
    """A redis-server of this test's own that keeps its data in an append-only file, as the
    README asks of production. ``stop`` is SIGTERM, which flushes the file."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "yes", "--dir", str(self.data_dir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def app_on(settings: Settings, redis_url: str, **changes: Any) -> AsyncIterator[Any]:
    settings = with_env(settings, redis_url=redis_url, metrics_token=METRICS_TOKEN, **changes)
    await empty_database(settings)
    app = make_app(settings)
    async with serve_in_process(app, BASE_URL) as client:
        yield app, client


def submission(target: str = USCC) -> dict[str, Any]:
    return {
        "target": target,
        "answers": dict(GOOD_ANSWERS),
        "client_submission_id": str(uuid.uuid4()),
        "started_at": (datetime.now(UTC) - timedelta(seconds=50)).isoformat(),
    }


async def timed(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> httpx.Response:
    started = time.perf_counter()
    r = await client.request(method, url, **kw)
    elapsed = time.perf_counter() - started
    assert elapsed < QUICK, f"{method} {url} took {elapsed:.2f} s without Redis"
    return r


async def unavailable_count(client: httpx.AsyncClient, use: str) -> float:
    scrape = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert scrape.status_code == 200
    key = ("fangxin_redis_unavailable_total", frozenset({("use", use)}))
    return samples(scrape.text).get(key, 0.0)


@pytest.mark.parametrize("away", ["refused", "hung"])
async def test_without_redis_public_pages_and_submissions_work_and_signed_in_pages_say_503(
    app_settings: Settings, capsys: pytest.CaptureFixture[str], away: str
) -> None:
    with black_hole() as hung_port:
        port = free_port() if away == "refused" else hung_port
        async with app_on(app_settings, f"redis://127.0.0.1:{port}/0") as (_, client):
            await make_city()
            for path in ("/", f"/merchants/{USCC}", "/scores", "/api/v1/areas"):
                assert (await timed(client, "GET", path, headers=HTML)).status_code == 200
            r = await timed(client, "POST", SUBMIT, json=submission())
            assert r.status_code == 201, r.text
            # A visitor still holding a session cookie sees the public pages as anyone does,
            # and keeps the cookie: the session may well be there when Redis is back.
            client.cookies.set(SESSION_COOKIE, "a" * 64)
            r = await timed(client, "GET", "/", headers=HTML)
            assert r.status_code == 200 and SESSION_COOKIE not in r.headers.get("set-cookie", "")
            r = await timed(client, "POST", SUBMIT, json=submission(OTHER_USCC))
            assert r.status_code == 201, r.text
            # ... but a page that needs the session says why it cannot open, in the
            # visitor's language, and when to come back; the API says the same as JSON.
            r = await timed(client, "GET", "/merchant", headers=HTML, follow_redirects=False)
            assert r.status_code == 503 and r.headers["retry-after"] == "30"
            assert "登录服务暂时不可用" in r.text
            r = await timed(client, "GET", "/merchant?lang=en", headers=HTML)
            assert r.status_code == 503 and "Sign-in is temporarily unavailable" in r.text
            r = await timed(client, "GET", "/api/v1/tokens")
            assert r.status_code == 503
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "Signing in is temporarily unavailable" in r.json()["detail"]
            # Signing in cannot work either, and says so rather than "wrong password".
            client.cookies.clear()
            await make_account("shopkeeper", Role.MERCHANT, merchant_uscc=USCC)
            assert await login(client, "shopkeeper") == 503
            # Readiness names Redis; liveness is the process alone.
            r = await timed(client, "GET", "/readyz")
            assert r.status_code == 503 and "redis" in r.json()["checks"]
            assert "database" not in r.json()["checks"]
            assert (await client.get("/healthz")).status_code == 200
            assert await unavailable_count(client, "rate_limit") > 0
            assert await unavailable_count(client, "sessions") > 0
    # One warning for the whole outage, not one per request.
    assert capsys.readouterr().err.count("redis unavailable") == 1


async def test_without_redis_the_rate_limit_holds_per_process(app_settings: Settings) -> None:
    async with app_on(
        app_settings, f"redis://127.0.0.1:{free_port()}/0", rate_limit_per_minute=5
    ) as (_, client):
        statuses = [(await client.get("/api/v1/areas")).status_code for _ in range(7)]
        assert statuses == [200] * 5 + [429, 429]
        assert await unavailable_count(client, "rate_limit") >= 7


async def test_while_redis_hangs_requests_do_not_each_wait_for_a_timeout(
    app_settings: Settings,
) -> None:
    with black_hole() as port:
        async with app_on(app_settings, f"redis://127.0.0.1:{port}/0") as (_, client):
            started = time.perf_counter()
            for _ in range(20):
                assert (await client.get("/api/v1/areas")).status_code == 200
            # One timeout opens the breaker; without it, 20 × the reply timeout (10 s).
            assert time.perf_counter() - started < 2 * QUICK


async def test_when_redis_comes_back_so_do_sign_in_and_the_sessions_it_kept(
    app_settings: Settings, private_redis: PrivateRedis
) -> None:
    async with app_on(app_settings, private_redis.url) as (app, client):
        guard = guard_of(app.stores.get("sessions"))
        assert guard is not None
        await make_city()
        await make_account("shopkeeper", Role.MERCHANT, merchant_uscc=USCC)
        assert await login(client, "shopkeeper") == 303
        assert (await client.get("/merchant", headers=HTML)).status_code == 200
        # Redis stops: the same cookie meets a 503, public pages go on.
        private_redis.stop()
        r = await timed(client, "GET", "/merchant", headers=HTML)
        assert r.status_code == 503
        assert (await timed(client, "GET", "/", headers=HTML)).status_code == 200
        assert (await client.get("/readyz")).status_code == 503
        assert guard.down
        # Redis is back with its append-only file: the session is there again, once the
        # breaker lets a request try (here at once; in service after COOLDOWN seconds).
        private_redis.start()
        guard.cooldown = 0.0
        r = await client.get("/merchant", headers=HTML)
        assert r.status_code == 200 and "老王烩面馆" in r.text
        assert not guard.down
        assert (await client.get("/readyz")).status_code == 200


async def test_the_breaker_leaves_redis_alone_for_its_cooldown_then_tries_again() -> None:
    now = [100.0]
    uses: list[str] = []
    guard = RedisGuard(
        f"redis://127.0.0.1:{free_port()}/0", on_unavailable=uses.append, clock=lambda: now[0]
    )
    tries = 0

    async def ping() -> object:
        nonlocal tries
        tries += 1
        return await guard.client.ping()

    try:
        for _ in range(3):
            with pytest.raises(StoreUnavailable):
                await guard.call("sessions", ping)
        assert (tries, uses) == (1, ["sessions"] * 3)  # asked once; counted each time
        now[0] += COOLDOWN
        with pytest.raises(StoreUnavailable):
            await guard.call("rate_limit", ping)
        assert tries == 2 and guard.down
    finally:
        await guard.aclose()


async def test_the_in_memory_rate_limits_forget_expired_clients() -> None:
    guard = RedisGuard(f"redis://127.0.0.1:{free_port()}/0")
    store = FailOpenStore(GuardedStore(guard, "rate_limit", "test"))
    try:
        for i in range(FALLBACK_SWEEP_EVERY - 1):
            await store.set(f"client-{i}", b"1", expires_in=timedelta(microseconds=1))
        await store.set("the last", b"1", expires_in=60)
        assert await store.get("the last") == b"1"
        assert not await store.fallback.exists("client-0")
        assert len(store.fallback._store) == 1  # swept, not merely unreadable
    finally:
        await guard.aclose()
