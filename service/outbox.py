"""The outbox: notifications written with the change they report, delivered afterwards.

``enqueue`` runs on the caller's transaction, so a revocation and its notification commit
together or not at all. ``deliver_due`` posts each due message to the configured webhook as
JSON with an ``X-Fangxin-Signature: sha256=<hex>`` HMAC of the body, marks it delivered on a
2xx, and otherwise schedules a retry with exponential backoff (capped at an hour). Delivery is
at least once; receivers deduplicate by ``X-Fangxin-Delivery``. On PostgreSQL, due messages
are claimed with ``FOR UPDATE SKIP LOCKED``, so every worker may deliver at once.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from service.models import OutboxMessage
from service.settings import Settings

MAX_BACKOFF = timedelta(hours=1)
LEASE = timedelta(minutes=2)
TIMEOUT = 10.0


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


async def deliver_due(
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Delivery:
    """Post every due message (up to ``limit``) to the webhook; nothing without one."""
    if not settings.webhook_url or not settings.webhook_secret:
        return Delivery(0, 0)
    now = now or datetime.now(UTC)
    # Claim in a short transaction (a lease), post outside it: a slow receiver must not hold
    # a transaction, let alone SQLite's single writer. A claim that dies with its worker
    # comes due again when the lease ends.
    async with in_transaction() as tx:
        due = OutboxMessage.filter(delivered_at=None, next_attempt_at__lte=now).order_by("id")
        if tx.capabilities.dialect == "postgres":
            due = due.select_for_update(skip_locked=True)
        claimed = await due.limit(limit).using_db(tx)
        if claimed:
            await (
                OutboxMessage.filter(id__in=[m.id for m in claimed])
                .using_db(tx)
                .update(next_attempt_at=now + LEASE)
            )
    delivered = failed = 0
    async with httpx.AsyncClient(timeout=TIMEOUT, transport=transport) as client:
        for message in claimed:
            body = msgspec.json.encode(
                {
                    "id": message.id,
                    "topic": message.topic,
                    "at": message.created_at,
                    "data": message.payload,
                }
            )
            try:
                response = await client.post(
                    settings.webhook_url,
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "x-fangxin-event": message.topic,
                        "x-fangxin-delivery": str(message.id),
                        "x-fangxin-signature": signature(settings.webhook_secret, body),
                    },
                )
                error = None if response.is_success else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"[:500]
            attempts = message.attempts + 1
            if error is None:
                delivered += 1
                await OutboxMessage.filter(id=message.id).update(
                    attempts=attempts, delivered_at=now, last_error=None
                )
            else:
                failed += 1
                await OutboxMessage.filter(id=message.id).update(
                    attempts=attempts, next_attempt_at=now + backoff(attempts), last_error=error
                )
    return Delivery(delivered, failed)
