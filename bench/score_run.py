"""A whole score run end to end on PostgreSQL: load + compute + store, as `fangxin score run`.

    .venv/bin/python bench/score_run.py [--responses 1000000] [--merchants 50000]

Creates a fresh PostgreSQL database, loads the demo city's areas with ``--merchants``
merchants, the default questionnaires and ``--responses`` synthetic responses (the demo
generator: realistic answers, about 9 per response; stored by COPY), screens them, then runs
``fangxin score run`` in a process of its own and reports its timings (as the run records
them: load, compute, store), the wall time of the command, and the command's peak RSS.
Target (issue 4): end to end under 20 s with peak memory under 4 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from bench.env import DATA, database  # noqa: E402
from bench.figures import record  # noqa: E402
from service.kernel import db  # noqa: E402
from service.kernel.audit import Actor  # noqa: E402
from service.kernel.settings import load_settings  # noqa: E402
from service.register import imports  # noqa: E402
from service.register.demo import area_ins, merchant_ins  # noqa: E402
from service.register.demo_city import demo_areas, demo_merchants  # noqa: E402

FANGXIN = str(Path(sys.executable).parent / "fangxin")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/test"
DB_NAME = database("fangxin_bench_scoring")
ACTOR = Actor("bench", "score-run")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def populate(env: dict[str, str], n_merchants: int, n_responses: int) -> dict[str, float]:
    from surveys import demo_responses, quality
    from surveys.questionnaire import default_files, load_file

    timings: dict[str, float] = {}
    settings = load_settings(env)
    async with db.database(settings):
        t0 = time.perf_counter()
        areas = demo_areas()
        await imports.import_area_structs(area_ins(areas), actor=ACTOR)
        merchants = demo_merchants(areas, count=n_merchants)
        await imports.import_merchant_structs(merchant_ins(merchants), actor=ACTOR)
        for path in default_files():
            await load_file(path, actor=ACTOR)
        timings["registry_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        remaining = n_responses
        seed = 1
        while remaining > 0:  # in slices, so the generator's memory stays bounded
            size = min(remaining, 250_000)
            await demo_responses.populate(count=size, seed=seed)
            remaining -= size
            seed += 1
        timings["responses_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        await quality.recompute_flags()
        timings["screening_s"] = time.perf_counter() - t0
    conn = await asyncpg.connect(env["FANGXIN_DATABASE_URL"])
    try:
        await conn.execute("VACUUM ANALYZE")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM response) AS responses,"
            " (SELECT count(*) FROM answer) AS answers,"
            " (SELECT count(*) FROM response WHERE excluded) AS excluded,"
            " (SELECT count(*) FROM merchant) AS merchants"
        )
    finally:
        await conn.close()
    timings.update({k: float(v) for k, v in counts.items()})
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--merchants", type=int, default=50_000)
    args = parser.parse_args()

    asyncio.run(_admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)"))
    asyncio.run(_admin(f"CREATE DATABASE {DB_NAME}"))
    data_dir = DATA / "bench-scoring"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FANGXIN_DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "FANGXIN_DATA_DIR": str(data_dir),
        "FANGXIN_ENV": "production",
    }
    env.pop("FANGXIN_REDIS_URL", None)
    subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603
    setup = asyncio.run(populate(env, args.merchants, args.responses))

    t0 = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - our own console script
        [FANGXIN, "score", "run"], env=env, check=True, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    found = dict(re.findall(r"(load|compute|store) ([\d.]+) s", done.stdout))

    print(
        f"machine: {os.cpu_count()} cores; PostgreSQL; {setup['merchants']:,.0f} merchants, "
        f"{setup['responses']:,.0f} responses ({setup['excluded']:,.0f} set aside by screening),"
        f" {setup['answers']:,.0f} answers"
    )
    print(
        f"set-up: registry {setup['registry_s']:.1f} s, responses {setup['responses_s']:.1f} s,"
        f" screening {setup['screening_s']:.1f} s"
    )
    print(f"fangxin score run: {done.stdout.strip()}")
    print(
        f"end to end: {wall:.1f} s wall for the command (load {found.get('load')} s, compute "
        f"{found.get('compute')} s, store {found.get('store')} s; the rest is start-up);"
        f" peak RSS {peak_mb:,.0f} MB"
    )
    met = wall < 20 and peak_mb < 4096
    print(f"target end to end < 20 s and peak < 4 GB: {'met' if met else 'NOT met'}")
    record(
        "score_run.py",
        f"score run end to end on PostgreSQL, {setup['responses']:,.0f} responses",
        f"{wall:.1f} s, peak {peak_mb:,.0f} MB",
        "< 20 s, < 4 GB",
        met,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
