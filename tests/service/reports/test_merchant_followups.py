"""Follow-ups of complaints the merchant settled itself (先行和解, ``merchant_odr``) in the
回访满意率 (issue 30, "follow-up figures"): they count once, in the totals and under a handling
body of their own, the merchant, never under the regulator or the consumer association their
category would have gone to; in the year the complaint was filed (the day its intake record was
received); in their district only; in the JSON, the page, the PDF, the workbook and the desk.

Every complaint filed online and followed up has an intake record carrying the answer (settled:
``record_settlement``; escalated: ``escalate``), so the answer is read there and nowhere else:
reading ``dispute_followup`` as well would count each twice."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import fastexcel
import httpx
import polars as pl
import pytest

from scoring.credit import complaints
from scoring.credit.schemas import ComplaintIn
from scoring.disputes import store
from scoring.disputes.intake import bureau_accept, record_outcome
from scoring.disputes.models import DisputeFollowup
from scoring.disputes.schemas import FollowupIn, OfferIn, OutcomeIn
from service.kernel.accounts import create_account
from service.kernel.models import Role
from service.kernel.proportion import wilson
from service.kernel.settings import Settings
from service.reports import annual
from tests.helpers import PASSWORD, TEST_ACTOR, login, make_token
from tests.scoring.disputes.conftest import (
    CREDIT,
    FAR,
    NO_ODR,
    SHOP,
    Town,
    at,
    complaint,
    file,
    make_town,
)
from tests.service.reports.test_annual import pdf_text

REFUND = OfferIn(kind="refund", amount="50.00", note="退五十元")


def test_wilson_intervals_of_the_worked_example_by_hand() -> None:
    # z = 1.959964, z² = 3.841459.
    # 27 of 30: p = 0.9, z²/n = 0.128049, centre = (0.9 + 0.064024) / 1.128049 = 0.854594,
    #   half = z·√(0.003 + 0.00106707) / 1.128049 = z·0.063774 / 1.128049 = 0.110806
    #   → 0.743788 … 0.965400: 74.4–96.5.
    # 29 of 33: p = 0.878788, z²/n = 0.116408, centre = (0.878788 + 0.058204) / 1.116408
    #   = 0.839291, half = z·√(0.0032279 + 0.00088188) / 1.116408 = z·0.064108 / 1.116408
    #   = 0.112548 → 0.726743 … 0.951839: 72.7–95.2.
    # 29 of 32: p = 0.90625, z²/n = 0.120046, centre = (0.90625 + 0.060023) / 1.120046
    #   = 0.862708, half = z·√(0.00265503 + 0.00093786) / 1.120046 = z·0.059941 / 1.120046
    #   = 0.104890 → 0.757818 … 0.967598: 75.8–96.8.
    for (k, n), (low, high) in {
        (27, 30): (0.743788, 0.965400),
        (29, 33): (0.726743, 0.951839),
        (29, 32): (0.757818, 0.967598),
    }.items():
        got = wilson(k, n)
        assert got[0] == pytest.approx(low, abs=5e-6), (k, n)
        assert got[1] == pytest.approx(high, abs=5e-6), (k, n)


def test_a_merchant_settlement_is_the_merchants_whatever_its_handler() -> None:
    """The handling body: the merchant exactly when it settled before the regulator accepted
    (a settlement after acceptance, as the 12315 feed may report, stays with the handler)."""
    intake = pl.DataFrame(
        {
            "handled_by": ["regulator", "consumer_association", "regulator", "regulator"],
            "resolution": ["merchant_odr", "merchant_odr", "merchant_odr", "mediated"],
            "accepted": [False, False, True, True],
            "followup": ["satisfied", "dissatisfied", "basically_satisfied", "not_reached"],
        }
    )
    assert intake.select(annual.handling_body())["body"].to_list() == [
        "merchant",
        "merchant",
        "regulator",
        "regulator",
    ]
    by = annual._followups_by_handler(intake)
    assert list(by) == ["regulator", "consumer_association", "merchant"]
    assert (by["merchant"].satisfied, by["merchant"].dissatisfied) == (1, 1)
    assert (by["regulator"].basically_satisfied, by["regulator"].not_reached) == (1, 1)
    assert by["consumer_association"].answered == 0


async def _settled(
    settings: Settings, town: Town, who: str, day: str, answer: str, **kw: str
) -> str:
    """A complaint filed on ``day``, settled by the merchant two days later (the consumer
    accepts its offer) and followed up the day after; its receipt code."""
    filed = await file(settings, complaint(occurred_on="2026-08-30", **kw), now=at(day))
    code = filed.dispute.code
    start = at(day)
    await store.merchant_offer(
        code, REFUND, who=town.principals[who], credit=CREDIT, now=start + timedelta(days=1)
    )
    await store.consumer_accept(code, filed.secret, credit=CREDIT, now=start + timedelta(days=2))
    await store.follow_up(code, filed.secret, FollowupIn(answer), now=start + timedelta(days=3))
    return code


def _regulator_answers(**counts: int) -> list[ComplaintIn]:
    received = datetime(2026, 5, 6, 10, tzinfo=UTC)
    return [
        ComplaintIn(
            external_id=f"R-{answer}-{i}",
            received_at=received.isoformat(),
            status="closed",
            category="price",
            accepted_at=(received + timedelta(days=1)).isoformat(),
            closed_at=(received + timedelta(days=5)).isoformat(),
            resolution="mediated",
            district="411702",
            party_name="某店",
            followup=answer,
            handled_by="regulator",
        )
        for answer, n in counts.items()
        for i in range(n)
    ]


async def load(settings: Settings) -> Town:
    """驿城区 (411702): the 12315 feed's regulator records, 21 satisfied, 5 basically, 3 not
    satisfied, 2 not reached; a complaint filed online about a merchant outside ODR, escalated,
    mediated by the bureau and answered satisfied; two complaints (quality) the shop settled,
    both answered satisfied. 西平县 (411721): one complaint about a service, which would have
    gone to the consumer association, settled by its merchant and answered not satisfied."""
    town = await make_town()
    await complaints.ingest_complaints(
        _regulator_answers(satisfied=21, basically_satisfied=5, dissatisfied=3, not_reached=2),
        actor=TEST_ACTOR,
        rules=CREDIT,
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )
    escalated = await file(
        settings, complaint(NO_ODR, occurred_on="2026-08-30"), now=at("2026-09-01")
    )
    assert escalated.dispute.status == "escalated"
    code, official = escalated.dispute.code, town.principals["district"]
    await bureau_accept(code, who=official, credit=CREDIT, now=at("2026-09-02"))
    await record_outcome(
        code,
        OutcomeIn("agreement", amount_recovered="80", upheld=True),
        who=official,
        credit=CREDIT,
        now=at("2026-09-08"),
    )
    await store.follow_up(code, escalated.secret, FollowupIn("satisfied"), now=at("2026-09-09"))
    await _settled(settings, town, "shop", "2026-09-07", "satisfied", merchant=SHOP)
    await _settled(
        settings, town, "shop", "2026-09-14", "satisfied", merchant=SHOP, description="又坏了一台"
    )
    await _settled(
        settings, town, "far", "2026-09-21", "dissatisfied", merchant=FAR, category="service"
    )
    return town


async def test_merchant_settled_followups_count_once_under_the_merchant(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await load(app_settings)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    body = (await client.get("/api/v1/reports/annual", params={"year": 2026})).json()
    by_handler = body["followups_by_handler"]

    # The regulator: the feed's 26 pleased of 29 answered and the escalated complaint's
    # satisfied → 27 of 30 = 90.0%, 74.4–96.5 (worked above). The two settlements of the shop
    # (quality, the regulator's category) are not the regulator's.
    assert by_handler["regulator"] == {
        "satisfied": 22,
        "basically_satisfied": 5,
        "dissatisfied": 3,
        "not_reached": 2,
        "satisfaction_rate": 90.0,
        "answered": 30,
        "ci_low": 74.4,
        "ci_high": 96.5,
        "too_few": False,
    }
    # The consumer association handled none: 西平县's service complaint was the merchant's.
    assert by_handler["consumer_association"]["answered"] == 0
    # The merchant: 2 satisfied + 1 not satisfied = 3 answered, too few for a rate.
    assert by_handler["merchant"] == {
        "satisfied": 2,
        "basically_satisfied": 0,
        "dissatisfied": 1,
        "not_reached": 0,
        "satisfaction_rate": None,
        "answered": 3,
        "ci_low": None,
        "ci_high": None,
        "too_few": True,
    }
    # The city: 27 + 2 = 29 pleased of 30 + 3 = 33 answered → 87.9%, 72.7–95.2 (above).
    assert body["followups"] == {
        "satisfied": 24,
        "basically_satisfied": 5,
        "dissatisfied": 4,
        "not_reached": 2,
        "satisfaction_rate": 87.9,
        "answered": 33,
        "ci_low": 72.7,
        "ci_high": 95.2,
        "too_few": False,
    }
    # Counted once: the 31 answers of the feed and the 4 of complaints filed online (three
    # settled, one escalated: each answer also on its dispute) are 35, not 39.
    assert await DisputeFollowup.all().count() == 4
    whole = body["followups"]
    assert whole["answered"] + whole["not_reached"] == 31 + 4
    for key in ("satisfied", "basically_satisfied", "dissatisfied", "not_reached"):
        assert whole[key] == sum(f[key] for f in by_handler.values()), key

    by = {d["district"]: d for d in body["by_district"]}
    # 驿城区: 27 + 2 = 29 pleased of 32 → 90.6%, 75.8–96.8 (above); its merchant row 2 of 2.
    yc = by["411702"]
    assert (yc["followups"]["answered"], yc["followups"]["satisfaction_rate"]) == (32, 90.6)
    assert (yc["followups"]["ci_low"], yc["followups"]["ci_high"]) == (75.8, 96.8)
    assert yc["followups_by_handler"]["merchant"]["satisfied"] == 2
    assert yc["followups_by_handler"]["merchant"]["answered"] == 2
    # 西平县: only its one settlement, not satisfied.
    xp = by["411721"]
    assert xp["followups"]["answered"] == 1 and xp["followups"]["dissatisfied"] == 1
    assert xp["followups_by_handler"]["merchant"]["dissatisfied"] == 1
    assert xp["followups_by_handler"]["consumer_association"]["answered"] == 0

    # A district's report is that district's alone.
    one = (
        await client.get("/api/v1/reports/annual", params={"year": 2026, "district": "411721"})
    ).json()
    assert one["followups"]["answered"] == 1
    assert one["followups_by_handler"]["merchant"]["dissatisfied"] == 1
    assert one["followups_by_handler"]["regulator"]["answered"] == 0

    # The workbook: a follow-up sheet by place and handling body, read back cell by cell.
    book = await client.get(
        "/api/v1/reports/annual", params={"year": 2026, "format": "xlsx", "headers": "machine"}
    )
    reader = fastexcel.read_excel(book.content)
    assert reader.sheet_names == ["汇总", "回访", "按渠道", "按月份", "数据字典"]
    sheet = pl.read_excel(io.BytesIO(book.content), sheet_name="回访")
    assert sheet.columns == [
        "district",
        "handled_by",
        "satisfied",
        "basically_satisfied",
        "dissatisfied",
        "not_reached",
        "answered",
        "satisfaction_rate",
        "ci_low",
        "ci_high",
        "too_few",
    ]
    rows = {(r["district"], r["handled_by"]): r for r in sheet.iter_rows(named=True)}
    bodies = ["all", "regulator", "consumer_association", "merchant"]
    assert list(rows) == [(p, b) for p in ("全市", "驿城区", "西平县") for b in bodies]
    assert rows[("全市", "all")] == {
        "district": "全市",
        "handled_by": "all",
        "satisfied": 24,
        "basically_satisfied": 5,
        "dissatisfied": 4,
        "not_reached": 2,
        "answered": 33,
        "satisfaction_rate": 87.9,
        "ci_low": 72.7,
        "ci_high": 95.2,
        "too_few": False,
    }
    merchant = rows[("全市", "merchant")]
    assert (merchant["satisfied"], merchant["dissatisfied"], merchant["answered"]) == (2, 1, 3)
    assert merchant["too_few"] is True and merchant["satisfaction_rate"] is None
    assert merchant["ci_low"] is None and merchant["ci_high"] is None
    regulator = rows[("全市", "regulator")]
    assert (regulator["answered"], regulator["ci_low"], regulator["ci_high"]) == (30, 74.4, 96.5)
    assert rows[("驿城区", "all")]["satisfaction_rate"] == 90.6
    assert rows[("驿城区", "merchant")]["satisfied"] == 2
    assert rows[("西平县", "merchant")]["dissatisfied"] == 1

    # The PDF shares the page's tables: the merchant's row and why it is there.
    pdf = await client.get("/api/v1/reports/annual.pdf", params={"year": 2026})
    text = pdf_text(pdf.content)
    assert "商家在监管部门受理前自行和解的投诉计入商家和解" in text

    # The page: the merchant's row (3 answered, too few, no interval, none unreached).
    client.headers.pop("authorization")
    await create_account("city", PASSWORD, Role.OFFICIAL, actor=TEST_ACTOR)
    assert await login(client, "city") == 303
    page = (await client.get("/official/reports/annual", params={"year": 2026})).text
    cells = re.search(r'<th scope="row">商家和解</th>(.*?)</tr>', page, re.S)
    assert cells is not None
    assert re.findall(r"<td>(.*?)</td>", cells.group(1)) == ["3", "作答过少", "—", "0"]
    assert "74.4–96.5%" in page and "72.7–95.2%" in page


def _desk_row(page: str, label: str) -> str:
    found = re.search(rf"<dt>{label}</dt><dd>(.*?)</dd>", page)
    assert found is not None, label
    return found.group(1)


async def test_the_desk_counts_the_merchants_settlements_in_its_district_only(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await load(app_settings)
    await create_account(
        "xiping", PASSWORD, Role.OFFICIAL, district_code="411721", actor=TEST_ACTOR
    )
    assert await login(client, "xiping") == 303
    page = (await client.get("/official", params={"year": 2026})).text
    # 西平县: its one settlement, not satisfied; nothing of 驿城区's 32 answers.
    assert _desk_row(page, "商家和解") == "作答过少 (n = 1)"
    assert _desk_row(page, "满意或基本满意") == "作答过少 (n = 1)"
    assert _desk_row(page, "市场监管部门办理") == "作答过少 (n = 0)"

    client.cookies.clear()
    await create_account(
        "yicheng", PASSWORD, Role.OFFICIAL, district_code="411702", actor=TEST_ACTOR
    )
    assert await login(client, "yicheng") == 303
    page = (await client.get("/official", params={"year": 2026})).text
    assert _desk_row(page, "商家和解") == "作答过少 (n = 2)"
    assert _desk_row(page, "满意或基本满意") == "90.6% (95% 置信区间 75.8–96.8%, n = 32)"
    assert _desk_row(page, "市场监管部门办理") == "90.0% (95% 置信区间 74.4–96.5%, n = 30)"

    client.cookies.clear()
    await create_account("city", PASSWORD, Role.OFFICIAL, actor=TEST_ACTOR)
    assert await login(client, "city") == 303
    page = (await client.get("/official", params={"year": 2026})).text
    assert _desk_row(page, "商家和解") == "作答过少 (n = 3)"
    assert _desk_row(page, "满意或基本满意") == "87.9% (95% 置信区间 72.7–95.2%, n = 33)"
    assert _desk_row(page, "消费者协会办理") == "作答过少 (n = 0)"


async def test_a_settlement_counts_in_the_year_it_was_filed_like_any_intake_record(
    db: Settings,
) -> None:
    """Intake follow-ups count in the year their record was received; a settled complaint's
    record is received the day it was filed. Filed on 30 December 2025, settled and answered
    in January 2026: 2025's answer, not 2026's."""
    town = await make_town(joined=at("2025-12-01"))
    filed = await file(db, complaint(occurred_on="2025-12-28"), now=at("2025-12-30"))
    code = filed.dispute.code
    await store.merchant_offer(
        code, REFUND, who=town.principals["shop"], credit=CREDIT, now=at("2026-01-05")
    )
    await store.consumer_accept(code, filed.secret, credit=CREDIT, now=at("2026-01-06"))
    await store.follow_up(code, filed.secret, FollowupIn("satisfied"), now=at("2026-01-07"))

    filed_in = await annual.annual_report(2025)
    assert filed_in.followups.satisfied == 1
    assert filed_in.followups_by_handler["merchant"].satisfied == 1
    assert filed_in.followups_by_handler["regulator"].answered == 0
    answered_in = await annual.annual_report(2026)
    assert answered_in.followups.answered == 0
    assert answered_in.followups_by_handler["merchant"].answered == 0
