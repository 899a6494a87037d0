"""Every benchmark at a tiny size (issue 34, item 2): it completes, prints its table, and its
own checks hold (each bench exits non-zero when they do not), so a change that breaks a bench
fails CI rather than the next `make bench`. Then `bench/report.py` writes the figures it
recorded. The figures themselves are not checked: at this size they mean nothing.

Each run keeps its state apart (bench/env.py): its own results and data folders, this pass's
Redis database and PostgreSQL database names with a suffix of its own (dropped afterwards).

Which pass: the benches that serve or store on PostgreSQL (submit, load, score_run, credit)
need the server itself, so they run in the PostgreSQL pass only, like tests/load: marked
``db`` for `pytest -m db`, skipped with the reason in the SQLite pass. That pass runs a fifth
of the suite beside the SQLite pass's whole, so it has the room. scoring (no database) and
certificates (SQLite) are not marked and run once, in the SQLite pass. submit and certificates
drive their servers with wrk, as `make bench` does: missing, that fails in CI and skips
elsewhere (the Makefile's TEST_DEBS installs it).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _pg_admin, postgres_pass_only, redis_url_or_skip, unavailable
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 240  # seconds for one bench at its tiny size; each takes well under a minute


def _need_wrk() -> None:
    if shutil.which("wrk") is None:
        unavailable("wrk is not installed (the Makefile's TEST_DEBS installs it)")


def _bench(
    tmp_path: Path, name: str, *args: str, redis: str | None = None, suffix: str = ""
) -> str:
    """Run ``bench/<name>.py`` with ``args``, then bench/report.py; its output, once both
    exited 0 and the report holds a figure of this bench."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_BENCH_RESULTS": str(tmp_path / "results"),
        "FANGXIN_BENCH_DATA": str(tmp_path / "data"),
        "FANGXIN_BENCH_DB_SUFFIX": suffix,
    }
    if redis:
        env["FANGXIN_BENCH_REDIS_URL"] = redis
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, (
        f"bench/{name}.py exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    report = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "report.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert report.returncode == 0, report.stderr
    table = (tmp_path / "results" / "figures.md").read_text(encoding="utf-8")
    assert table.startswith("Machine: ")
    assert f"| `{name}.py` |" in table
    return done.stdout


def _suffix() -> str:
    return f"_t{os.getpid()}_{secrets.token_hex(3)}"


def _drop(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_scoring_peers_agree_with_polars(tmp_path: Path) -> None:
    out = _bench(tmp_path, "scoring", "--responses", "20000", "--merchants", "200", "--runs", "1")
    for label in (
        "polars, our scoring.satisfaction (default engine)",
        "polars, same code, engine=streaming",
        "pandas + numpy",
        "DuckDB SQL",
        "pandas + numpy, float sums",
        "DuckDB SQL, float sums",
    ):
        assert f"| {label} | " in out, label
    # The comparison ran over every peer, and those held to 1e-9 met it (else exit 1).
    for engine in ("polars-streaming", "pandas", "duckdb"):
        assert re.search(rf"^  {engine} +merchants +n 0\.0e\+00, .* rank 0\.0e\+00", out, re.M), (
            engine
        )
    assert "merchant scores within 1e-9 and ranks identical (polars, pandas, DuckDB): yes" in out


def test_certificates(tmp_path: Path) -> None:
    _need_wrk()
    redis = redis_url_or_skip()
    port = str(free_port())
    out = _bench(
        tmp_path,
        "certificates",
        *("--batch", "4", "--runs", "2", "--seconds", "1", "--concurrency", "4"),
        *("--port", port),
        redis=redis,
    )
    assert re.search(r"^one certificate, warm: \d+ ms median of 2 ", out, re.M)
    assert re.search(r"^batch of 4 in \d+ processes: [\d.]+ certificates/s", out, re.M)
    assert re.search(
        r"^GET /verify/\{serial\} \(2 workers, SQLite, 4 connections, client wrk, 1 s\): "
        r"\d+ req/s",
        out,
        re.M,
    )


@pytest.mark.db
def test_submit_stores_each_acknowledged_once(tmp_path: Path) -> None:
    postgres_pass_only("the benches on PostgreSQL")
    _need_wrk()
    redis = redis_url_or_skip()
    suffix = _suffix()
    try:
        out = _bench(
            tmp_path,
            "submit",
            *("--seconds", "1", "--concurrency", "4", "--port", str(free_port())),
            redis=redis,
            suffix=suffix,
        )
    finally:
        _drop(f"fangxin_bench{suffix}")
    assert "client: wrk (C, 2 threads)" in out
    assert re.search(r"^bare GET /healthz \(same server\) +\d+ ", out, re.M)
    assert re.search(r"^POST survey submission +\d+ ", out, re.M)
    acked = re.search(r"^acknowledged \(2xx\): (\d+);", out, re.M)
    assert acked and int(acked.group(1)) > 0
    assert "every acknowledged submission stored exactly once: yes" in out


@pytest.mark.db
def test_load_stores_each_acknowledged_once(tmp_path: Path) -> None:
    postgres_pass_only("the benches on PostgreSQL")
    redis = redis_url_or_skip()
    out = _bench(
        tmp_path,
        "load",
        *("--count", "200", "--concurrency", "10", "--port", str(free_port())),
        redis=redis,
        suffix=_suffix(),  # the bench drops its database itself
    )
    assert re.search(r"^steady +200 +200 ", out, re.M)
    assert re.search(r"^one worker SIGKILLed +200 +200 ", out, re.M)
    assert "every acknowledged submission stored exactly once: yes" in out


@pytest.mark.db
def test_score_run(tmp_path: Path) -> None:
    postgres_pass_only("the benches on PostgreSQL")
    suffix = _suffix()
    try:
        out = _bench(
            tmp_path, "score_run", "--responses", "2000", "--merchants", "300", suffix=suffix
        )
    finally:
        _drop(f"fangxin_bench_scoring{suffix}")
    assert re.search(r"^machine: .* 2,000 responses", out, re.M)
    assert "fangxin score run: " in out
    # Each phase as the run reports it, read back from the command's output.
    assert re.search(
        r"^end to end: [\d.]+ s wall .*\(load [\d.]+ s, compute [\d.]+ s, store [\d.]+ s;",
        out,
        re.M,
    )


@pytest.mark.db
def test_credit_ingest_stores_each_event_once(tmp_path: Path) -> None:
    postgres_pass_only("the benches on PostgreSQL")
    redis = redis_url_or_skip()
    suffix = _suffix()
    try:
        out = _bench(
            tmp_path,
            "credit",
            *("--merchants", "5000", "--events", "20000", "--ingest", "15000", "--runs", "1"),
            *("--port", str(free_port())),
            redis=redis,
            suffix=suffix,
        )
    finally:
        _drop(f"fangxin_bench_credit{suffix}")
    assert re.search(r"^polars credit_scores alone: [\d.]+ s median", out, re.M)
    assert re.search(
        r"^recompute end to end, every merchant changing \([\d,]+ standings", out, re.M
    )
    assert re.search(r"^recompute end to end, steady state \(nothing changed\)", out, re.M)
    assert re.search(r"stored 15,000; a replayed batch stored 0$", out, re.M)
    assert re.search(r"^database floor of that ingest .*: [\d,]+ events/s", out, re.M)
    assert "every ingested event stored once, a replayed batch nothing: yes" in out
