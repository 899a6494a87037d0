"""Public reads are cacheable for at most a minute and revalidated by tag, and every GET answers
HEAD: mirrors of the status list must see a revocation within a minute, and cheaply."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import cast

import httpx
import pytest
from litestar.types import HTTPResponseStartEvent, Scope

from certificates.policy import Kind
from service.kernel.conditional import PUBLIC_CACHE_CONTROL, none_match, strong_etag, weak_etag
from service.kernel.models import Role
from service.middleware import private_when_setting_cookies
from tests.certificates.test_cascade import _certificate
from tests.helpers import make_token
from tests.surveys.conftest import make_city

SERIAL = "ZMD-2026-M-000001-O"
STATUS_LIST = "/api/v1/certificates/status-list"
CACHED_READS = (STATUS_LIST, f"/api/v1/certificates/{SERIAL}", "/api/v1/scores")
TAG = '"abc"'
NO_SCOPE = cast("Scope", {})  # the hook reads only the message


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ("*", True),
        (" * ", True),
        ('"abc"', True),
        ('W/"abc"', True),  # weak comparison: the prefix does not matter
        ('"x", "abc"', True),
        ('"x",W/"abc" , "y"', True),
        ('"x", , "abc",', True),  # empty list elements are allowed
        ('"x", "y"', False),
        ('"ab"', False),
        ('"abcd"', False),
        ("abc", False),  # unquoted: malformed, ignored
        ('"abc" garbage', False),
        ('"abc", garbage', False),  # the whole header is malformed, so it is ignored
        ('w/"abc"', False),  # the prefix is case-sensitive
        ('"x", *', False),  # * only stands alone
    ],
)
def test_none_match(header: str | None, expected: bool) -> None:
    assert none_match(header, TAG) is expected


def test_none_match_compares_a_weak_current_tag_weakly() -> None:
    assert none_match('"abc"', 'W/"abc"') and none_match('W/"abc"', 'W/"abc"')
    assert not none_match('W/"abd"', 'W/"abc"')


def test_tags_are_of_the_bytes() -> None:
    assert strong_etag(b"x") == strong_etag(b"x") != strong_etag(b"y")
    assert weak_etag(b"x") == "W/" + strong_etag(b"x")
    assert re.fullmatch(r'"[0-9a-f]{32}"', strong_etag(b""))


async def _certified(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, datetime.now(UTC))


async def test_an_empty_status_list_reflects_the_epoch(client: httpx.AsyncClient) -> None:
    r = await client.get(STATUS_LIST)
    assert r.status_code == 200
    assert r.json() == {"generated_at": "1970-01-01T00:00:00Z", "certificates": []}
    assert r.headers["etag"] == strong_etag(r.content)


async def test_the_status_list_is_the_same_bytes_until_a_status_changes(
    client: httpx.AsyncClient,
) -> None:
    await _certified(client)
    first, second = await client.get(STATUS_LIST), await client.get(STATUS_LIST)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    etag = first.headers["etag"]
    assert etag == second.headers["etag"] == strong_etag(first.content)
    assert first.headers["cache-control"] == PUBLIC_CACHE_CONTROL
    assert first.headers["content-type"].startswith("application/json")
    body = first.json()
    assert body["generated_at"] == body["certificates"][0]["changed_at"]

    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        r = await client.get(STATUS_LIST, headers={"if-none-match": header})
        assert r.status_code == 304, header
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers["cache-control"] == PUBLIC_CACHE_CONTROL
    r = await client.get(STATUS_LIST, headers={"if-none-match": f"{etag}, nonsense"})
    assert r.status_code == 200, "a malformed header is ignored"

    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post(
        f"/api/v1/certificates/{SERIAL}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    assert r.status_code == 200, r.text

    r = await client.get(STATUS_LIST, headers={"if-none-match": etag})
    assert r.status_code == 200
    assert r.headers["etag"] != etag == strong_etag(first.content)
    assert r.headers["etag"] == strong_etag(r.content)
    assert r.json()["certificates"][0]["status"] == "revoked"
    assert r.json()["generated_at"] == r.json()["certificates"][0]["changed_at"]
    assert r.json()["generated_at"] > body["generated_at"]


async def test_a_certificate_and_the_scores_revalidate_by_tag(client: httpx.AsyncClient) -> None:
    await _certified(client)
    for path in CACHED_READS[1:]:
        r = await client.get(path)
        assert r.status_code == 200, (path, r.text)
        etag = r.headers["etag"]
        assert etag == strong_etag(r.content)
        assert r.headers["cache-control"] == PUBLIC_CACHE_CONTROL
        assert (await client.get(path)).content == r.content
        again = await client.get(path, headers={"if-none-match": f"W/{etag}"})
        assert (again.status_code, again.content) == (304, b""), path
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == PUBLIC_CACHE_CONTROL
        other = await client.get(path, headers={"if-none-match": '"stale"'})
        assert other.status_code == 200 and other.content == r.content


async def test_no_public_read_is_cached_for_more_than_a_minute(
    client: httpx.AsyncClient,
) -> None:
    await _certified(client)
    for path in CACHED_READS:
        for method in ("GET", "HEAD"):
            r = await client.request(method, path)
            directives = [d.strip().lower() for d in r.headers["cache-control"].split(",")]
            ages = [int(d.split("=", 1)[1]) for d in directives if d.startswith("max-age=")]
            assert ages and max(ages) <= 60, (method, path, directives)
            assert "must-revalidate" in directives, (method, path)


async def test_head_answers_wherever_get_does(client: httpx.AsyncClient) -> None:
    await _certified(client)
    for path in (*CACHED_READS, "/", "/healthz"):
        got = await client.get(path)
        head = await client.head(path)
        assert got.status_code == head.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("etag") == got.headers.get("etag"), path
        assert head.headers.get("content-length") == got.headers.get("content-length"), path
    for path in CACHED_READS:
        etag = (await client.get(path)).headers["etag"]
        r = await client.head(path, headers={"if-none-match": etag})
        assert (r.status_code, r.content, r.headers["etag"]) == (304, b"", etag), path


async def test_head_keeps_its_own_routes_and_its_misses(client: httpx.AsyncClient) -> None:
    # The static files answer HEAD themselves.
    r = await client.head("/static/favicon.svg")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["content-length"]) == len(
        (await client.get("/static/favicon.svg")).content
    )
    # An unknown path stays a 404, a POST-only path a 405: HEAD is only ever the GET.
    missing = await client.head("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.content == b""
    post_only = await client.head("/logout")
    assert post_only.status_code == 405 and post_only.content == b""
    # Other methods are untouched.
    assert (await client.request("OPTIONS", STATUS_LIST)).status_code in (200, 204)


async def test_a_response_setting_a_cookie_is_not_kept_by_shared_caches() -> None:
    message: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"cache-control", PUBLIC_CACHE_CONTROL.encode()),
            (b"set-cookie", b"session=secret"),
        ],
    }
    await private_when_setting_cookies(message, NO_SCOPE)
    assert (b"cache-control", b"private, max-age=30, must-revalidate") in message["headers"]

    plain: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"cache-control", b"public")],
    }
    await private_when_setting_cookies(plain, NO_SCOPE)
    assert plain["headers"] == [(b"cache-control", b"public")]


async def test_a_chosen_language_makes_a_cached_read_private(client: httpx.AsyncClient) -> None:
    r = await client.get(STATUS_LIST, params={"lang": "en"})
    assert "set-cookie" in r.headers
    assert r.headers["cache-control"] == "private, max-age=30, must-revalidate"
