"""`fangxin serve --workers 2` with its data dir on a 40 MiB file system filled to the last
byte (issue 29, item 2): no worker dies, pages, sign-ins and scrapes go on, a certificate PDF
that cannot be stored answers 507, /readyz and the desk say the disk is full, and once room
is made the same PDF is signed and served. Metrics files of servers gone are cleared at
start. The database lives off the full disk (PostgreSQL in that pass, an SQLite file beside
the data dir in the other), as the README's deployment has it."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from certificates.policy import Kind
from service.kernel import db
from service.kernel.models import Role
from service.kernel.security import CSRF_COOKIE
from service.kernel.settings import load_settings
from tests.certificates.test_cascade import _certificate
from tests.conftest import (
    PG_ADMIN_URL,
    _pg_admin,
    _pg_reachable,
    dialect,
    redis_url_or_skip,
    unavailable,
)
from tests.helpers import PASSWORD, fill_disk, free_port, make_account, small_disk
from tests.load.harness import served, workers_of

pytestmark = pytest.mark.db

SERIAL = "ZMD-2026-M-000001-O"
METRICS_TOKEN = "scrape-" + "d" * 40
GONE_SERVER = "4194305"  # above Linux's largest pid: a server that is no more
PAGES = ("/", "/verify/upload", "/login", "/healthz", "/methodology", "/no-such-page")


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A fresh database of the pass's dialect, off the small disk."""
    if dialect() != "postgres":
        yield f"sqlite://{tmp_path / 'fangxin.sqlite3'}"
        return
    problem = _pg_reachable()
    if problem:
        unavailable(problem)
    name = f"fangxin_disk_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _migrated_with_an_official_and_a_certificate(env: dict[str, str]) -> None:
    """What ``fangxin migrate`` and ``fangxin user add`` would do, without their start-up."""
    settings = load_settings(env)
    await db.migrate(settings)
    async with db.database(settings):
        await make_account("inspector", Role.OFFICIAL)
        await _certificate(
            Kind.MERCHANT, "91411700MA44XE2L5B", "老王烩面馆", SERIAL, datetime.now(UTC)
        )


def _sign_in(client: httpx.Client) -> None:
    client.get("/login")
    data = {"username": "inspector", "password": PASSWORD, "next": "/"}
    r = client.post(
        "/login", data=data | {"_csrf_token": client.cookies[CSRF_COOKIE]}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def _pids_of(metrics: Path) -> set[int]:
    """The processes with metrics files (``counter_<pid>.db``, ``histogram_<pid>.db``)."""
    return {int(p.stem.rsplit("_", 1)[1]) for p in metrics.glob("*.db")}


def _both_counting(base: str, metrics: Path, pid: int) -> set[int]:
    """The two workers' pids, once each has counted a request (its metrics files made before
    the disk fills: the case that died of SIGBUS as they grew)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = set(workers_of(pid))
        counting = _pids_of(metrics)
        if len(workers) == 2 and counting == workers:
            return workers
        with httpx.Client(base_url=base, timeout=60) as fresh:  # a new connection each time
            assert fresh.get("/healthz").status_code == 200
    raise AssertionError(f"both workers did not count a request within 60 s: {counting}")


def test_a_full_data_disk_degrades_the_service_and_kills_no_worker(
    tmp_path: Path, database: str
) -> None:
    with small_disk(tmp_path / "data", 40) as data:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
        env |= {
            "FANGXIN_DATA_DIR": str(data),
            "FANGXIN_DATABASE_URL": database,
            "FANGXIN_REDIS_URL": redis_url_or_skip(),
            "FANGXIN_ENV": "test",
            "FANGXIN_BASE_URL": base,
            "FANGXIN_METRICS_TOKEN": METRICS_TOKEN,
            "FANGXIN_RATE_LIMIT_PER_MINUTE": "100000",
            "PYTHONFAULTHANDLER": "1",  # a worker killed by SIGBUS says so in the log
        }
        asyncio.run(_migrated_with_an_official_and_a_certificate(env))
        stale = data / "metrics" / GONE_SERVER
        stale.mkdir(parents=True)
        (stale / "counter_4194306.db").write_bytes(b"\0" * 4096)

        with served(env, port, 2, tmp_path / "server.log") as pid:
            assert not stale.exists(), "a gone server's metrics files are cleared at start"
            workers = _both_counting(base, data / "metrics" / str(pid), pid)
            filler = fill_disk(data)

            # Every worker meets pages it has not counted yet: before the fix, counting
            # them wrote into unreserved pages of its metrics file and SIGBUS killed it.
            for _ in range(4):
                for path in PAGES:
                    r = httpx.get(f"{base}{path}", timeout=60, headers={"accept": "text/html"})
                    assert r.status_code in (200, 404), (path, r.status_code)
            with httpx.Client(base_url=base, timeout=60) as official:
                _sign_in(official)
                desk = official.get("/official", headers={"accept": "text/html"})
                assert desk.status_code == 200 and "数据磁盘已满" in desk.text

            pdf = httpx.get(f"{base}/api/v1/certificates/{SERIAL}/pdf", timeout=60)
            assert pdf.status_code == 507, pdf.text
            assert pdf.headers["content-type"].startswith("application/problem+json")
            assert f"the signed PDF of {SERIAL} could not be saved" in pdf.json()["detail"]
            assert not any(p.is_file() for p in (data / "pdf").rglob("*"))  # nothing partial

            ready = httpx.get(f"{base}/readyz", timeout=60)
            assert ready.status_code == 503 and "data disk full" in ready.json()["detail"]
            scrape = httpx.get(
                f"{base}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
            )
            assert scrape.status_code == 200, scrape.text

            # A worker that died of SIGBUS said so (PYTHONFAULTHANDLER). uvicorn may still
            # replace a worker that a loaded machine keeps from answering its health check
            # for 5 s: a replacement on the full disk cannot make metrics files, and says so.
            log = (tmp_path / "server.log").read_text(errors="replace")
            assert "Fatal Python error" not in log, log[-3000:]
            counted = _pids_of(data / "metrics" / str(pid))
            assert counted == workers, "metrics files only of the workers that counted before"

            # Room made: the same certificate's PDF is signed, stored and served.
            filler.unlink()
            pdf = httpx.get(f"{base}/api/v1/certificates/{SERIAL}/pdf", timeout=60)
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
            ready = httpx.get(f"{base}/readyz", timeout=60)
            assert ready.status_code == 200 and ready.json()["disk"]["state"] == "low"
