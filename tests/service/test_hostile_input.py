"""Hostile input: malformed, oversized, deep, invalid, injected and traversing requests get a
clear 4xx (problem+json on the API), never a 5xx, and what is stored is stored verbatim and
shown escaped."""

from __future__ import annotations

import json
import random
import uuid

import httpx
import pytest
from markupsafe import escape

from service.kernel.models import Merchant, Role
from service.register.uscc import generate
from tests.helpers import make_token
from tests.surveys.conftest import make_city

SUBMIT = "/api/v1/surveys/merchant/responses"
INJECTIONS = (
    "'; DROP TABLE merchant; --",
    '" OR 1=1 --',
    "{{ 7 * 7 }}",
    "{% raw %}{{ config }}{% endraw %}",
    "${7*7}",
    "<script>alert('xss')</script>",
    '"><img src=x onerror=alert(1)>',
)


def assert_problem(r: httpx.Response, *statuses: int) -> None:
    assert r.status_code in statuses, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == r.status_code and body.get("title")


def _submission(target: str, **answers: object) -> dict[str, object]:
    base = dict.fromkeys(("quality", "price", "honesty", "safety", "service", "returns"), 4)
    return {
        "target": target,
        "answers": {**base, "complaints": 4, "recommend": 8, **answers},
        "client_submission_id": str(uuid.uuid4()),
    }


async def test_malformed_bodies_get_a_clear_4xx_and_store_nothing(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    json_headers = {"content-type": "application/json"}
    cases = {
        "malformed json": (b'{"target": "x", "answers": {', json_headers),
        "not an object": (b"[1, 2, 3]", json_headers),
        "invalid utf-8": (b'{"target": "\xff\xfe\xfa"}', json_headers),
        "deep nesting": (b'{"a":' * 5000 + b"1" + b"}" * 5000, json_headers),
        "wrong content type": (
            json.dumps(_submission(city.merchant)).encode(),
            {"content-type": "text/plain"},
        ),
        "form instead of json": (
            b"target=x&answers=y",
            {"content-type": "application/x-www-form-urlencoded"},
        ),
    }
    for name, (body, headers) in cases.items():
        r = await client.post(SUBMIT, content=body, headers=headers)
        assert r.status_code < 500, name
        assert_problem(r, 400, 415, 422)
    big = json.dumps(_submission(city.merchant, comment="好" * 2_000_000)).encode()
    assert_problem(await client.post(SUBMIT, content=big, headers=json_headers), 413)
    from surveys.models import Response

    assert await Response.all().count() == 0


async def test_long_strings_and_nul_bytes_are_refused_by_name(client: httpx.AsyncClient) -> None:
    city = await make_city()
    for comment in ("长" * 10_000, "before\x00after"):
        r = await client.post(SUBMIT, json=_submission(city.merchant, comment=comment))
        assert_problem(r, 422)
        assert "comment" in r.text
    r = await client.post(SUBMIT, json={**_submission(city.merchant), "target": "X" * 10_000})
    assert r.status_code < 500
    assert_problem(r, 404, 422)


async def test_injected_text_is_stored_verbatim_and_shown_escaped(
    client: httpx.AsyncClient,
) -> None:
    await make_city()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    rng = random.Random(3)
    for text in INJECTIONS:
        uscc = generate(rng, "411702")
        r = await client.post(
            "/api/v1/merchants",
            json={
                "uscc": uscc,
                "name": text,
                "category": "retail",
                "district": "411702",
                "address": text,
            },
            headers=official,
        )
        assert r.status_code == 201, r.text
        stored = await Merchant.get(uscc=uscc)
        assert (stored.name, stored.address) == (text, text)
        assert (await client.get(f"/api/v1/merchants/{uscc}")).json()["name"] == text
        # The survey page and the home page's search show the name, escaped.
        for page in (
            await client.get(f"/s/merchant/{uscc}", headers={"accept": "text/html"}),
            await client.get("/", params={"q": text}, headers={"accept": "text/html"}),
        ):
            assert page.status_code == 200
            assert "<script>alert" not in page.text and "<img src=x" not in page.text
            # Shown as typed, escaped: no template syntax was evaluated on the way.
            assert str(escape(text)) in page.text
    assert await Merchant.filter(name__contains="DROP TABLE").count() == 1  # the table stands
    r = await client.post(SUBMIT, json=_submission(INJECTIONS[0]))
    assert_problem(r, 404)  # a target code is looked up, never spliced into SQL


@pytest.mark.parametrize(
    "path",
    [
        "/static/../service/settings.py",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e%2fservice%2fsettings.py",
        "/qr/..%2f..%2fetc%2fpasswd.svg",
        "/qr/%2e%2e/poster.pdf",
        "/api/v1/certificates/..%2f..%2fetc%2fpasswd/pdf",
        "/api/v1/certificates/%2e%2e/pdf",
        "/verify/..%2f..%2fetc%2fpasswd",
    ],
)
async def test_no_file_route_walks_out_of_its_folder(client: httpx.AsyncClient, path: str) -> None:
    await make_city()
    r = await client.get(path)
    assert r.status_code in (400, 404, 422), (path, r.status_code)
    assert "root:" not in r.text and "FANGXIN_" not in r.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/merchants?page=-1",
        "/api/v1/merchants?page=0",
        "/api/v1/merchants?page=99999999999999999999",
        "/api/v1/merchants?page_size=-5",
        "/api/v1/merchants?page_size=1000000000",
        "/api/v1/areas?page=-3",
        "/api/v1/certificates/status-list?page=-1",
    ],
)
async def test_bad_pagination_is_a_named_422(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    if r.status_code == 200:  # a route without pagination ignores the parameter
        assert "status-list" in path
        return
    assert_problem(r, 400, 422)


@pytest.mark.parametrize(
    "path",
    ["/?page=-1", "/certificates?page=-1", "/certificates?page=10000000000", "/scores?kind=x"],
)
async def test_bad_page_parameters_get_a_page_not_a_crash(
    client: httpx.AsyncClient, path: str
) -> None:
    r = await client.get(path, headers={"accept": "text/html"})
    assert r.status_code in (400, 422) and r.headers["content-type"].startswith("text/html")


async def test_an_upload_without_its_file_is_a_4xx(client: httpx.AsyncClient) -> None:
    # The PDF goes in the field "file"; elsewhere, or no file at all, is refused as such.
    for files in ({"": ("x.pdf", b"{}", "x/y")}, {"other": ("x", b"1", "text/plain")}):
        r = await client.post("/api/v1/certificates/verify", files=files)
        assert_problem(r, 400, 422)
    r = await client.post(
        "/api/v1/certificates/verify",
        content=b'--b\r\nContent-Disposition: form-data; name=""\r\n\r\n{}\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert_problem(r, 400, 422)


async def test_ids_beyond_any_table_are_refused_before_the_database(
    client: httpx.AsyncClient,
) -> None:
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for path in (
        "/api/v1/scoring/runs/1612308521392719527936",
        "/api/v1/scoring/runs/2147483648",
        "/api/v1/scoring/runs/0",
    ):
        assert_problem(await client.get(path, headers=official), 400, 404, 422)


async def test_a_nul_character_in_any_feed_field_is_a_4xx(client: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store NUL in text: the value is refused, not the service (found by
    the schema fuzzer on PostgreSQL)."""
    await make_city()
    feed = {"authorization": f"Bearer {await make_token(Role.FEED)}"}
    complaint = {
        "complaints": [
            {
                "uscc": "A\u0000",
                "external_id": "x\u0000",
                "received_at": "2026-11-01T08:00:00Z",
                "status": "received",
                "category": "price",
            }
        ]
    }
    event = {
        "events": [
            {
                "uscc": "A\u0000",
                "kind": "commendation",
                "occurred_at": "2026-11-01T08:00:00Z",
                "source": "s\u0000",
                "external_ref": "r\u0000",
            }
        ]
    }
    for path, body in (("/api/v1/complaints", complaint), ("/api/v1/credit/events", event)):
        r = await client.post(path, json=body, headers=feed)
        assert_problem(r, 400, 404, 422)


BOUNDARY_TIMES = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-05-01T00:00:00",  # naive
    "2026-05-01T00:00:00+14:00",
    "2026-05-01T00:00:00-14:00",
)
BOUNDARY_VALUES: tuple[object, ...] = (
    0,
    -1,
    2**63,
    1e308,
    float("nan"),
    "",
    "x" * 10_000,
    "a\x00b",
    "\u202eevil\u202c\u200f",
)


async def test_boundary_values_never_give_a_server_error(client: httpx.AsyncClient) -> None:
    city = await make_city()
    for at in BOUNDARY_TIMES:
        body = {**_submission(city.merchant), "started_at": at}
        r = await client.post(SUBMIT, json=body)
        assert r.status_code < 500, (at, r.status_code, r.text[:300])
    for value in BOUNDARY_VALUES:
        for key in ("quality", "comment"):
            r = await client.post(
                SUBMIT,
                content=json.dumps(_submission(city.merchant, **{key: value})).encode(),
                headers={"content-type": "application/json"},
            )
            assert r.status_code < 500, (key, repr(value)[:40], r.status_code, r.text[:300])
            if r.status_code >= 400:
                assert_problem(r, r.status_code)
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    for at in BOUNDARY_TIMES:
        complaint = {
            "external_id": "B-1",
            "uscc": city.merchant,
            "received_at": at,
            "status": "received",
            "category": "quality",
        }
        r = await client.post("/api/v1/complaints", json={"complaints": [complaint]})
        assert r.status_code < 500, (at, r.status_code, r.text[:300])
        if at.startswith(("0001", "9999")):
            assert_problem(r, 422)
            assert "received_at" in r.text
