"""Commitments (issue 20): a merchant or an official declares them, a change ends the one in
force and starts another (the history stays), bad input is named field by field, the guards
hold (own merchant, district), the page forms work with CSRF and without JavaScript, and the
public reads them as JSON, on the verify page and in the certificate PDF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from certificates.commitments import demo, store
from certificates.commitments.models import Commitment
from certificates.policy import Kind
from service.kernel.models import Area, AreaKind, AuditEvent, Role
from service.kernel.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.certificates.test_pdf import _run
from tests.helpers import TEST_ACTOR, csrf, login, make_account, make_token
from tests.surveys.conftest import make_city

HOSTILE = '<script>alert("x")</script> 食品 & 生鲜除外'


def url(uscc: str) -> str:
    return f"/api/v1/merchants/{uscc}/commitments"


async def _as_merchant(client: httpx.AsyncClient, uscc: str, name: str = "laowang") -> None:
    await make_account(name, Role.MERCHANT, merchant_uscc=uscc)
    assert await login(client, name) == 303
    client.headers["x-csrftoken"] = await csrf(client)


async def test_a_change_ends_the_commitment_in_force_and_the_history_stays(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await _as_merchant(client, city.merchant)
    seven = await client.post(
        url(city.merchant),
        json={"kind": "returns", "days": 7, "exclusions": "生鲜除外", "other_branches": True},
    )
    assert seven.status_code == 201, seven.text
    assert seven.json()["declared_as"] == "merchant" and seven.json()["in_force"]
    fifteen = await client.post(url(city.merchant), json={"kind": "returns", "days": 15})
    assert fifteen.status_code == 201
    paid = await client.post(url(city.merchant), json={"kind": "pay_first"})
    assert paid.status_code == 201

    public = (
        await httpx.AsyncClient(transport=client._transport, base_url=client.base_url).get(
            url(city.merchant)
        )
    ).json()
    assert [(c["kind"], c["days"]) for c in public["in_force"]] == [
        ("returns", 15),
        ("pay_first", None),
    ]
    # Newest first, the replaced one ended, not edited: its days and words are as declared.
    assert [(c["id"], c["status"]) for c in public["history"]] == [
        (paid.json()["id"], "in_force"),
        (fifteen.json()["id"], "in_force"),
        (seven.json()["id"], "ended"),
    ]
    old = public["history"][2]
    assert (old["days"], old["exclusions"], old["other_branches"]) == (7, "生鲜除外", True)
    assert (await Commitment.get(id=fifteen.json()["id"])).replaces_id == seven.json()["id"]

    ended = await client.post(f"{url(city.merchant)}/{paid.json()['id']}/end")
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    again = await client.post(f"{url(city.merchant)}/{paid.json()['id']}/end")
    assert again.status_code == 404
    assert [c["kind"] for c in (await client.get(url(city.merchant))).json()["in_force"]] == [
        "returns"
    ]
    actions = sorted(e.action for e in await AuditEvent.filter(action__startswith="commitment."))
    assert actions == ["commitment.declared"] * 3 + ["commitment.ended"]
    assert (await client.get(url("91411700MA44A0001K"))).status_code == 404


async def test_a_bad_commitment_is_named_field_by_field_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    now = datetime.now(UTC)
    r = await client.post(
        url(city.merchant),
        json={
            "kind": "returns",
            "days": 10,
            "exclusions": "长" * 501,
            "valid_from": (now + timedelta(days=10)).isoformat(),
            "valid_until": (now + timedelta(days=5)).isoformat(),
        },
        headers=official,
    )
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in r.json()["errors"]] == ["days", "exclusions", "valid_until"]
    other = await client.post(
        url(city.merchant),
        json={"kind": "pay_first", "days": 7, "other_branches": True},
        headers=official,
    )
    assert [e["field"] for e in other.json()["errors"]] == ["days", "other_branches"]
    missing = await client.post(url(city.merchant), json={"kind": "returns"}, headers=official)
    assert [e["field"] for e in missing.json()["errors"]] == ["days"]
    unknown = await client.post(url(city.merchant), json={"kind": "gifts"}, headers=official)
    assert [e["field"] for e in unknown.json()["errors"]] == ["kind"]
    past = (now - timedelta(days=1)).isoformat()
    backdated = await client.post(
        url(city.merchant), json={"kind": "marked_prices", "valid_from": past}, headers=official
    )
    assert [e["field"] for e in backdated.json()["errors"]] == ["valid_from"]
    assert await Commitment.all().count() == 0
    assert await AuditEvent.filter(action__startswith="commitment.").count() == 0


async def test_who_may_declare_own_merchant_any_official_district_official_in_its_district(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()  # both merchants in 411702
    county = await Area.create(
        code="411721",
        kind=AreaKind.DISTRICT,
        name_zh="西平县",
        name_en="Xiping",
        parent=await Area.get(code="411700"),
    )
    assert county.code == "411721"
    anonymous = await client.post(url(city.merchant), json={"kind": "pay_first"})
    assert anonymous.status_code == 401
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    by_city = await client.post(url(city.merchant), json={"kind": "pay_first"}, headers=official)
    assert by_city.status_code == 201 and by_city.json()["declared_as"] == "official"
    feed = {"authorization": f"Bearer {await make_token(Role.FEED, 'feed')}"}
    assert (await client.post(url(city.merchant), json={}, headers=feed)).status_code == 403

    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    transport, base = client._transport, client.base_url
    outside = httpx.AsyncClient(transport=transport, base_url=base)
    inside = httpx.AsyncClient(transport=transport, base_url=base)
    for c, name in ((outside, "xiping"), (inside, "yicheng")):
        assert await login(c, name) == 303
        c.headers["x-csrftoken"] = await csrf(c)
    cid = by_city.json()["id"]
    # Another district's merchant answers as one that does not exist, on every route.
    refused = [
        await outside.post(url(city.merchant), json={"kind": "marked_prices"}),
        await outside.post(f"{url(city.merchant)}/{cid}/end"),
        await outside.get(f"/official/commitments/{city.merchant}"),
        await outside.post(f"/official/commitments/{city.merchant}", data={"kind": "pay_first"}),
        await outside.post(f"/official/commitments/{city.merchant}/{cid}/end"),
    ]
    assert [r.status_code for r in refused] == [404] * 5
    assert all("老王烩面馆" not in r.text for r in refused)
    own = await inside.post(url(city.merchant), json={"kind": "marked_prices"})
    assert own.status_code == 201
    assert (await inside.post(f"{url(city.merchant)}/{cid}/end")).status_code == 200
    page = await inside.get(f"/official/commitments/{city.merchant}")
    assert page.status_code == 200 and "明码标价" in page.text
    await outside.aclose()
    await inside.aclose()


async def test_the_merchant_declares_and_ends_on_its_page_with_csrf_and_without_javascript(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    assert await login(client, "laowang") == 303
    page = await client.get("/merchant", headers={"accept": "text/html"})
    assert page.status_code == 200 and 'action="/merchant/commitments"' in page.text
    form = {"kind": "returns", "days": "7", "exclusions": HOSTILE, "other_branches": "on"}
    no_token = await client.post("/merchant/commitments", data=form)
    assert no_token.status_code == 403 and await Commitment.all().count() == 0
    token = await csrf(client)
    bad = await client.post(
        "/merchant/commitments",
        data={**form, "days": "10", "valid_until": "2020-01-01", "_csrf_token": token},
        headers={"accept": "text/html"},
    )
    assert bad.status_code == 422 and "text/html" in bad.headers["content-type"]
    assert "承诺未记录" in bad.text
    assert "must be one of 7, 15, 30" in bad.text and "must be later than" in bad.text
    assert await Commitment.all().count() == 0
    good = await client.post(
        "/merchant/commitments", data={**form, "_csrf_token": token}, follow_redirects=False
    )
    assert good.status_code == 303 and good.headers["location"].startswith("/merchant?")
    (row,) = await Commitment.all()
    assert (row.returns_days, row.other_branches, row.exclusions) == (7, True, HOSTILE)
    shown = await client.get("/merchant", headers={"accept": "text/html"})
    assert "&lt;script&gt;" in shown.text and '<script>alert("x")' not in shown.text
    ended = await client.post(
        f"/merchant/commitments/{row.id}/end", data={"_csrf_token": token}, follow_redirects=False
    )
    assert ended.status_code == 303
    assert (await Commitment.get(id=row.id)).ended_by == "laowang"
    # Another merchant's commitment is missing from this merchant's form.
    theirs = await Commitment.create(
        merchant_id=(await _merchant_id(city.other_merchant)),
        kind="pay_first",
        valid_from=datetime.now(UTC),
        declared_by="x",
        declared_as="merchant",
        declared_at=datetime.now(UTC),
    )
    stolen = await client.post(
        f"/merchant/commitments/{theirs.id}/end", data={"_csrf_token": token}
    )
    assert stolen.status_code == 404
    assert (await Commitment.get(id=theirs.id)).ended_at is None


async def _merchant_id(uscc: str) -> int:
    from service.kernel.models import Merchant

    return (await Merchant.get(uscc=uscc)).id


async def test_an_official_declares_from_its_page_a_day_range_in_beijing_time(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303
    token = await csrf(client)
    r = await client.post(
        f"/official/commitments/{city.merchant}",
        data={"kind": "returns", "days": "30", "valid_until": "2099-12-31", "_csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    (row,) = await Commitment.all()
    # Until the end of that Beijing day: midnight of the next, +08:00.
    assert row.valid_until == datetime(2099, 12, 31, 16, 0, tzinfo=UTC)
    assert row.declared_as == "official"
    page = await client.get(f"/official/commitments/{city.merchant}")
    assert "30" in page.text and "线下无理由退货" in page.text


async def test_the_verify_page_and_the_pdf_show_the_commitments_in_force(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    city = await make_city()
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for body in (
        {"kind": "returns", "days": 15, "exclusions": HOSTILE, "other_branches": True},
        {"kind": "pay_first"},
    ):
        assert (
            await client.post(url(city.merchant), json=body, headers=official)
        ).status_code == 201
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000001-O", datetime.now(UTC)
    )
    anonymous = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    page = await anonymous.get(f"/verify/{cert.serial}")
    assert page.status_code == 200
    assert "线下无理由退货" in page.text and "先行赔付" in page.text
    assert "&lt;script&gt;" in page.text and '<script>alert("x")' not in page.text
    # A new commitment shows on the very next scan (the rendered page is kept per state).
    marked = await client.post(url(city.merchant), json={"kind": "marked_prices"}, headers=official)
    assert marked.status_code == 201
    assert "明码标价" in (await anonymous.get(f"/verify/{cert.serial}")).text

    pdf = await client.get(f"/api/v1/certificates/{cert.serial}/pdf")
    assert pdf.status_code == 200
    path = tmp_path / "cert.pdf"
    path.write_bytes(pdf.content)
    text = _run(["pdftotext", str(path), "-"])
    flat = text.replace("\n", "")
    assert "线下无理由退货 15 天，异地异店" in flat and "先行赔付" in flat and "明码标价" in flat
    await anonymous.aclose()


async def test_the_demo_commits_most_merchants_to_returns(db: Settings) -> None:
    city = await make_city()
    # By USCC: the other (9133…) first, with all three kinds; then returns and marked prices.
    assert await demo.populate(TEST_ACTOR) == 5
    in_force = await store.in_force_many([city.merchant, city.other_merchant])
    assert [c.kind for c in in_force[city.other_merchant]] == [
        "returns",
        "pay_first",
        "marked_prices",
    ]
    assert [c.kind for c in in_force[city.merchant]] == ["returns", "marked_prices"]
    assert await AuditEvent.filter(action="commitment.demo").count() == 1
