"""An official reviews a draft run in the browser pages and publishes it; forms need CSRF."""

from __future__ import annotations

import re

import httpx

from scoring.satisfaction.models import ScoreRun
from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from tests.helpers import csrf, login, make_account
from tests.scoring.satisfaction.test_pages import _responses
from tests.surveys.conftest import make_city


async def test_an_official_starts_reviews_and_publishes_a_run(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    await _responses(city.merchant, 20, app_settings.secret_key)
    await make_account("reviewer", Role.OFFICIAL)
    assert await login(client, "reviewer") == 303
    token = await csrf(client)
    r = await client.post("/official/runs", data={"_csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    page_url = r.headers["location"]
    run_id = int(re.findall(r"\d+", page_url)[-1])
    page = await client.get(page_url)
    assert page.status_code == 200
    assert "draft" in page.text and "Publish this run" not in page.text  # Chinese by default
    assert "发布此次评分" in page.text
    # A discard without a reason is refused, with the form shown again.
    r = await client.post(
        f"/official/runs/{run_id}/discard", data={"_csrf_token": token, "reason": " "}
    )
    assert r.status_code == 422
    r = await client.post(
        f"/official/runs/{run_id}/publish", data={"_csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303
    assert (await ScoreRun.get(id=run_id)).status == "published"
    assert await AuditEvent.filter(action="score_run.published", actor="account:reviewer").exists()
    listing = await client.get("/official/runs")
    assert f'href="/official/runs/{run_id}"' in listing.text


async def test_a_merchant_account_cannot_open_the_review(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await make_account("shopkeeper", Role.MERCHANT, merchant_uscc=city.merchant)
    assert await login(client, "shopkeeper") == 303
    r = await client.get("/official/runs")
    assert r.status_code == 403


async def test_rankings_filter_by_place_and_drill_down_to_a_unit(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    from scoring.satisfaction import runs
    from tests.helpers import TEST_ACTOR

    city = await make_city()
    await _responses(city.merchant, 20, app_settings.secret_key)
    await _responses(city.other_merchant, 20, app_settings.secret_key)
    await runs.run_now(
        runs.parse_params({"min_n_rank": 10}), app_settings, actor=TEST_ACTOR, publish=True
    )
    await make_account("ranker", Role.OFFICIAL)
    assert await login(client, "ranker") == 303
    page = await client.get("/official/scores", params={"kind": "merchant", "category": "retail"})
    assert page.status_code == 200
    assert "天中超市" in page.text and "老王烩面馆" not in page.text  # only the retail one
    page = await client.get("/official/scores", params={"kind": "merchant", "area": city.street})
    assert "天中超市" in page.text and "老王烩面馆" in page.text
    exported = await client.get(
        "/official/scores", params={"kind": "merchant", "category": "retail", "format": "csv"}
    )
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("代码,名称,上级,评价数,") and len(lines) == 2
    assert lines[1].startswith(f"{city.other_merchant},天中超市,{city.street},20,")
    xlsx = await client.get("/official/scores", params={"kind": "street", "format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    listed = (
        await client.get("/official/runs", params={"format": "csv", "headers": "machine"})
    ).content
    lines = listed.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,status,") and lines[1].split(",")[1] == "published"
    unit = await client.get(f"/official/scores/merchant/{city.merchant}")
    assert unit.status_code == 200
    assert "老王烩面馆" in unit.text and "回答分布" in unit.text
    assert "price" in unit.text  # the distribution lists each question
    street = await client.get(f"/official/scores/street/{city.street}")
    assert "已评分商户" in street.text
    missing = await client.get(
        "/official/scores/merchant/914117007676543210", headers={"accept": "text/html"}
    )
    assert missing.status_code == 404


async def test_the_drill_down_lists_set_aside_responses_and_an_official_clears_one(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    import uuid
    from datetime import UTC, datetime, timedelta

    from scoring.satisfaction import runs
    from surveys.models import FlagStatus, Response, ResponseFlag
    from surveys.submit import Origin, SubmissionIn, submit
    from tests.helpers import TEST_ACTOR
    from tests.surveys.conftest import GOOD_ANSWERS

    city = await make_city()
    await _responses(city.merchant, 20, app_settings.secret_key)
    # Every scale item at 5: straight-lining, set aside by screening.
    flat = {**GOOD_ANSWERS, **dict.fromkeys(("quality", "price", "honesty", "safety"), 5)}
    flat |= dict.fromkeys(("service", "returns", "complaints"), 5)
    await submit(
        "merchant",
        SubmissionIn(
            target=city.merchant,
            answers=flat,
            client_submission_id=uuid.uuid4(),
            started_at=datetime.now(UTC) - timedelta(seconds=40),
        ),
        Origin(ip="10.8.0.1", device_id=None, channel="api"),
        secret=app_settings.secret_key,
    )
    flagged = await Response.get(excluded=True)
    await runs.run_now(
        runs.parse_params({"min_n_rank": 10}), app_settings, actor=TEST_ACTOR, publish=True
    )
    await make_account("screener", Role.OFFICIAL)
    assert await login(client, "screener") == 303
    url = f"/official/scores/merchant/{city.merchant}"
    page = await client.get(url)
    assert page.status_code == 200
    assert f"<td>{flagged.id}</td>" in page.text and "straightliner" in page.text
    assert page.text.count('src="data:image/svg+xml;base64,') >= 2  # distribution and trend
    assert "<title>老王烩面馆</title>" in page.text  # the title holds the name, nothing else
    assert f'href="/official/credit/{city.merchant}"' in page.text

    token = await csrf(client)
    action = f"/official/flags/{flagged.id}/straightliner"
    no_reason = await client.post(
        action,
        data={"_csrf_token": token, "decision": "cleared", "reason": "", "back": url},
        follow_redirects=False,
    )
    assert no_reason.status_code == 303 and "error=" in no_reason.headers["location"]
    assert (await ResponseFlag.get(response_id=flagged.id)).status == FlagStatus.RAISED
    r = await client.post(
        action,
        data={
            "_csrf_token": token,
            "decision": "cleared",
            "reason": "一位真心满意的顾客",
            "back": url,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"{url}#set-aside"
    assert (await ResponseFlag.get(response_id=flagged.id)).status == FlagStatus.CLEARED
    assert not (await Response.get(id=flagged.id)).excluded
    # A redirect target outside the officials' pages is not followed.
    r = await client.post(
        action,
        data={
            "_csrf_token": token,
            "decision": "confirmed",
            "reason": "再看",
            "back": "https://evil.example",
        },
        follow_redirects=False,
    )
    assert r.headers["location"].startswith("/official/scores")

    street = await client.get(f"/official/scores/street/{city.street}")
    assert "商户信用与投诉" in street.text
