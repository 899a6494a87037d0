"""Reading the database as Arrow, straight into polars (ADBC or sqlite3; never ORM objects).

Blocking: call it from a worker thread. Satisfaction runs read their window through it, credit
its city-wide rescoring.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import polars as pl

from service.kernel.settings import Settings


class ArrowSource(Protocol):
    """A database we can read Arrow from; the dialect's differences stay behind it."""

    def read(self, sql: str) -> pl.DataFrame: ...
    def timestamp(self, at: datetime) -> str: ...
    def close(self) -> None: ...


class SQLiteSource:
    """Reads through Python's own sqlite3. ADBC's driver bundles a second SQLite library, and
    two SQLite libraries in one process break each other's POSIX file locks (closing one's
    descriptor drops the other's locks): the service's connection then fails with "disk I/O
    error". The stdlib module is the same library the ORM uses."""

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def read(self, sql: str) -> pl.DataFrame:
        return pl.read_database(sql, connection=self.conn, infer_schema_length=None)

    def timestamp(self, at: datetime) -> str:
        # Tortoise stores SQLite datetimes as ISO text in UTC ("2026-03-15 08:00:00+00:00"),
        # which compares correctly as text.
        return "'" + at.astimezone(UTC).isoformat(" ") + "'"

    def close(self) -> None:
        self.conn.close()


class PostgresSource:
    """ADBC's own API, its Arrow stream handed to polars through the Arrow C stream interface.
    Its DB-API layer would import pyarrow and pandas: seconds of every job's start."""

    def __init__(self, url: str) -> None:
        import adbc_driver_manager
        import adbc_driver_postgresql

        self.database = adbc_driver_postgresql.connect("postgresql://" + url.split("://", 1)[1])
        self.conn = adbc_driver_manager.AdbcConnection(self.database)
        # The window's answers join their responses in one hash join: with the default
        # 4 MB it spills to disk in batches (3.8 s for 9M answers; 2.7 s in memory).
        with self._statement("SET work_mem = '256MB'") as statement:
            statement.execute_update()

    @contextmanager
    def _statement(self, sql: str) -> Iterator[Any]:
        import adbc_driver_manager

        statement = adbc_driver_manager.AdbcStatement(self.conn)
        try:
            statement.set_sql_query(sql)
            yield statement
        finally:
            statement.close()

    def read(self, sql: str) -> pl.DataFrame:
        with self._statement(sql) as statement:
            stream, _ = statement.execute_query()
            return pl.DataFrame(stream)

    def timestamp(self, at: datetime) -> str:
        return "'" + at.astimezone(UTC).isoformat() + "'::timestamptz"

    def close(self) -> None:
        self.conn.close()
        self.database.close()


def source_for(settings: Settings) -> ArrowSource:
    if settings.is_postgres:
        return PostgresSource(settings.database_url)
    assert settings.sqlite_path is not None
    return SQLiteSource(str(settings.sqlite_path))
