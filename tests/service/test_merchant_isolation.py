"""A merchant sees only its own data: every route a merchant may call that names a merchant
or a certificate is tried with another merchant's identifiers."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx

from certificates.models import Status
from certificates.policy import Kind
from service.kernel.models import Role
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.service.test_authz_matrix import MERCHANT_ONLY, MERCHANTS, PUBLIC, RULES
from tests.surveys.conftest import make_city

IDENTIFIERS = re.compile(r"\{(uscc|serial):str\}")
OTHER = re.compile(r"\{(\w+):int\}")  # any other identifier: one that exists nowhere


def merchant_routes_naming_another() -> list[tuple[str, str]]:
    """Routes for merchants (not the public's) whose path names a merchant or certificate."""
    return sorted(
        (method, path)
        for (method, path), rule in RULES.items()
        if rule in (MERCHANTS, MERCHANT_ONLY) and IDENTIFIERS.search(path)
    )


def test_the_routes_tried_are_the_ones_that_name_a_merchant() -> None:
    # When a route is added, it is tried here without anyone having to remember.
    assert merchant_routes_naming_another() == [
        ("GET", "/api/v1/merchants/{uscc:str}/credit"),
        ("POST", "/api/v1/certificates/{serial:str}/replies"),
        ("POST", "/api/v1/merchants/{uscc:str}/commitments"),
        ("POST", "/api/v1/merchants/{uscc:str}/commitments/{commitment_id:int}/end"),
        ("POST", "/merchant/certificates/{serial:str}/reply"),
    ]
    # The one public route that hands out a document answers merchants on their own records.
    assert RULES[("GET", "/api/v1/certificates/{serial:str}/pdf")] == PUBLIC


async def test_a_merchant_gets_nothing_of_another_merchant(client: httpx.AsyncClient) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    theirs = await _certificate(
        Kind.MERCHANT, city.other_merchant, "天中超市", "ZMD-2026-M-000008-A", now
    )
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post(
        f"/api/v1/certificates/{theirs.serial}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    assert r.status_code == 200 and r.json()["status"] == Status.REVOKED.value
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    assert await login(client, "laowang") == 303
    client.headers["x-csrftoken"] = await csrf(client)

    values = {"uscc": city.other_merchant, "serial": theirs.serial}
    answers = {}
    for method, path in merchant_routes_naming_another():
        url = OTHER.sub("999999", IDENTIFIERS.sub(lambda m: values[m.group(1)], path))
        if path.startswith("/merchant/"):
            r = await client.request(method, url, data={"text": "不是我们的"})
        else:
            r = await client.request(method, url, json={"text": "不是我们的"})
        answers[url] = r.status_code
        assert "天中超市" not in r.text
    assert answers == {
        f"/api/v1/merchants/{city.other_merchant}/credit": 403,
        f"/api/v1/merchants/{city.other_merchant}/commitments": 403,
        f"/api/v1/merchants/{city.other_merchant}/commitments/999999/end": 403,
        f"/api/v1/certificates/{theirs.serial}/replies": 404,
        f"/merchant/certificates/{theirs.serial}/reply": 404,
    }
    # Another's revoked certificate is not handed out; the public sees only active ones.
    r = await client.get(f"/api/v1/certificates/{theirs.serial}/pdf")
    assert r.status_code == 403 and not r.content.startswith(b"%PDF")
    # And its own page shows nothing of the other's.
    page = await client.get("/merchant", headers={"accept": "text/html"})
    assert page.status_code == 200 and "老王烩面馆" in page.text
    assert "天中超市" not in page.text and theirs.serial not in page.text
