"""The outbox: written with the change, delivered signed, retried with backoff."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service.kernel import outbox
from service.kernel.db import connection
from service.kernel.models import OutboxMessage
from service.kernel.settings import Settings, SettingsError, load_settings

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


async def test_a_slow_receiver_never_gets_a_message_twice(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The receiver takes 0.3 s a message and five are due: 1.5 s of posting, longer than the
    # lease (cut from 2 minutes to 1 s, so the test need not wait 2 minutes). A second
    # deliverer starts at 1.2 s, while the first is still posting.
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=1))
    for n in range(5):
        await outbox.enqueue(connection(), "certificate.revoked", {"n": n})
    posted: list[int] = []

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        posted.append(json.loads(request.content)["id"])
        return httpx.Response(204)

    async def second() -> outbox.Delivery:
        await asyncio.sleep(1.2)
        return await outbox.deliver_due(hooked(db), transport=httpx.MockTransport(slow))

    first, later = await asyncio.gather(
        outbox.deliver_due(hooked(db), transport=httpx.MockTransport(slow)), second()
    )
    assert sorted(posted) == sorted(set(posted)), f"posted twice: {posted}"
    assert len(posted) == 5 and first.delivered + later.delivered == 5
    assert await OutboxMessage.filter(delivered_at=None).count() == 0


async def test_a_post_is_abandoned_before_its_lease_ends(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A receiver that never answers holds a post no longer than half the lease: the message
    # is a failed attempt, retried later, and no other deliverer could have claimed it.
    monkeypatch.setattr(outbox, "LEASE", timedelta(seconds=0.4))
    await outbox.enqueue(connection(), "certificate.issued", {"serial": "ZMD-3"}, now=NOW)

    async def silent(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(30)
        return httpx.Response(204)

    result = await outbox.deliver_due(hooked(db), now=NOW, transport=httpx.MockTransport(silent))
    assert (result.delivered, result.failed) == (0, 1)
    message = await OutboxMessage.get()
    assert message.last_error == "No answer within 0.2 s"
    assert message.next_attempt_at == NOW + timedelta(minutes=1)
