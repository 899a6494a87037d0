"""Backups: ``fangxin backup FILE`` / ``fangxin restore FILE``.

SQLite uses its online backup API (a consistent copy while the service runs); PostgreSQL
uses pg_dump's custom format and pg_restore. The choice is made once, in ``backend_for``.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Protocol

from service.settings import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that could not be done, with the reason."""


class BackupBackend(Protocol):
    def backup(self, target: Path) -> None: ...
    def restore(self, source: Path) -> None: ...


class SQLiteBackup:
    def __init__(self, path: Path) -> None:
        self.path = path

    def backup(self, target: Path) -> None:
        if not self.path.exists():
            raise BackupError(f"no database at {self.path}")
        tmp = target.with_name(target.name + ".partial")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(self.path)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        tmp.replace(target)  # a half-written backup never carries the final name

    def restore(self, source: Path) -> None:
        _expect_magic(source, SQLITE_MAGIC, "an SQLite backup")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(self.path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()


class PostgresBackup:
    def __init__(self, url: str) -> None:
        # libpq spells the scheme postgresql://; asyncpg accepts both.
        self.url = "postgresql://" + url.split("://", 1)[1]

    def backup(self, target: Path) -> None:
        tmp = target.with_name(target.name + ".partial")
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={tmp}",
                f"--dbname={self.url}",
            ]
        )
        tmp.replace(target)

    def restore(self, source: Path) -> None:
        _expect_magic(source, PGDUMP_MAGIC, "a PostgreSQL (pg_dump custom format) backup")
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={self.url}",
                str(source),
            ]
        )


def backend_for(settings: Settings) -> BackupBackend:
    if settings.is_postgres:
        return PostgresBackup(settings.database_url)
    path = settings.sqlite_path
    assert path is not None
    return SQLiteBackup(path)


def backup(settings: Settings, target: Path) -> None:
    backend_for(settings).backup(target)


def restore(settings: Settings, source: Path) -> None:
    backend_for(settings).restore(source)


def _expect_magic(path: Path, magic: bytes, what: str) -> None:
    with path.open("rb") as fh:
        if fh.read(len(magic)) != magic:
            raise BackupError(f"{path} is not {what} for this database")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()}")
