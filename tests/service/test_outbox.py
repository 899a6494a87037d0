"""The outbox: written with the change, delivered signed, retried with backoff."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service import outbox
from service.db import connection
from service.models import OutboxMessage
from service.settings import Settings, SettingsError, load_settings

SECRET = "s" * 40
NOW = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def hooked(settings: Settings) -> Settings:
    return replace(settings, webhook_url="http://hooks.invalid/fangxin", webhook_secret=SECRET)


async def test_a_message_is_posted_signed_and_delivered_once(db: Settings) -> None:
    await outbox.enqueue(connection(), "certificate.revoked", {"serial": "ZMD-1"}, now=NOW)
    seen: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    result = await outbox.deliver_due(hooked(db), now=NOW, transport=httpx.MockTransport(receive))
    assert (result.delivered, result.failed) == (1, 0)
    (request,) = seen
    expected = "sha256=" + hmac.new(SECRET.encode(), request.content, hashlib.sha256).hexdigest()
    assert request.headers["x-fangxin-signature"] == expected
    assert request.headers["x-fangxin-event"] == "certificate.revoked"
    body = json.loads(request.content)
    assert (body["topic"], body["data"]) == ("certificate.revoked", {"serial": "ZMD-1"})
    again = await outbox.deliver_due(hooked(db), now=NOW, transport=httpx.MockTransport(receive))
    assert (again.delivered, len(seen)) == (0, 1)
    assert (await OutboxMessage.get()).delivered_at == NOW


async def test_a_failed_delivery_is_retried_with_backoff(db: Settings) -> None:
    await outbox.enqueue(connection(), "certificate.issued", {"serial": "ZMD-2"}, now=NOW)
    down = httpx.MockTransport(lambda request: httpx.Response(503))
    first = await outbox.deliver_due(hooked(db), now=NOW, transport=down)
    assert (first.delivered, first.failed) == (0, 1)
    message = await OutboxMessage.get()
    assert (message.attempts, message.last_error) == (1, "HTTP 503")
    assert message.next_attempt_at == NOW + timedelta(minutes=1)
    up = httpx.MockTransport(lambda request: httpx.Response(200))
    early = await outbox.deliver_due(hooked(db), now=NOW + timedelta(seconds=30), transport=up)
    assert (early.delivered, early.failed) == (0, 0)  # not due yet
    later = await outbox.deliver_due(hooked(db), now=NOW + timedelta(minutes=2), transport=up)
    assert later.delivered == 1
    assert (await OutboxMessage.get()).attempts == 2
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 10)] == [60, 120, 240, 3600]


async def test_without_a_webhook_messages_are_kept(db: Settings) -> None:
    await outbox.enqueue(connection(), "certificate.issued", {}, now=NOW)
    assert await outbox.deliver_due(db, now=NOW) == outbox.Delivery(0, 0)
    assert (await OutboxMessage.get()).delivered_at is None


def test_a_webhook_needs_a_long_secret(tmp_path: object) -> None:
    with pytest.raises(SettingsError, match="FANGXIN_WEBHOOK_SECRET"):
        load_settings(
            {"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_WEBHOOK_URL": "https://h.example/x"}
        )
