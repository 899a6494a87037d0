"""Fifty credit batches at once, over the same merchants: afterwards every merchant's score is
what a full recompute from its events gives, and no certificate contradicts its merchant's
credit. On PostgreSQL the batches really run side by side (advisory locks per merchant)."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

from certificates import revocation
from certificates.models import Certificate, Status
from certificates.policy import Kind, revocation_reason
from scoring.credit import complaints
from scoring.credit import store as credit_store
from scoring.credit.models import CreditStanding
from scoring.credit.schemas import CreditEventIn
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory
from service.kernel.settings import Settings
from service.register.uscc import generate
from tests.certificates.test_cascade import POLICY, _certificate
from tests.helpers import TEST_ACTOR

RULES = credit_store.rules_for(None)
MERCHANTS = 24
BATCHES = 50
KINDS = (
    ("penalty_minor", 6),
    ("spot_check_failed", 5),
    ("commendation", 4),
    ("complaint_upheld", 4),
    ("penalty_major", 2),
    ("serious_list_added", 1),
)


async def _street_of_certified_merchants(now: datetime) -> list[str]:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    district = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
    )
    street = await Area.create(
        code="411702-ST09", kind=AreaKind.STREET, name_zh="示范街", name_en="S", parent=district
    )
    rng = random.Random(9)
    usccs = sorted({generate(rng, "411702") for _ in range(MERCHANTS)})
    for i, uscc in enumerate(usccs):
        await Merchant.create(
            uscc=uscc,
            name=f"商户{i}",
            category=MerchantCategory.RETAIL,
            district=district,
            street=street,
        )
        await _certificate(Kind.MERCHANT, uscc, f"商户{i}", f"ZMD-2026-M-{i:06d}-X", now)
    await _certificate(Kind.STREET, street.code, "示范街", "ZMD-2026-ST-000001-X", now)
    return usccs


async def test_fifty_concurrent_batches_agree_with_a_recompute_and_with_the_certificates(
    db: Settings,
) -> None:
    revocation.register(POLICY)
    now = datetime.now(UTC).replace(microsecond=0)
    usccs = await _street_of_certified_merchants(now - timedelta(days=30))
    rng = random.Random(50)
    kinds = [k for k, weight in KINDS for _ in range(weight)]
    batches = [
        [
            CreditEventIn(
                rng.choice(usccs),
                rng.choice(kinds),
                (now - timedelta(days=rng.randint(0, 200))).isoformat(),
                "load",
                f"B{b}-{i}",
            )
            for i in range(rng.randint(1, 4))
        ]
        for b in range(BATCHES)
    ]
    results = await asyncio.gather(
        *(
            credit_store.ingest_events(batch, actor=TEST_ACTOR, rules=RULES, now=now)
            for batch in batches
        )
    )
    assert sum(r.stored for r in results) == sum(len(b) for b in batches)

    url = db.database_url if db.is_postgres else None
    again = await complaints.recompute(actor=TEST_ACTOR, rules=RULES, now=now, database_url=url)
    assert again.merchants_changed == 0  # incremental under concurrency = batch

    standings = {
        m.uscc: s
        for s in await CreditStanding.all().select_related("merchant")
        for m in (s.merchant,)
    }
    assert set(standings) <= set(usccs) and standings
    revoked = 0
    for cert in await Certificate.filter(kind=Kind.MERCHANT):
        s = standings.get(cert.subject_code)
        must_go = s is not None and (
            revocation_reason(POLICY.merchant, s.score, s.risk_class, s.serious_listed) is not None
        )
        assert cert.status == (Status.REVOKED if must_go else Status.ACTIVE), cert.subject_code
        revoked += must_go
    assert 0 < revoked < MERCHANTS  # the draw revokes some and spares others
    street = await Certificate.get(kind=Kind.STREET)
    if any(s.serious_listed for s in standings.values()):
        assert street.status == Status.SUSPENDED
