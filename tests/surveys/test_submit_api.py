"""The submission API: idempotent, validated field by field, and honest about every refusal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from service.kernel.models import Role
from service.kernel.settings import Settings
from surveys.models import Answer, InviteCode, Response, ResponseFlag, Survey
from surveys.submit import forget_cached
from tests.helpers import make_token
from tests.surveys.conftest import GOOD_ANSWERS, USCC, make_city, respondent

URL = "/api/v1/surveys/merchant/responses"


def body(**changes: Any) -> dict[str, Any]:
    b: dict[str, Any] = {
        "target": "9144030071526726XG",
        "answers": dict(GOOD_ANSWERS),
        "client_submission_id": str(uuid.uuid4()),
        "started_at": (datetime.now(UTC) - timedelta(seconds=50)).isoformat(),
    }
    b.update(changes)
    return b


async def test_a_submission_is_stored_with_its_version_and_normalised_answers(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await make_city()
    who = await respondent(client, app_settings.secret_key, USCC, seconds_ago=50)
    b = body(start_token=who.start_token)
    r = await client.post(URL, json=b, headers=who.headers)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["created"] is True and out["client_submission_id"] == b["client_submission_id"]
    response = await Response.get(id=out["id"])
    assert (response.version, response.target_code, response.channel) == (
        1,
        "9144030071526726XG",
        "api",
    )
    assert 45_000 <= (response.duration_ms or 0) <= 60_000
    quality = await Answer.get(response_id=response.id, question_key="quality")
    assert (quality.value_num, quality.value_norm) == (5.0, 100.0)
    service = await Answer.get(response_id=response.id, question_key="service")
    assert service.value_norm == 50.0  # (3 − 1)/(5 − 1)·100
    nps = await Answer.get(response_id=response.id, question_key="recommend")
    assert nps.value_norm == 90.0
    assert (await Answer.get(response_id=response.id, question_key="comment")).value_text == (
        "面很好吃"
    )


async def test_a_retry_with_the_same_id_returns_the_first_response(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    b = body()
    first = await client.post(URL, json=b)
    second = await client.post(URL, json=b)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "created": False}
    assert await Response.all().count() == 1
    # The same id for another place is a conflict, not a silent success.
    r = await client.post(URL, json={**b, "target": "91330100716105852F"})
    assert r.status_code == 409


async def test_every_bad_field_is_named_and_nothing_is_stored(client: httpx.AsyncClient) -> None:
    await make_city()
    answers = {
        **GOOD_ANSWERS,
        "quality": 6,
        "visitor": "martian",
        "comment": "长" * 501,
        "colour": "red",
    }
    del answers["price"]
    r = await client.post(URL, json=body(answers=answers))
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    errors = {e["field"]: e["message"] for e in r.json()["errors"]}
    assert set(errors) == {
        "answers.quality",
        "answers.price",
        "answers.visitor",
        "answers.comment",
        "answers.colour",
    }
    assert "1" in errors["answers.quality"] and "5" in errors["answers.quality"]
    assert await Response.all().count() == 0
    assert await Answer.all().count() == 0


async def test_a_malformed_body_is_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    await make_city()
    r = await client.post(URL, json=body(client_submission_id="not-a-uuid"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "client_submission_id"


async def test_unknown_survey_or_target_is_404(client: httpx.AsyncClient) -> None:
    await make_city()
    r = await client.post("/api/v1/surveys/nothing/responses", json=body())
    assert r.status_code == 404
    r = await client.post(URL, json=body(target="914117007676543210"))
    assert r.status_code == 404
    # A street is not rated with the merchant questionnaire.
    r = await client.post(URL, json=body(target="411702-ST01"))
    assert r.status_code == 404
    assert await Response.all().count() == 0


async def test_a_closed_or_not_yet_open_survey_is_409(client: httpx.AsyncClient) -> None:
    await make_city()
    now = datetime.now(UTC)
    await Survey.filter(slug="merchant").update(closes_at=now - timedelta(days=1))
    forget_cached()
    r = await client.post(URL, json=body())
    assert r.status_code == 409
    await Survey.filter(slug="merchant").update(opens_at=now + timedelta(days=1), closes_at=None)
    forget_cached()
    r = await client.post(URL, json=body())
    assert r.status_code == 409
    assert await Response.all().count() == 0


async def test_an_oversized_body_is_413(client: httpx.AsyncClient) -> None:
    await make_city()
    r = await client.post(
        URL,
        content=b'{"target": "' + b"x" * 70_000 + b'"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 413
    assert await Response.all().count() == 0


async def test_one_response_per_device_per_place_per_period(client: httpx.AsyncClient) -> None:
    await make_city()
    # The device id travels in the signed cookie set by the form page.
    await client.get("/s/merchant/9144030071526726XG")
    assert client.cookies.get("fangxin_device")
    assert (await client.post(URL, json=body())).status_code == 201
    r = await client.post(URL, json=body())
    assert r.status_code == 409
    assert "already" in r.json()["detail"]
    # Another place is fine.
    r = await client.post(URL, json=body(target="91330100716105852F"))
    assert r.status_code == 201
    assert await Response.all().count() == 2


async def test_a_forged_device_cookie_is_ignored(client: httpx.AsyncClient) -> None:
    await make_city()
    client.cookies.set("fangxin_device", "made-up.0000", domain="testserver.local")
    assert (await client.post(URL, json=body())).status_code == 201
    # Not a device of its own: the address stood in for it, so without the cookie the same
    # client is the same device.
    client.cookies.clear()
    assert (await client.post(URL, json=body())).status_code == 409
    assert await Response.all().count() == 1


async def test_addresses_and_devices_are_stored_only_as_salted_hashes(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    await client.get("/s/merchant/9144030071526726XG")
    device = (client.cookies.get("fangxin_device") or "").rsplit(".", 1)[0]
    await client.post(URL, json=body())
    row = await Response.get()
    assert row.device_hash and len(row.device_hash) == 64 and device not in row.device_hash
    assert row.ip_hash and len(row.ip_hash) == 64
    assert "127.0.0.1" not in str(await Response.all().values())


async def test_invitation_codes_mark_responses_and_work_once(client: httpx.AsyncClient) -> None:
    from surveys.invites import create_invites
    from tests.helpers import TEST_ACTOR

    await make_city()
    code, other = await create_invites("merchant", 2, actor=TEST_ACTOR)
    r = await client.post(URL, json=body(invite_code=code))
    assert r.status_code == 201
    assert (await Response.get(id=r.json()["id"])).invited
    assert (await InviteCode.get(response_id=r.json()["id"])).used_at is not None
    r = await client.post(URL, json=body(invite_code=code, target="91330100716105852F"))
    assert r.status_code == 409
    r = await client.post(URL, json=body(invite_code="AAAA-BBBB-CCCC"))
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "invite_code"
    assert await Response.all().count() == 1
    assert other != code


async def test_straightliners_and_bursts_are_flagged_and_excluded(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await make_city()
    flat = {
        k: (5 if isinstance(v, int) and k != "recommend" else v) for k, v in GOOD_ANSWERS.items()
    }
    who = await respondent(client, app_settings.secret_key, USCC)
    r = await client.post(
        URL, json=body(answers=flat, start_token=who.start_token), headers=who.headers
    )
    first = await Response.get(id=r.json()["id"])
    assert first.excluded
    assert [f.kind for f in await ResponseFlag.filter(response_id=first.id)] == ["straightliner"]
    # Five from one address for one place within ten minutes, each from a device of its own:
    # the fifth is a burst.
    for _ in range(4):
        who = await respondent(client, app_settings.secret_key, USCC)
        r = await client.post(URL, json=body(start_token=who.start_token), headers=who.headers)
        assert r.status_code == 201, r.text
    latest = await Response.all().order_by("-id").first()
    assert latest is not None and latest.excluded
    assert [f.kind for f in await ResponseFlag.filter(response_id=latest.id)] == ["burst"]


async def test_surveys_are_listed_with_their_questions(client: httpx.AsyncClient) -> None:
    await make_city()
    r = await client.get("/api/v1/surveys")
    assert {s["slug"] for s in r.json()["items"]} == {"merchant", "street", "scenic-spot"}
    r = await client.get("/api/v1/surveys/merchant", params={"lang": "en"})
    s = r.json()
    assert s["version"] == 1 and s["target_kind"] == "merchant"
    quality = next(q for q in s["questions"] if q["key"] == "quality")
    assert quality["min"] == 1 and quality["max"] == 5 and quality["dimension"] == "supply"
    assert quality["text"].startswith("Were you satisfied")


async def test_only_officials_read_responses(client: httpx.AsyncClient) -> None:
    await make_city()
    r = await client.get(URL)
    assert r.status_code == 401
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    assert (await client.get(URL)).status_code == 403
