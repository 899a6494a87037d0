"""The complaints API over HTTP: filing with evidence, tracking with the secret, the merchant's
answer, the bureau's steps, ODR participation; hostile input refused by name and changing
nothing; racing requests of which exactly one wins."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from typing import Any

import httpx
import pytest

from scoring.disputes.models import Dispute, DisputeFile
from service.kernel.models import Role
from tests.conftest import BASE_URL
from tests.helpers import csrf, login, make_account
from tests.scoring.disputes.conftest import FAR, NO_ODR, SHOP, make_town, photo

FILE = "/api/v1/disputes"
SCRIPT = "<script>alert('xss')</script>"
MB = 1024 * 1024


def form(**changes: str) -> dict[str, str]:
    return {
        "merchant": SHOP,
        "category": "quality",
        "description": "买的电饭煲第二天就坏了，商家不给退。",
        "occurred_on": "2026-09-27",
        "amount": "299",
        "wants": "refund",
        "phone": "138 1234 1234",
        "consent_contact": "on",
        "share_contact": "on",
        "client_submission_id": str(uuid.uuid4()),
        **changes,
    }


# What a browser sends for a file input left blank: the form stays multipart.
NO_FILE = [("files", ("", b"", "application/octet-stream"))]


async def post(
    client: httpx.AsyncClient, data: dict[str, str], files: list[Any] | None = None
) -> httpx.Response:
    """A filing as multipart, as the form sends it."""
    return await client.post(FILE, data=data, files=files or NO_FILE)


async def signed_in(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    other = httpx.AsyncClient(transport=client._transport, base_url=BASE_URL)
    assert await login(other, username) == 303
    other.headers["x-csrftoken"] = await csrf(other)
    return other


async def people(client: httpx.AsyncClient) -> dict[str, httpx.AsyncClient]:
    await make_town()
    await make_account("shop", Role.MERCHANT, merchant_uscc=SHOP)
    await make_account("far-shop", Role.MERCHANT, merchant_uscc=FAR)
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    return {
        name: await signed_in(client, name) for name in ("shop", "far-shop", "yicheng", "xiping")
    }


def assert_problem(r: httpx.Response, status: int, *fields: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/problem+json")
    if fields:
        assert {e["field"] for e in r.json()["errors"]} == set(fields), r.json()


async def test_a_complaint_filed_tracked_answered_and_worked_over_http(
    client: httpx.AsyncClient,
) -> None:
    them = await people(client)
    data = form()
    r = await post(client, data, [("files", ("IMG_1.jpg", photo(), "image/jpeg"))])
    assert r.status_code == 201, r.text
    receipt = r.json()
    code, secret = receipt["code"], receipt["secret"]
    assert receipt["status"] == "with_merchant" and receipt["created"]
    assert receipt["tracking_path"] == f"/track/{code}?k={secret}"
    assert r.headers["cache-control"] == "no-store"
    assert "fangxin_device" in r.headers.get("set-cookie", "")
    # Sent again (a lost answer), the same complaint comes back: 200, not a second one.
    again = await post(client, data)
    assert again.status_code == 200 and again.json()["code"] == code
    assert again.json()["secret"] == secret and await Dispute.all().count() == 1

    tracked = await client.get(f"/api/v1/track/{code}", headers={"x-tracking-secret": secret})
    assert tracked.status_code == 200
    body = tracked.json()
    assert body["contact"] == "138****1234" and body["flag_many"] is None
    assert [s["step"] for s in body["timeline"]] == ["filed", "sent_to_merchant"]
    (evidence,) = body["files"]
    got = await client.get(f"/api/v1/track/{code}/files/{evidence['id']}?k={secret}")
    assert got.status_code == 200 and got.content.startswith(b"\xff\xd8")
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-type"] == "image/jpeg"
    assert b"PhoneMaker" not in got.content  # EXIF gone

    shop = them["shop"]
    listed = (await shop.get(FILE)).json()
    assert [i["code"] for i in listed["items"]] == [code]
    assert (await shop.post(f"{FILE}/{code}/contact")).json() == {"phone": "13812341234"}
    r = await shop.post(f"{FILE}/{code}/offer", json={"kind": "refund", "amount": "100"})
    assert r.status_code == 200 and r.json()["status"] == "offered"
    secret_header = {"x-tracking-secret": secret}
    r = await client.post(
        f"/api/v1/track/{code}/reject", json={"reason": "太少"}, headers=secret_header
    )
    assert r.status_code == 200 and r.json()["status"] == "with_merchant"
    r = await shop.post(f"{FILE}/{code}/refuse", json={"reason": "已超过保修期"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"

    official = them["yicheng"]
    assert (await official.post(f"{FILE}/{code}/bureau/accept")).status_code == 200
    r = await official.post(
        f"{FILE}/{code}/bureau/mediator", json={"mode": "lawyer", "mediator": "张律师"}
    )
    assert r.status_code == 200 and r.json()["mediator"] == "张律师"
    r = await official.post(
        f"{FILE}/{code}/bureau/outcome",
        json={"outcome": "agreement", "amount_recovered": 200, "upheld": True},
    )
    assert r.status_code == 200
    seen = r.json()
    assert seen["status"] == "closed" and seen["intake"]["status"] == "closed"
    assert seen["flag_many"] is False and seen["timeline"][-1]["actor"] == "account:yicheng"
    r = await client.post(
        f"/api/v1/track/{code}/followup", json={"answer": "satisfied"}, headers=secret_header
    )
    assert r.status_code == 200 and r.json()["followup"]["answer"] == "satisfied"
    for c in them.values():
        await c.aclose()


async def test_others_are_told_the_complaint_does_not_exist(client: httpx.AsyncClient) -> None:
    them = await people(client)
    mine = (await post(client, form())).json()
    theirs = (await post(client, form(description="别人的投诉", phone="13900001111"))).json()
    code = theirs["code"]
    # Another consumer's code with one's own secret, a made-up secret, no secret at all.
    for headers in ({"x-tracking-secret": mine["secret"]}, {"x-tracking-secret": "x" * 22}, {}):
        assert_problem(await client.get(f"/api/v1/track/{code}", headers=headers), 404)
        r = await client.post(f"/api/v1/track/{code}/withdraw", json={}, headers=headers)
        assert_problem(r, 404)
    # A merchant answering another merchant's complaint; an official outside the district.
    far = them["far-shop"]
    assert_problem(await far.post(f"{FILE}/{code}/offer", json={"kind": "exchange"}), 404)
    assert_problem(await far.post(f"{FILE}/{code}/refuse", json={"reason": "不是我"}), 404)
    assert_problem(await far.get(f"{FILE}/{code}"), 404)
    assert_problem(await far.post(f"{FILE}/{code}/contact"), 404)
    xiping = them["xiping"]
    assert_problem(await xiping.get(f"{FILE}/{code}"), 404)
    assert_problem(await xiping.post(f"{FILE}/{code}/bureau/accept"), 404)
    assert (await xiping.get(FILE)).json()["total"] == 0
    evidence = await DisputeFile.all().count()
    assert evidence == 0
    assert_problem(await client.get(FILE), 401)
    d = await Dispute.get(code=code)
    assert d.status == "with_merchant" and d.complaint_id is None  # nothing changed
    for c in them.values():
        await c.aclose()


async def test_script_in_every_text_field_is_kept_as_text_never_markup(
    client: httpx.AsyncClient,
) -> None:
    them = await people(client)
    r = await post(
        client, form(merchant=NO_ODR, description=SCRIPT, wants="other", wants_detail=SCRIPT)
    )
    assert r.status_code == 201, r.text
    code, secret = r.json()["code"], r.json()["secret"]
    official = them["yicheng"]
    await official.post(f"{FILE}/{code}/bureau/accept")
    r = await official.post(
        f"{FILE}/{code}/bureau/mediator", json={"mode": "volunteer", "mediator": SCRIPT}
    )
    assert r.status_code == 200
    r = await official.post(
        f"{FILE}/{code}/bureau/outcome", json={"outcome": "no_agreement", "note": SCRIPT}
    )
    assert r.status_code == 200
    r = await client.post(
        f"/api/v1/track/{code}/followup?k={secret}",
        json={"answer": "dissatisfied", "comment": SCRIPT},
    )
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    for value in (
        body["description"],
        body["wants_detail"],
        body["mediator"],
        body["outcome_note"],
        body["followup"]["comment"],
    ):
        assert value == SCRIPT  # verbatim data, for pages to escape
    # A NUL or an oversized text is refused by name and stores nothing.
    before = await Dispute.all().count()
    r = await post(client, form(description="坏了\x00", wants_detail="长" * 201, wants="other"))
    assert_problem(r, 422, "description", "wants_detail")
    assert await Dispute.all().count() == before
    for c in them.values():
        await c.aclose()


async def test_disguised_oversized_and_foreign_uploads_are_refused_and_store_nothing(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("photo.jpg", photo())
    cases: list[tuple[str, bytes, str]] = [
        ("cat.jpg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "image/jpeg"),
        ("receipt.jpg", b"<!doctype html><script>alert(1)</script>", "image/jpeg"),
        ("evidence.jpg", archive.getvalue(), "image/jpeg"),
        ("big.jpg", photo() + b"\x00" * (5 * MB), "image/jpeg"),
    ]
    for name, content, media_type in cases:
        r = await post(client, form(), [("files", (name, content, media_type))])
        assert_problem(r, 422, "files[0]")
    six = [("files", (f"p{i}.jpg", photo(), "image/jpeg")) for i in range(6)]
    assert_problem(await post(client, form(), six), 422, "files")
    # A body beyond every file at its cap is cut off before it is read.
    huge = [
        ("files", (f"h{i}.pdf", b"%PDF-1.4\n" + b"0" * (5 * MB), "application/pdf"))
        for i in range(6)
    ]
    r = await post(client, form(), huge)
    assert r.status_code == 413
    assert await Dispute.all().count() == 0 and await DisputeFile.all().count() == 0


async def test_every_bad_field_is_named_in_one_answer(client: httpx.AsyncClient) -> None:
    await make_town()
    r = await post(
        client,
        {
            "merchant": "NOPE",
            "category": "",
            "description": "",
            "occurred_on": "明天",
            "amount": "-3",
            "wants": "money",
            "phone": "110",
            "client_submission_id": "",
        },
    )
    assert_problem(
        r,
        422,
        "merchant",
        "category",
        "description",
        "occurred_on",
        "amount",
        "wants",
        "phone",
        "consent_contact",
        "client_submission_id",
    )


async def test_a_code_longer_than_any_is_a_named_field_not_a_database_error(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    assert_problem(await post(client, form(merchant="9" * 200)), 422, "merchant")


async def test_odr_participation_over_http(client: httpx.AsyncClient) -> None:
    them = await people(client)
    shop = them["shop"]
    assert_problem(await shop.post("/api/v1/odr/join"), 409)  # the town joined it already
    r = await shop.post("/api/v1/odr/leave", json={"reason": "人手不足"})
    assert r.status_code == 200 and r.json()["participating"] is False
    public = await client.get(f"/api/v1/merchants/{SHOP}/odr")
    assert public.status_code == 200 and public.json()["history"][0]["leave_reason"] == "人手不足"
    # Left: a new complaint goes straight to the bureau.
    r = await post(client, form())
    assert r.json()["status"] == "escalated"
    r = await shop.post("/api/v1/odr/join")
    assert r.status_code == 200 and r.json()["participating"] is True
    for c in them.values():
        await c.aclose()


async def test_racing_offers_and_answers_over_http_one_wins(client: httpx.AsyncClient) -> None:
    them = await people(client)
    shop = them["shop"]
    receipt = (await post(client, form())).json()
    code = receipt["code"]
    offers: list[Any] = await asyncio.gather(
        *[
            shop.post(f"{FILE}/{code}/offer", json={"kind": "refund", "amount": str(10 + i)})
            for i in range(8)
        ]
    )
    assert sorted(r.status_code for r in offers) == [200] + [409] * 7
    headers = {"x-tracking-secret": receipt["secret"]}
    answers: list[Any] = await asyncio.gather(
        *[
            client.post(f"/api/v1/track/{code}/{step}", json={}, headers=headers)
            for step in ("accept", "withdraw", "reject") * 3
        ]
    )
    assert sorted(r.status_code for r in answers) == [200] + [409] * 8
    for r in answers:
        if r.status_code == 409:
            assert_problem(r, 409)
    for c in them.values():
        await c.aclose()


@pytest.mark.parametrize("path", ["/api/v1/track/TS-2026-AAAAAA", "/api/v1/track/" + "A" * 32])
async def test_an_unknown_code_is_a_plain_404(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path, headers={"x-tracking-secret": "x"}), 404)
