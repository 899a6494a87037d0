"""The complaint record read from the database and served: the merchant's JSON, the city's
open data (JSON and CSV, paged, with ETags) and its dictionary — the same hand-worked figures
as the pure tests, now from stored intake records."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from itertools import count

import httpx

from scoring.credit.models import Complaint, ComplaintStatus, IntakeKind, Resolution
from scoring.credit.workdays import local_date
from scoring.disclosure import store
from scoring.disclosure.rules import policy
from scoring.disputes.models import Dispute
from scoring.disputes.rules import Category, DisputeStatus, Want
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.models import Merchant
from surveys.models import Response, Survey, TargetKind
from tests.surveys.conftest import make_city

_ids = count(1)
PERSONAL = ("张三", "13800138000", "人民路9号")


async def complaint(
    uscc: str,
    status: ComplaintStatus,
    resolution: Resolution | None = None,
    *,
    category: str = "quality",
    days_ago: float = 20,
    accepted: bool = True,
) -> Complaint:
    """An intake record naming a consumer-ish party (which must never show)."""
    merchant = await Merchant.get(uscc=uscc)
    received = datetime.now(UTC) - timedelta(days=days_ago)
    final = status in (ComplaintStatus.CLOSED, ComplaintStatus.TERMINATED, ComplaintStatus.REJECTED)
    return await Complaint.create(
        source="12315",
        external_id=f"T-{next(_ids)}",
        kind=IntakeKind.COMPLAINT,
        merchant=merchant,
        party_name=PERSONAL[0],
        party_address=PERSONAL[2],
        received_at=received,
        accepted_at=received + timedelta(hours=5) if accepted else None,
        closed_at=received + timedelta(days=3) if final else None,
        status=status,
        resolution=resolution,
        category=category,
    )


async def flag(c: Complaint) -> None:
    """The complaint was filed online from a contact flagged for the 职业索赔 pattern."""
    merchant = await Merchant.get(id=c.merchant_id).select_related("district")
    await Dispute.create(
        code=f"TS-2026-{c.id:06d}",
        secret_hash="0" * 64,
        merchant=merchant,
        district=merchant.district,
        status=DisputeStatus.CLOSED,
        category=Category.QUALITY,
        description="…",
        occurred_on=date(2026, 1, 1),
        wants=Want.REFUND,
        text_hash="1" * 64,
        flag_many=True,
        filed_at=c.received_at,
        complaint=c,
        contact_masked=PERSONAL[1],
    )


async def with_exclusions(uscc: str) -> None:
    """3 published (1 mediated, 1 still open, 1 settled first by the merchant), and one each
    withdrawn, refused, awaiting acceptance, flagged, about personal data; one consultation
    and one complaint from before the window."""
    await complaint(uscc, ComplaintStatus.CLOSED, Resolution.MEDIATED)
    await complaint(uscc, ComplaintStatus.MEDIATING)
    await complaint(
        uscc, ComplaintStatus.CLOSED, Resolution.MERCHANT_ODR, accepted=False, category="price"
    )
    await complaint(uscc, ComplaintStatus.CLOSED, Resolution.WITHDRAWN)
    await complaint(uscc, ComplaintStatus.REJECTED, Resolution.REFUSED)
    await complaint(uscc, ComplaintStatus.RECEIVED, accepted=False)
    await flag(await complaint(uscc, ComplaintStatus.CLOSED, Resolution.MEDIATED))
    await complaint(uscc, ComplaintStatus.ACCEPTED, category="personal_information")
    await complaint(uscc, ComplaintStatus.CLOSED, Resolution.MEDIATED, days_ago=400)
    c = await complaint(uscc, ComplaintStatus.CLOSED)
    c.kind = IntakeKind.CONSULTATION
    await c.save()


async def ratings(uscc: str, *at: datetime, excluded: bool = False) -> None:
    """Ratings of the merchant submitted at these instants."""
    survey = await Survey.get(slug="merchant")
    await Response.bulk_create(
        [
            Response(
                survey=survey,
                version=1,
                target_kind=TargetKind.MERCHANT,
                target_code=uscc,
                client_submission_id=uuid.uuid4(),
                submitted_at=t,
                excluded=excluded,
            )
            for t in at
        ]
    )


async def above_minimum(uscc: str) -> None:
    """As the pure test: 10 settled first, 27 mediated, 9 terminated, 4 open (50); 250 ratings
    over the record's window (and a published score over 400 ratings of another window, which
    the per-100 figure does not read)."""
    for _ in range(10):
        await complaint(uscc, ComplaintStatus.CLOSED, Resolution.MERCHANT_ODR, accepted=False)
    for _ in range(27):
        await complaint(uscc, ComplaintStatus.CLOSED, Resolution.MEDIATED)
    for _ in range(9):
        await complaint(uscc, ComplaintStatus.TERMINATED, Resolution.TERMINATED, category="price")
    for _ in range(4):
        await complaint(uscc, ComplaintStatus.MEDIATING)
    now = datetime.now(UTC)
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=now,
        window_since=now - timedelta(days=365),
        window_until=now,
        params={},
    )
    await UnitScore.create(
        run=run,
        kind="merchant",
        code=uscc,
        n=400,
        score=81.5,
        ci_low=79.0,
        ci_high=84.0,
        insufficient_data=False,
    )
    await ratings(uscc, *(now - timedelta(days=d % 300, hours=1) for d in range(250)))


async def test_the_merchant_record_with_exclusions_and_below_the_minimum(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await with_exclusions(city.merchant)
    answer = await client.get(f"/api/v1/merchants/{city.merchant}/complaint-record")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["uscc"], body["name"], body["district"]) == (city.merchant, "老王烩面馆", "411702")
    assert body["published"] == 3
    assert (body["mediated"], body["merchant_settled"], body["still_open"]) == (1, 1, 1)
    assert body["terminated"] == 0
    # Not published: the total only (withdrawn, refused, awaiting acceptance, flagged, about
    # personal data): per merchant a reason could point at the consumer.
    assert body["excluded"] == 5
    assert body["by_category"] == {"quality": 2, "price": 1}
    # Below the minimum (30): the counts, no rate.
    assert body["mediation_success"] == {
        "k": 1,
        "n": 1,
        "percent": None,
        "ci_low": None,
        "ci_high": None,
    }
    assert body["merchant_first"]["k"] == 1 and body["merchant_first"]["n"] == 3
    assert body["merchant_first"]["percent"] is None
    assert body["ratings"] is None and body["per_100_ratings"] is None
    assert body["last_update"] is not None and body["min_cases"] == 30
    for personal in PERSONAL:
        assert personal not in answer.text
    # An ETag, and 304 for a client that has it.
    etag = answer.headers["etag"]
    again = await client.get(
        f"/api/v1/merchants/{city.merchant}/complaint-record", headers={"if-none-match": etag}
    )
    assert again.status_code == 304
    # The other merchant: nothing on record, a record of zeros.
    other = (await client.get(f"/api/v1/merchants/{city.other_merchant}/complaint-record")).json()
    assert other["published"] == 0 and other["last_update"] is None
    missing = await client.get("/api/v1/merchants/91110000000000000X/complaint-record")
    assert missing.status_code == 404


async def test_above_the_minimum_the_rates_with_their_intervals(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await above_minimum(city.merchant)
    body = (await client.get(f"/api/v1/merchants/{city.merchant}/complaint-record")).json()
    assert body["published"] == 50
    # 27 of 36 and 10 of 50, as worked by hand in tests/scoring/disclosure/test_rules.py.
    assert body["mediation_success"] == {
        "k": 27,
        "n": 36,
        "percent": 75.0,
        "ci_low": 58.9,
        "ci_high": 86.2,
    }
    assert body["merchant_first"] == {
        "k": 10,
        "n": 50,
        "percent": 20.0,
        "ci_low": 11.2,
        "ci_high": 33.0,
    }
    # 50 × 100 / 250 ratings received over the same window.
    assert body["ratings"] == 250 and body["per_100_ratings"] == 20.0


async def test_open_data_paged_json_and_csv_with_etags(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await with_exclusions(city.merchant)
    first = await client.get("/api/v1/complaint-records", params={"page_size": 1})
    assert first.status_code == 200
    page = first.json()
    assert (page["total"], page["page"], page["page_size"]) == (2, 1, 1)
    # By USCC: 9133… before 9144….
    assert [r["uscc"] for r in page["items"]] == [city.other_merchant]
    second = (
        await client.get("/api/v1/complaint-records", params={"page_size": 1, "page": 2})
    ).json()
    assert [r["uscc"] for r in second["items"]] == [city.merchant]
    assert second["items"][0]["published"] == 3
    cached = await client.get(
        "/api/v1/complaint-records",
        params={"page_size": 1},
        headers={"if-none-match": first.headers["etag"]},
    )
    assert cached.status_code == 304

    sheet = await client.get(
        "/api/v1/complaint-records", params={"format": "csv", "headers": "machine"}
    )
    assert sheet.status_code == 200
    # One charset, once (Litestar adds it to text/* itself: naming it too doubled it).
    assert sheet.headers["content-type"] == "text/csv; charset=utf-8"
    assert sheet.headers["etag"]
    rows = list(csv.DictReader(io.StringIO(sheet.content.decode("utf-8-sig"))))
    assert [r["uscc"] for r in rows] == [city.other_merchant, city.merchant]
    mine = rows[1]
    assert mine["published"] == "3" and mine["excluded"] == "5"
    assert not [column for column in mine if column.startswith("excluded_")]
    assert mine["by_category"] == "quality=2;price=1"
    assert mine["merchant_first_n"] == "3" and mine["merchant_first_percent"] == ""
    for personal in PERSONAL:
        assert personal not in sheet.content.decode("utf-8-sig")
    bad = await client.get("/api/v1/complaint-records", params={"page_size": 501})
    assert bad.status_code == 422


async def test_the_data_dictionary_names_every_field(client: httpx.AsyncClient) -> None:
    city = await make_city()
    record = (await client.get(f"/api/v1/merchants/{city.merchant}/complaint-record")).json()
    dictionary = (await client.get("/api/v1/complaint-records/dictionary")).json()
    assert set(dictionary["fields"]) == set(record)
    city_figures = (await client.get("/api/v1/complaint-records/city")).json()
    assert set(dictionary["exclusion_reasons"]) == set(city_figures["excluded"])
    assert dictionary["policy"]["min_cases"] == 30
    assert dictionary["policy"]["window_months"] == 12
    # The CSV's columns, named as the CSV names them: the machine names for programs, the
    # labels (the header people see) from the same catalog as every export.
    await with_exclusions(city.merchant)
    sheet = await client.get("/api/v1/complaint-records", params={"format": "csv"})
    machine = await client.get(
        "/api/v1/complaint-records", params={"format": "csv", "headers": "machine"}
    )
    header = sheet.content.decode("utf-8-sig").splitlines()[0].split(",")
    names = machine.content.decode("utf-8-sig").splitlines()[0].split(",")
    listed = dictionary["columns"]
    assert [c["name"] for c in listed] == names
    assert [c["label"] for c in listed] == header
    assert listed[0] == {
        "name": "uscc",
        "label": "统一社会信用代码",
        "description": "商户的统一社会信用代码",
        "unit": "",
    }
    # Per merchant, only the total not published: never a reason (the city's figures have them).
    assert header[names.index("excluded")] == "不予公示"
    assert not [name for name in names if name.startswith("excluded_")]


HTML = {"accept": "text/html"}


async def test_the_storefront_and_the_merchant_page_show_the_record(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await above_minimum(city.merchant)
    await with_exclusions(city.other_merchant)
    for path in (f"/m/{city.merchant}", f"/merchants/{city.merchant}"):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 200, path
        text = page.text
        assert 'id="complaint-record"' in text and "投诉公示" in text
        # Published, not "accepted": 10 of the 50 the merchant settled first were never
        # accepted by the bureau.
        assert "公示投诉" in text and "受理投诉" not in text and "<strong>50</strong>" in text
        assert "每百条评价 20.0 件（共 250 条评价）" in text
        assert "调解成功率" in text and "<strong>75.0%</strong>" in text
        assert "95% 置信区间 58.9–86.2%" in text and "36 件中 27 件" in text
        assert "<strong>20.0%</strong>" in text and "95% 置信区间 11.2–33.0%" in text
        assert 'href="/methodology#complaint-record"' in text
        assert "<script" not in text
    # Below the minimum: counts only, and how many were not published in all, never why (for
    # a small shop "one professional-claim pattern" points at a known customer); nothing
    # personal.
    text = (await client.get(f"/m/{city.other_merchant}", headers=HTML)).text
    assert "1 件中 1 件" in text and "件数过少，不计算比率（至少需 30 件）" in text
    assert "3 件中 1 件" in text
    assert "依公示规则不予公示：5 件" in text
    for reason in ("消费者撤回", "疑似职业索赔", "涉及个人信息", "不予受理", "尚未受理"):
        assert reason not in text
    for personal in PERSONAL:
        assert personal not in text


async def test_no_complaint_reads_as_none_published(client: httpx.AsyncClient) -> None:
    city = await make_city()
    text = (await client.get(f"/merchants/{city.merchant}", headers=HTML)).text
    assert "本期间内没有公示针对该经营者的投诉。" in text
    assert "调解成功率" not in text


async def test_the_methodology_explains_the_figures(client: httpx.AsyncClient) -> None:
    text = (await client.get("/methodology", headers=HTML)).text
    assert 'id="complaint-record"' in text
    assert "不足 30 件时不显示比率" in text and "近 12 个月" in text
    assert "每收到 100 条评价" in text and "Wilson" in text
    assert "评价不足 30 条时不提供该数字" in text
    assert "经营者的记录只列出不予公示的总件数，不列原因" in text
    assert "15 个工作日内作出决定" in text
    assert 'href="/api/v1/complaint-records?format=csv"' in text
    assert 'href="/api/v1/complaint-records/dictionary"' in text
    assert 'href="/complaint-records"' in text


async def test_the_city_views_json_and_page(client: httpx.AsyncClient) -> None:
    """The merchant with exclusions (3 published: 2 quality, 1 price) and 2 price complaints
    about the other merchant, both in district 411702 (驿城区)."""
    city = await make_city()
    await with_exclusions(city.merchant)
    for _ in range(2):
        await complaint(city.other_merchant, ComplaintStatus.MEDIATING, category="price")
    answer = await client.get("/api/v1/complaint-records/city")
    assert answer.status_code == 200 and answer.headers["etag"]
    body = answer.json()
    assert body["published"] == 5
    assert body["by_category"] == {"price": 3, "quality": 2}
    assert body["by_district"] == {"411702": 5}
    assert sum(body["by_month"].values()) == 5 and len(body["by_month"]) in (12, 13)
    assert body["excluded"]["withdrawn"] == 1 and body["excluded"]["professional_claim"] == 1
    # All were received 20 days ago: in this quarter the hot list ranks them, else it is empty.
    today = local_date(datetime.now(UTC))
    received = local_date(datetime.now(UTC) - timedelta(days=20))
    same_quarter = (received.year, (received.month - 1) // 3) == (
        today.year,
        (today.month - 1) // 3,
    )
    assert body["hot"] == ({"price": 3, "quality": 2} if same_quarter else {})
    page = await client.get("/complaint-records", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "驿城区" in text and "价格" in text and "<script" not in text
    assert text.count('<img class="chart"') >= 3
    assert 'href="/api/v1/complaint-records?format=csv"' in text


async def test_the_per_100_figure_is_over_the_ratings_of_the_same_days(
    client: httpx.AsyncClient,
) -> None:
    """One published complaint. The window's first instant is its first local day's midnight
    (16:00 UTC the day before), its end the midnight after today. Counted: 28 ratings inside
    and one at the very first instant (29). Not counted: one a second before the window, one
    set aside by screening, one about the other merchant — and the published score's n of 500
    over some other window (with too little data besides). 29 < 30: no figure. One more
    rating today: 30, so 1 × 100 / 30 = 3.33… → 3.3."""
    city = await make_city()
    await complaint(city.merchant, ComplaintStatus.MEDIATING)
    now = datetime.now(UTC)
    start, end = store._edges(now, policy())
    assert end - start >= timedelta(days=365)
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=now,
        window_since=now - timedelta(days=30),
        window_until=now,
        params={},
    )
    await UnitScore.create(
        run=run, kind="merchant", code=city.merchant, n=500, score=80.0, insufficient_data=True
    )
    await ratings(city.merchant, start, *(now - timedelta(days=10 * d) for d in range(28)))
    await ratings(city.merchant, start - timedelta(seconds=1))
    await ratings(city.merchant, now - timedelta(days=1), excluded=True)
    await ratings(city.other_merchant, now - timedelta(days=1))
    path = f"/api/v1/merchants/{city.merchant}/complaint-record"
    body = (await client.get(path)).json()
    assert (body["published"], body["ratings"], body["per_100_ratings"]) == (1, None, None)
    await ratings(city.merchant, now)
    body = (await client.get(path)).json()
    assert (body["ratings"], body["per_100_ratings"]) == (30, 3.3)
    # The open data's page counts the same, for every merchant of the page at once.
    page = (await client.get("/api/v1/complaint-records")).json()
    by_uscc = {r["uscc"]: r for r in page["items"]}
    assert (by_uscc[city.merchant]["ratings"], by_uscc[city.merchant]["per_100_ratings"]) == (
        30,
        3.3,
    )
    assert by_uscc[city.other_merchant]["ratings"] is None
