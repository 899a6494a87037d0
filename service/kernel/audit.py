"""The tamper-evident audit log: every event carries the hash of the one before it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from service.kernel.models import AuditEvent

GENESIS = "0" * 64
# Any constant will do: it names the one lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 0x46584155  # "FXAU"


class ChainLock(Protocol):
    async def acquire(self, conn: BaseDBAsyncClient) -> None: ...


class PostgresChainLock:
    """Two transactions appending at once would both link to the same head; the advisory
    lock (released at commit) makes them take turns."""

    async def acquire(self, conn: BaseDBAsyncClient) -> None:
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_CHAIN_LOCK_KEY])


class SQLiteChainLock:
    """SQLite transactions already run one at a time on Tortoise's single connection."""

    async def acquire(self, conn: BaseDBAsyncClient) -> None:
        return None


def chain_lock_for(conn: BaseDBAsyncClient) -> ChainLock:
    if conn.capabilities.dialect == "postgres":
        return PostgresChainLock()
    return SQLiteChainLock()


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it: ``account:alice``, ``token:12315-feed``, ``cli:root``, ``system``."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


SYSTEM = Actor("system", "fangxin")


def _normalise(details: dict[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON so the stored value and the hashed value are the same.
    result: dict[str, Any] = json.loads(json.dumps(details, default=str, ensure_ascii=False))
    return result


def event_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str, details: dict[str, Any]
) -> str:
    payload = json.dumps(
        [prev_hash, at.astimezone(UTC).isoformat(), actor, action, subject, details],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


async def record(
    conn: BaseDBAsyncClient,
    actor: Actor | str,
    action: str,
    subject: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an event on ``conn`` — the caller's transaction, so the event commits with the
    change it describes or not at all."""
    await chain_lock_for(conn).acquire(conn)
    last = await AuditEvent.all().using_db(conn).order_by("-id").only("hash").first()
    prev = last.hash if last else GENESIS
    at = datetime.now(UTC)
    clean = _normalise(details or {})
    actor_s = str(actor)
    digest = event_hash(prev, at, actor_s, action, subject, clean)
    return await AuditEvent.create(
        using_db=conn,
        at=at,
        actor=actor_s,
        action=action,
        subject=subject,
        details=clean,
        prev_hash=prev,
        hash=digest,
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    checked: int
    broken_at: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


async def verify_chain(batch: int = 5000) -> ChainReport:
    """Recompute every hash in order; report the first event that does not fit."""
    prev = GENESIS
    checked = 0
    last_id = 0
    while True:
        rows = await AuditEvent.filter(id__gt=last_id).order_by("id").limit(batch)
        if not rows:
            return ChainReport(checked, None, None)
        for ev in rows:
            if ev.prev_hash != prev:
                return ChainReport(checked, ev.id, "does not link to the event before it")
            expected = event_hash(prev, ev.at, ev.actor, ev.action, ev.subject, ev.details)
            if ev.hash != expected:
                return ChainReport(checked, ev.id, "content does not match its hash")
            prev = ev.hash
            checked += 1
            last_id = ev.id
