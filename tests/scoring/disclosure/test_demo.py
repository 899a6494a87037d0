"""The demo city shows complaint disclosure: records from its intake, one correction
pending on a published entry."""

from __future__ import annotations

from datetime import UTC, datetime

from scoring.disclosure import store
from scoring.disclosure.models import ComplaintCorrection, CorrectionStatus
from scoring.disclosure.rules import policy
from service.demo import load_demo
from service.kernel.audit import Actor
from service.kernel.models import Merchant
from service.kernel.settings import Settings
from tests.helpers import SMALL_INTAKE


async def test_the_demo_leaves_one_correction_pending_on_a_published_entry(
    db: Settings,
) -> None:
    report = await load_demo(db, actor=Actor("cli", "test"), responses=500, intake=SMALL_INTAKE)
    assert report.loaded
    (pending,) = await ComplaintCorrection.all()
    assert pending.status == CorrectionStatus.PENDING
    merchant = await Merchant.get(id=pending.merchant_id)
    record = await store.merchant_record(merchant.id, merchant.uscc, datetime.now(UTC), policy())
    assert record.published >= 1 and record.under_correction == 1
    city = await store.city_views(datetime.now(UTC), policy())
    assert city.published > 0 and sum(city.by_category.values()) == city.published
