"""The annual report from live data: a year whose records add up to the seed's 2017 figures
gives back exactly those figures, in the JSON and in the PDF's text (issue 19)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import msgspec
import polars as pl

from certificates.models import Certificate, StatusChange
from scoring.credit import complaints, spot_checks, visits
from scoring.credit import store as credit_store
from scoring.credit.demo_intake import SEED_REPORT, plan_year
from scoring.credit.schemas import BATCH_MAX, ComplaintIn
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.localtime import LOCAL_TZ
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, Role
from service.register.uscc import generate
from service.reports import annual
from tests.helpers import TEST_ACTOR, make_token

RULES = credit_store.rules_for(None)
DISTRICTS = {"411702": "驿城区", "411721": "西平县", "411722": "上蔡县"}
LOADED_AT = datetime(2018, 3, 1, tzinfo=UTC)


async def load_seed_year() -> list[str]:
    """The register (three districts, thirty merchants) and the year 2017 at the seed's
    figures, stored through the real ingest. Returns the merchants' USCCs."""
    import random

    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    usccs = []
    rng = random.Random(7)
    for code, name in DISTRICTS.items():
        district = await Area.create(
            code=code, kind=AreaKind.DISTRICT, name_zh=name, name_en=code, parent=city
        )
        for i in range(10):
            uscc = generate(rng, code)
            usccs.append(uscc)
            await Merchant.create(
                uscc=uscc,
                name=f"{name}商户{i}",
                category=MerchantCategory.RETAIL,
                district=district,
            )
    year = plan_year(2017, list(DISTRICTS), usccs)
    for start in range(0, len(year.records), BATCH_MAX):
        await complaints.ingest_complaints(
            year.records[start : start + BATCH_MAX], actor=TEST_ACTOR, rules=RULES, now=LOADED_AT
        )
    await visits.ingest_tallies(year.tallies, actor=TEST_ACTOR, now=LOADED_AT)
    await spot_checks.ingest_spot_checks(
        year.campaigns, actor=TEST_ACTOR, rules=RULES, now=LOADED_AT
    )
    return usccs


async def test_a_year_at_the_seeds_figures_gives_them_back_in_json_and_pdf(
    client: httpx.AsyncClient,
) -> None:
    started = time.perf_counter()
    await load_seed_year()
    loaded = time.perf_counter() - started
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"

    r = await client.get("/api/v1/reports/annual", params={"year": 2017})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["consumer_association"] == {
        "complaints_received": 746,
        "complaints_closed": 721,
        "closure_rate": 96.6,
        "amount_recovered": "4205799.00",
    }
    assert body["all_channels"] | {"consultations": 0, "complaints": 0, "reports": 0} == {
        "consultations": 0,
        "complaints": 0,
        "reports": 0,
        "total": 37534,
        "amount_disputed": "18142000.00",
        "amount_recovered": "5254900.00",
    }
    channels = body["all_channels"]
    assert channels["consultations"] + channels["complaints"] + channels["reports"] == 37534
    assert channels["complaints"] == SEED_REPORT.ca_complaints + SEED_REPORT.regulator_complaints
    assert body["visits_and_consultations"] == 22857
    assert body["spot_checks"] == {
        "rounds": 9,
        "categories": 12,
        "batches": 306,
        "batches_failed": 118,
        "cases_opened": 105,
    }
    # The districts and the city bureau's own add up to the city.
    rows = body["by_district"]
    assert [d["district"] for d in rows] == [*DISTRICTS, ""]
    assert sum(d["all_channels"]["total"] for d in rows) == 37534
    assert sum(Decimal(d["all_channels"]["amount_recovered"]) for d in rows) == Decimal("5254900")
    assert sum(d["consumer_association"]["complaints_received"] for d in rows) == 746
    assert sum(d["visits_and_consultations"] for d in rows) == 22857
    assert sum(c["total"] for c in body["by_channel"]) == 37534
    assert sum(m["total"] for m in body["by_month"]) == 37534
    assert [m["month"] for m in body["by_month"]][:2] == ["2017-01", "2017-02"]

    started = time.perf_counter()
    pdf = await client.get("/api/v1/reports/annual.pdf", params={"year": 2017})
    rendered = time.perf_counter() - started
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    for sentence in (
        "全市各级消协共受理消费者投诉746件，已经调查调解完毕721件，结案率达到96.6%，"
        "为消费者挽回经济损失420.58万元",  # 4205799 yuan: 万元 with two decimals
        "接待来访、咨询22857人次",
        "对12类流通领域重点商品质量进行抽样检测9次，抽查商品306批次，立案查处105件",
        "全年共受理消费者咨询、投诉、举报37534件，涉及争议金额1814.20万元，"
        "为消费者挽回经济损失525.49万元",
    ):
        assert sentence in text, sentence
    print(f"\nloaded 37,534 records in {loaded:.1f} s; PDF in {rendered:.1f} s")  # noqa: T201


def pdf_text(data: bytes) -> str:
    """The PDF's text with line breaks and spaces taken out, as pdftotext reads it."""
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
        fh.write(data)
        fh.flush()
        out = subprocess.run(
            ["pdftotext", "-enc", "UTF-8", fh.name, "-"],
            capture_output=True,
            check=True,
        )
    return "".join(out.stdout.decode("utf-8").split())


def test_money_and_rates_print_as_the_bureau_prints_them() -> None:
    assert annual.yuan(420_579_900) == Decimal("4205799.00")
    assert annual.percent(721, 746) == 96.6
    assert annual.percent(0, 0) is None
    assert msgspec.json.encode(annual.yuan(5)) == b'"0.05"'


def bj(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


async def _certificate(
    serial: str, kind: str, subject: str, issued: datetime, until: datetime, index: int
) -> Certificate:
    return await Certificate.create(
        serial=serial,
        kind=kind,
        subject_code=subject,
        subject_name=subject,
        policy_version="2026.1",
        issued_by="test",
        issued_at=issued,
        valid_from=issued,
        valid_until=until,
        status_changed_at=issued,
        status_index=index,
    )


async def test_districts_certificates_satisfaction_page_workbook_and_cli(
    client: httpx.AsyncClient,
) -> None:
    """A small year worked out by hand: two districts, one record each and one city-level
    consultation; certificates issued, revoked and run out; a published score run."""
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    d1 = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Yicheng", parent=city
    )
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="Xiping", parent=city
    )
    street = await Area.create(
        code="411702-ST01", kind=AreaKind.STREET, name_zh="解放路", name_en="J", parent=d1
    )
    m = await Merchant.create(
        uscc="9144030071526726XG", name="店", category=MerchantCategory.RETAIL, district=d1
    )
    received = bj(2025, 5, 6, 10)
    await complaints.ingest_complaints(
        [
            ComplaintIn(
                external_id="A",
                uscc=m.uscc,
                received_at=received.isoformat(),
                status="closed",
                category="price",
                accepted_at=(received + timedelta(days=1)).isoformat(),
                closed_at=(received + timedelta(days=5)).isoformat(),
                amount_disputed=1000,
                amount_recovered=800.5,
                followup="basically_satisfied",
                handled_by="consumer_association",
                channel="wechat",
            ),
            ComplaintIn(
                external_id="B",
                received_at=received.isoformat(),
                status="received",
                category="quality",
                kind="report",
                party_name="某摊贩",
                district="411721",
                amount_disputed=20,
            ),
            ComplaintIn(
                external_id="C",
                received_at=bj(2025, 12, 31, 23, 30).isoformat(),  # the year's last half hour
                status="received",
                category="price",
                kind="consultation",
            ),
            ComplaintIn(
                external_id="D",  # Beijing's 2026 already: not in 2025's report
                received_at=bj(2026, 1, 1, 0, 10).isoformat(),
                status="received",
                category="price",
                kind="consultation",
            ),
        ],
        actor=TEST_ACTOR,
        rules=RULES,
        now=LOADED_AT.replace(year=2026, month=6),
    )
    # Merchant certificate of 2024, revoked in March 2025; street certified in 2025; an old
    # merchant certificate that ran out in 2025.
    revoked = await _certificate("S1", "merchant", m.uscc, bj(2024, 6, 1), bj(2027, 6, 1), 1)
    await StatusChange.create(
        certificate=revoked, at=bj(2024, 6, 1), new_status="active", reason="issued", actor="t"
    )
    await StatusChange.create(
        certificate=revoked,
        at=bj(2025, 3, 1),
        old_status="active",
        new_status="revoked",
        reason="credit",
        actor="t",
    )
    await _certificate("S2", "street", street.code, bj(2025, 7, 1), bj(2028, 7, 1), 2)
    await _certificate("S3", "merchant", m.uscc, bj(2022, 1, 1), bj(2025, 1, 1), 3)
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="t",
        published_at=bj(2025, 12, 20),
        window_since=bj(2025, 1, 1),
        window_until=bj(2025, 12, 15),
    )
    for kind, code, score in (("city", "city", 81.25), ("district", "411702", 79.5)):
        await UnitScore.create(
            run=run,
            kind=kind,
            code=code,
            n=400,
            score=score,
            ci_low=score - 2,
            ci_high=score + 2,
            insufficient_data=False,
            dimensions={},
        )

    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    body = (await client.get("/api/v1/reports/annual", params={"year": 2025})).json()
    assert body["all_channels"] == {
        "consultations": 1,
        "complaints": 1,
        "reports": 1,
        "total": 3,
        "amount_disputed": "1020.00",
        "amount_recovered": "800.50",
    }
    assert body["consumer_association"]["closure_rate"] == 100.0
    assert body["followups"] == {
        "satisfied": 0,
        "basically_satisfied": 1,
        "dissatisfied": 0,
        "not_reached": 0,
        # One answer is too few for a rate (MIN_ANSWERS): counted, no % printed.
        "satisfaction_rate": None,
        "answered": 1,
        "ci_low": None,
        "ci_high": None,
        "too_few": True,
    }
    assert body["satisfaction"] == {
        "index": 81.25,
        "ci_low": 79.25,
        "ci_high": 83.25,
        "n": 400,
        "run_id": run.id,
    }
    assert body["certificates"]["merchant"] == {
        "active": 0,
        "suspended": 0,
        "revoked": 1,
        "expired": 1,
        "issued_in_year": 0,
        "withdrawn_in_year": 1,
    }
    assert body["certificates"]["street"]["active"] == 1
    assert body["certificates"]["street"]["issued_in_year"] == 1
    assert [(d["district"], d["all_channels"]["total"]) for d in body["by_district"]] == [
        ("411702", 1),
        ("411721", 1),
        ("", 1),
    ]
    assert {c["channel"]: c["total"] for c in body["by_channel"]}["unstated"] == 2
    assert body["by_month"][11]["consultations"] == 1  # December, Beijing time

    one = (
        await client.get("/api/v1/reports/annual", params={"year": 2025, "district": "411702"})
    ).json()
    assert (one["district_name"], one["all_channels"]["total"]) == ("驿城区", 1)
    assert one["satisfaction"]["index"] == 79.5
    assert one["certificates"]["street"]["active"] == 1
    assert [d["district"] for d in one["by_district"]] == ["411702"]
    missing = await client.get("/api/v1/reports/annual", params={"year": 2025, "district": "x"})
    assert missing.status_code == 404
    bad = await client.get("/api/v1/reports/annual", params={"year": 1999})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "year"

    book = await client.get("/api/v1/reports/annual", params={"year": 2025, "format": "xlsx"})
    summary = pl.read_excel(io.BytesIO(book.content), sheet_name="汇总")
    assert summary["合计"].to_list() == [3, 1, 1, 1]
    assert summary["消协挽回经济损失"].to_list()[0] == 800.5  # the exact yuan in the cell
    machine = await client.get(
        "/api/v1/reports/annual", params={"year": 2025, "format": "xlsx", "headers": "machine"}
    )
    summary = pl.read_excel(io.BytesIO(machine.content), sheet_name="汇总")
    assert summary["ca_amount_recovered"].to_list()[0] == 800.5

    login_official = await client.get("/official/reports/annual", params={"year": 2025})
    assert login_official.status_code == 200
    assert "驿城区" in login_official.text
    assert "消协共受理消费者投诉1件" in login_official.text


def test_the_cli_writes_the_report(tmp_path: Path) -> None:
    env = {**os.environ, "FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "test"}
    env.pop("FANGXIN_DATABASE_URL", None)
    fangxin = str(Path(sys.executable).with_name("fangxin"))
    subprocess.run([fangxin, "migrate"], env=env, check=True, capture_output=True)
    out = tmp_path / "r.pdf"
    done = subprocess.run(
        [fangxin, "report", "annual", "--year", "2025", "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes().startswith(b"%PDF-")
    assert "2025年消费维权工作情况" in pdf_text(out.read_bytes())
    js = subprocess.run(
        [fangxin, "report", "annual", "--year", "2025", "--format", "json", "-o", "-"],
        env=env,
        capture_output=True,
        check=True,
    )
    assert msgspec.json.decode(js.stdout)["all_channels"]["total"] == 0
    unknown = subprocess.run(
        [fangxin, "report", "annual", "--year", "2025", "--district", "nowhere"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode == 1
    assert "No district with code nowhere" in unknown.stderr
