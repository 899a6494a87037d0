"""A backup taken while submissions pour in restores elsewhere into a consistent database, and
a backup taken at rest restores to identical row counts, with certificates that still verify.

(`fangxin backup` holds the database and the data dir's signing key, secret and PDF store; the
restores here go onto new, empty data dirs with nothing copied by hand.)"""

from __future__ import annotations

import asyncio
import os
import secrets
import sqlite3
import subprocess
import threading
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, _pg_admin, dialect, postgres_pass_only
from tests.e2e.conftest import Server, served_demo
from tests.helpers import free_port
from tests.load.harness import FANGXIN, LoadResult, secret_of, served, submit_load

pytestmark = pytest.mark.db


async def _pg_query(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def _query(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    url = env.get("FANGXIN_DATABASE_URL")
    if url:
        return asyncio.run(_pg_query(url, sql))
    with sqlite3.connect(Path(env["FANGXIN_DATA_DIR"]) / "fangxin.sqlite3") as conn:
        return conn.execute(sql).fetchall()


def _tables(env: dict[str, str]) -> list[str]:
    if env.get("FANGXIN_DATABASE_URL"):
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1"
    return [str(r[0]) for r in _query(env, sql) if not str(r[0]).startswith("sqlite_")]


def _counts(env: dict[str, str]) -> dict[str, int]:
    return {t: int(_query(env, f'SELECT count(*) FROM "{t}"')[0][0]) for t in _tables(env)}


def _fangxin(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [FANGXIN, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def _elsewhere(source: Server, home: Path) -> tuple[dict[str, str], str | None]:
    """An empty place of the same dialect: a new data dir and a new database."""
    env = {**source.env, "FANGXIN_DATA_DIR": str(home)}
    name = None
    if dialect() == "postgres":
        name = f"fangxin_restored_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        env["FANGXIN_DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    return env, name


def test_a_backup_under_load_restores_consistent_and_certificates_verify(
    tmp_path: Path,
) -> None:
    postgres_pass_only(
        "backups under load (tests/service/test_backup.py covers SQLite's online backup)"
    )
    with served_demo(tmp_path / "live", FANGXIN_RATE_LIMIT_PER_MINUTE="100000000") as live:
        targets = [
            m["uscc"]
            for m in httpx.get(
                f"{live.base}/api/v1/merchants",
                params={"status": "active", "page_size": 100},
                timeout=60,
            ).json()["items"]
        ]
        before = _counts(live.env)["response"]
        results: list[LoadResult] = []
        load = threading.Thread(
            target=lambda: results.append(
                asyncio.run(
                    submit_load(live.base, targets, 1500, 50, secret=secret_of(live.env), seed=7)
                )
            )
        )
        load.start()
        while not _counts(live.env)["response"] > before + 200:  # the load is on
            load.join(0.05)
        _fangxin(live.env, "backup", str(tmp_path / "under-load.backup"))
        load.join()
        (result,) = results
        assert len(result.acknowledged) == 1500 and result.refused == []
        # A holder downloads its certificate (rendered and recorded now), then the backup.
        serial = next(
            c["serial"]
            for c in httpx.get(f"{live.base}/api/v1/certificates/status-list", timeout=60).json()[
                "certificates"
            ]
            if c["status"] == "active"
        )
        # Rendered and signed on this first download: seconds on a busy machine.
        pdf = httpx.get(f"{live.base}/api/v1/certificates/{serial}/pdf", timeout=60).content
        after = _counts(live.env)
        _fangxin(live.env, "backup", str(tmp_path / "at-rest.backup"))

    dropped = []
    try:
        # Taken mid-load: a moment of the database, every response whole.
        env, name = _elsewhere(live, tmp_path / "restored-under-load")
        dropped.append(name)
        _fangxin(env, "restore", "--yes", str(tmp_path / "under-load.backup"))
        snapshot = _counts(env)
        assert before + 200 < snapshot["response"] <= after["response"]
        partial = _query(
            env,
            "SELECT count(*) FROM response r WHERE NOT EXISTS"
            " (SELECT 1 FROM answer a WHERE a.response_id = r.id)",
        )[0][0]
        assert partial == 0
        _fangxin(env, "audit", "verify")

        # Taken at rest: the same rows, table by table, and certificates that verify.
        env, name = _elsewhere(live, tmp_path / "restored-at-rest")
        dropped.append(name)
        _fangxin(env, "restore", "--yes", str(tmp_path / "at-rest.backup"))
        assert _counts(env) == after
        port = free_port()
        env["FANGXIN_BASE_URL"] = f"http://127.0.0.1:{port}"
        with served(env, port, 1, tmp_path / "restored.log"):
            # Served from the restored store: a PDF signed anew would carry a new signing time.
            # The first check imports pyHanko: seconds on a busy machine.
            again = httpx.get(
                f"http://127.0.0.1:{port}/api/v1/certificates/{serial}/pdf", timeout=60
            )
            assert again.status_code == 200 and again.content == pdf
            check = httpx.post(
                f"http://127.0.0.1:{port}/api/v1/certificates/verify",
                files={"file": ("c.pdf", again.content, "application/pdf")},
                timeout=60,
            ).json()
        assert {k: v for k, v in check.items() if k != "detail"} == {
            "serial": serial,
            "signature_valid": True,
            "issued_by_us": True,
            "unaltered": True,
            "matches_register": True,
            "status": "active",
            "verdict": "genuine",
            "signed_serial": serial,
        }
    finally:
        for name in dropped:
            if name:
                asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
