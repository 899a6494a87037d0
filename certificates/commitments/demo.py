"""The demo city's commitments: most merchants commit to returns (so the demo still issues
certificates under a policy that asks for them), many to pay-first compensation and marked
prices; every tenth does not commit to returns, so the eligibility page shows the criterion
failing too — except on the showcase streets and scenic spots, whose certificates the demo's
journeys rely on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from certificates.commitments.models import RETURN_DAYS, Commitment, CommitmentKind
from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.models import Merchant, MerchantStatus
from service.register.demo_city import SHOWCASE_AREAS

EXCLUSIONS = (
    "",
    "食品、生鲜及已拆封的化妆品除外",
    "定制商品、已使用或影响二次销售的商品除外",
    "",
    "贴身衣物、特价清仓商品除外",
)


async def populate(actor: Actor, now: datetime | None = None) -> int:
    """Declare the demo merchants' commitments as of three years ago (before the expired
    certificate the demo issues in the past, which was judged on them); returns how many."""
    now = now or datetime.now(UTC)
    since = now - timedelta(days=3 * 365)
    rows: list[Commitment] = []
    merchants: list[Any] = list(
        await Merchant.filter(status=MerchantStatus.ACTIVE)
        .order_by("uscc")
        .values_list("id", flat=True)
    )
    showcased = set(
        await Merchant.filter(
            Q(street__code__in=SHOWCASE_AREAS) | Q(scenic_spot__code__in=SHOWCASE_AREAS)
        ).values_list("id", flat=True)
    )
    for i, merchant_id in enumerate(merchants):

        def row(kind: CommitmentKind, _merchant: int = merchant_id, **extra: object) -> Commitment:
            return Commitment(
                merchant_id=_merchant,
                kind=kind,
                valid_from=since,
                declared_by=actor.name,
                declared_as="merchant",
                declared_at=since,
                **extra,
            )

        if i % 10 != 9 or merchant_id in showcased:
            rows.append(
                row(
                    CommitmentKind.RETURNS,
                    returns_days=RETURN_DAYS[i % len(RETURN_DAYS)],
                    exclusions=EXCLUSIONS[i % len(EXCLUSIONS)],
                    other_branches=i % 4 == 0,
                )
            )
        if i % 2 == 0:
            rows.append(row(CommitmentKind.PAY_FIRST))
        if i % 3 != 2:
            rows.append(row(CommitmentKind.MARKED_PRICES))
    async with in_transaction() as tx:
        await Commitment.bulk_create(rows, batch_size=1000, using_db=tx)
        await audit.record(tx, actor, "commitment.demo", "commitments", {"declared": len(rows)})
    return len(rows)
