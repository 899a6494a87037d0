"""The demo city's complaint disclosure: every merchant's record comes from the demo's 12315
year and its complaints filed online as they are; one request to correct a published entry
is left pending, so a merchant's pages show "更正中" (the demo merchant's, if it has a
published complaint), with a file of evidence, and the officials' queue has one to decide."""

from __future__ import annotations

from datetime import UTC, datetime

from scoring.credit.models import Complaint, IntakeKind
from scoring.disclosure import corrections, store
from scoring.disclosure.rules import policy
from service.kernel.models import Account
from service.kernel.plugins import DemoContext
from service.kernel.uploads import Upload

DEMO_MERCHANT = "demo-merchant"  # service.register.demo's merchant account
# A scanned ledger page as the request's file of evidence (a minimal PDF: the demo's papers).
LEDGER = b"%PDF-1.4\n% Fangxin demo: purchase ledger\n%%EOF\n"
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
                    "本店进货台账与当日销售小票（扫描件附后）",
                ),
                actor=ctx.actor,
                p=p,
                now=now,
                files=[Upload("进货台账.pdf", LEDGER)],
                data_dir=ctx.settings.data_dir,
            )
            return
