"""The receipt book the 12315 feed links to (scoring.credit.complaints.ReceiptBook): a feed
record of a complaint filed here — by its ``fangxin_ref``, or an external id that is a
receipt code — is this complaint, recorded on it and never stored as a second intake record.
Called inside the feed's transaction, which holds credit's exclusive lock."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.credit import complaints
from scoring.disputes import timeline
from scoring.disputes.models import Dispute
from scoring.disputes.rules import Step, looks_like_code


class Receipts:
    async def known(self, tx: BaseDBAsyncClient, codes: Collection[str]) -> set[str]:
        candidates = [c for c in codes if looks_like_code(c)]
        if not candidates:
            return set()
        found = (
            await Dispute.filter(code__in=candidates).using_db(tx).values_list("code", flat=True)
        )
        return {str(c) for c in found}

    async def link(self, tx: BaseDBAsyncClient, refs: Mapping[str, str], now: datetime) -> None:
        for code, ref in refs.items():
            d = await Dispute.filter(code=code).using_db(tx).get()
            if d.feed_ref == ref:
                continue  # a resend of a record already linked
            await timeline.step(
                tx,
                d,
                Step.LINKED_12315,
                timeline.SYSTEM,
                now=now,
                details={"feed_ref": ref},
                feed_ref=ref,
            )


def register() -> None:
    complaints.register_receipts(Receipts())
