"""Issue 29, item 6: numbers that are not numbers. ``str.isdigit()`` is true of "²" and "①",
and ``int()`` then raises (or reads "٣" and "1_0"): every number a person sends is read by
the kernel's ``parse_int``, ASCII digits only, and a bad one is the sender's 422 or 404."""

from __future__ import annotations

import uuid

import httpx
import pytest

from service.kernel.models import Role
from service.kernel.validation import NotAnInteger, int_or_none, parse_int
from surveys.models import Response
from tests.helpers import csrf, login, make_account
from tests.surveys.conftest import GOOD_ANSWERS, USCC, make_city
from tests.surveys.test_form import ALL, FORM, _filled

NOT_NUMBERS = ("--3", "²", "①", "٣", "３", "1_0", "+3", " 3", "3\n", "", "-", "9" * 5000)
SUBMIT = "/api/v1/surveys/merchant/responses"


@pytest.mark.parametrize("text", NOT_NUMBERS)
def test_parse_int_reads_ascii_digits_only(text: str) -> None:
    with pytest.raises(NotAnInteger):
        parse_int(text)
    assert int_or_none(text) is None


def test_parse_int_reads_what_it_should() -> None:
    assert parse_int("0") == 0
    assert parse_int("042") == 42
    assert parse_int("9" * 18) == 10**18 - 1
    assert parse_int("-5", negative=True) == -5
    for refused in ("-5", "9" * 19):
        with pytest.raises(NotAnInteger):
            parse_int(refused)
    with pytest.raises(NotAnInteger):
        parse_int("--5", negative=True)
    with pytest.raises(NotAnInteger):
        parse_int("12345", max_digits=4)


@pytest.mark.parametrize("value", ["--3", "²", "①", "9" * 5000])
async def test_a_survey_answer_that_is_not_a_number_is_a_422_naming_it(
    client: httpx.AsyncClient, value: str
) -> None:
    await make_city()
    body = {
        "target": USCC,
        "answers": {**GOOD_ANSWERS, "quality": value},
        "client_submission_id": str(uuid.uuid4()),
    }
    r = await client.post(SUBMIT, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["answers.quality"]
    assert await Response.all().count() == 0


@pytest.mark.parametrize("value", ["--3", "²", "①", "9" * 5000])
async def test_a_form_answer_that_is_not_a_number_is_shown_next_to_its_question(
    client: httpx.AsyncClient, value: str
) -> None:
    await make_city()
    data = await _filled(client, **{**ALL, "quality": value})
    r = await client.post(FORM, data=data)
    assert r.status_code == 422
    quality = r.text[r.text.index('id="q-quality"') :]
    assert "请选择" in quality[: quality.index("</fieldset>")]
    assert await Response.all().count() == 0


async def test_a_start_token_that_is_not_a_number_is_a_422_naming_it(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    for token in ("².abc", "①.abc", "9" * 5000 + ".abc"):
        body = {
            "target": USCC,
            "answers": GOOD_ANSWERS,
            "client_submission_id": str(uuid.uuid4()),
            "start_token": token[:100],
        }
        r = await client.post(SUBMIT, json=body)
        assert r.status_code == 422, (token[:10], r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["start_token"]


async def test_a_form_with_a_start_token_that_is_not_a_number_is_kept_untimed(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    data = await _filled(client, **ALL)
    data["started"] = "².abc"
    r = await client.post(FORM, data=data)
    assert r.status_code == 200, r.text
    assert (await Response.get()).duration_ms is None


@pytest.mark.parametrize("edition", ["²", "².csv", "①", "٢٠٢٥", "２０２５.xlsx", "9" * 16])
async def test_a_list_year_that_is_not_a_number_is_a_404(
    client: httpx.AsyncClient, edition: str
) -> None:
    r = await client.get(f"/lists/{edition}")
    assert r.status_code == 404, r.text


async def test_a_review_year_that_is_not_a_number_is_a_form_error(
    client: httpx.AsyncClient,
) -> None:
    await make_account("city", Role.OFFICIAL)
    assert await login(client, "city") == 303
    token = await csrf(client)
    for year in ("²", "٢٠٢٥", "9" * 5000):
        r = await client.post("/official/reviews", data={"_csrf_token": token, "year": year})
        assert r.status_code == 422, (year[:8], r.status_code)
