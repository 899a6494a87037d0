"""Public documents that shared caches may keep (``PUBLIC_DOCUMENT``): the trust files, the
issuer's DID and keys, the status lists, an active certificate's credential and its verify
page reach an anonymous client with no cookie of ours, public and tagged, so a proxy or CDN
keeps one copy for everyone. Pages with forms still hand out the CSRF cookie they need."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from certificates.models import Certificate, Status
from certificates.policy import Kind
from service.kernel.conditional import (
    IMMUTABLE_CACHE_CONTROL,
    PRIVATE_CACHE_CONTROL,
    PUBLIC_CACHE_CONTROL,
    strong_etag,
)
from service.kernel.i18n import LOCALE_COOKIE
from service.kernel.models import Role
from service.kernel.security import CSRF_COOKIE, SESSION_COOKIE
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.service.test_security_probe import set_cookies
from tests.surveys.conftest import USCC, make_city

SERIAL = "ZMD-2026-M-000001-O"
VERIFY = f"/verify/{SERIAL}"
DOCUMENTS = (
    "/.well-known/did.json",
    "/did.json",
    "/.well-known/jwks.json",
    "/trust/issuer.pem",
    "/trust/issuer.der",
    "/trust/chain.pem",
    "/api/v1/certificates/status/revocation",
    "/api/v1/certificates/status/suspension",
    f"/api/v1/certificates/{SERIAL}/credential",
    VERIFY,
)
# Versioned and pinned by digest in every credential: kept a year, not a minute.
IMMUTABLE = ("/contexts/certificate/v1",)
HTML = {"accept": "text/html"}
PRIVATE_FOR_30_S = PUBLIC_CACHE_CONTROL.replace("public", "private")


async def _certified() -> Certificate:
    city = await make_city()
    return await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, datetime.now(UTC))


def _varies_on(r: httpx.Response) -> set[str]:
    return {v.strip().lower() for v in r.headers.get("vary", "").split(",") if v.strip()}


@pytest.mark.parametrize("path", DOCUMENTS + IMMUTABLE)
async def test_an_anonymous_client_gets_a_public_document_without_cookies_and_revalidates(
    client: httpx.AsyncClient, path: str
) -> None:
    await _certified()
    cache_control = IMMUTABLE_CACHE_CONTROL if path in IMMUTABLE else PUBLIC_CACHE_CONTROL
    for method in ("GET", "HEAD"):
        r = await client.request(method, path)
        assert r.status_code == 200, (method, r.text)
        assert "set-cookie" not in r.headers, method
        assert r.headers["cache-control"] == cache_control, method
    first = await client.get(path)
    etag = first.headers["etag"]
    assert etag == strong_etag(first.content)
    again = await client.get(path, headers={"if-none-match": etag})
    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == cache_control
    assert "set-cookie" not in again.headers
    assert not client.cookies


async def test_the_public_verify_page_varies_on_cookies_and_holds_no_form(
    client: httpx.AsyncClient,
) -> None:
    await _certified()
    r = await client.get(VERIFY, headers=HTML)
    assert r.status_code == 200 and "有效" in r.text
    # The language comes from a cookie, and who is asking from a cookie or a token.
    assert _varies_on(r) == {"cookie", "authorization"}
    # Without a CSRF cookie an anonymous visitor could post no form: so the page has none.
    assert 'method="post"' not in r.text and "_csrf_token" not in r.text
    kept = await client.get(VERIFY, headers={**HTML, "if-none-match": r.headers["etag"]})
    assert kept.status_code == 304 and _varies_on(kept) == {"cookie", "authorization"}

    # Choosing a language sets that cookie alone, and that answer is the chooser's.
    chosen = await client.get(VERIFY, params={"lang": "en"}, headers=HTML)
    assert set(set_cookies(chosen)) == {LOCALE_COOKIE}
    assert chosen.headers["cache-control"] == PRIVATE_FOR_30_S
    # Sent back, the cookie picks the English page, which caches may keep per Cookie header.
    english = await client.get(VERIFY, headers=HTML)
    assert 'lang="en"' in english.text and "Valid" in english.text
    assert "set-cookie" not in english.headers
    assert english.headers["cache-control"] == PUBLIC_CACHE_CONTROL
    assert english.headers["etag"] == strong_etag(english.content) != r.headers["etag"]


async def test_a_visitor_who_signed_out_gets_public_documents_without_cookies(
    client: httpx.AsyncClient,
) -> None:
    await _certified()
    await make_account("ofc", Role.OFFICIAL)
    assert await login(client, "ofc") == 303
    assert (await client.post("/logout", data={"_csrf_token": await csrf(client)})).is_redirect
    signed_out = dict(client.cookies)
    # What logout left behind, then a session cookie the store has long forgotten.
    for cookies in (signed_out, {SESSION_COOKIE: "a-session-long-gone"}):
        client.cookies.clear()
        for name, value in cookies.items():
            client.cookies.set(name, value)
        for path in ("/trust/issuer.pem", VERIFY):
            r = await client.get(path)
            assert r.status_code == 200
            assert "set-cookie" not in r.headers, (cookies, path)
            assert r.headers["cache-control"] == PUBLIC_CACHE_CONTROL, (cookies, path)


async def test_a_signed_in_official_gets_the_verify_page_uncached_with_its_form(
    client: httpx.AsyncClient,
) -> None:
    cert = await _certified()
    public_tag = (await client.get(VERIFY)).headers["etag"]
    await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303
    page = await client.get(VERIFY, headers={**HTML, "if-none-match": public_tag})
    assert page.status_code == 200
    assert page.headers["cache-control"] == PRIVATE_CACHE_CONTROL
    assert "etag" not in page.headers
    assert 'id="decide"' in page.text and 'value="suspend"' in page.text
    token = client.cookies[CSRF_COOKIE]
    assert f'name="_csrf_token" value="{token}"' in page.text
    decided = await client.post(
        f"/official/certificates/{SERIAL}/decision",
        data={
            "action": "suspend",
            "reason": "mystery_shopping",
            "note": "暗访未明码标价",
            "_csrf_token": token,
        },
    )
    assert decided.status_code == 303 and decided.headers["location"] == VERIFY
    assert (await Certificate.get(id=cert.id)).status == Status.SUSPENDED

    # An official's API token sees its own page too, kept by no cache.
    client.cookies.clear()
    bearer = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    by_token = await client.get(VERIFY, headers={**HTML, **bearer})
    assert by_token.headers["cache-control"] == PRIVATE_CACHE_CONTROL
    assert 'value="reinstate"' in by_token.text


async def test_pages_with_forms_still_issue_the_csrf_cookie_and_sign_in_works(
    client: httpx.AsyncClient,
) -> None:
    await _certified()
    for path in ("/", "/login", "/verify/upload"):
        client.cookies.clear()
        r = await client.get(path, headers=HTML)
        assert r.status_code == 200 and CSRF_COOKIE in set_cookies(r), path
    # The upload form keeps its CSRF check: without the token the post is refused.
    empty = {"file": ("c.pdf", b"", "application/pdf")}
    refused = await client.post("/verify/upload", files=empty)
    assert refused.status_code == 403
    token = client.cookies[CSRF_COOKIE]
    checked = await client.post("/verify/upload", files=empty, data={"_csrf_token": token})
    assert checked.status_code == 422  # past the check, to the empty file

    # A visitor who scanned a certificate first, then signs in from its page.
    client.cookies.clear()
    await client.get(VERIFY, headers=HTML)
    assert not client.cookies
    await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303


async def test_every_answer_to_a_signed_in_person_is_private_and_not_stored(
    client: httpx.AsyncClient,
) -> None:
    """What a merchant is shown (its page, its credit, even the public home page with its
    name in the header) stays out of shared caches and the browser's disk."""
    await make_city()
    await make_account("shop", Role.MERCHANT, merchant_uscc=USCC)
    assert await login(client, "shop") == 303
    for path in ("/merchant", f"/api/v1/merchants/{USCC}/credit", "/account", "/", VERIFY):
        r = await client.get(path, headers=HTML)
        assert r.headers.get("cache-control") == PRIVATE_CACHE_CONTROL, (path, r.status_code)
    # The same files for everyone keep their own caching.
    static = await client.get("/static/site.css")
    assert static.status_code == 200 and "no-store" not in static.headers.get("cache-control", "")

    client.cookies.clear()
    bearer = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for path in (f"/api/v1/merchants/{USCC}/credit", "/api/v1/certificates/status/revocation"):
        r = await client.get(path, headers=bearer)
        assert r.status_code == 200 and r.headers["cache-control"] == PRIVATE_CACHE_CONTROL, path
    # Anonymous, a public document is still public.
    r = await client.get("/api/v1/certificates/status/revocation")
    assert r.headers["cache-control"] == PUBLIC_CACHE_CONTROL
