"""The figures officials report, checked against counts worked out by hand, and served."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import polars as pl
import pytest

from scoring.credit import complaints
from scoring.credit import figures as credit_figures
from scoring.credit import store as credit_store
from scoring.credit.schemas import ComplaintIn, CreditEventIn
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.helpers import TEST_ACTOR, make_token
from tests.scoring.credit.test_ingest import M1, M2, make_merchants

RULES = credit_store.rules_for(None)


def frame(*rows: tuple[str, bool, bool, bool, int, int, str]) -> pl.DataFrame:
    """(received_at, closed, overdue, upheld, disputed fen, recovered fen, district)"""
    return pl.DataFrame(
        {
            "received_at": [datetime.fromisoformat(r[0]) for r in rows],
            "closed": [r[1] for r in rows],
            "overdue": [r[2] for r in rows],
            "upheld": [r[3] for r in rows],
            "amount_disputed_fen": [r[4] for r in rows],
            "amount_recovered_fen": [r[5] for r in rows],
            "district": [r[6] for r in rows],
            "district_name": [r[6] + "区" for r in rows],
        },
        schema={
            "received_at": pl.Datetime("us", "UTC"),
            "closed": pl.Boolean,
            "overdue": pl.Boolean,
            "upheld": pl.Boolean,
            "amount_disputed_fen": pl.Int64,
            "amount_recovered_fen": pl.Int64,
            "district": pl.String,
            "district_name": pl.String,
        },
    )


def test_complaint_figures_by_year_and_district() -> None:
    f = frame(
        ("2025-03-01T00:00:00+00:00", True, False, True, 10_000, 8_000, "D1"),
        ("2025-07-01T00:00:00+00:00", True, True, False, 5_050, 0, "D1"),
        ("2025-08-01T00:00:00+00:00", False, True, False, 1_000, 0, "D2"),
        # 2025-12-31 17:00 UTC is already 2026-01-01 in Beijing: it counts for 2026.
        ("2025-12-31T17:00:00+00:00", True, False, True, 2_000, 2_000, "D2"),
    )
    out = credit_figures.complaint_figures(f, "year")
    rows = {(r["period"], r["district"]): r for r in out.to_dicts()}
    assert list(out["period"]) == ["2026", "2026", "2025", "2025", "2025"]
    d1 = rows[("2025", "D1")]
    assert (d1["received"], d1["closed"], d1["closure_rate"], d1["overdue"], d1["upheld"]) == (
        2,
        2,
        1.0,
        1,
        1,
    )
    assert (d1["amount_disputed"], d1["amount_recovered"]) == (150.5, 80.0)
    city = rows[("2025", credit_figures.CITY_TOTAL)]
    # 3 received in 2025, 2 closed: 66.67%; 151.50 + 10.00 yuan in dispute.
    assert (city["received"], city["closed"], city["closure_rate"]) == (3, 2, 0.6667)
    assert city["amount_disputed"] == 160.5
    assert rows[("2026", "D2")]["received"] == 1
    quarters = credit_figures.complaint_figures(f, "quarter")
    assert sorted(set(quarters["period"])) == ["2025-Q1", "2025-Q3", "2026-Q1"]


def test_class_distribution_counts_merchants_without_records_as_the_start() -> None:
    merchants = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "street": ["S1", "S1", "S1", "S1", None],
            "street_name": ["一街"] * 4 + [None],
            "spot": [None, None, None, None, "P1"],
            "spot_name": [None, None, None, None, "一景"],
            "district": ["D1"] * 5,
            "risk_class": [None, "B", "C", "D", "D"],
            "abnormal_listed": [None, False, True, False, False],
            "serious_listed": [None, False, False, True, True],
            "complaints": [0, 2, 3, 1, 0],
            "upheld": [0, 1, 2, 0, 0],
        }
    )
    out = credit_figures.class_distribution(merchants, RULES).to_dicts()
    spot, street = out  # the spot is all D: most troubled first
    assert (spot["code"], spot["merchants"], spot["D"], spot["share_cd"]) == ("P1", 1, 1, 1.0)
    assert (street["A"], street["B"], street["C"], street["D"]) == (1, 1, 1, 1)
    assert (street["share_cd"], street["abnormal_listed"], street["serious_listed"]) == (
        0.5,
        1,
        1,
    )
    assert (street["complaints_12m"], street["upheld_12m"]) == (6, 3)


async def test_officials_read_the_figures_as_json_csv_and_pages(client: httpx.AsyncClient) -> None:
    await make_merchants()
    now = datetime(2026, 6, 30, tzinfo=UTC)
    await complaints.ingest_complaints(
        [
            ComplaintIn(
                external_id="Q-1",
                uscc=M1,
                received_at="2026-03-09T10:00:00+08:00",
                status="closed",
                category="price",
                accepted_at="2026-03-10T10:00:00+08:00",
                closed_at="2026-03-20T10:00:00+08:00",
                amount_disputed=300,
                amount_recovered=250,
                upheld=True,
            ),
            ComplaintIn(
                external_id="Q-2",
                uscc=M2,
                received_at="2026-04-01T10:00:00+08:00",
                status="received",
                category="service",
            ),
        ],
        actor=TEST_ACTOR,
        rules=RULES,
        now=now,
    )
    await credit_store.ingest_events(
        [CreditEventIn(M2, "penalty_major", "2026-06-01T00:00:00+08:00", "sfgs", "P-9")],
        actor=TEST_ACTOR,
        rules=RULES,
        now=now,
    )
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    r = await client.get("/api/v1/complaints/figures", params={"period": "year"})
    assert r.status_code == 200, r.text
    city = next(i for i in r.json()["items"] if i["district"] == credit_figures.CITY_TOTAL)
    # Q-2 was never accepted: overdue since 2026-04-13 (seven working days after 04-01,
    # the Qingming holiday 04-04..06 falling on a weekend and a Monday).
    assert (city["received"], city["closed"], city["overdue"], city["upheld"]) == (2, 1, 1, 1)
    assert (city["amount_disputed"], city["amount_recovered"]) == (300.0, 250.0)
    one = await client.get("/api/v1/complaints/figures", params={"district": "411702"})
    assert [i["district"] for i in one.json()["items"]] == ["411702"]  # no false city total
    csv = await client.get("/api/v1/complaints/figures", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.decode("utf-8-sig").splitlines()[0] == (
        "统计周期,区县,区县名称,受理登记,办结,办结率,超期,投诉成立,争议金额,挽回经济损失"
    )
    machine = await client.get(
        "/api/v1/complaints/figures", params={"format": "csv", "headers": "machine"}
    )
    assert "closure_rate" in machine.content.decode("utf-8-sig").splitlines()[0]
    xlsx = await client.get("/api/v1/credit/classes", params={"format": "xlsx"})
    assert xlsx.content[:2] == b"PK"
    bad = await client.get("/api/v1/complaints/figures", params={"period": "decade"})
    assert bad.status_code in (400, 422)

    page = await client.get("/official/credit", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "全市" in page.text and "驿城区" in page.text
    merchant = await client.get(f"/official/credit/{M2}", headers={"accept": "text/html"})
    assert merchant.status_code == 200
    # Fined a month before the ingest: −30 fading with a half-life of three years.
    assert "重大行政处罚" in merchant.text and re.search(r"-2\d\.\d", merchant.text)
    missing = await client.get("/official/credit/914117007676543210")
    assert missing.status_code == 404


@pytest.mark.parametrize("period", credit_figures.PERIODS)
def test_an_empty_register_gives_empty_figures(period: credit_figures.Period) -> None:
    assert credit_figures.complaint_figures(frame(), period).is_empty()


async def test_the_window_is_compared_in_utc_whatever_offset_is_given(db: Settings) -> None:
    await make_merchants()
    now = datetime(2026, 6, 30, tzinfo=UTC)
    await complaints.ingest_complaints(
        [
            ComplaintIn(
                external_id="W-1",
                uscc=M1,
                received_at="2026-03-09T01:00:00+08:00",
                status="received",
                category="price",
            )
        ],
        actor=TEST_ACTOR,
        rules=RULES,
        now=now,
    )
    # 2026-03-09 01:00 in Beijing is 2026-03-08 17:00 UTC: inside a window opening at
    # 2026-03-09 00:00 Beijing time, outside one opening at 02:00.
    inside = credit_figures.ComplaintQuery(
        "year", since=datetime.fromisoformat("2026-03-09T00:00:00+08:00")
    )
    outside = credit_figures.ComplaintQuery(
        "year", since=datetime.fromisoformat("2026-03-09T02:00:00+08:00")
    )
    assert (await credit_figures.complaints_report(inside))["received"].sum() == 2  # + city row
    assert (await credit_figures.complaints_report(outside)).is_empty()
