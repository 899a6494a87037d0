"""People read Beijing time: pages, PDFs and spreadsheets show Asia/Shanghai, JSON keeps ISO 8601
with its offset. The moment that matters is a Beijing morning before 08:00, still the previous
day in UTC: 2026-03-15 23:30 UTC is 2026-03-16 07:30 in Shanghai."""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Awaitable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest

from certificates.policy import Kind
from service.kernel.exports import export_bytes
from service.kernel.localtime import LOCAL_TZ, localdate, localtime
from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from surveys.models import Response as SurveyResponse
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.scoring.satisfaction.test_pages import _responses
from tests.surveys.conftest import make_city

MORNING = datetime(2026, 3, 15, 23, 30, tzinfo=UTC)  # 07:30 on the 16th in Beijing
HTML = {"accept": "text/html"}


def _pdftotext(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True, timeout=60
    ).stdout


def test_the_filters_give_the_beijing_day_and_refuse_a_naive_moment() -> None:
    assert localdate(MORNING) == "2026-03-16"
    assert localtime(MORNING) == "2026-03-16 07:30"
    assert localtime(MORNING, seconds=True) == "2026-03-16 07:30:00"
    assert localdate(date(2026, 3, 15)) == "2026-03-15"  # a calendar day stays itself
    with pytest.raises(ValueError, match="naive"):
        localdate(MORNING.replace(tzinfo=None))


def test_spreadsheets_show_beijing_time_and_parquet_keeps_utc() -> None:
    frame = pl.DataFrame({"at": [MORNING]}, schema={"at": pl.Datetime("us", "UTC")})

    text = export_bytes(frame, "csv", "audit", "machine").decode("utf-8-sig")
    assert list(csv.DictReader(io.StringIO(text))) == [{"at": "2026-03-16 07:30:00+08:00"}]

    sheet = pl.read_excel(io.BytesIO(export_bytes(frame, "xlsx", "audit", "machine")))
    assert sheet["at"].to_list() == [
        MORNING.astimezone(LOCAL_TZ).replace(tzinfo=None)
    ]  # +08:00 label

    parquet = pl.read_parquet(io.BytesIO(export_bytes(frame, "parquet", "audit")))
    assert parquet["at"].to_list() == [MORNING]


async def test_a_certificate_issued_on_a_beijing_morning_shows_that_day(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000001-O", MORNING
    )
    valid_until = localdate(MORNING + timedelta(days=730))

    page = await client.get(f"/verify/{cert.serial}", headers=HTML)
    assert page.status_code == 200
    assert (
        f"2026-03-16 至 {valid_until}" in page.text or f"2026-03-16 to {valid_until}" in page.text
    )
    assert "2026-03-15" not in page.text

    pdf = await client.get(f"/api/v1/certificates/{cert.serial}/pdf")
    assert pdf.status_code == 200
    path = tmp_path / "cert.pdf"
    path.write_bytes(pdf.content)
    text = _pdftotext(path)
    assert f"2026-03-16 至 {valid_until}" in text
    assert "2026-03-15" not in text

    # The API keeps the instant, with its offset.
    record = (await client.get(f"/api/v1/certificates/{cert.serial}")).json()
    assert datetime.fromisoformat(record["valid_from"]) == MORNING


async def test_the_audit_export_is_on_the_beijing_clock(client: httpx.AsyncClient) -> None:
    await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303
    client.headers["x-csrftoken"] = await csrf(client)
    assert await AuditEvent.all().update(at=MORNING) > 0

    exported = await client.get("/official/audit", params={"format": "csv"})

    assert exported.status_code == 200
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows and {r["时间"] for r in rows} == {"2026-03-16 07:30:00+08:00"}
    # Filtering by day is by the Beijing day too.
    day = await client.get("/official/audit", params={"since": "2026-03-16", "format": "csv"})
    assert len(list(csv.DictReader(io.StringIO(day.content.decode("utf-8-sig"))))) == len(rows)


async def test_a_window_given_in_beijing_time_selects_the_same_responses(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    await _responses(city.merchant, 3, app_settings.secret_key)
    await SurveyResponse.all().update(submitted_at=MORNING)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"

    def found(since: str, until: str) -> Awaitable[httpx.Response]:
        return client.get(
            "/api/v1/surveys/merchant/responses", params={"since": since, "until": until}
        )

    beijing = await found("2026-03-16T07:00:00+08:00", "2026-03-16T08:00:00+08:00")
    utc = await found("2026-03-15T23:00:00Z", "2026-03-16T00:00:00Z")
    earlier = await found("2026-03-16T06:00:00+08:00", "2026-03-16T07:00:00+08:00")
    assert beijing.status_code == utc.status_code == earlier.status_code == 200
    assert beijing.json()["total"] == utc.json()["total"] == 3
    assert earlier.json()["total"] == 0
