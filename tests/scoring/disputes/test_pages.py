"""The complaint pages over HTTP, as a browser posts their forms: the merchant joins and leaves
ODR, lists its complaints, offers and refuses; the official works the queue (accept, assign a
mediator, record the outcome, reveal the contact). Another party's complaint is a 404, a form
without its CSRF token is refused, a bad form re-renders naming the field and changes
nothing, and script typed into a field comes back as text."""

from __future__ import annotations

import asyncio

import httpx

from scoring.disputes import odr
from scoring.disputes.models import Dispute, DisputeFile, DisputeOffer
from service.kernel.models import AuditEvent, Role
from tests.conftest import BASE_URL
from tests.helpers import csrf, login, make_account
from tests.scoring.disputes.conftest import NO_ODR, make_town, photo
from tests.scoring.disputes.test_api import SCRIPT, form, post

ESCAPED = "&lt;script&gt;alert("


async def browser(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    """A signed-in browser: its forms carry the token in the hidden field, no header."""
    other = httpx.AsyncClient(transport=client._transport, base_url=BASE_URL)
    assert await login(other, username) == 303
    return other


async def submit(c: httpx.AsyncClient, url: str, **fields: str) -> httpx.Response:
    return await c.post(url, data={"_csrf_token": await csrf(c), **fields})


async def people(client: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:
    await make_town()
    await make_account("shop", Role.MERCHANT, merchant_uscc="9144030071526726XG")
    await make_account("plain", Role.MERCHANT, merchant_uscc=NO_ODR)
    await make_account("far-shop", Role.MERCHANT, merchant_uscc="92411721398259791L")
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    await make_account("city", Role.OFFICIAL)
    names = ("shop", "plain", "far-shop", "yicheng", "xiping", "city")
    return {name: await browser(client, name) for name in names}


async def close(them: dict[str, httpx.AsyncClient]) -> None:
    for c in them.values():
        await c.aclose()


async def test_a_merchant_joins_and_leaves_odr_through_its_page(client: httpx.AsyncClient) -> None:
    them = await people(client)
    plain = them["plain"]
    page = await plain.get("/merchant")
    assert page.status_code == 200 and 'action="/merchant/odr/join"' in page.text
    # The commitment not ticked: the page again, the field named, nothing joined.
    r = await submit(plain, "/merchant/odr/join")
    assert r.status_code == 422 and "commit:" in r.text
    assert not (await odr.status(NO_ODR)).participating
    r = await plain.post("/merchant/odr/join", data={"commit": "on"})  # no CSRF token
    assert r.status_code == 403 and not (await odr.status(NO_ODR)).participating
    r = await submit(plain, "/merchant/odr/join", commit="on")
    assert r.status_code == 303 and r.headers["location"] == "/merchant?odr=1#odr"
    assert (await odr.status(NO_ODR)).participating
    page = await plain.get("/merchant")
    assert 'action="/merchant/odr/leave"' in page.text
    r = await submit(plain, "/merchant/odr/leave", reason=SCRIPT)
    assert r.status_code == 303
    status = await odr.status(NO_ODR)
    assert not status.participating and status.history[-1].leave_reason == SCRIPT
    # Leaving again: refused, said so.
    r = await submit(plain, "/merchant/odr/leave", reason="再退")
    assert r.status_code == 409 and 'role="alert"' in r.text
    await close(them)


async def test_the_merchant_answers_through_its_pages_and_nobody_else_can(
    client: httpx.AsyncClient,
) -> None:
    them = await people(client)
    filed = await post(
        client,
        form(description=SCRIPT, wants="other", wants_detail=SCRIPT),
        [("files", ("IMG_1.jpg", photo(), "image/jpeg"))],
    )
    assert filed.status_code == 201, filed.text
    code, secret = filed.json()["code"], filed.json()["secret"]
    shop = them["shop"]
    (evidence,) = await DisputeFile.filter(dispute__code=code)
    got = await shop.get(f"/merchant/disputes/{code}/files/{evidence.id}")
    assert got.status_code == 200 and got.content.startswith(b"\xff\xd8")
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert (
        await them["far-shop"].get(f"/merchant/disputes/{code}/files/{evidence.id}")
    ).status_code == 404

    home = await shop.get("/merchant")
    assert 'id="odr"' in home.text and 'href="/merchant/disputes"' in home.text
    listed = await shop.get("/merchant/disputes")
    assert listed.status_code == 200 and f"/merchant/disputes/{code}" in listed.text
    filtered = await shop.get("/merchant/disputes?status=settled")
    assert f"/merchant/disputes/{code}" not in filtered.text
    page = await shop.get(f"/merchant/disputes/{code}")
    assert page.status_code == 200
    assert "138****1234" in page.text and "13812341234" not in page.text
    assert f'href="/merchant/disputes/{code}/files/{evidence.id}"' in page.text
    assert SCRIPT not in page.text and ESCAPED in page.text
    # The consumer agreed to share the number: shown on the reveal's answer, audited.
    r = await submit(shop, f"/merchant/disputes/{code}/contact")
    assert r.status_code == 200 and "13812341234" in r.text
    assert "no-store" in r.headers["cache-control"]
    assert await AuditEvent.filter(action="dispute.contact_revealed").count() == 1

    # Another merchant: the complaint does not exist, to read or to answer.
    far = them["far-shop"]
    assert (await far.get(f"/merchant/disputes/{code}")).status_code == 404
    r = await submit(far, f"/merchant/disputes/{code}/offer", kind="exchange")
    assert r.status_code == 404
    assert f"/merchant/disputes/{code}" not in (await far.get("/merchant/disputes")).text

    # A bad amount: the page again naming the field, the form kept, nothing offered.
    r = await submit(shop, f"/merchant/disputes/{code}/offer", kind="refund", amount="十块")
    assert r.status_code == 422 and "amount:" in r.text and 'value="十块"' in r.text
    r = await shop.post(f"/merchant/disputes/{code}/offer", data={"kind": "exchange"})
    assert r.status_code == 403  # no CSRF token
    assert await DisputeOffer.filter(dispute__code=code).count() == 0

    r = await submit(
        shop, f"/merchant/disputes/{code}/offer", kind="refund", amount="100", note=SCRIPT
    )
    assert r.status_code == 303 and r.headers["location"].endswith("?done=offered")
    assert (await Dispute.get(code=code)).status == "offered"
    # A second answer while the first stands: refused with the store's message.
    r = await submit(shop, f"/merchant/disputes/{code}/refuse", reason="不退")
    assert r.status_code == 409 and 'role="alert"' in r.text
    assert (await Dispute.get(code=code)).status == "offered"

    r = await client.post(f"/api/v1/track/{code}/reject?k={secret}", json={"reason": "太少"})
    assert r.status_code == 200 and r.json()["status"] == "with_merchant"
    r = await submit(shop, f"/merchant/disputes/{code}/refuse", reason="")
    assert r.status_code == 422 and "reason:" in r.text
    r = await submit(shop, f"/merchant/disputes/{code}/refuse", reason=SCRIPT)
    assert r.status_code == 303
    assert (await Dispute.get(code=code)).status == "escalated"
    page = await shop.get(f"/merchant/disputes/{code}")
    assert SCRIPT not in page.text and ESCAPED in page.text
    assert 'action="/merchant/disputes/' not in page.text  # nothing left to answer or reveal
    assert (await submit(shop, f"/merchant/disputes/{code}/contact")).status_code == 409
    await close(them)


async def test_the_official_works_a_complaint_in_its_district_only(
    client: httpx.AsyncClient,
) -> None:
    them = await people(client)
    filed = await post(client, form(merchant=NO_ODR, description=SCRIPT))
    assert filed.status_code == 201, filed.text
    code = filed.json()["code"]
    assert (await Dispute.get(code=code)).status == "escalated"

    # Outside the district: not in the list, a 404 to read or to act on.
    xiping = them["xiping"]
    queue = await xiping.get("/official/disputes")
    assert queue.status_code == 200 and code not in queue.text
    assert (await xiping.get(f"/official/disputes/{code}")).status_code == 404
    assert (await submit(xiping, f"/official/disputes/{code}/accept")).status_code == 404
    assert code not in (await xiping.get("/official/disputes?district=411702")).text
    assert (await submit(xiping, f"/official/disputes/{code}/contact")).status_code == 404

    # The city sees it, and narrows by district.
    city = them["city"]
    assert code in (await city.get("/official/disputes")).text
    assert code in (await city.get("/official/disputes?district=411702")).text
    assert code not in (await city.get("/official/disputes?district=411721")).text

    official = them["yicheng"]
    desk = await official.get("/official")
    assert desk.status_code == 200 and 'href="/official/disputes"' in desk.text
    queue = await official.get("/official/disputes")
    assert f"/official/disputes/{code}" in queue.text
    page = await official.get(f"/official/disputes/{code}")
    assert page.status_code == 200 and SCRIPT not in page.text and ESCAPED in page.text
    assert "13812341234" not in page.text

    r = await official.post(f"/official/disputes/{code}/accept", data={})
    assert r.status_code == 403  # no CSRF token
    d = await Dispute.get(code=code).prefetch_related("complaint")
    assert d.complaint is not None and d.complaint.accepted_at is None
    r = await submit(official, f"/official/disputes/{code}/accept")
    assert r.status_code == 303 and r.headers["location"].endswith("?done=accepted")
    r = await submit(official, f"/official/disputes/{code}/accept")
    assert r.status_code == 409 and 'role="alert"' in r.text

    # A volunteer without a name: named, nothing assigned.
    r = await submit(official, f"/official/disputes/{code}/mediator", mode="volunteer")
    assert r.status_code == 422 and "mediator:" in r.text
    assert (await Dispute.get(code=code)).mediation_mode is None
    r = await submit(
        official, f"/official/disputes/{code}/mediator", mode="lawyer", mediator=SCRIPT
    )
    assert r.status_code == 303
    assert (await Dispute.get(code=code)).mediator == SCRIPT

    r = await submit(
        official, f"/official/disputes/{code}/outcome", outcome="agreement", amount_recovered="x"
    )
    assert r.status_code == 422 and "amount_recovered:" in r.text
    assert (await Dispute.get(code=code)).status == "escalated"

    # The contact, revealed once and audited.
    r = await submit(official, f"/official/disputes/{code}/contact")
    assert r.status_code == 200 and "13812341234" in r.text
    assert "no-store" in r.headers["cache-control"]
    assert r.headers["referrer-policy"] == "no-referrer"
    assert await AuditEvent.filter(action="dispute.contact_revealed").count() == 1
    assert "13812341234" not in (await official.get(f"/official/disputes/{code}")).text

    r = await submit(
        official,
        f"/official/disputes/{code}/outcome",
        outcome="agreement",
        amount_recovered="200",
        upheld="yes",
        note=SCRIPT,
    )
    assert r.status_code == 303
    d = await Dispute.get(code=code)
    assert d.status == "closed" and d.amount_recovered_fen == 20000
    page = await official.get(f"/official/disputes/{code}")
    assert SCRIPT not in page.text and ESCAPED in page.text
    closed = await official.get("/official/disputes?status=closed")
    assert f"/official/disputes/{code}" in closed.text
    await close(them)


async def test_racing_answers_through_the_forms_one_wins_the_rest_are_told(
    client: httpx.AsyncClient,
) -> None:
    them = await people(client)
    shop = them["shop"]
    code = (await post(client, form())).json()["code"]
    token = await csrf(shop)
    forms = [("offer", {"kind": "refund", "amount": str(10 + i)}) for i in range(3)]
    forms += [("refuse", {"reason": f"不退 {i}"}) for i in range(3)]
    answers = await asyncio.gather(
        *[
            shop.post(f"/merchant/disputes/{code}/{step}", data={"_csrf_token": token, **data})
            for step, data in forms
        ]
    )
    assert sorted(r.status_code for r in answers) == [303] + [409] * 5
    for r in answers:
        if r.status_code == 409:
            assert 'role="alert"' in r.text
    d = await Dispute.get(code=code)
    offers = await DisputeOffer.filter(dispute_id=d.id).count()
    assert (d.status, offers) in (("offered", 1), ("escalated", 0))
    await close(them)
