"""What officials and a merchant read about credit: one merchant's standing, history, events."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from scoring.credit.models import CreditChange, CreditEvent, CreditStanding
from scoring.credit.rules import Rules, event_points
from scoring.credit.schemas import CreditChangeOut, CreditEventOut, CreditOut
from scoring.credit.store import EVENT_SCHEMA, start_state
from service.kernel.errors import NotFound
from service.kernel.models import Merchant

HISTORY_LIMIT = 500


async def merchant_credit(uscc: str, rules: Rules, now: datetime | None = None) -> CreditOut:
    """The merchant's credit now, every change of it (newest first), and every event with what
    it weighs today."""
    now = now or datetime.now(UTC)
    merchant = await Merchant.get_or_none(uscc=uscc)
    if merchant is None:
        raise NotFound(f"No merchant with USCC {uscc}")
    standing = await CreditStanding.get_or_none(merchant_id=merchant.id)
    changes = (
        await CreditChange.filter(merchant_id=merchant.id)
        .order_by("-changed_at", "-id")
        .limit(HISTORY_LIMIT)
    )
    stored = await CreditEvent.filter(merchant_id=merchant.id).order_by("-occurred_at", "-id")
    # A repaired event weighs nothing: it is weighed as rescoring weighs, without it.
    counted = [e for e in stored if e.repaired_at is None]
    frame = pl.DataFrame(
        {
            "merchant_id": [merchant.id] * len(counted),
            "kind": [e.kind for e in counted],
            "occurred_at": [e.occurred_at for e in counted],
            "class": [e.risk_class for e in counted],
        },
        schema=EVENT_SCHEMA,
    )
    weighed = event_points(frame, rules, now, key="merchant_id")["points"].to_list()
    by_id = {e.id: p for e, p in zip(counted, weighed, strict=True)}
    points = [by_id.get(e.id, 0.0) for e in stored]
    start = start_state(rules)
    return CreditOut(
        uscc=merchant.uscc,
        score=standing.score if standing else start.score,
        risk_class=standing.risk_class if standing else start.risk_class,
        updated_at=standing.updated_at if standing else None,
        abnormal_listed=standing.abnormal_listed if standing else False,
        serious_listed=standing.serious_listed if standing else False,
        external_class=standing.external_class if standing else None,
        rules_version=standing.rules_version if standing else rules.version,
        history=[
            CreditChangeOut(
                c.changed_at,
                c.old_score,
                c.old_class,
                c.new_score,
                c.new_class,
                c.cause,
                list(c.event_ids),
            )
            for c in changes
        ],
        events=[
            CreditEventOut(
                e.id,
                e.kind,
                e.occurred_at,
                e.source,
                e.external_ref,
                e.note,
                e.risk_class,
                round(p, 3),
                e.repaired_at,
            )
            for e, p in zip(stored, points, strict=True)
        ],
    )
