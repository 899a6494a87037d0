"""Racing answers to one complaint: exactly one wins, and the database decides it (a
compare-and-set on the status, a unique offer round, a unique follow-up). On PostgreSQL the
calls run truly side by side on the connection pool; SQLite serialises them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Any

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from scoring.credit.models import Complaint
from scoring.disputes import store, timeline
from scoring.disputes.intake import bureau_accept
from scoring.disputes.models import Dispute, DisputeEvent, DisputeFollowup, DisputeOffer
from scoring.disputes.rules import DisputeStatus, Step
from scoring.disputes.schemas import AnswerIn, FollowupIn, OfferIn
from service.kernel.errors import Conflict
from service.kernel.settings import Settings
from tests.scoring.disputes.conftest import CREDIT, NO_ODR, at, complaint, file, make_town


async def outcomes(calls: Sequence[Awaitable[Any]]) -> tuple[int, list[BaseException]]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    failures = [r for r in results if isinstance(r, BaseException)]
    return len(results) - len(failures), failures


async def test_of_ten_offers_sent_at_once_one_is_kept(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, now=at("2026-09-29"))
    offers = [
        store.merchant_offer(
            filed.dispute.code,
            OfferIn("refund", amount=str(10 + i)),
            who=town.principals["shop"],
            credit=CREDIT,
            now=at("2026-09-30"),
        )
        for i in range(10)
    ]
    won, failures = await outcomes(offers)
    assert won == 1
    assert all(isinstance(f, Conflict) for f in failures), failures
    assert await DisputeOffer.filter(dispute_id=filed.dispute.id).count() == 1
    assert await DisputeEvent.filter(dispute_id=filed.dispute.id, step="offered").count() == 1
    assert (await Dispute.get(id=filed.dispute.id)).status == "offered"


async def test_accept_reject_and_withdraw_at_once_one_wins(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, now=at("2026-09-29"))
    code, secret = filed.dispute.code, filed.secret
    await store.merchant_offer(
        code,
        OfferIn("refund", amount="50"),
        who=town.principals["shop"],
        credit=CREDIT,
        now=at("2026-09-30"),
    )
    now = at("2026-10-08")
    calls: list[Awaitable[Any]] = []
    for _ in range(4):
        calls.append(store.consumer_accept(code, secret, credit=CREDIT, now=now))
        calls.append(store.consumer_reject(code, secret, AnswerIn(), credit=CREDIT, now=now))
        calls.append(store.withdraw(code, secret, AnswerIn(), credit=CREDIT, now=now))
    won, failures = await outcomes(calls)
    assert won == 1
    assert all(isinstance(f, Conflict) for f in failures), failures
    d = await Dispute.get(id=filed.dispute.id)
    answered = await DisputeOffer.filter(dispute_id=d.id, answer__isnull=False).count()
    ends = {"settled": 1, "with_merchant": 1, "withdrawn": 0}
    assert answered == ends[d.status]
    # A settlement wrote its intake record once; the others wrote none.
    assert await Complaint.all().count() == (1 if d.status == "settled" else 0)


async def test_two_officials_accepting_at_once_accept_once(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, complaint(NO_ODR), now=at("2026-09-29"))
    won, failures = await outcomes(
        [
            bureau_accept(filed.dispute.code, who=who, credit=CREDIT, now=at("2026-09-30"))
            for who in [town.principals["city"], town.principals["district"]] * 3
        ]
    )
    assert won == 1 and all(isinstance(f, Conflict) for f in failures), failures
    steps = DisputeEvent.filter(dispute_id=filed.dispute.id, step="bureau_accepted")
    assert await steps.count() == 1


async def test_one_follow_up_even_sent_at_once(db: Settings) -> None:
    town = await make_town()
    filed = await file(db, now=at("2026-09-29"))
    code, secret = filed.dispute.code, filed.secret
    await store.merchant_offer(
        code,
        OfferIn("exchange"),
        who=town.principals["shop"],
        credit=CREDIT,
        now=at("2026-09-30"),
    )
    await store.consumer_accept(code, secret, credit=CREDIT, now=at("2026-10-08"))
    won, failures = await outcomes(
        [store.follow_up(code, secret, FollowupIn("satisfied"), now=at("2026-10-09"))] * 1
        + [
            store.follow_up(code, secret, FollowupIn("satisfied"), now=at("2026-10-09"))
            for _ in range(7)
        ]
    )
    assert won == 1 and all(isinstance(f, Conflict) for f in failures), failures
    assert await DisputeFollowup.filter(dispute_id=filed.dispute.id).count() == 1


async def test_the_database_refuses_a_stale_move_and_a_second_offer_of_a_round(
    db: Settings,
) -> None:
    """What decides the races above, without timing: a copy read before another request
    moved the complaint cannot move it, and a round is offered once."""
    await make_town()
    filed = await file(db, now=at("2026-09-29"))
    first = await Dispute.get(id=filed.dispute.id)
    stale = await Dispute.get(id=filed.dispute.id)
    async with in_transaction() as tx:
        await timeline.step(
            tx, first, Step.OFFERED, timeline.SYSTEM, now=at("2026-09-30"), to=DisputeStatus.OFFERED
        )
    with pytest.raises(Conflict):
        async with in_transaction() as tx:
            await timeline.step(
                tx,
                stale,
                Step.WITHDRAWN,
                timeline.CONSUMER,
                now=at("2026-09-30"),
                to=DisputeStatus.WITHDRAWN,
            )
    assert (await Dispute.get(id=first.id)).status == "offered"
    fields: dict[str, Any] = {
        "kind": "exchange",
        "offered_at": at("2026-09-30"),
        "offered_by": "x",
    }
    await DisputeOffer.create(dispute_id=first.id, round=1, **fields)
    with pytest.raises(IntegrityError):
        await DisputeOffer.create(dispute_id=first.id, round=1, **fields)
