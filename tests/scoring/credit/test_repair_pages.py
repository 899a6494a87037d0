"""Credit repair over HTTP, as a browser posts the forms: a merchant applies from its portal
(bad fields named, CSRF required), an official of its district approves, the credit and the
public record change; the JSON API says the same. Every route naming an application is tried
by the merchant and the district official it does not belong to: each gets what anyone gets
for an application that does not exist, and changes nothing (the kernel's scope test counts
these routes as covered, reading them from the route table)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx

from scoring.credit import store
from scoring.credit.models import CreditEvent, CreditRepair, CreditStanding
from scoring.credit.schemas import CreditEventIn
from service.kernel.models import Area, AreaKind, AuditEvent, Merchant, MerchantCategory, Role
from tests.helpers import TEST_ACTOR, csrf, make_account
from tests.scoring.disputes.test_pages import browser, close, submit
from tests.service.test_authz_matrix import MERCHANT_ONLY, MERCHANTS, OFFICIALS, RULES

SHOP = "9144030071526726XG"  # district 411702
FAR = "92411721398259791L"  # district 411721
NAMES_A_REPAIR = re.compile(r"/credit-repairs/\{repair_id:int\}")
PLACEHOLDER = re.compile(r"\{(\w+):\w+\}")
PDF = ("整改报告.pdf", b"%PDF-1.4\n% rectified\n", "application/pdf")
RULES_TABLE = store.rules_for(None)


def routes_naming_a_repair() -> set[tuple[str, str]]:
    """The routes (merchants', officials') with an application's id in the path."""
    return {
        (method, path)
        for (method, path), rule in RULES.items()
        if NAMES_A_REPAIR.search(path) and rule in (MERCHANTS, MERCHANT_ONLY, OFFICIALS)
    }


async def people(client: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    near = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
    )
    far = await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=city
    )
    for uscc, name, where in ((SHOP, "天中超市", near), (FAR, "西平商店", far)):
        await Merchant.create(
            uscc=uscc, name=name, category=MerchantCategory.RETAIL, district=where
        )
        # A penalty 200 days ago: past the six months of the rule table.
        when = datetime.now(UTC) - timedelta(days=200)
        item = CreditEventIn(
            uscc, "penalty_major", when.isoformat(), "sfgs", f"p-{uscc}", "未明码标价"
        )
        await store.ingest_events([item], actor=TEST_ACTOR, rules=RULES_TABLE, now=when)
    await make_account("shop", Role.MERCHANT, merchant_uscc=SHOP)
    await make_account("far-shop", Role.MERCHANT, merchant_uscc=FAR)
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    await make_account("city", Role.OFFICIAL)
    names = ("shop", "far-shop", "yicheng", "xiping", "city")
    return {name: await browser(client, name) for name in names}


async def apply(c: httpx.AsyncClient, event_id: int, **fields: str) -> httpx.Response:
    data = {
        "_csrf_token": await csrf(c),
        "event": str(event_id),
        "correction": "已缴清罚款，所有商品已明码标价。",
        "signatory": "王小明",
        "pledge": "1",
    } | fields
    return await c.post("/merchant/credit-repair", data=data, files=[("files", PDF)])


async def test_a_merchant_applies_and_an_official_approves(client: httpx.AsyncClient) -> None:
    them = await people(client)
    shop, official = them["shop"], them["yicheng"]
    event = await CreditEvent.get(external_ref=f"p-{SHOP}")
    home = await shop.get("/merchant")
    assert home.status_code == 200 and 'id="credit-repair"' in home.text
    page = await shop.get("/merchant/credit-repair")
    assert page.status_code == 200
    assert 'action="/merchant/credit-repair"' in page.text and "守信承诺" in page.text
    assert f'name="event" value="{event.id}"' in page.text
    # Not signed, no name, no file: the page again, each field named, nothing stored.
    r = await shop.post(
        "/merchant/credit-repair",
        data={"_csrf_token": await csrf(shop), "event": str(event.id), "correction": "已整改"},
    )
    assert r.status_code == 422 and r.headers["content-type"].startswith("text/html"), r.headers
    for field in ("pledge", "signatory", "files"):
        assert f'id="{field}-error"' in r.text, field
    assert "已整改" in r.text  # what was typed comes back
    # Without the CSRF token: refused before anything is read.
    r = await shop.post(
        "/merchant/credit-repair", data={"event": str(event.id)}, files=[("files", PDF)]
    )
    assert r.status_code == 403
    assert await CreditRepair.all().count() == 0
    r = await apply(shop, event.id)
    assert r.status_code == 303
    assert r.headers["location"] == "/merchant/credit-repair?submitted=1#applications"
    repair = await CreditRepair.get(event_id=event.id)
    # Applying again while it is open: 409, said on the page.
    again = await apply(shop, event.id)
    assert again.status_code in (409, 422) and 'role="alert"' in again.text

    queue = await official.get("/official/credit-repairs")
    assert queue.status_code == 200 and f'/official/credit-repairs/{repair.id}"' in queue.text
    detail = await official.get(f"/official/credit-repairs/{repair.id}")
    assert detail.status_code == 200 and "王小明" in detail.text
    f = await official.get(f"/official/credit-repairs/{repair.id}/files/1")
    assert f.status_code == 200 and f.headers["content-disposition"].startswith("attachment")
    assert f.content == PDF[1] and f.headers["x-content-type-options"] == "nosniff"
    r = await submit(official, f"/official/credit-repairs/{repair.id}/decision", decision="approve")
    assert r.status_code == 422 and 'id="reason-error"' in r.text
    assert r.headers["content-type"].startswith("text/html")
    before = await CreditStanding.get(merchant__uscc=SHOP)
    assert (before.score, before.risk_class) == (70.0, "C")
    r = await submit(
        official,
        f"/official/credit-repairs/{repair.id}/decision",
        decision="approve",
        reason="罚款已缴清，整改到位",
    )
    assert r.status_code == 303
    after = await CreditStanding.get(merchant__uscc=SHOP)
    assert (after.score, after.risk_class) == (100.0, "A")
    assert (await CreditEvent.get(id=event.id)).repaired_at is not None
    # The storefront's public record marks it repaired, with the day.
    public = await shop.get(f"/m/{SHOP}")
    assert public.status_code == 200 and 'class="repaired"' in public.text
    # The merchant sees the outcome, and has nothing left to repair.
    page = await shop.get("/merchant/credit-repair")
    assert f'id="repair-{repair.id}"' in page.text and 'name="event"' not in page.text
    # The API says the same.
    api = await shop.get("/api/v1/credit-repairs", headers={"accept": "application/json"})
    assert [(a["id"], a["status"]) for a in api.json()] == [(repair.id, "approved")]
    assert await shop.get("/api/v1/credit-repairs/repairable") is not None
    await close(them)


async def test_the_api_applies_and_decides(client: httpx.AsyncClient) -> None:
    them = await people(client)
    far_shop, official = them["far-shop"], them["xiping"]
    event = await CreditEvent.get(external_ref=f"p-{FAR}")
    open_ = (await far_shop.get("/api/v1/credit-repairs/repairable")).json()
    assert [(r["event"]["id"], r["may_apply"]) for r in open_] == [(event.id, True)]
    token = {"x-csrftoken": await csrf(far_shop)}
    bad = await far_shop.post(
        "/api/v1/credit-repairs",
        data={"event": str(event.id)},
        files=[("files", PDF)],
        headers=token,
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"correction", "signatory", "pledge"}
    made = await far_shop.post(
        "/api/v1/credit-repairs",
        data={"event": str(event.id), "correction": "已整改", "signatory": "李四", "pledge": "on"},
        files=[("files", PDF)],
        headers=token,
    )
    assert made.status_code == 201, made.text
    repair_id = made.json()["id"]
    assert made.json()["pledge_sha256"] == RULES_TABLE.repair.pledge_sha256  # type: ignore[union-attr]
    headers = {"x-csrftoken": await csrf(official)}
    refused = await official.post(
        f"/api/v1/credit-repairs/{repair_id}/decision",
        json={"decision": "refuse", "reason": "证明材料不足"},
        headers=headers,
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    twice = await official.post(
        f"/api/v1/credit-repairs/{repair_id}/decision",
        json={"decision": "approve", "reason": "x"},
        headers=headers,
    )
    assert twice.status_code == 409
    wait = (await far_shop.get("/api/v1/credit-repairs/repairable")).json()[0]
    assert wait["may_apply"] is False and wait["reapply_on"] is not None
    await close(them)


def _url(path: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], path)


async def _call(
    c: httpx.AsyncClient, method: str, path: str, values: dict[str, str]
) -> httpx.Response:
    url = _url(path, values)
    if method == "GET":
        return await c.get(url)
    body = {"decision": "approve", "reason": "同意"}
    token = await csrf(c)
    if path.startswith("/api/"):
        return await c.post(url, json=body, headers={"x-csrftoken": token})
    return await c.post(url, data={"_csrf_token": token, **body}, follow_redirects=False)


async def _state() -> list[object]:
    repairs = await CreditRepair.all().order_by("id").values_list("id", "status", "decided_at")
    return [repairs, await AuditEvent.all().count()]


async def test_nobody_reaches_an_application_that_is_not_theirs(client: httpx.AsyncClient) -> None:
    them = await people(client)
    event = await CreditEvent.get(external_ref=f"p-{SHOP}")
    assert (await apply(them["shop"], event.id)).status_code == 303
    repair = await CreditRepair.get(event_id=event.id)
    values = {"repair_id": str(repair.id), "file_id": "1"}
    # The desk counts it for its district's officials and the city's, not for another's.
    for who, n in (("yicheng", 1), ("city", 1), ("xiping", 0)):
        desk = await them[who].get("/official")
        assert f"{n} 件信用修复申请待决定" in desk.text, who
    nowhere = {"repair_id": "999999", "file_id": "999999"}
    audiences = {
        OFFICIALS: [("xiping", "yicheng")],
        MERCHANTS: [("far-shop", "shop"), ("xiping", "yicheng")],
        MERCHANT_ONLY: [("far-shop", "shop")],
    }
    routes = sorted(routes_naming_a_repair())
    assert len(routes) == 7, routes
    before = await _state()
    for method, path in routes:
        for outsider, _ in audiences[RULES[(method, path)]]:
            c = them[outsider]
            missing = await _call(c, method, path, nowhere)
            assert missing.status_code == 404, (path, missing.status_code)
            theirs = await _call(c, method, path, values)
            assert theirs.status_code == 404, (outsider, method, path, theirs.text[:300])
    assert await _state() == before
    for method, path in routes:
        if method != "GET":
            continue
        for _, insider in audiences[RULES[(method, path)]]:
            r = await _call(them[insider], method, path, values)
            assert r.status_code == 200, (insider, path, r.status_code)
    # Lists: the other district's official sees none of it.
    for url in ("/official/credit-repairs", "/api/v1/credit-repairs"):
        r = await them["xiping"].get(url)
        assert r.status_code == 200 and "天中超市" not in r.text, url
        r = await them["city"].get(url)
        assert "天中超市" in r.text, url
    await close(them)
