"""The public form: a phone, Chinese by default, no JavaScript, and nothing typed is lost."""

from __future__ import annotations

import re

import httpx

from surveys.models import Answer, Response
from tests.surveys.conftest import make_city

FORM = "/s/merchant/9144030071526726XG"


def _hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, name
    return match.group(1)


async def _filled(client: httpx.AsyncClient, **answers: str) -> dict[str, str]:
    page = await client.get(FORM)
    data = {
        "_csrf_token": _hidden(page.text, "_csrf_token"),
        "client_submission_id": _hidden(page.text, "client_submission_id"),
        "started": _hidden(page.text, "started"),
    }
    data.update({f"q_{k}": v for k, v in answers.items()})
    return data


ALL = {
    "quality": "5",
    "price": "4",
    "honesty": "4",
    "safety": "5",
    "service": "4",
    "returns": "3",
    "complaints": "4",
    "recommend": "8",
    "visitor": "resident",
}


async def test_the_form_is_chinese_accessible_small_and_needs_no_script(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    r = await client.get(FORM)
    assert r.status_code == 200
    html = r.text
    assert len(r.content) < 50_000
    assert "老王烩面馆" in html and "商户消费满意度评价" in html
    assert "<script" not in html
    assert html.count("<fieldset") == 9 and html.count("<legend>") == 9
    assert 'type="radio" name="q_quality" value="5"' in html
    assert '<label for="f-comment">' in html
    assert "非常满意" in html
    assert 'name="website"' in html  # the honeypot, hidden from people


async def test_the_form_in_english(client: httpx.AsyncClient) -> None:
    await make_city()
    html = (await client.get(FORM, params={"lang": "en"})).text
    assert "Were you satisfied with the quality" in html
    assert "Very satisfied" in html and "Submit" in html


async def test_a_missing_answer_is_explained_next_to_it_and_the_rest_is_kept(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    answers = {k: v for k, v in ALL.items() if k != "price"}
    data = await _filled(client, **answers, comment="服务很好")
    r = await client.post(FORM, data=data)
    assert r.status_code == 422
    html = r.text
    price = html[html.index('id="q-price"') :]
    assert "请回答此题" in price[: price.index("</fieldset>")]
    assert 'name="q_quality" value="5" checked' in html
    assert 'name="q_visitor" value="resident" checked' in html
    assert ">服务很好</textarea>" in html
    assert _hidden(html, "client_submission_id") == data["client_submission_id"]
    assert await Response.all().count() == 0
    # Corrected, it goes through.
    data["q_price"] = "4"
    data["_csrf_token"] = _hidden(html, "_csrf_token")
    r = await client.post(FORM, data=data)
    assert r.status_code == 200
    assert "感谢您的评价" in r.text
    assert 'href="/scores?q=' in r.text  # on to the place's published score
    response = await Response.get()
    assert response.channel == "form"
    assert await Answer.filter(response_id=response.id).count() == 10


async def test_a_double_submit_stores_one_response(client: httpx.AsyncClient) -> None:
    await make_city()
    data = await _filled(client, **ALL)
    assert (await client.post(FORM, data=data)).status_code == 200
    assert (await client.post(FORM, data=data)).status_code == 200
    assert await Response.all().count() == 1


async def test_the_same_phone_is_thanked_but_not_counted_twice(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    assert (await client.post(FORM, data=await _filled(client, **ALL))).status_code == 200
    r = await client.post(FORM, data=await _filled(client, **ALL))
    assert r.status_code == 409
    assert "您已评价过" in r.text
    assert await Response.all().count() == 1


async def test_robots_filling_the_honeypot_are_thanked_and_ignored(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    data = await _filled(client, **ALL)
    data["website"] = "http://spam.example"
    r = await client.post(FORM, data=data)
    assert r.status_code == 200 and "感谢您的评价" in r.text
    assert await Response.all().count() == 0


async def test_a_form_post_without_csrf_token_is_refused(client: httpx.AsyncClient) -> None:
    await make_city()
    data = await _filled(client, **ALL)
    del data["_csrf_token"]
    assert (await client.post(FORM, data=data)).status_code == 403
    assert await Response.all().count() == 0


async def test_an_unknown_place_is_a_friendly_404(client: httpx.AsyncClient) -> None:
    await make_city()
    r = await client.get("/s/merchant/914117007676543210", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert "页面不存在" in r.text
