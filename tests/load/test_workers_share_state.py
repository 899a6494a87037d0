"""Sessions and rate limits hold across the workers of `fangxin serve --workers 2` with Redis.

Each request's worker is known, not assumed: a client keeps one connection open, and the test
finds the worker process holding the server's end of it (the socket's inode, from
/proc/net/tcp, among the worker's open files). A session opened on one worker is valid on
the other and dies on both at logout; the per-address limit counts the requests of both.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from service.kernel.security import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import PG_ADMIN_URL, _pg_admin, postgres_pass_only, redis_url_or_skip
from tests.helpers import PASSWORD, free_port
from tests.load.harness import FANGXIN, served, workers_of

pytestmark = pytest.mark.db
LIMIT = 40  # requests per minute from one address
REDIS_DB = 3  # a database of its own: the other servers' counts of 127.0.0.1 stay out


@dataclass
class Cluster:
    base: str
    port: int
    supervisor: int
    redis: redis.Redis

    def worker_serving(self, response: httpx.Response) -> int:
        """The worker process that holds the server's end of the response's connection."""
        _, client_port = response.extensions["network_stream"].get_extra_info("client_addr")
        here, there = f"0100007F:{self.port:04X}", f"0100007F:{client_port:04X}"
        inodes = [
            fields[9]
            for fields in (
                line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
            )
            if fields[1] == here and fields[2] == there
        ]
        assert len(inodes) == 1, f"no server socket for client port {client_port}"
        socket_link = f"socket:[{inodes[0]}]"
        for pid in workers_of(self.supervisor):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                try:
                    if os.readlink(fd) == socket_link:
                        return pid
                except FileNotFoundError:  # closed since listed
                    continue
        raise AssertionError(f"no worker holds {socket_link}")


class Pinned:
    """A client on one kept-alive connection, checking which worker answers every request."""

    def __init__(self, cluster: Cluster, worker: int, client: httpx.Client) -> None:
        self.cluster, self.worker, self.client = cluster, worker, client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        r = self.client.request(method, url, follow_redirects=False, **kwargs)
        assert self.cluster.worker_serving(r) == self.worker, "the connection moved"
        return r


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    postgres_pass_only("the two-worker tests")
    redis_url = f"{redis_url_or_skip().rsplit('/', 1)[0]}/{REDIS_DB}"
    home = tmp_path_factory.mktemp("workers")
    name = f"fangxin_workers_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(home),
        "FANGXIN_DATABASE_URL": f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}",
        "FANGXIN_REDIS_URL": redis_url,
        "FANGXIN_ENV": "test",
        "FANGXIN_RATE_LIMIT_PER_MINUTE": str(LIMIT),
    }
    store = redis.Redis.from_url(redis_url)
    try:
        subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [FANGXIN, "user", "add", "roving", "--role", "official", "--password-stdin"],
            env=env,
            input=PASSWORD.encode(),
            check=True,
            capture_output=True,
        )
        store.flushdb()
        with served(env, port, 2, home / "server.log") as supervisor:
            yield Cluster(f"http://127.0.0.1:{port}", port, supervisor, store)
    finally:
        store.flushdb()
        store.close()
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pinned(cluster: Cluster) -> Iterator[tuple[Pinned, Pinned]]:
    """One client on each of the two workers."""
    cluster.redis.flushdb()  # no session, no count left from an earlier test
    found: dict[int, httpx.Client] = {}
    spare: list[httpx.Client] = []
    try:
        for _ in range(60):  # which worker accepts a connection is the kernel's choice
            client = httpx.Client(
                base_url=cluster.base,
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                timeout=10,
            )
            worker = cluster.worker_serving(client.get("/healthz"))  # not rate limited
            if worker in found:
                spare.append(client)  # kept open, so the next connection is new
            else:
                found[worker] = client
            if len(found) == 2:
                break
        assert len(found) == 2, "60 connections all went to one worker"
        (wa, a), (wb, b) = found.items()
        yield Pinned(cluster, wa, a), Pinned(cluster, wb, b)
    finally:
        for c in [*found.values(), *spare]:
            c.close()


def test_a_session_opened_on_one_worker_holds_on_the_other_and_ends_on_both(
    pinned: tuple[Pinned, Pinned],
) -> None:
    a, b = pinned
    assert a.worker != b.worker
    a.request("GET", "/login")
    token = a.client.cookies[CSRF_COOKIE]
    signed_in = a.request(
        "POST",
        "/login",
        data={"username": "roving", "password": PASSWORD, "next": "/", "_csrf_token": token},
    )
    assert signed_in.status_code == 303
    session = a.client.cookies[SESSION_COOKIE]

    b.client.cookies = httpx.Cookies(a.client.cookies)
    page = b.request("GET", "/account", headers={"accept": "text/html"})
    assert page.status_code == 200 and "roving" in page.text
    assert a.request("GET", "/account", headers={"accept": "text/html"}).status_code == 200

    out = b.request("POST", "/logout", data={"_csrf_token": b.client.cookies[CSRF_COOKIE]})
    assert out.status_code == 303
    # Worker A never saw the logout; the old session id must be dead there as well.
    a.client.cookies.set(SESSION_COOKIE, session)
    after = a.request("GET", "/account", headers={"accept": "text/html"})
    assert after.status_code == 303 and after.headers["location"].startswith("/login")


def test_the_rate_limit_counts_the_requests_of_both_workers(
    pinned: tuple[Pinned, Pinned],
) -> None:
    a, b = pinned
    statuses = [
        (a if i % 2 == 0 else b).request("GET", "/api/v1/areas").status_code
        for i in range(LIMIT + 6)
    ]
    # Each worker saw 23 requests, well under the limit of 40: only a shared count refuses.
    assert statuses[:LIMIT] == [200] * LIMIT
    assert statuses[LIMIT:] == [429] * 6
