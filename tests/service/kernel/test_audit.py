"""The hash-chained audit log: every change is recorded; any tampering is detected."""

from __future__ import annotations

import json

from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.models import AuditEvent
from service.kernel.settings import Settings

ACTOR = audit.Actor("test", "pytest")


async def _record_three() -> None:
    for i in range(3):
        async with in_transaction() as conn:
            await audit.record(conn, ACTOR, "thing.done", f"thing:{i}", {"n": i, "名": "值"})


async def test_events_link_to_the_one_before(db: Settings) -> None:
    await _record_three()
    events = await AuditEvent.all().order_by("id")
    assert events[0].prev_hash == audit.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    report = await audit.verify_chain()
    assert report.ok
    assert report.checked == 3


async def test_changing_one_row_is_detected(db: Settings) -> None:
    await _record_three()
    second = (await AuditEvent.all().order_by("id"))[1]
    await AuditEvent.filter(id=second.id).update(details={"n": 99})
    report = await audit.verify_chain()
    assert not report.ok
    assert report.broken_at == second.id
    assert report.reason == "content does not match its hash"
    assert report.checked == 1


async def test_deleting_a_row_is_detected(db: Settings) -> None:
    await _record_three()
    second = (await AuditEvent.all().order_by("id"))[1]
    await AuditEvent.filter(id=second.id).delete()
    report = await audit.verify_chain()
    assert report.broken_at == second.id + 1
    assert report.reason == "does not link to the event before it"


async def test_rewriting_a_row_with_a_fresh_hash_still_breaks_the_next_link(db: Settings) -> None:
    await _record_three()
    events = await AuditEvent.all().order_by("id")
    forged = events[1]
    forged.details = {"n": 1, "forged": True}
    forged.hash = audit.event_hash(
        forged.prev_hash, forged.at, forged.actor, forged.action, forged.subject, forged.details
    )
    await forged.save()
    report = await audit.verify_chain()
    assert report.broken_at == events[2].id


async def test_an_event_rolls_back_with_its_transaction(db: Settings) -> None:
    try:
        async with in_transaction() as conn:
            await audit.record(conn, ACTOR, "thing.done", "thing:x")
            raise RuntimeError("the change failed")
    except RuntimeError:
        pass
    assert await AuditEvent.all().count() == 0


async def test_hash_is_over_a_canonical_form(db: Settings) -> None:
    async with in_transaction() as conn:
        ev = await audit.record(conn, ACTOR, "a", "s", {"b": 2, "a": 1})
    payload = json.dumps(
        [audit.GENESIS, ev.at.isoformat(), "test:pytest", "a", "s", {"a": 1, "b": 2}],
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    import hashlib

    assert ev.hash == hashlib.sha256(payload.encode()).hexdigest()
