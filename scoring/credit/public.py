"""What the law makes public about a merchant's credit records, for its public pages.

Administrative penalties decided by the ordinary procedure are published (市场监督管理行政处罚
信息公示规定, art. 2) until three years after publication (art. 14), and a listing on the
abnormal operations list (经营异常名录) or the serious violation list (严重违法失信名单) is
public while it lasts. The rest stays with the bureau and the merchant: the credit score, the
risk class A–D, complaints, spot checks and commendations are never read here. A penalty or
listing repaired (信用修复) is shown with the day of its repair.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from scoring.credit.models import CreditEvent
from scoring.credit.rules import Rules

PENALTY_KINDS: Final = ("penalty_minor", "penalty_major")
# Publication of a penalty stops three years after it was published (art. 14); the date of
# the decision stands in for the date of publication, which follows it within 20 working days.
PENALTY_PUBLIC_FOR: Final = timedelta(days=3 * 365)
# The rule table's listings (credit_rules.toml) that are public registers.
PUBLIC_LISTINGS: Final = ("abnormal", "serious")


@dataclass(frozen=True, slots=True)
class PublicEntry:
    """A penalty (kind: its event kind) or a listing in force (kind: the listing's name)."""

    kind: str
    occurred_at: datetime
    note: str
    # Credit repair approved (scoring/credit/repair.py): shown as "已信用修复" with the date.
    repaired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PublicRecord:
    penalties: list[PublicEntry]  # newest first
    listings: list[PublicEntry]  # in force now, with the day listed

    def __bool__(self) -> bool:
        return bool(self.penalties or self.listings)


async def public_record(merchant_id: int, rules: Rules, now: datetime) -> PublicRecord:
    """The merchant's penalties still published and its listings in force at ``now``."""
    penalties = await CreditEvent.filter(
        merchant_id=merchant_id,
        kind__in=PENALTY_KINDS,
        occurred_at__lte=now,
        occurred_at__gt=now - PENALTY_PUBLIC_FOR,
    ).order_by("-occurred_at", "-id")
    listings = []
    for listing in rules.listings:
        if listing.name not in PUBLIC_LISTINGS:
            continue
        # In force when its latest add or remove is an add; on the same instant the removal
        # wins, as in the credit rules (scoring.credit.rules.credit_scores sorts by kind).
        latest = (
            await CreditEvent.filter(
                merchant_id=merchant_id,
                kind__in=(listing.added, listing.removed),
                occurred_at__lte=now,
            )
            .order_by("-occurred_at", "-kind", "-id")
            .first()
        )
        # A repaired listing (its add repaired) is no longer in force; it stays on the record
        # as repaired until a later removal or listing replaces it.
        if latest is not None and latest.kind == listing.added:
            listings.append(
                PublicEntry(listing.name, latest.occurred_at, latest.note, latest.repaired_at)
            )
    return PublicRecord(
        [PublicEntry(e.kind, e.occurred_at, e.note, e.repaired_at) for e in penalties],
        listings,
    )
