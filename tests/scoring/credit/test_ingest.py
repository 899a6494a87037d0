"""Credit events in through the API: stored whole or not at all, replayed harmlessly,
scored, recorded in history and announced exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.credit.models import CreditChange, CreditEvent, CreditStanding
from service.kernel import events
from service.kernel.events import CreditChanged
from service.kernel.models import Area, AreaKind, AuditEvent, Merchant, MerchantCategory, Role
from service.kernel.settings import Settings
from tests.helpers import make_account, make_token

M1 = "9144030071526726XG"
M2 = "91330100716105852F"
NOW = datetime.now(UTC).replace(microsecond=0)


async def make_merchants() -> None:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    district = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
    )
    for uscc in (M1, M2):
        await Merchant.create(
            uscc=uscc, name="店" + uscc[-2:], category=MerchantCategory.RETAIL, district=district
        )


def event(
    uscc: str, kind: str, ref: str, days_ago: float = 0, risk_class: str | None = None
) -> dict[str, Any]:
    at = (NOW - timedelta(days=days_ago)).astimezone(UTC).isoformat()
    body = {"uscc": uscc, "kind": kind, "occurred_at": at, "source": "sfgs", "external_ref": ref}
    return body | ({"class": risk_class} if risk_class else {})


class Recorder:
    def __init__(self) -> None:
        self.seen: list[CreditChanged] = []

    async def __call__(self, conn: BaseDBAsyncClient, batch: Sequence[CreditChanged]) -> None:
        # Inside the transaction: the new standing is visible on the listener's connection.
        for e in batch:
            standing = await CreditStanding.filter(merchant_id=e.merchant_id).using_db(conn).get()
            assert standing.score == e.new.score
        self.seen.extend(batch)


async def test_a_batch_is_scored_recorded_announced_and_replays_change_nothing(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    batch = {
        "events": [
            event(M1, "penalty_major", "P-1"),  # 100 − 30 = 70 → C
            event(M1, "complaint_upheld", "C-1", days_ago=365),  # −5 · ½ = −2.5 → 67.5
            event(M2, "external_class", "X-1", risk_class="B"),  # 100 points, bounded at B
        ]
    }
    recorder = Recorder()
    with events.listening(CreditChanged, recorder):
        r = await client.post("/api/v1/credit/events", json=batch)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "received": 3,
            "stored": 3,
            "updated": 0,
            "unchanged": 0,
            "merchants_changed": 2,
        }
        replay = await client.post("/api/v1/credit/events", json=batch)
    assert replay.json() | {} == {
        "received": 3,
        "stored": 0,
        "updated": 0,
        "unchanged": 3,
        "merchants_changed": 0,
    }
    assert await CreditEvent.all().count() == 3
    assert [
        (e.uscc, e.old.score, e.old.risk_class, e.new.score, e.new.risk_class)
        for e in recorder.seen
    ] == [
        (M1, 100.0, "A", 67.5, "C"),
        (M2, 100.0, "A", 100.0, "B"),
    ]
    assert all(e.cause == "events" for e in recorder.seen)
    assert len(recorder.seen[0].event_ids) == 2
    assert await CreditChange.all().count() == 2
    audits = await AuditEvent.filter(action="credit.ingest").order_by("id")
    assert [(a.details["stored"], a.details["unchanged"]) for a in audits] == [(3, 0), (0, 3)]

    # The merchant reads its own credit, with each event's points; officials read anyone's.
    await make_account("merchant1", Role.MERCHANT, merchant_uscc=M1)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    credit = (await client.get(f"/api/v1/merchants/{M1}/credit")).json()
    assert (credit["score"], credit["class"], credit["serious_listed"]) == (67.5, "C", False)
    assert [h["class"] for h in credit["history"]] == ["C"]
    assert sorted(e["points"] for e in credit["events"]) == [-30.0, -2.5]
    clean = (await client.get(f"/api/v1/merchants/{M2}/credit")).json()
    assert (clean["score"], clean["class"], clean["external_class"]) == (100.0, "B", "B")


async def test_a_bad_batch_names_every_bad_item_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    batch = {
        "events": [
            event(M1, "penalty_minor", "OK-1"),
            event("914117007676543210", "penalty_minor", "U-1"),
            event(M1, "penalty_huge", "K-1"),
            event(M1, "penalty_minor", "D-1") | {"occurred_at": "yesterday"},
            event(M1, "penalty_minor", "T-1") | {"occurred_at": "2026-01-01T10:00:00"},
            event(M1, "external_class", "E-1", risk_class="E"),
            event(M1, "penalty_minor", "OK-1"),  # the same key twice in one batch
            event(M1, "penalty_minor", "F-1", days_ago=-3),
            event(M1, "penalty_minor", "S-1") | {"source": "complaint:12315"},
        ]
    }
    r = await client.post("/api/v1/credit/events", json=batch)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == [
        "events[1].uscc",
        "events[2].kind",
        "events[3].occurred_at",
        "events[4].occurred_at",
        "events[5].class",
        "events[6].external_ref",
        "events[7].occurred_at",
        "events[8].source",
    ]
    assert await CreditEvent.all().count() == 0
    assert await AuditEvent.filter(action="credit.ingest").count() == 0

    # A known key with other content is refused as well, and still nothing is stored.
    assert (
        await client.post("/api/v1/credit/events", json={"events": batch["events"][:1]})
    ).status_code == 200
    changed = event(M1, "penalty_major", "OK-1")
    r = await client.post(
        "/api/v1/credit/events", json={"events": [event(M2, "commendation", "N-1"), changed]}
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["events[1].external_ref"]
    assert await CreditEvent.all().count() == 1


async def test_a_failing_listener_leaves_no_trace(client: httpx.AsyncClient) -> None:
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"

    async def refuse(conn: BaseDBAsyncClient, batch: Sequence[CreditChanged]) -> None:
        raise RuntimeError("the certificate store is down")

    with events.listening(CreditChanged, refuse):
        r = await client.post(
            "/api/v1/credit/events", json={"events": [event(M1, "serious_list_added", "S-1")]}
        )
    assert r.status_code == 500
    assert await CreditEvent.all().count() == 0
    assert await CreditStanding.all().count() == 0
    assert await CreditChange.all().count() == 0
    assert await AuditEvent.filter(action="credit.ingest").count() == 0


async def test_a_merchant_reads_only_its_own_credit(client: httpx.AsyncClient) -> None:
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    assert (await client.get(f"/api/v1/merchants/{M1}/credit")).status_code == 403
    del client.headers["authorization"]
    assert (await client.get(f"/api/v1/merchants/{M1}/credit")).status_code == 401
    await make_account("merchant2", Role.MERCHANT, merchant_uscc=M2)
    from tests.helpers import login

    assert await login(client, "merchant2") == 303
    assert (await client.get(f"/api/v1/merchants/{M2}/credit")).status_code == 200
    r = await client.get(f"/api/v1/merchants/{M1}/credit")
    assert r.status_code == 403


@pytest.mark.parametrize("size", [5001])
async def test_a_batch_has_at_most_5000_items(client: httpx.AsyncClient, size: int) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    r = await client.post(
        "/api/v1/credit/events",
        json={"events": [event(M1, "commendation", f"R-{i}") for i in range(size)]},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "events"


async def test_a_key_a_racing_batch_stored_with_other_content_is_refused(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    # On PostgreSQL a batch inserts before it locks its merchants, and reads back only the
    # keys its insert skipped. Another transaction holds one of its keys, uncommitted, with
    # other content: the insert must wait for it, and once it commits, refuse the batch whole.
    from tests.conftest import dialect

    if dialect() != "postgres":
        pytest.skip("SQLite locks before it inserts: no batch can come in between")
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    m1 = await Merchant.get(uscc=M1)
    other = await asyncpg.connect(app_settings.database_url.replace("postgres://", "postgresql://"))
    try:
        holding = other.transaction()
        await holding.start()
        await other.execute(
            "INSERT INTO credit_event (merchant_id, kind, occurred_at, source, external_ref,"
            " note, risk_class, recorded_at) VALUES ($1, 'penalty_minor', $2, 'sfgs', 'R-1', '',"
            " NULL, $2)",
            m1.id,
            NOW,
        )
        racing = [event(M1, "commendation", "R-1"), event(M2, "penalty_minor", "R-2")]
        post = asyncio.create_task(client.post("/api/v1/credit/events", json={"events": racing}))
        await asyncio.sleep(0.5)
        assert not post.done(), "the insert did not wait for the transaction holding its key"
        await holding.commit()
        r = await asyncio.wait_for(post, 10)
    finally:
        await other.close()
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["events[0].external_ref"]
    assert await CreditEvent.all().count() == 1  # R-2 went with the rest of its batch
    assert not await CreditStanding.filter(merchant__uscc=M2).exists()
