"""Test set-up shared by every package.

``FANGXIN_TEST_DATABASE`` picks the dialect for the whole process: ``sqlite`` (default) or
``postgres`` (a fresh database on 127.0.0.1:5432, dropped afterwards). Tests that touch the
database are marked ``db`` automatically, so CI runs them again on PostgreSQL. In CI an
unreachable PostgreSQL or Redis fails the run; elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from tortoise import Tortoise

from service.kernel import db as dbm
from service.kernel.settings import Settings, load_settings

PG_ADMIN_URL = os.environ.get("FANGXIN_TEST_PG_ADMIN", "postgres://postgres@127.0.0.1:5432/test")
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# Each pass its own Redis database: `make test` runs the two side by side, and a test that
# empties its database must not empty the other pass's.
# FANGXIN_TEST_REDIS_DB moves a pass elsewhere, for two checkouts tested on one machine at once.
REDIS_DB = int(
    os.environ.get(
        "FANGXIN_TEST_REDIS_DB",
        "1" if os.environ.get("FANGXIN_TEST_DATABASE") == "postgres" else "0",
    )
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BASE_URL = "http://testserver.local"
DB_FIXTURES = {"db", "client", "app_settings", "migrated"}


def dialect() -> str:
    return os.environ.get("FANGXIN_TEST_DATABASE", "sqlite")


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object) -> None:
    # Marked before the items are made, so parametrized async tests work too.
    if name.startswith("test") and inspect.iscoroutinefunction(obj):
        pytest.mark.anyio(obj)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & DB_FIXTURES:
            item.add_marker(pytest.mark.db)
    # The browser tests last: the slowest, and the only ones driving an event loop of their own.
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def unavailable(reason: str) -> None:
    """A required server is missing: a failure in CI, a visible skip elsewhere."""
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)", pytrace=False)
    pytest.skip(reason)


def postgres_pass_only(what: str) -> None:
    """Tests that need PostgreSQL itself (several server processes on one database): skipped,
    with the reason, in the SQLite pass; in the PostgreSQL pass they run, and the server
    must be there."""
    if dialect() != "postgres":
        pytest.skip(f"{what} run in the PostgreSQL pass (FANGXIN_TEST_DATABASE=postgres)")
    problem = _pg_reachable()
    if problem:
        unavailable(problem)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_reachable() -> str | None:
    try:
        asyncio.run(_pg_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        return f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {exc}"
    return None


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Settings for a fresh database of the chosen dialect (a PostgreSQL one is dropped after)."""
    data_dir = tmp_path_factory.mktemp("data")
    env: dict[str, str] = {"FANGXIN_DATA_DIR": str(data_dir), "FANGXIN_ENV": "test"}
    pg_name: str | None = None
    if dialect() == "postgres":
        problem = _pg_reachable()
        if problem:
            unavailable(problem)
        pg_name = f"fangxin_test_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{pg_name}"'))
        base = PG_ADMIN_URL.rsplit("/", 1)[0]
        env["FANGXIN_DATABASE_URL"] = f"{base}/{pg_name}"
    settings = load_settings(env)
    try:
        yield settings
    finally:
        if pg_name:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def migrated(base_settings: Settings) -> Settings:
    asyncio.run(dbm.migrate(base_settings))
    return base_settings


async def _empty_all_tables() -> None:
    conn = dbm.connection()
    apps = Tortoise.apps
    assert apps is not None
    tables = [m._meta.db_table for m in apps.get_models_iterable()]
    if conn.capabilities.dialect == "postgres":
        quoted = ", ".join(f'"{t}"' for t in tables)
        await conn.execute_script(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
    else:
        script = "PRAGMA foreign_keys=OFF;" + "".join(f'DELETE FROM "{t}";' for t in tables)
        script += "DELETE FROM sqlite_sequence; PRAGMA foreign_keys=ON;"
        await conn.execute_script(script)


@pytest.fixture(name="db")
async def db_session(migrated: Settings) -> AsyncIterator[Settings]:
    """An open ORM on empty tables, for service-level tests."""
    await dbm.init_db(migrated)
    try:
        await _empty_all_tables()
        yield migrated
    finally:
        await dbm.close_db()


@pytest.fixture
def app_settings(migrated: Settings) -> Settings:
    return migrated


def make_app(settings: Settings) -> Litestar:
    from service.app import create_app

    return create_app(settings)


def asgi(app: Litestar) -> httpx.ASGITransport:
    """An in-process transport (Litestar's scope types are narrower than httpx's)."""
    return httpx.ASGITransport(app=app)  # type: ignore[arg-type]


@asynccontextmanager
async def serve_in_process(app: Litestar, base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app's lifespan and its requests all run on the test's own event loop, so the ORM
    connections it opens are usable from the test (Litestar's AsyncTestClient runs the
    lifespan on a separate thread and loop)."""
    async with app.lifespan(), httpx.AsyncClient(transport=asgi(app), base_url=base_url) as c:
        yield c


async def empty_database(settings: Settings) -> None:
    await dbm.init_db(settings)
    try:
        await _empty_all_tables()
    finally:
        await dbm.close_db()


@pytest.fixture
async def client(app_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on an app whose lifespan opened the (emptied) test database; the ORM is
    usable from the test too, through the app's global context."""
    await empty_database(app_settings)
    async with serve_in_process(make_app(app_settings), BASE_URL) as c:
        yield c


def redis_url_or_skip() -> str:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), timeout=2):
            pass
    except OSError as exc:
        unavailable(f"Redis at {REDIS_HOST}:{REDIS_PORT} is unreachable: {exc}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"


def with_env(settings: Settings, **changes: Any) -> Settings:
    return replace(settings, **changes)


@pytest.fixture
def tmp_file(tmp_path: Path) -> Path:
    return tmp_path / "file"
