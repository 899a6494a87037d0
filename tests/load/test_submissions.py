"""Nothing acknowledged is lost, nothing retried is duplicated: survey submissions at
concurrency 100 through `fangxin serve --workers 2` on PostgreSQL with Redis, then the same
with one worker killed (SIGKILL) in the middle of the load.

A modest size here (CI); bench/submissions.py runs 20,000."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, _pg_admin, postgres_pass_only, redis_url_or_skip
from tests.helpers import free_port
from tests.load.harness import (
    FANGXIN,
    kill_one_worker,
    secret_of,
    served,
    submit_load,
    wait_until,
    workers_of,
)

pytestmark = pytest.mark.db
COUNT = int(os.environ.get("FANGXIN_LOAD_COUNT", "3000"))
CONCURRENCY = 100


@dataclass
class Served:
    base: str
    pid: int
    db_url: str
    targets: list[str]
    secret: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    postgres_pass_only("the load tests")
    redis = redis_url_or_skip()
    home = tmp_path_factory.mktemp("load")
    name = f"fangxin_load_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    db_url = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(home),
        "FANGXIN_DATABASE_URL": db_url,
        "FANGXIN_REDIS_URL": redis,
        "FANGXIN_ENV": "test",
        # One address sends everything here: the per-address limit is not what is tested.
        "FANGXIN_RATE_LIMIT_PER_MINUTE": "1000000",
    }
    try:
        for args in (["migrate"], ["demo"]):
            subprocess.run([FANGXIN, *args], env=env, check=True, capture_output=True)
        with served(env, port, 2, home / "server.log") as pid:
            base = f"http://127.0.0.1:{port}"
            listed = httpx.get(
                f"{base}/api/v1/merchants", params={"status": "active", "page_size": 200}
            ).json()["items"]
            yield Served(base, pid, db_url, [m["uscc"] for m in listed], secret_of(env))
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _stored(db_url: str, ids: set[str]) -> list[str]:
    conn = await asyncpg.connect(db_url.replace("postgres://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT client_submission_id::text FROM response"
            " WHERE client_submission_id = ANY($1::uuid[])",
            sorted(ids),
        )
    finally:
        await conn.close()
    return [r[0] for r in rows]


def test_every_acknowledged_submission_is_stored_once(server: Served) -> None:
    result = asyncio.run(
        submit_load(server.base, server.targets, COUNT, CONCURRENCY, secret=server.secret)
    )
    print(f"\nload, {CONCURRENCY} at once: {result.summary()}")  # noqa: T201 - the figures
    assert result.refused == []
    assert len(result.acknowledged) == COUNT
    stored = asyncio.run(_stored(server.db_url, result.acknowledged))
    assert sorted(stored) == sorted(result.acknowledged)  # none lost, none twice


def test_a_worker_killed_mid_load_loses_nothing_acknowledged(server: Served) -> None:
    before = workers_of(server.pid)
    killed: list[int] = []
    result = asyncio.run(
        submit_load(
            server.base,
            server.targets,
            COUNT,
            CONCURRENCY,
            secret=server.secret,
            seed=316,
            halfway=lambda: killed.append(kill_one_worker(server.pid)),
        )
    )
    print(f"\nload with worker {killed} killed: {result.summary()}")  # noqa: T201
    assert killed and killed[0] in before
    # The supervisor starts a new worker in its place.
    wait_until(
        lambda: len(workers_of(server.pid)) == 2 and killed[0] not in workers_of(server.pid),
        30,
        "no worker replaced the killed one",
    )
    assert result.refused == []
    assert len(result.acknowledged) == COUNT  # retries with the same id got every one through
    stored = asyncio.run(_stored(server.db_url, result.acknowledged))
    assert sorted(stored) == sorted(result.acknowledged)
