"""Models and migrations agree; readiness reports pending migrations."""

from __future__ import annotations

import os
import secrets

import asyncpg

from service import db as dbm
from service.settings import Settings, load_settings
from tests.conftest import PG_ADMIN_URL, dialect, make_app, serve_in_process


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
