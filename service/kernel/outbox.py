"""The outbox: notifications written with the change they report, delivered afterwards.

``enqueue`` runs on the caller's transaction, so a revocation and its notification commit
together or not at all. ``deliver_due`` posts each due message to the configured webhook as
JSON with an ``X-Fangxin-Signature: sha256=<hex>`` HMAC of the body, marks it delivered on a
2xx, and otherwise schedules a retry with exponential backoff (capped at an hour). Delivery is
at least once; receivers deduplicate by ``X-Fangxin-Delivery``.

Each message is claimed on its own, right before its post, with a lease (``LEASE``) that
outlasts the longest a post may take (``send_deadline``, at most half the lease): while one
deliverer waits on a slow receiver, another skips that message instead of posting it again.
On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``, so every worker may deliver at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from service.kernel.models import OutboxMessage
from service.kernel.settings import Settings

MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(minutes=2)  # how long a claimed message is left to its deliverer
TIMEOUT = 10.0  # httpx's, per phase: a receiver trickling bytes could hold a post far longer
SEND_DEADLINE = 30.0  # seconds a whole post may take before it counts as failed
ROUND_BUDGET = 60.0  # the periodic job's rounds claim no more after this (the next round will)


async def enqueue(
    conn: BaseDBAsyncClient, topic: str, payload: dict[str, Any], *, now: datetime | None = None
) -> None:
    now = now or datetime.now(UTC)
    await OutboxMessage.create(
        using_db=conn, topic=topic, payload=payload, created_at=now, next_attempt_at=now
    )


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempts: int) -> timedelta:
    """1, 2, 4, … minutes after each failure, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass(frozen=True, slots=True)
class Delivery:
    delivered: int
    failed: int


def send_deadline() -> float:
    """How long one post may take: well inside the lease, so no other deliverer can claim the
    message while it is still being sent."""
    return min(SEND_DEADLINE, LEASE.total_seconds() / 2)


async def _claim_next(at: datetime) -> OutboxMessage | None:
    """Lease the oldest due message, in a short transaction: a slow receiver must not hold a
    transaction, let alone SQLite's single writer. A claim that dies with its deliverer comes
    due again when the lease ends."""
    async with in_transaction() as tx:
        due = OutboxMessage.filter(delivered_at=None, next_attempt_at__lte=at).order_by("id")
        if tx.capabilities.dialect == "postgres":
            due = due.select_for_update(skip_locked=True)
        message = await due.using_db(tx).first()
        if message is not None:
            await (
                OutboxMessage.filter(id=message.id).using_db(tx).update(next_attempt_at=at + LEASE)
            )
    return message


async def deliver_due(
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 100,
    budget: float | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Delivery:
    """Post due messages (up to ``limit``, claiming none after ``budget`` seconds) to the
    webhook, one claim at a time; nothing without one. ``now`` fixes the clock for the round
    (tests); otherwise each claim reads it."""
    url, secret = settings.webhook_url, settings.webhook_secret
    if not url or not secret:
        return Delivery(0, 0)
    clock: Callable[[], datetime] = (lambda: now) if now else (lambda: datetime.now(UTC))
    deadline = send_deadline()
    started = time.monotonic()
    delivered = failed = 0
    async with httpx.AsyncClient(timeout=TIMEOUT, transport=transport) as client:
        for _ in range(limit):
            if budget is not None and time.monotonic() - started > budget:
                break
            message = await _claim_next(clock())
            if message is None:
                break
            error = await _post(client, url, secret, message, deadline)
            attempts = message.attempts + 1
            at = clock()
            if error is None:
                delivered += 1
                await OutboxMessage.filter(id=message.id).update(
                    attempts=attempts, delivered_at=at, last_error=None
                )
            else:
                failed += 1
                await OutboxMessage.filter(id=message.id).update(
                    attempts=attempts, next_attempt_at=at + backoff(attempts), last_error=error
                )
    return Delivery(delivered, failed)


async def _post(
    client: httpx.AsyncClient, url: str, secret: str, message: OutboxMessage, deadline: float
) -> str | None:
    """Post one message; the error that makes it a failed attempt, or None."""
    body = msgspec.json.encode(
        {
            "id": message.id,
            "topic": message.topic,
            "at": message.created_at,
            "data": message.payload,
        }
    )
    try:
        async with asyncio.timeout(deadline):
            response = await client.post(
                url,
                content=body,
                headers={
                    "content-type": "application/json",
                    "x-fangxin-event": message.topic,
                    "x-fangxin-delivery": str(message.id),
                    "x-fangxin-signature": signature(secret, body),
                },
            )
    except TimeoutError:
        return f"No answer within {deadline:g} s"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    return None if response.is_success else f"HTTP {response.status_code}"
