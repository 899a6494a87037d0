"""The registry API: officials create and update areas and merchants; anyone may read."""

from __future__ import annotations

import random

import httpx

from service.kernel.models import AuditEvent, Merchant, Role
from service.register import uscc
from tests.helpers import make_token

CITY = {"code": "411700", "kind": "city", "name_zh": "驻马店市", "name_en": "Zhumadian"}
DISTRICT = {
    "code": "411702",
    "kind": "district",
    "name_zh": "驿城区",
    "name_en": "Yicheng",
    "parent": "411700",
}
STREET = {
    "code": "411702-ST01",
    "kind": "street",
    "name_zh": "解放路步行街",
    "name_en": "Jiefang Road",
    "parent": "411702",
}


async def _official(client: httpx.AsyncClient) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"


async def _areas(client: httpx.AsyncClient) -> None:
    for body in (CITY, DISTRICT, STREET):
        r = await client.post("/api/v1/areas", json=body)
        assert r.status_code == 201, r.text


def _merchant(code: str, **extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "uscc": code,
        "name": "老王烩面馆",
        "category": "catering",
        "district": "411702",
        "street": "411702-ST01",
        "address": "解放路1号",
    }
    body.update(extra)
    return body


async def test_official_creates_areas_and_merchants_and_each_change_is_audited(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    await _areas(client)
    r = await client.post("/api/v1/merchants", json=_merchant("9144030071526726XG"))
    assert r.status_code == 201, r.text
    assert r.json()["street"] == "411702-ST01"
    r = await client.get("/api/v1/merchants/9144030071526726XG")
    assert r.json()["name"] == "老王烩面馆"
    actions = [
        str(a) for a in await AuditEvent.all().order_by("id").values_list("action", flat=True)
    ]
    assert actions == [
        "token.created",
        "area.created",
        "area.created",
        "area.created",
        "merchant.created",
    ]


async def test_a_bad_merchant_gets_422_naming_every_bad_field_and_nothing_is_stored(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    await _areas(client)
    body = _merchant(
        "914117007676543210", name="", district="411702", street="NOPE", address="x" * 301
    )
    r = await client.post("/api/v1/merchants", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    problem = r.json()
    fields = {e["field"]: e["message"] for e in problem["errors"]}
    assert set(fields) == {"uscc", "name", "address", "street"}
    assert "expected K" in fields["uscc"]
    assert problem["status"] == 422 and problem["title"]
    assert await Merchant.all().count() == 0


async def test_a_wrong_type_is_422_with_the_field_named(client: httpx.AsyncClient) -> None:
    await _official(client)
    r = await client.post("/api/v1/areas", json={**CITY, "kind": "planet"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "kind"


async def test_pilot_code_failing_the_check_needs_the_official_override(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    await _areas(client)
    pilot = "914117007676543210"
    r = await client.post("/api/v1/merchants", json=_merchant(pilot))
    assert r.status_code == 422
    r = await client.post("/api/v1/merchants", json=_merchant(pilot, uscc_override=True))
    assert r.status_code == 201, r.text
    assert r.json()["uscc_override"] is True
    assert await AuditEvent.filter(
        action="merchant.uscc_override", subject=f"merchant:{pilot}"
    ).exists()
    # The override covers only the check character, never a malformed code.
    r = await client.post(
        "/api/v1/merchants", json=_merchant("91411700767654321O", uscc_override=True)
    )
    assert r.status_code == 422


async def test_merchant_update_is_validated_and_audited(client: httpx.AsyncClient) -> None:
    await _official(client)
    await _areas(client)
    await client.post("/api/v1/merchants", json=_merchant("9144030071526726XG"))
    r = await client.patch("/api/v1/merchants/9144030071526726XG", json={"status": "closed"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed"
    ev = await AuditEvent.filter(action="merchant.updated").get()
    assert ev.details == {"status": {"from": "active", "to": "closed"}}
    r = await client.patch("/api/v1/merchants/9144030071526726XG", json={"district": "411700"})
    assert r.status_code == 422
    r = await client.patch("/api/v1/merchants/91330100716105852F", json={"name": "x"})
    assert r.status_code == 404


async def test_area_cannot_become_its_own_ancestor(client: httpx.AsyncClient) -> None:
    await _official(client)
    await _areas(client)
    r = await client.patch("/api/v1/areas/411702", json={"parent": "411702"})
    assert r.status_code == 422


async def test_lists_page_with_totals_and_filter(client: httpx.AsyncClient) -> None:
    await _official(client)
    await _areas(client)
    rng = random.Random(3)
    codes = sorted({uscc.generate(rng, "411702") for _ in range(7)})
    for i, code in enumerate(codes):
        extra: dict[str, object] = {"category": "retail" if i % 2 else "catering", "name": f"店{i}"}
        if i >= 5:
            extra["street"] = None
        r = await client.post("/api/v1/merchants", json=_merchant(code, **extra))
        assert r.status_code == 201, r.text
    r = await client.get("/api/v1/merchants", params={"page": 2, "page_size": 3})
    page = r.json()
    assert (page["total"], page["page"], page["page_size"]) == (7, 2, 3)
    assert [m["uscc"] for m in page["items"]] == codes[3:6]
    r = await client.get("/api/v1/merchants", params={"category": "retail"})
    assert r.json()["total"] == 3
    r = await client.get("/api/v1/merchants", params={"street": "411702-ST01"})
    assert r.json()["total"] == 5
    r = await client.get("/api/v1/merchants", params={"district": "411702", "q": "店6"})
    assert [m["name"] for m in r.json()["items"]] == ["店6"]
    r = await client.get("/api/v1/areas", params={"kind": "district"})
    assert [a["code"] for a in r.json()["items"]] == ["411702"]


async def test_bad_pagination_is_422_naming_the_parameter(client: httpx.AsyncClient) -> None:
    for params, field in (
        ({"page": 0}, "page"),
        ({"page_size": 100000}, "page_size"),
        ({"page": -5}, "page"),
    ):
        r = await client.get("/api/v1/merchants", params=params)
        assert r.status_code == 422, params
        assert field in {e["field"] for e in r.json()["errors"]}


async def test_unknown_merchant_is_a_404_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/merchants/9144030071526726XG")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == 404


async def test_a_street_with_merchants_cannot_move_to_another_district(
    client: httpx.AsyncClient,
) -> None:
    await _official(client)
    await _areas(client)
    other = {**DISTRICT, "code": "411721", "name_zh": "西平县", "name_en": "Xiping"}
    assert (await client.post("/api/v1/areas", json=other)).status_code == 201
    await client.post("/api/v1/merchants", json=_merchant("9144030071526726XG"))
    r = await client.patch("/api/v1/areas/411702-ST01", json={"parent": "411721"})
    assert r.status_code == 422
    assert "move them first" in r.json()["errors"][0]["message"]
    # Without merchants on it, the street may move.
    await client.patch("/api/v1/merchants/9144030071526726XG", json={"street": None})
    r = await client.patch("/api/v1/areas/411702-ST01", json={"parent": "411721"})
    assert r.status_code == 200, r.text
    assert r.json()["parent"] == "411721"
