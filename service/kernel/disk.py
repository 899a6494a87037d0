"""A full disk degrades the service, never crashes it: what a write that found no space
becomes (``DiskFull``, 507 Insufficient Storage, mapped once by the application's error
handler), and how much room the data dir has left (``/readyz`` and the officials' desk).

Reads need no space, so they go on working; only the writes that cannot be made fail, each
with a message naming what could not be saved."""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

MiB: Final = 1024 * 1024
# Below this the data dir counts as full: /readyz fails (a load balancer prefers another
# machine), whatever the warning threshold (FANGXIN_DISK_WARN_MB) says.
FULL_BELOW: Final = 16 * MiB
NO_SPACE_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
POSTGRES_DISK_FULL: Final = "53100"  # SQLSTATE disk_full


class DiskFull(Exception):
    """A write found no space. Not a ``FangxinError``: nobody's input caused it, so no form
    takes it for a refusal to correct; it reaches the one error handler (507 and a page
    saying the storage is full) and the commands' (a message, exit 1)."""

    status = 507
    title = "Insufficient storage"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps: the ORM wraps its drivers' errors) says a disk is
    full: ENOSPC or EDQUOT from the file system, SQLITE_FULL, PostgreSQL's disk_full."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, DiskFull):
            return True
        if isinstance(seen, OSError) and seen.errno in NO_SPACE_ERRNOS:
            return True
        if isinstance(seen, sqlite3.Error) and (
            getattr(seen, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or "database or disk is full" in str(seen)
        ):
            return True
        if getattr(seen, "sqlstate", None) == POSTGRES_DISK_FULL:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def full_detail(what: str) -> str:
    return (
        f"The server's storage is full: {what} could not be saved. Reading goes on working; "
        "try again once the operators have made room."
    )


@contextlib.contextmanager
def saving(what: str) -> Iterator[None]:
    """Turn a write that found no space into ``DiskFull`` naming ``what`` (others pass)."""
    try:
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if disk_full(exc):
            raise DiskFull(full_detail(what)) from exc
        raise


def write_atomically(path: Path, content: bytes, what: str, mode: int = 0o644) -> None:
    """Write ``content`` to ``path`` whole or not at all: a write cut short (the disk filled
    up half-way) leaves no file under the final name and no draft beside it."""
    with saving(what):
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(draft, path)
        finally:
            draft.unlink(missing_ok=True)


class SpaceState(StrEnum):
    OK = "ok"
    LOW = "low"  # below the warning threshold: the desk warns
    FULL = "full"  # below FULL_BELOW: writes fail, /readyz fails


@dataclass(frozen=True, slots=True)
class Space:
    path: Path
    free_bytes: int
    total_bytes: int
    state: SpaceState

    @property
    def free_mib(self) -> int:
        return self.free_bytes // MiB


def space(path: Path, warn_below: int) -> Space:
    """The room left for unprivileged writes on ``path``'s file system."""
    usage = shutil.disk_usage(path)
    state = (
        SpaceState.FULL
        if usage.free < FULL_BELOW
        else SpaceState.LOW
        if usage.free < warn_below
        else SpaceState.OK
    )
    return Space(path, usage.free, usage.total, state)
