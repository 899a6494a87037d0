"""Every complaint route that names a complaint, tried by the party it is not: another
merchant, a district's official outside the complaint's district. Each gets the answer anyone
gets for a complaint that does not exist, and changes nothing; the complaint's own parties get
through. The routes are read from the route table, so a new one is tried here the day it is
added (the kernel's scope test counts them as covered for that reason)."""

from __future__ import annotations

import re

import httpx

from scoring.disputes.models import Dispute, DisputeFile, DisputeOffer
from service.kernel.models import AuditEvent
from tests.helpers import csrf
from tests.scoring.disputes.conftest import NO_ODR, photo
from tests.scoring.disputes.test_api import form, post
from tests.scoring.disputes.test_pages import close, people
from tests.service.test_authz_matrix import MERCHANT_ONLY, MERCHANTS, OFFICIALS, RULES

NAMES_A_COMPLAINT = re.compile(r"/disputes/\{code:str\}")
MISSING_CODE = "TS-2026-2222ZZ"  # well formed, filed by no one
PLACEHOLDER = re.compile(r"\{(\w+):\w+\}")

# What each step sends, valid on its own, so that only the complaint's owner decides.
BODIES = {
    "offer": {"kind": "exchange"},
    "refuse": {"reason": "不是本店售出"},
    "mediator": {"mode": "staff"},
    "outcome": {"outcome": "no_agreement"},
}


def routes_naming_a_complaint() -> set[tuple[str, str]]:
    """The party routes (merchant's, officials') with a complaint's code in the path."""
    return {
        (method, path)
        for (method, path), rule in RULES.items()
        if NAMES_A_COMPLAINT.search(path) and rule in (MERCHANTS, MERCHANT_ONLY, OFFICIALS)
    }


def _url(path: str, values: dict[str, str]) -> str:
    def fill(m: re.Match[str]) -> str:
        assert m.group(1) in values, f"{path}: no value for {{{m.group(1)}}}: add one above"
        return values[m.group(1)]

    return PLACEHOLDER.sub(fill, path)


async def _call(
    c: httpx.AsyncClient, method: str, path: str, values: dict[str, str]
) -> httpx.Response:
    url = _url(path, values)
    if method == "GET":
        return await c.get(url)
    body = BODIES.get(path.rsplit("/", 1)[-1], {})
    token = await csrf(c)
    if path.startswith("/api/"):
        return await c.post(url, json=body, headers={"x-csrftoken": token})
    return await c.post(url, data={"_csrf_token": token, **body}, follow_redirects=False)


def _answer(r: httpx.Response) -> tuple[int, str]:
    kind = r.headers.get("content-type", "").split(";")[0]
    return r.status_code, kind


async def _state() -> list[object]:
    disputes = (
        await Dispute.all()
        .order_by("id")
        .values_list("code", "status", "updated_at", "mediation_mode", "complaint_id")
    )
    offers = await DisputeOffer.all().count()
    audit = await AuditEvent.all().count()
    return [disputes, offers, audit]


async def test_no_party_reaches_a_complaint_that_is_not_theirs(client: httpx.AsyncClient) -> None:
    them = await people(client)
    evidence = [("files", ("shop.jpg", photo(), "image/jpeg"))]
    with_shop = (await post(client, form(), files=evidence)).json()["code"]
    escalated = (await post(client, form(merchant=NO_ODR), files=evidence)).json()["code"]
    assert (await Dispute.get(code=escalated)).status == "escalated"

    async def values(code: str) -> dict[str, str]:
        first = await DisputeFile.filter(dispute__code=code).order_by("id").first()
        assert first is not None
        return {"code": code, "file_id": str(first.id)}

    # The merchant's routes name the complaint at the shop; the officials' the escalated one
    # (district 411702). An outsider's answer is the one for a code no one filed.
    audiences = {
        MERCHANT_ONLY: [("far-shop", "shop", with_shop)],
        OFFICIALS: [("xiping", "yicheng", escalated)],
        MERCHANTS: [("far-shop", "shop", with_shop), ("xiping", "yicheng", escalated)],
    }
    routes = sorted(routes_naming_a_complaint())
    assert len(routes) >= 20, routes  # the API's and both sides' pages
    before = await _state()
    nowhere = {"code": MISSING_CODE, "file_id": "999999"}
    tried = 0
    for method, path in routes:
        for outsider, _, code in audiences[RULES[(method, path)]]:
            c = them[outsider]
            missing = await _call(c, method, path, nowhere)
            assert missing.status_code == 404, (path, missing.status_code)
            theirs = await _call(c, method, path, await values(code))
            assert _answer(theirs) == _answer(missing), (outsider, method, path, theirs.text[:300])
            tried += 1
    assert tried > len(routes)
    assert await _state() == before  # nothing read, revealed, offered or decided

    # The complaint's own parties get through: every read answers, no step is told "missing".
    for method, path in routes:
        for _, insider, code in audiences[RULES[(method, path)]]:
            r = await _call(them[insider], method, path, await values(code))
            if method == "GET":
                assert r.status_code == 200, (insider, path, r.status_code)
            else:
                assert r.status_code != 404, (insider, path, r.text[:300])
    await close(them)
