"""Findings of the submission probe: API clients meet the device rule, and answering time
comes from a start token the server signed, not from the client's clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.kernel.settings import Settings
from surveys.models import Response, ResponseFlag
from surveys.submit import issue_start_token
from tests.surveys.conftest import GOOD_ANSWERS, make_city

URL = "/api/v1/surveys/merchant/responses"
TARGET = "9144030071526726XG"


def body(**changes: Any) -> dict[str, Any]:
    return {
        "target": TARGET,
        "answers": dict(GOOD_ANSWERS),
        "client_submission_id": str(uuid.uuid4()),
        **changes,
    }


async def test_four_api_posts_from_one_address_without_a_cookie(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    statuses = [(await client.post(URL, json=body())).status_code for _ in range(4)]
    assert statuses == [201, 409, 409, 409]
    assert await Response.all().count() == 1
    # A made-up device header is no way round the rule.
    r = await client.post(URL, json=body(), headers={"x-device-id": "made-up.0000"})
    assert r.status_code == 409
    # A retry of the first is still answered as the first (idempotency is kept).
    first = body()
    assert (await client.post(URL, json=first)).status_code == 409
    await Response.all().delete()
    assert (await client.post(URL, json=first)).status_code == 201
    assert (await client.post(URL, json=first)).status_code == 200


async def test_a_device_id_issued_by_the_api_counts_as_the_device(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    got = await client.get(f"/api/v1/surveys/merchant?target={TARGET}")
    assert got.status_code == 200
    device = got.headers["x-device-id"]
    client.cookies.clear()
    token = got.json()["start_token"]
    headers = {"x-device-id": device}
    r = await client.post(URL, json=body(start_token=token), headers=headers)
    assert r.status_code == 201, r.text
    assert (await client.post(URL, json=body(), headers=headers)).status_code == 409
    assert (await ResponseFlag.all().count()) == 0


async def test_timing_comes_from_the_signed_start_token_only(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await make_city()
    long_ago = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
    # The client's own clock is accepted but not believed.
    r = await client.post(URL, json=body(started_at=long_ago))
    assert r.status_code == 201
    assert (await Response.get(id=r.json()["id"])).duration_ms is None

    secret = app_settings.secret_key
    issued = int((datetime.now(UTC) - timedelta(minutes=10)).timestamp())
    forged = f"{issued}.{'0' * 32}"
    other_place = issue_start_token(
        secret, "merchant", "91330100716105852F", datetime.now(UTC) - timedelta(minutes=10)
    )
    too_old = issue_start_token(secret, "merchant", TARGET, datetime.now(UTC) - timedelta(days=2))
    for token in (forged, other_place, too_old, "garbage"):
        r = await client.post(URL, json=body(target=TARGET, start_token=token))
        assert r.status_code == 422, (token, r.text)
        assert r.json()["errors"][0]["field"] == "start_token"

    # A genuine token times from when the server issued it.
    await Response.all().delete()
    ten_minutes = issue_start_token(
        secret, "merchant", TARGET, datetime.now(UTC) - timedelta(minutes=10)
    )
    r = await client.post(URL, json=body(start_token=ten_minutes))
    assert r.status_code == 201, r.text
    stored = await Response.get(id=r.json()["id"])
    assert 595_000 <= (stored.duration_ms or 0) <= 620_000
