"""Models and migrations agree; readiness reports pending migrations."""

from __future__ import annotations

import asyncio
import importlib
import os
import secrets
import sqlite3
from pathlib import Path

import asyncpg
import pytest
from tortoise import Tortoise

from service.kernel import db as dbm
from service.kernel.settings import Settings, load_settings
from tests.conftest import (
    PG_ADMIN_URL,
    dialect,
    make_app,
    serve_in_process,
)


async def test_models_and_migrations_agree(db: Settings) -> None:
    changes = await dbm.unmigrated_model_changes()
    assert changes == [], f"run `fangxin makemigrations`: {changes}"
    assert await dbm.pending_migrations() == []


async def _fresh_settings(tmp: str) -> tuple[Settings, str | None]:
    env = {"FANGXIN_DATA_DIR": tmp, "FANGXIN_ENV": "test"}
    name = None
    if dialect() == "postgres":
        name = f"fangxin_unmigrated_{os.getpid()}_{secrets.token_hex(3)}"
        conn = await asyncpg.connect(PG_ADMIN_URL)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        env["FANGXIN_DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    return load_settings(env), name


async def _drop(name: str | None) -> None:
    if name:
        conn = await asyncpg.connect(PG_ADMIN_URL)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_readyz_is_503_until_migrations_are_applied(
    migrated: Settings, tmp_path: os.PathLike[str]
) -> None:
    settings, name = await _fresh_settings(str(tmp_path))
    try:
        async with serve_in_process(make_app(settings), "http://t") as c:
            r = await c.get("/readyz")
            assert r.status_code == 503
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "migrations pending" in r.json()["detail"]
            assert (await c.get("/healthz")).status_code == 200
        applied = await dbm.migrate(settings)
        assert applied
        async with serve_in_process(make_app(settings), "http://t") as c:
            assert (await c.get("/readyz")).status_code == 200
    finally:
        await _drop(name)


async def test_readyz_is_503_when_the_database_is_unreachable(
    migrated: Settings, tmp_path: os.PathLike[str]
) -> None:
    env = {
        "FANGXIN_DATA_DIR": str(tmp_path),
        "FANGXIN_ENV": "test",
        "FANGXIN_DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing",
    }
    async with serve_in_process(make_app(load_settings(env)), "http://t") as c:
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert "database unreachable" in r.json()["detail"]


BEFORE_SPLIT = Path(__file__).with_name("migrated_before_split.sql")
# The dumps were taken at 0012_job_run; the migrations written since must apply on top.
MIGRATIONS = Path(str(importlib.import_module(dbm.MIGRATIONS_MODULE).__file__)).parent
LATER = [f"models.{p.stem}" for p in sorted(MIGRATIONS.glob("0*.py")) if p.stem > "0012_job_run"]
# A complaint recorded before the intake grew kinds and handling districts (issue 19).
OLD_COMPLAINT = [
    "INSERT INTO area (id, code, kind, name_zh, name_en, is_demo, created_at, updated_at)"
    " VALUES (1, 'D1', 'district', '驿城区', 'Yicheng', false, '2026-01-01', '2026-01-01')",
    "INSERT INTO merchant (id, uscc, uscc_override, name, category, address, status, is_demo,"
    " created_at, updated_at, district_id) VALUES (1, '91411700MA44A0001K', false, '老店',"
    " 'retail', '', 'active', false, '2026-01-01', '2026-01-01', 1)",
    "INSERT INTO complaint (id, source, external_id, received_at, status, category,"
    " amount_disputed_fen, amount_recovered_fen, accept_due, recorded_at, updated_at,"
    " merchant_id) VALUES (1, '12315', 'C1', '2026-03-02 01:00:00+00:00', 'received',"
    " 'quality', 1000, 0, '2026-03-11', '2026-03-02', '2026-03-02', 1)",
]
BACKFILLED = "SELECT kind, handled_by, handling_district_id, merchant_id FROM complaint"


def _schema(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    finally:
        conn.close()
    return sorted(row[0] for row in rows)


async def test_a_database_migrated_before_the_split_is_up_to_date(tmp_path: Path) -> None:
    """``migrated_before_split.sql`` is a SQLite database migrated by the code before scoring
    split into ``scoring.satisfaction`` and ``scoring.credit`` (issue 18). Tortoise records
    applied migrations by name and the models keep their tables, so the moved model modules
    find it up to date but for the migrations written since, which apply on top of it (and
    fill in the complaint it holds), giving the very schema a fresh database gets today."""
    old_dir, fresh_dir = tmp_path / "old", tmp_path / "fresh"
    old_dir.mkdir()
    fresh_dir.mkdir()
    old = load_settings({"FANGXIN_DATA_DIR": str(old_dir), "FANGXIN_ENV": "test"})
    assert old.sqlite_path is not None
    conn = sqlite3.connect(old.sqlite_path)
    try:
        conn.executescript(BEFORE_SPLIT.read_text(encoding="utf-8"))
        for statement in OLD_COMPLAINT:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()

    async with dbm.database(old):
        assert await dbm.pending_migrations() == LATER
    assert await dbm.migrate(old) == LATER
    async with dbm.database(old):
        apps = Tortoise.apps
        assert apps is not None
        tables = {m._meta.db_table for m in apps.get_models_iterable()}
        rows = await dbm.connection().execute_query_dict(
            "SELECT name FROM sqlite_master WHERE type = 'table'"
        )
        assert tables <= {row["name"] for row in rows}
        backfilled = await dbm.connection().execute_query_dict(BACKFILLED)
    assert backfilled == [
        {
            "kind": "complaint",
            "handled_by": "regulator",
            "handling_district_id": 1,
            "merchant_id": 1,
        }
    ]

    fresh = load_settings({"FANGXIN_DATA_DIR": str(fresh_dir), "FANGXIN_ENV": "test"})
    assert fresh.sqlite_path is not None
    assert await dbm.migrate(fresh)
    assert _schema(old.sqlite_path) == _schema(fresh.sqlite_path)


BEFORE_SPLIT_PG = Path(__file__).with_name("migrated_before_split.pg.sql")
# The shape of a PostgreSQL schema: every column with its type, nullability and default, every
# index and every constraint.
PG_SCHEMA = """
SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' '
       || is_nullable || ' ' || coalesce(column_default, '') AS line
  FROM information_schema.columns WHERE table_schema = 'public'
UNION ALL
SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT 'constraint ' || conrelid::regclass::text || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
ORDER BY 1
"""


async def _pg_schema(url: str) -> list[str]:
    conn = await asyncpg.connect(url.replace("postgres://", "postgresql://"))
    try:
        return [row["line"] for row in await conn.fetch(PG_SCHEMA)]
    finally:
        await conn.close()


@pytest.mark.db
@pytest.mark.skipif(dialect() != "postgres", reason="a PostgreSQL dump: run in the PostgreSQL pass")
async def test_a_postgresql_database_migrated_before_the_split_is_up_to_date(
    tmp_path: Path,
) -> None:
    """The same on PostgreSQL: ``migrated_before_split.pg.sql`` is pg_dump's copy of a
    database migrated by the code before the split; loaded with psql, the moved models find
    it up to date and shaped exactly as a database migrated today."""
    old, old_name = await _fresh_settings(str(tmp_path / "old"))
    fresh, fresh_name = await _fresh_settings(str(tmp_path / "fresh"))
    try:
        loaded = await asyncio.create_subprocess_exec(
            "psql",
            "-q",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            old.database_url.replace("postgres://", "postgresql://"),
            "-f",
            str(BEFORE_SPLIT_PG),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await loaded.communicate()
        assert loaded.returncode == 0, err.decode()
        pg = await asyncpg.connect(old.database_url.replace("postgres://", "postgresql://"))
        try:
            for statement in OLD_COMPLAINT:
                await pg.execute(statement)
        finally:
            await pg.close()

        async with dbm.database(old):
            assert await dbm.pending_migrations() == LATER
        assert await dbm.migrate(old) == LATER
        async with dbm.database(old):
            backfilled = await dbm.connection().execute_query_dict(BACKFILLED)
        assert [dict(r) for r in backfilled] == [
            {
                "kind": "complaint",
                "handled_by": "regulator",
                "handling_district_id": 1,
                "merchant_id": 1,
            }
        ]
        assert await dbm.migrate(fresh)
        assert await _pg_schema(old.database_url) == await _pg_schema(fresh.database_url)
    finally:
        await _drop(old_name)
        await _drop(fresh_name)
