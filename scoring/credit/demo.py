"""The demo city's complaints and credit records: two years of 12315 complaints at the scale of
the bureau's report (about 750 a year, more than 96% closed), and credit events that leave some
merchants in class C or D and a few streets on the edge.

Generated in memory from a seed, then stored through the same ingest as the feeds (so the
demo exercises the real checks, deadlines and rescoring), in batches of the API's size.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scoring.credit import complaints
from scoring.credit import store as credit_store
from scoring.credit.rules import Rules
from scoring.credit.schemas import BATCH_MAX, ComplaintIn, CreditEventIn
from service.kernel.audit import Actor

SEED = 315  # 3·15, consumer rights day
COMPLAINTS_PER_YEAR = 750
CATEGORIES = ("quality", "price", "service", "contract", "false_advertising", "safety", "other")
CATEGORY_WEIGHTS = (30, 22, 20, 10, 8, 5, 5)


@dataclass(frozen=True, slots=True)
class DemoMerchantRef:
    uscc: str
    street: str | None
    active: bool
    showcase: bool = False  # in a well-run demo area: no complaints, nothing against it


@dataclass(slots=True)
class DemoCredit:
    complaints: list[ComplaintIn] = field(default_factory=list)
    events: list[CreditEventIn] = field(default_factory=list)


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def plan(merchants: Sequence[DemoMerchantRef], now: datetime, seed: int = SEED) -> DemoCredit:
    rng = random.Random(seed)  # noqa: S311 - demo data, reproducible on purpose
    out = DemoCredit()
    if not merchants:
        return out
    # A tenth of the merchants draw most complaints, as in any real register.
    weights = [
        0.0 if m.showcase else w
        for m, w in zip(
            merchants, [6.0 if rng.random() < 0.1 else 1.0 for _ in merchants], strict=True
        )
    ]
    for n in range(COMPLAINTS_PER_YEAR * 2):
        m = rng.choices(merchants, weights=weights)[0]
        out.complaints.append(
            _complaint(rng, f"12315-{2025 + n // COMPLAINTS_PER_YEAR}-{n:05d}", m.uscc, now)
        )

    def event(
        m: DemoMerchantRef, kind: str, days_ago: float, source: str = "sfgs", **extra: str
    ) -> None:
        if m.showcase and kind not in ("commendation", "credit_repaired"):
            return  # drawn all the same, so that the rest of the city is unchanged
        out.events.append(
            CreditEventIn(
                uscc=m.uscc,
                kind=kind,
                occurred_at=_at(now - timedelta(days=days_ago)),
                source=source,
                external_ref=f"{source}-{len(out.events):06d}",
                note=extra.get("note", ""),
                risk_class=extra.get("risk_class"),
            )
        )

    for m in merchants:
        r = rng.random()
        if r < 0.05:
            event(m, "spot_check_failed", rng.uniform(10, 700), note="抽检不合格")
        elif r < 0.08:
            days = rng.uniform(30, 700)
            event(m, "penalty_minor", days, note="未明码标价")
            if days > 200 and rng.random() < 0.5:
                event(m, "credit_repaired", days - 190, note="信用修复")
        elif r < 0.09:
            event(m, "penalty_major", rng.uniform(20, 600), note="销售假冒伪劣商品")
        elif r < 0.11:
            days = rng.uniform(60, 700)
            event(m, "abnormal_list_added", days, note="未按期报送年度报告")
            if rng.random() < 0.5:
                event(m, "abnormal_list_removed", days - rng.uniform(20, 50))
        elif r < 0.115:
            event(m, "serious_list_added", rng.uniform(30, 500), note="严重违法失信")
        elif r < 0.17:
            event(m, "commendation", rng.uniform(10, 300), note="诚信经营示范")
        if rng.random() < 0.3:
            cls = rng.choices("ABC", weights=(70, 25, 5))[0]
            event(m, "external_class", rng.uniform(5, 200), source="gsxt", risk_class=cls)
    # Two streets on the edge: a few of their merchants fined recently.
    streets = sorted({m.street for m in merchants if m.street})
    for street in streets[1:3]:
        on_street = [m for m in merchants if m.street == street and m.active]
        for m in on_street[:3]:
            event(m, "penalty_major", rng.uniform(5, 60), note="价格欺诈")
    return out


def _complaint(rng: random.Random, ref: str, uscc: str, now: datetime) -> ComplaintIn:
    received = now - timedelta(days=rng.uniform(0.5, 730), hours=rng.uniform(0, 8))
    disputed = round(rng.lognormvariate(6.5, 1.0), 2)
    category = rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0]
    age = (now - received).days
    # Most answered within the limit; a few late, the way overdue complaints happen.
    delay = rng.choices((0.2, 1, 2, 3, 4, 12), weights=(20, 30, 20, 15, 12, 3))[0]
    accepted = received + timedelta(days=delay)
    if accepted > now:
        return ComplaintIn(
            external_id=ref,
            uscc=uscc,
            received_at=_at(received),
            status="received",
            category=category,
            amount_disputed=disputed,
        )
    r = rng.random()
    if r < 0.03:
        return ComplaintIn(
            external_id=ref,
            uscc=uscc,
            received_at=_at(received),
            status="rejected",
            category=category,
            closed_at=_at(accepted),
            amount_disputed=disputed,
        )
    closed = accepted + timedelta(days=rng.uniform(2, 40) if rng.random() < 0.99 else 80)
    if closed > now or (age < 10 and r < 0.5):
        return ComplaintIn(
            external_id=ref,
            uscc=uscc,
            received_at=_at(received),
            status="mediating",
            category=category,
            accepted_at=_at(accepted),
            amount_disputed=disputed,
        )
    upheld = rng.random() < 0.55
    status = "closed" if rng.random() < 0.97 else "terminated"
    recovered = round(disputed * rng.uniform(0.6, 1.0), 2) if upheld and status == "closed" else 0.0
    return ComplaintIn(
        external_id=ref,
        uscc=uscc,
        received_at=_at(received),
        status=status,
        category=category,
        accepted_at=_at(accepted),
        closed_at=_at(closed),
        amount_disputed=disputed,
        amount_recovered=recovered,
        upheld=upheld if status == "closed" else None,
    )


@dataclass(frozen=True, slots=True)
class DemoCreditReport:
    complaints: int
    events: int
    merchants_changed: int


async def populate(
    merchants: Sequence[DemoMerchantRef], *, actor: Actor, rules: Rules, now: datetime | None = None
) -> DemoCreditReport:
    now = now or datetime.now(UTC)
    data = plan(merchants, now)
    changed = 0
    for i in range(0, len(data.complaints), BATCH_MAX):
        r = await complaints.ingest_complaints(
            data.complaints[i : i + BATCH_MAX], actor=actor, rules=rules, now=now, origin="demo"
        )
        changed += r.merchants_changed
    for i in range(0, len(data.events), BATCH_MAX):
        r = await credit_store.ingest_events(
            data.events[i : i + BATCH_MAX], actor=actor, rules=rules, now=now, origin="demo"
        )
        changed += r.merchants_changed
    return DemoCreditReport(len(data.complaints), len(data.events), changed)
