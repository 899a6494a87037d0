"""The public score pages read the published run, in Chinese by default."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from scoring.satisfaction import runs
from service.kernel.settings import Settings
from surveys.submit import Origin, SubmissionIn, submit
from tests.helpers import TEST_ACTOR
from tests.surveys.conftest import GOOD_ANSWERS, make_city


async def _responses(target: str, count: int, secret: str) -> None:
    for i in range(count):
        answers = {**GOOD_ANSWERS, "price": 3 if i % 2 else 4}
        await submit(
            "merchant",
            SubmissionIn(
                target=target,
                answers=answers,
                client_submission_id=uuid.uuid4(),
                started_at=datetime.now(UTC) - timedelta(seconds=40),
            ),
            Origin(ip=f"10.9.0.{i}", device_id=None, channel="api"),
            secret=secret,
        )


async def test_scores_page_shows_published_areas_and_finds_merchants(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    r = await client.get("/scores")
    assert r.status_code == 200 and "尚未发布评分" in r.text
    await _responses(city.merchant, 20, app_settings.secret_key)
    await _responses(city.other_merchant, 5, app_settings.secret_key)
    await runs.run_now(
        runs.parse_params({"min_n_rank": 10}), app_settings, actor=TEST_ACTOR, publish=True
    )
    page = await client.get("/scores", params={"q": "超市"})
    html = page.text
    assert page.status_code == 200
    assert "解放路步行街" in html and "95% 置信区间" in html
    assert "天中超市" in html and "数据不足" in html  # 5 responses: below the threshold
    assert len(page.content) < 100_000
    found = await client.get("/scores", params={"q": "烩面"})
    assert "老王烩面馆" in found.text and "20 份评价" in found.text


async def test_methodology_explains_in_chinese_with_the_current_parameters(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    await _responses(city.merchant, 3, app_settings.secret_key)
    await runs.run_now(
        runs.parse_params({"min_n_display": 2}), app_settings, actor=TEST_ACTOR, publish=True
    )
    html = (await client.get("/methodology")).text
    assert "消费供给" in html and "经验贝叶斯" in html
    assert "评价少于 2 份" in html
    en = (await client.get("/methodology", params={"lang": "en"})).text
    assert "empirical Bayes" in en


async def test_scores_are_also_drawn_as_an_svg_chart_with_nothing_external(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    import base64
    import re

    city = await make_city()
    await _responses(city.merchant, 20, app_settings.secret_key)
    await runs.run_now(runs.parse_params({}), app_settings, actor=TEST_ACTOR, publish=True)
    html = (await client.get("/scores")).text
    match = re.search(
        r'<img class="chart" src="data:image/svg\+xml;base64,([^"]+)" alt="([^"]+)"', html
    )
    assert match, "the chart is an inline image with a text alternative"
    svg = base64.b64decode(match.group(1)).decode()
    assert svg.startswith("<svg") and "解放路步行街" in svg
    urls = set(re.findall(r"https?://[^\"' >]+", svg))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
