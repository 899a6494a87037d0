"""Tortoise configuration, the application's database lifespan, and migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api import migrate as tortoise_migrate
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.executor import MigrationExecutor
from tortoise.migrations.writer import format_migration_name
from tortoise.models import Model

from service.kernel.settings import Settings

APP_LABEL = "models"
# Every package's Tortoise models live in one app, so foreign keys may cross packages;
# their migrations live together in service/migrations.
MODEL_MODULES = [
    "service.kernel.models",
    "surveys.models",
    "scoring.satisfaction.models",
    "scoring.credit.models",
    "certificates.models",
    "service.portal.advisories.models",
    "certificates.applications.models",
    "certificates.commitments.models",
    "scoring.disputes.models",
    "scoring.disclosure.models",
]
MIGRATIONS_MODULE = "service.migrations"
# 20 connections per worker beat 4 by ~25% on submissions (see benchmarks.md).
PG_POOL_MAX = 20


def tortoise_config(settings: Settings) -> dict[str, Any]:
    connection = expand_db_url(settings.database_url)
    if settings.is_postgres:
        connection["credentials"].setdefault("minsize", 1)
        connection["credentials"].setdefault("maxsize", PG_POOL_MAX)
        connection["credentials"]["reset"] = _keep_session
    else:
        # Durable: an acknowledged write survives a power cut.
        connection["credentials"].setdefault("synchronous", "FULL")
        connection["credentials"].setdefault("busy_timeout", 10000)
    return {
        "connections": {"default": connection},
        "apps": {
            APP_LABEL: {
                "models": list(MODEL_MODULES),
                "default_connection": "default",
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def _keep_session(_connection: object) -> None:
    """asyncpg resets every connection it takes back (RESET ALL, CLOSE ALL, UNLISTEN, unlock
    advisory locks): a round trip per request. We set no session state, hold no cursors or
    listeners, and take only transaction-scoped advisory locks, so there is nothing to reset."""


async def init_db(settings: Settings, *, global_fallback: bool = True) -> None:
    await Tortoise.init(config=tortoise_config(settings), _enable_global_fallback=global_fallback)


async def close_db() -> None:
    await Tortoise.close_connections()


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[None]:
    """Open the ORM for the duration of a CLI command or a test."""
    await init_db(settings)
    try:
        yield
    finally:
        await close_db()


# The largest id any table holds (a signed 32-bit key): a path asking for more names nothing,
# and is refused before it reaches a database that cannot even compare it.
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1  # of the tables keyed by a 64-bit id (responses)


def connection() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


async def serialise(conn: BaseDBAsyncClient, model: type[Model], key: str) -> None:
    """Make the transactions on ``conn`` that name the same (model, key) take turns, each
    until it commits or rolls back: what one reads after this call, no other can change
    before it ends — a count checked against a limit stays true until the insert it allows.

    PostgreSQL: a transaction-scoped advisory lock on the hashes of the model's table and the
    key (two 32-bit keys: a space apart from the single 64-bit keys locked elsewhere). SQLite:
    a write to the table that changes nothing takes the database's write lock now, so other
    processes wait their turn (busy timeout) instead of failing when this transaction writes;
    in one process Tortoise's single connection already runs transactions one at a time."""
    table = model._meta.db_table
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query(
            "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", [table, key]
        )
    else:
        await conn.execute_query(f'DELETE FROM "{table}" WHERE 0')  # noqa: S608 (a model's table)


async def migrate(settings: Settings) -> list[str]:
    """Apply pending migrations; return the names applied."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")

    try:
        await tortoise_migrate(config=tortoise_config(settings), progress=progress)
    finally:
        await close_db()
    return applied


async def pending_migrations() -> list[str]:
    """Names of migrations not yet applied on the open connection."""
    config = {APP_LABEL: {"models": MODEL_MODULES, "migrations": MIGRATIONS_MODULE}}
    executor = MigrationExecutor(connection(), config)
    plan = await executor.plan()
    return [f"{step.migration.app_label}.{step.migration.name}" for step in plan]


async def unmigrated_model_changes() -> list[str]:
    """Model changes that no migration captures yet (empty when models and migrations agree)."""
    apps_config = {APP_LABEL: {"models": MODEL_MODULES, "migrations": MIGRATIONS_MODULE}}
    ctx_apps = Tortoise.apps
    detector = MigrationAutodetector(ctx_apps, apps_config)
    writers = await detector.changes()
    return [f"{w.app_label}: {op}" for w in writers for op in w.operations]


async def make_migrations(name: str | None = None) -> list[str]:
    """Write new migration files for model changes (a developer command)."""
    apps_config = {APP_LABEL: {"models": MODEL_MODULES, "migrations": MIGRATIONS_MODULE}}
    detector = MigrationAutodetector(Tortoise.apps, apps_config)
    paths = []
    for writer in await detector.changes():
        if name:
            number = int(writer.name.split("_", 1)[0])
            writer.name = format_migration_name(number, name)
        paths.append(str(writer.write()))
    return paths


T = TypeVar("T")
# One query binds at most 32,767 values on PostgreSQL and 32,766 on SQLite: an ``__in`` over
# what a city-wide change touches (100,000 merchants) goes in slices of this size.
IN_LIST_LIMIT = 5_000


def chunked(items: Sequence[T], size: int | None = None) -> Iterator[Sequence[T]]:
    size = size or IN_LIST_LIMIT  # read when called, so a test can make slices tiny
    for start in range(0, len(items), size):
        yield items[start : start + size]


R = TypeVar("R")


async def in_slices(
    query: Callable[[Sequence[T]], Awaitable[Sequence[R]]], values: Iterable[T]
) -> list[R]:
    """What ``query`` finds for every value, asked a slice of ``values`` at a time (so that an
    ``__in`` over a whole register stays under the database's limit of bound values)."""
    found: list[R] = []
    for chunk in chunked(list(values)):
        found.extend(await query(chunk))
    return found
