"""Survey submissions at full size: 20,000 at concurrency 100 through `fangxin serve
--workers 2` on PostgreSQL with Redis, retried with the same client_submission_id on timeouts;
then the same again with one worker killed (SIGKILL) a third of the way in.

    .venv/bin/python bench/load.py [--count 20000] [--concurrency 100]

Checks afterwards that the database holds every acknowledged submission exactly once, and
prints throughput and p50/p99 latency of both runs. (tests/load runs the same at 3,000.)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from bench.env import REDIS_URL, database  # noqa: E402
from bench.figures import record  # noqa: E402
from tests.load.harness import (  # noqa: E402
    FANGXIN,
    kill_one_worker,
    secret_of,
    served,
    submit_load,
)

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DB_NAME = database("fangxin_bench_load")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _stored(db_url: str, ids: set[str]) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        n: int = await conn.fetchval(
            "SELECT count(*) FROM response WHERE client_submission_id = ANY($1::uuid[])",
            sorted(ids),
        )
        return n
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    asyncio.run(_admin(f'CREATE DATABASE "{DB_NAME}"'))
    db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{DB_NAME}"
    home = Path(tempfile.mkdtemp(prefix="fangxin-load-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(home),
        "FANGXIN_DATABASE_URL": db_url.replace("postgresql://", "postgres://"),
        "FANGXIN_REDIS_URL": REDIS_URL,
        "FANGXIN_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    ok = True
    try:
        for cmd in (["migrate"], ["demo"]):
            subprocess.run([FANGXIN, *cmd], env=env, check=True, capture_output=True)  # noqa: S603
        with served(env, args.port, 2, home / "server.log") as pid:
            base = f"http://127.0.0.1:{args.port}"
            targets = [
                m["uscc"]
                for m in httpx.get(
                    f"{base}/api/v1/merchants", params={"status": "active", "page_size": 200}
                ).json()["items"]
            ]
            print(f"{'run':<28} {'acked':>7} {'stored':>7} {'/s':>6} {'p50 ms':>7} {'p99 ms':>7}")
            for name, kill in (("steady", False), ("one worker SIGKILLed", True)):
                result = asyncio.run(
                    submit_load(
                        base,
                        targets,
                        args.count,
                        args.concurrency,
                        secret=secret_of(env),
                        seed=1 if not kill else 2,
                        halfway=(lambda: kill_one_worker(pid)) if kill else None,
                    )
                )
                stored = asyncio.run(_stored(db_url, result.acknowledged))
                once = stored == len(result.acknowledged) == args.count and not result.refused
                ok &= once
                record(
                    "load.py",
                    f"{args.count:,} submissions at {args.concurrency}, {name}",
                    f"{result.throughput:,.0f}/s, p50 {result.percentile(0.5):.0f} ms, "
                    f"p99 {result.percentile(0.99):.0f} ms, {result.retries} retries",
                    "each acknowledged one stored once",
                    once,
                )
                print(
                    f"{name:<28} {len(result.acknowledged):>7} {stored:>7} "
                    f"{result.throughput:>6.0f} {result.percentile(0.5):>7.0f} "
                    f"{result.percentile(0.99):>7.0f}  ({result.retries} retries)"
                )
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
    print("every acknowledged submission stored exactly once:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
