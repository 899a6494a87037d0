"""Consumer advisories (issue 20, first part): officials publish and withdraw them; the public
reads those in force on the home page, as JSON and as RSS (parsed back by the standard XML
parser); bad input is named field by field; a district's official acts in its district."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import httpx

from service.kernel.models import AuditEvent, Role
from service.portal.advisories.models import Advisory
from tests.helpers import csrf, login, make_account, make_token
from tests.scoring.credit.test_ingest import M1, M2, make_merchants

HOSTILE = '<script>alert("x")</script> 价格欺诈 & 虚假打折'


def advisory(**fields: object) -> dict[str, object]:
    return {
        "title": "双十一价格提示",
        "text": "谨防先涨后降的虚假打折。",
        "category": "price",
        "merchants": [M1],
        "areas": ["411702"],
    } | fields


async def test_published_advisories_show_on_the_home_page_as_json_and_rss(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post("/api/v1/advisories", json=advisory(title=HOSTILE), headers=official)
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["merchants"], created["areas"]) == ([M1], ["411702"])
    later = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    ended = await client.post(
        "/api/v1/advisories", json=advisory(title="未来的提示", valid_from=later), headers=official
    )
    assert ended.status_code == 201

    listed = (await client.get("/api/v1/advisories")).json()
    assert [a["title"] for a in listed] == [HOSTILE]  # not yet in force: not listed
    assert [a["id"] for a in (await client.get(f"/api/v1/advisories?merchant={M1}")).json()] == [
        created["id"]
    ]
    assert (await client.get(f"/api/v1/advisories?merchant={M2}")).json() == []

    feed = await client.get("/advisories.rss")
    assert feed.headers["content-type"].startswith("application/rss+xml")
    items = ET.fromstring(feed.content).findall("./channel/item")  # noqa: S314 - our own feed
    assert [i.findtext("title") for i in items] == [HOSTILE]

    home = await client.get("/", headers={"accept": "text/html"})
    assert "&lt;script&gt;" in home.text and "<script>alert" not in home.text
    assert "消费提示" in home.text

    gone = await client.post(f"/api/v1/advisories/{created['id']}/withdraw", headers=official)
    assert gone.status_code == 200 and gone.json()["withdrawn_at"]
    assert (await client.get("/api/v1/advisories")).json() == []
    again = await client.post(f"/api/v1/advisories/{created['id']}/withdraw", headers=official)
    assert again.status_code == 404
    actions = [e.action for e in await AuditEvent.filter(action__startswith="advisory.")]
    assert sorted(actions) == ["advisory.published", "advisory.published", "advisory.withdrawn"]


async def test_a_bad_advisory_is_named_field_by_field_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = await client.post(
        "/api/v1/advisories",
        json=advisory(
            title=" ", category="gossip", valid_until=past, merchants=["NOPE"], areas=["x"]
        ),
        headers=official,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == [
        "title",
        "category",
        "valid_until",
        "merchants",
        "areas",
    ]
    assert await Advisory.all().count() == 0
    anonymous = await client.post("/api/v1/advisories", json=advisory())
    assert anonymous.status_code == 401


async def test_a_district_official_publishes_and_withdraws_in_its_district_only(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()  # both merchants in 411702
    from service.kernel.models import Area, AreaKind

    city = await Area.get(code="411700")
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=city
    )
    await make_account("county", Role.OFFICIAL, district_code="411721")
    assert await login(client, "county") == 303
    client.headers["x-csrftoken"] = await csrf(client)
    other = await client.post("/api/v1/advisories", json=advisory())
    assert other.status_code == 422  # another district's merchant and district: as missing
    assert [e["field"] for e in other.json()["errors"]] == ["merchants", "areas"]
    own = await client.post("/api/v1/advisories", json=advisory(merchants=[], areas=["411721"]))
    assert own.status_code == 201, own.text
    city_wide = await Advisory.create(
        title="全市",
        text="t",
        category="other",
        valid_from=datetime.now(UTC),
        published_by="city",
        published_at=datetime.now(UTC),
    )
    refused = await client.post(f"/api/v1/advisories/{city_wide.id}/withdraw")
    assert refused.status_code == 404
    mine = await client.post(f"/api/v1/advisories/{own.json()['id']}/withdraw")
    assert mine.status_code == 200
