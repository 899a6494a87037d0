"""The demo city's complaint disclosure: every merchant's record comes from the demo's 12315
year and its complaints filed online as they are; one request to correct a published entry
is left pending, so a merchant's pages show "更正中" (the demo merchant's, if it has a
published complaint) and the officials' queue has one to decide."""

from __future__ import annotations

from datetime import UTC, datetime

from scoring.credit.models import Complaint, IntakeKind
from scoring.disclosure import corrections, store
from scoring.disclosure.rules import policy
from service.kernel.models import Account
from service.kernel.plugins import DemoContext

DEMO_MERCHANT = "demo-merchant"  # service.register.demo's merchant account
LOOKED_AT = 20  # merchants tried for a published entry, the demo merchant first


async def load_corrections(ctx: DemoContext) -> None:
    now, p = datetime.now(UTC), policy()
    account = await Account.get_or_none(username=DEMO_MERCHANT)
    ids = [account.merchant_id] if account is not None and account.merchant_id else []
    accepted = Complaint.filter(
        kind=IntakeKind.COMPLAINT, merchant_id__not_isnull=True, accepted_at__not_isnull=True
    )
    recent = await accepted.order_by("-received_at").limit(LOOKED_AT).values("merchant_id")
    ids += [int(row["merchant_id"]) for row in recent]
    for merchant_id in dict.fromkeys(ids):
        entry = next(
            (e for e in await store.entries(merchant_id, now, p) if e.excluded is None), None
        )
        if entry is not None:
            await corrections.request(
                merchant_id,
                corrections.Request(
                    entry.id,
                    "投诉所述商品并非本店售出",
                    "本店进货台账与当日销售小票（复印件已提交窗口）",
                ),
                actor=ctx.actor,
                p=p,
                now=now,
            )
            return
