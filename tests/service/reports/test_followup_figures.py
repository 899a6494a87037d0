"""回访满意率 with n and a 95% Wilson interval, by district and by handling body, and the
merchant's own settlements among online complaints closed (issue 30, part 5): numbers worked
out by hand, in the report's JSON, its page and the officials' desk (district-scoped)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from scoring.credit import complaints
from scoring.credit import store as credit_store
from scoring.credit.schemas import ComplaintIn
from scoring.disputes.models import Dispute
from scoring.disputes.rules import Category, DisputeStatus, Want
from service.kernel.accounts import create_account
from service.kernel.localtime import LOCAL_TZ
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, Role
from service.kernel.proportion import wilson
from service.reports import annual
from tests.helpers import PASSWORD, TEST_ACTOR, login, make_token

RULES = credit_store.rules_for(None)
RECEIVED = datetime(2025, 5, 6, 10, tzinfo=LOCAL_TZ)


def test_wilson_interval_of_45_in_50_by_hand() -> None:
    # p = 0.9, z = 1.96, z² = 3.8416, z²/n = 0.076832, 1 + z²/n = 1.076832
    # centre = (0.9 + 3.8416/100) / 1.076832 = 0.938416 / 1.076832 = 0.871460
    # half = 1.96 · √(0.09/50 + 3.8416/10000) / 1.076832
    #      = 1.96 · √0.00218416 / 1.076832 = 1.96 · 0.046735 / 1.076832 = 0.085065
    # → 0.786395 … 0.956525
    low, high = wilson(45, 50)
    assert low == pytest.approx(0.786395, abs=5e-5)
    assert high == pytest.approx(0.956525, abs=5e-5)
    # At the edges the interval stays inside 0–1 and keeps a width (the normal one would not).
    assert wilson(0, 5)[0] == 0.0 and wilson(0, 5)[1] > 0.4
    assert wilson(5, 5)[1] == 1.0 and wilson(5, 5)[0] < 0.6
    with pytest.raises(ValueError, match="no share"):
        wilson(1, 0)


def _answers(prefix: str, district: str, handled_by: str, **counts: int) -> list[ComplaintIn]:
    out = []
    for answer, n in counts.items():
        for i in range(n):
            out.append(
                ComplaintIn(
                    external_id=f"{prefix}-{answer}-{i}",
                    received_at=RECEIVED.isoformat(),
                    status="closed",
                    category="price",
                    accepted_at=(RECEIVED + timedelta(days=1)).isoformat(),
                    closed_at=(RECEIVED + timedelta(days=5)).isoformat(),
                    district=district,
                    party_name="某店",
                    followup=answer,
                    handled_by=handled_by,
                )
            )
    return out


async def _dispute(
    code: str, m: Merchant, status: DisputeStatus, closed: datetime | None, resolution: str | None
) -> None:
    await Dispute.create(
        code=code,
        secret_hash="0" * 64,
        merchant=m,
        district_id=m.district_id,
        status=status,
        category=Category.PRICE,
        description="x",
        occurred_on=date(2025, 5, 1),
        wants=Want.REFUND,
        text_hash=code,
        filed_at=datetime(2025, 5, 1, tzinfo=UTC),
        closed_at=closed,
        resolution=resolution,
    )


async def load() -> None:
    """驿城区 (411702): regulator 36 pleased of 40 answered, consumer association 9 of 10, and
    4 not reached; 西平县 (411721): regulator 9 of 10. Online: in 驿城区 three closed in 2025
    (two settled by the merchant, one withdrawn), one still with the merchant, one closed in
    2024; in 西平县 one closed by the bureau."""
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    yc = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Yicheng", parent=city
    )
    xp = await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="Xiping", parent=city
    )
    records = [
        *_answers(
            "Y",
            "411702",
            "regulator",
            satisfied=24,
            basically_satisfied=12,
            dissatisfied=4,
            not_reached=4,
        ),
        *_answers(
            "YC",
            "411702",
            "consumer_association",
            satisfied=6,
            basically_satisfied=3,
            dissatisfied=1,
        ),
        *_answers("X", "411721", "regulator", satisfied=5, basically_satisfied=4, dissatisfied=1),
    ]
    await complaints.ingest_complaints(
        records, actor=TEST_ACTOR, rules=RULES, now=datetime(2026, 1, 10, tzinfo=UTC)
    )
    m1 = await Merchant.create(
        uscc="9144030071526726XG", name="店", category=MerchantCategory.RETAIL, district=yc
    )
    m2 = await Merchant.create(
        uscc="91410100MA3X4K5L6M", name="铺", category=MerchantCategory.RETAIL, district=xp
    )
    in_2025 = datetime(2025, 6, 1, tzinfo=UTC)
    await _dispute("TS-2025-AAAA01", m1, DisputeStatus.SETTLED, in_2025, "merchant_odr")
    await _dispute("TS-2025-AAAA02", m1, DisputeStatus.SETTLED, in_2025, "merchant_odr")
    await _dispute("TS-2025-AAAA03", m1, DisputeStatus.WITHDRAWN, in_2025, "withdrawn")
    await _dispute("TS-2025-AAAA04", m1, DisputeStatus.WITH_MERCHANT, None, None)
    await _dispute(
        "TS-2024-AAAA05",
        m1,
        DisputeStatus.SETTLED,
        datetime(2024, 6, 1, tzinfo=UTC),
        "merchant_odr",
    )
    await _dispute("TS-2025-AAAA06", m2, DisputeStatus.CLOSED, in_2025, "mediated")


async def test_followup_rate_interval_by_district_and_handler(client: httpx.AsyncClient) -> None:
    await load()
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    body = (await client.get("/api/v1/reports/annual", params={"year": 2025})).json()

    # City: 36 + 9 + 9 = 54 pleased of 40 + 10 + 10 = 60 answered; the 4 not reached are
    # counted apart. 54/60 = 0.9; z²/n = 3.8416/60 = 0.064027; centre = 0.932013/1.064027
    # = 0.875930; half = 1.96·√(0.0015 + 0.00026678)/1.064027 = 0.077427 → 79.9–95.3.
    assert body["followups"] == {
        "satisfied": 35,
        "basically_satisfied": 19,
        "dissatisfied": 6,
        "not_reached": 4,
        "satisfaction_rate": 90.0,
        "answered": 60,
        "ci_low": 79.9,
        "ci_high": 95.3,
        "too_few": False,
    }
    # Regulator: 36 + 9 = 45 of 50 → 90.0, 78.6–95.7 (the hand-worked case above).
    regulator = body["followups_by_handler"]["regulator"]
    assert (regulator["answered"], regulator["satisfaction_rate"]) == (50, 90.0)
    assert (regulator["ci_low"], regulator["ci_high"]) == (78.6, 95.7)
    # Consumer association: 10 answers are fewer than MIN_ANSWERS: no rate, no interval.
    ca = body["followups_by_handler"]["consumer_association"]
    assert ca["answered"] == 10 and ca["too_few"] and ca["satisfaction_rate"] is None
    assert annual.MIN_ANSWERS == 30

    by = {d["district"]: d for d in body["by_district"]}
    # 驿城区: 36 + 9 = 45 of 50 again, 4 not reached outside the denominator.
    yc = by["411702"]["followups"]
    assert (yc["answered"], yc["satisfaction_rate"], yc["ci_low"], yc["ci_high"]) == (
        50,
        90.0,
        78.6,
        95.7,
    )
    assert yc["not_reached"] == 4
    # 西平县: 9 of 10 → too few answers, not 90%.
    xp = by["411721"]["followups"]
    assert xp["answered"] == 10 and xp["too_few"] and xp["satisfaction_rate"] is None

    # Online, closed in 2025: 4 (two by the merchant) → 50.0%; the open one and 2024's not.
    assert body["online"] == {"closed": 4, "merchant_odr": 2, "merchant_odr_share": 50.0}
    assert by["411702"]["online"] == {"closed": 3, "merchant_odr": 2, "merchant_odr_share": 66.7}
    assert by["411721"]["online"] == {"closed": 1, "merchant_odr": 0, "merchant_odr_share": 0.0}

    # The page (and the PDF, which shares its tables) prints the interval and "too few".
    client.headers.pop("authorization")
    await create_account("city", PASSWORD, Role.OFFICIAL, actor=TEST_ACTOR)
    assert await login(client, "city") == 303
    page = (await client.get("/official/reports/annual", params={"year": 2025})).text
    assert "78.6–95.7%" in page and "79.9–95.3%" in page
    assert "作答过少" in page  # 西平县 and the consumer association: 10 answers each


async def test_the_desk_shows_a_district_official_only_the_district(
    client: httpx.AsyncClient,
) -> None:
    await load()
    await create_account(
        "xiping", PASSWORD, Role.OFFICIAL, district_code="411721", actor=TEST_ACTOR
    )
    assert await login(client, "xiping") == 303
    page = (await client.get("/official", params={"year": 2025})).text
    # 西平县's own 10 answers (too few), and its one online complaint closed by the bureau;
    # never 驿城区's 45 of 50 nor the city's 54 of 60.
    assert "n = 10" in page and "n = 50" not in page and "n = 60" not in page
    assert "78.6" not in page and "79.9" not in page
    assert "0 / 1" in page

    client.cookies.clear()
    await create_account("city", PASSWORD, Role.OFFICIAL, actor=TEST_ACTOR)
    assert await login(client, "city") == 303
    page = (await client.get("/official", params={"year": 2025})).text
    assert "79.9–95.3%" in page and "n = 60" in page and "2 / 4" in page
