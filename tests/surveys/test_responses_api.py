"""Officials' view: filtered pages, streamed exports in three formats, and the figures."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import polars as pl

from service.kernel.models import Role
from service.kernel.settings import Settings
from surveys.models import Response
from tests.helpers import make_token
from tests.surveys.conftest import GOOD_ANSWERS, make_city, respondent

URL = "/api/v1/surveys/merchant/responses"


async def _submit(client: httpx.AsyncClient, secret: str, target: str, **answers: Any) -> int:
    # Each from a device of its own, answering for 40 s: none is set aside.
    who = await respondent(client, secret, target)
    r = await client.post(
        URL,
        json={
            "target": target,
            "answers": {**GOOD_ANSWERS, **answers},
            "client_submission_id": str(uuid.uuid4()),
            "start_token": who.start_token,
        },
        headers=who.headers,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def _three(client: httpx.AsyncClient, secret: str) -> list[int]:
    city = await make_city()
    ids = [
        await _submit(client, secret, city.merchant),
        await _submit(client, secret, city.merchant, quality=2, comment='太贵了, "不推荐"'),
        await _submit(client, secret, city.other_merchant, visitor="resident"),
    ]
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    return ids


async def test_officials_page_through_responses_with_answers(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    ids = await _three(client, app_settings.secret_key)
    r = await client.get(URL, params={"page_size": 2})
    page = r.json()
    assert (page["total"], len(page["items"])) == (3, 2)
    assert [i["id"] for i in page["items"]] == ids[:2]
    assert page["items"][1]["answers"]["quality"] == 2.0
    assert page["items"][1]["answers"]["comment"] == '太贵了, "不推荐"'
    r = await client.get(URL, params={"target": "91330100716105852F"})
    assert [i["id"] for i in r.json()["items"]] == [ids[2]]
    r = await client.get(URL, params={"excluded": "true"})
    assert r.json()["total"] == 0


async def test_csv_export_streams_every_response_with_one_column_per_question(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    ids = await _three(client, app_settings.secret_key)
    r = await client.get(URL, params={"format": "csv"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [int(x["id"]) for x in rows] == ids
    assert rows[1]["comment"] == '太贵了, "不推荐"'
    assert rows[1]["quality"] == "2.0"
    assert rows[2]["visitor"] == "resident"


async def test_xlsx_and_parquet_exports_hold_the_same_rows(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    ids = await _three(client, app_settings.secret_key)
    xlsx = await client.get(URL, params={"format": "xlsx"})
    assert xlsx.status_code == 200
    book = pl.read_excel(io.BytesIO(xlsx.content))
    assert book["id"].to_list() == ids
    parquet = await client.get(URL, params={"format": "parquet"})
    table = pl.read_parquet(io.BytesIO(parquet.content))
    assert table["id"].to_list() == ids
    assert table["target_code"].to_list()[2] == "91330100716105852F"
    assert table["comment"].to_list()[1] == '太贵了, "不推荐"'


async def test_the_export_walks_the_table_in_batches(
    client: httpx.AsyncClient, app_settings: Settings, monkeypatch: Any
) -> None:
    from surveys import responses

    monkeypatch.setattr(responses, "EXPORT_BATCH", 2)
    ids = await _three(client, app_settings.secret_key)
    seen: list[list[int]] = []
    async for batch in responses.batches("merchant", responses.ResponseFilter()):
        seen.append([r.id for r in batch])
    assert seen == [ids[:2], ids[2:]]


async def test_stats_count_per_target_and_day_with_the_exclusion_rate(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    ids = await _three(client, app_settings.secret_key)
    await Response.filter(id=ids[0]).update(excluded=True)
    r = await client.get("/api/v1/surveys/merchant/stats")
    s = r.json()
    assert (s["responses"], s["excluded"], s["exclusion_rate"]) == (3, 1, 0.3333)
    assert s["per_target"] == [
        {"target_code": "91330100716105852F", "responses": 1, "excluded": 0},
        {"target_code": "9144030071526726XG", "responses": 2, "excluded": 1},
    ]
    assert sum(d["responses"] for d in s["per_day"]) == 3
