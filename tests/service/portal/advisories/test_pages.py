"""The officials' advisories page: publishing through the form (CSRF, Beijing time read as
such, a bad form re-rendered filled in with each field named and nothing stored), withdrawing;
and the advisories shown on the public pages of the merchants and areas they name."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from service.kernel.models import AuditEvent, Role
from service.portal.advisories.models import Advisory
from tests.helpers import csrf, login, make_account
from tests.scoring.credit.test_ingest import M1, M2, make_merchants

HTML = {"accept": "text/html"}


def form(token: str, **fields: str) -> dict[str, str]:
    return {
        "_csrf_token": token,
        "title": "春节消费提示",
        "text": "<b>谨防</b>虚假打折",
        "category": "price",
        "valid_from": "2026-01-10T07:30",
        "valid_until": "",
        "merchants": f"{M1.lower()}，",
        "areas": "411702",
    } | fields


async def test_an_official_publishes_through_the_form_and_the_public_pages_show_it(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    await make_account("clerk", Role.OFFICIAL)
    assert await login(client, "clerk") == 303
    token = await csrf(client)
    page = await client.get("/official/advisories", headers=HTML)
    assert page.status_code == 200 and 'name="_csrf_token"' in page.text

    no_token = await client.post("/official/advisories", data=form(""), headers=HTML)
    assert no_token.status_code == 403
    assert await Advisory.all().count() == 0

    done = await client.post("/official/advisories", data=form(token), headers=HTML)
    assert done.status_code == 303 and done.headers["location"].endswith("?done=published")
    advisory = await Advisory.get()
    # 07:30 on a Beijing morning is 23:30 UTC the day before.
    assert advisory.valid_from == datetime(2026, 1, 9, 23, 30, tzinfo=UTC)
    assert advisory.published_by == "clerk"
    assert await AuditEvent.filter(action="advisory.published").count() == 1

    merchant = await client.get(f"/merchants/{M1}", headers=HTML)
    assert merchant.status_code == 200
    assert "春节消费提示" in merchant.text and "&lt;b&gt;谨防&lt;/b&gt;" in merchant.text
    # M2 is not named, but trades in the named district: its page shows the advisory too.
    assert "春节消费提示" in (await client.get(f"/merchants/{M2}", headers=HTML)).text
    area = await client.get("/areas/411702", headers=HTML)
    assert area.status_code == 200 and "春节消费提示" in area.text
    assert f'href="/merchants/{M1}"' not in area.text  # no certified merchant to list
    city = await client.get("/areas/411700", headers=HTML)
    assert "春节消费提示" not in city.text and 'href="/areas/411702"' in city.text

    listed = await client.get("/official/advisories", headers=HTML)
    assert "春节消费提示" in listed.text
    gone = await client.post(
        f"/official/advisories/{advisory.id}/withdraw", data={"_csrf_token": token}, headers=HTML
    )
    assert gone.status_code == 303 and gone.headers["location"].endswith("?done=withdrawn")
    assert "春节消费提示" not in (await client.get(f"/merchants/{M1}", headers=HTML)).text
    twice = await client.post(
        f"/official/advisories/{advisory.id}/withdraw", data={"_csrf_token": token}, headers=HTML
    )
    assert twice.status_code == 303 and "error=not_withdrawn" in twice.headers["location"]


async def test_a_bad_form_comes_back_filled_in_with_each_field_named(
    client: httpx.AsyncClient,
) -> None:
    await make_merchants()
    await make_account("clerk", Role.OFFICIAL)
    assert await login(client, "clerk") == 303
    token = await csrf(client)
    bad = form(
        token,
        title="",
        text="<script>x</script>保留的正文",
        category="gossip",
        valid_until="2020-01-01T00:00",
        merchants="91411700MA00000000",
        areas="nowhere",
    )
    r = await client.post("/official/advisories", data=bad, headers=HTML)
    assert r.status_code == 422
    for name in ("title", "category", "valid_until", "merchants", "areas"):
        assert f'id="{name}-error"' in r.text, name
    assert 'id="text-error"' not in r.text
    # What the official typed is kept, escaped.
    assert "&lt;script&gt;x&lt;/script&gt;保留的正文" in r.text and "<script>x" not in r.text
    assert 'value="nowhere"' not in r.text and ">nowhere</textarea>" in r.text
    assert await Advisory.all().count() == 0


async def test_the_public_pages_of_unknown_places_answer_404(client: httpx.AsyncClient) -> None:
    await make_merchants()
    assert (await client.get("/merchants/91411700MA0000000X", headers=HTML)).status_code == 404
    assert (await client.get("/areas/nowhere", headers=HTML)).status_code == 404
    assert (await client.get("/official/advisories", headers=HTML)).status_code in (401, 303)


async def test_a_district_official_withdraws_through_the_page_only_its_own(
    client: httpx.AsyncClient,
) -> None:
    from service.kernel.models import Area, AreaKind

    await make_merchants()
    city = await Area.get(code="411700")
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=city
    )
    city_wide = await Advisory.create(
        title="全市提示",
        text="t",
        category="other",
        valid_from=datetime(2026, 1, 1, tzinfo=UTC),
        published_by="city",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    await make_account("county", Role.OFFICIAL, district_code="411721")
    assert await login(client, "county") == 303
    token = await csrf(client)
    own = await client.post(
        "/official/advisories",
        data=form(token, title="西平县提示", merchants="", areas="411721"),
        headers=HTML,
    )
    assert own.status_code == 303
    mine = await Advisory.get(title="西平县提示")
    page = await client.get("/official/advisories", headers=HTML)
    assert "全市提示" in page.text  # in force, public: shown
    assert f'action="/official/advisories/{mine.id}/withdraw"' in page.text
    assert f'action="/official/advisories/{city_wide.id}/withdraw"' not in page.text
    refused = await client.post(
        f"/official/advisories/{city_wide.id}/withdraw", data={"_csrf_token": token}, headers=HTML
    )
    assert "error=not_withdrawn" in refused.headers["location"]
    assert (await Advisory.get(id=city_wide.id)).withdrawn_at is None
    done = await client.post(
        f"/official/advisories/{mine.id}/withdraw", data={"_csrf_token": token}, headers=HTML
    )
    assert done.headers["location"].endswith("?done=withdrawn")
    assert (await Advisory.get(id=mine.id)).withdrawn_at is not None
