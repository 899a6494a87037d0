"""The merchant's right to a correct record (申请更正): a merchant asks, with a reason and
evidence; its record shows the entry as being corrected (更正中); an official of its district
decides within the policy's working days; accepted, the entry leaves the published figures;
each step audited. Officials of another district see nothing of it."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from scoring.credit import workdays
from scoring.credit.models import Complaint, ComplaintStatus, Resolution
from scoring.disclosure.models import ComplaintCorrection, ComplaintCorrectionFile
from service.kernel.models import Area, AreaKind, AuditEvent, Role
from tests.conftest import BASE_URL
from tests.helpers import csrf, login, make_account
from tests.scoring.disclosure.test_routes import HTML, complaint, with_exclusions
from tests.service.kernel.test_uploads import png_with_text
from tests.surveys.conftest import make_city

API = "/api/v1/complaint-corrections"


async def signed_in(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    other = httpx.AsyncClient(transport=client._transport, base_url=BASE_URL)
    assert await login(other, username) == 303
    other.headers["x-csrftoken"] = await csrf(other)
    return other


async def record(client: httpx.AsyncClient, uscc: str) -> dict[str, object]:
    body: dict[str, object] = (
        await client.get(f"/api/v1/merchants/{uscc}/complaint-record")
    ).json()
    return body


async def test_a_correction_asked_shown_decided_and_audited(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await with_exclusions(city.merchant)
    theirs = await complaint(city.other_merchant, ComplaintStatus.MEDIATING)
    parent = await Area.get(code="411700")
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="Xiping", parent=parent
    )
    await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    shop = await signed_in(client, "shop")
    yicheng = await signed_in(client, "yicheng")
    xiping = await signed_in(client, "xiping")
    # The entry: the published complaint mediated successfully (not the flagged one).
    entry = (
        await Complaint.filter(
            merchant__uscc=city.merchant, status=ComplaintStatus.CLOSED, category="quality"
        )
        .filter(resolution=Resolution.MEDIATED)
        .order_by("id")
        .first()
    )
    assert entry is not None
    before = await record(client, city.merchant)
    assert (before["published"], before["mediated"], before["under_correction"]) == (3, 1, 0)

    asked = {"complaint_id": entry.id, "reason": "投诉人并非本店顾客", "evidence": "监控录像"}
    r = await shop.post(API, json=asked)
    assert r.status_code == 201, r.text
    request = r.json()
    today = workdays.local_date(datetime.now(UTC))
    assert request["status"] == "pending" and request["merchant"] == city.merchant
    assert request["due"] == workdays.add_working_days(today, 15).isoformat()
    # Meanwhile: still published, marked as being corrected, on the JSON and on the pages.
    during = await record(client, city.merchant)
    assert (during["published"], during["under_correction"]) == (3, 1)
    for path in (f"/m/{city.merchant}", f"/merchants/{city.merchant}"):
        assert "更正中" in (await client.get(path, headers=HTML)).text
    # One request at a time; only its own complaints; a reason is required.
    assert (await shop.post(API, json=asked)).status_code == 409
    assert (await shop.post(API, json={**asked, "complaint_id": theirs.id})).status_code == 404
    assert (await shop.post(API, json={**asked, "reason": "  "})).status_code == 422

    # Another district's official sees nothing of it and cannot decide it.
    assert (await xiping.get(API)).json() == []
    decided = {"decision": "accepted", "note": "经核实，投诉对象错误"}
    assert (await xiping.post(f"{API}/{request['id']}/decision", json=decided)).status_code == 404
    listed = (await yicheng.get(API, params={"status": "pending"})).json()
    assert [c["id"] for c in listed] == [request["id"]]
    assert [c["id"] for c in (await shop.get(API)).json()] == [request["id"]]
    bad = await yicheng.post(f"{API}/{request['id']}/decision", json={**decided, "decision": "x"})
    assert bad.status_code == 422
    r = await yicheng.post(f"{API}/{request['id']}/decision", json=decided)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "accepted" and r.json()["decision_note"] == decided["note"]
    again = await yicheng.post(f"{API}/{request['id']}/decision", json=decided)
    assert again.status_code == 409

    # Accepted: the entry leaves the figures, counted under its reason; nothing pending.
    after = await record(client, city.merchant)
    assert (after["published"], after["mediated"], after["under_correction"]) == (2, 0, 0)
    excluded = after["excluded"]
    assert isinstance(excluded, dict) and excluded["corrected"] == 1
    # Corrected once, for good.
    assert (await shop.post(API, json=asked)).status_code == 409
    actions = await AuditEvent.filter(action__startswith="complaint_correction.").order_by("id")
    assert [(a.action, a.subject) for a in actions] == [
        ("complaint_correction.request", f"complaint_correction:{request['id']}"),
        ("complaint_correction.decide", f"complaint_correction:{request['id']}"),
    ]
    assert actions[0].actor == "account:shop" and actions[1].actor == "account:yicheng"
    assert actions[1].details["decision"] == "accepted" and actions[1].details["late"] is False


async def test_a_refused_correction_leaves_the_entry(client: httpx.AsyncClient) -> None:
    city = await make_city()
    entry = await complaint(city.merchant, ComplaintStatus.MEDIATING)
    await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
    await make_account("city", Role.OFFICIAL)
    shop = await signed_in(client, "shop")
    official = await signed_in(client, "city")
    asked = {"complaint_id": entry.id, "reason": "已处理完毕", "evidence": "和解协议"}
    request = (await shop.post(API, json=asked)).json()
    r = await official.post(
        f"{API}/{request['id']}/decision", json={"decision": "refused", "note": "证据不足"}
    )
    assert r.status_code == 200 and r.json()["status"] == "refused"
    after = await record(client, city.merchant)
    assert (after["published"], after["still_open"], after["under_correction"]) == (1, 1, 0)
    # Refused is not the end: the merchant may ask again, with better evidence.
    assert (await shop.post(API, json=asked)).status_code == 201


async def test_the_pages_a_merchant_asks_and_an_official_decides(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await with_exclusions(city.merchant)
    await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    shop = await signed_in(client, "shop")
    yicheng = await signed_in(client, "yicheng")
    assert 'href="/merchant/complaint-corrections"' in (await shop.get("/merchant")).text
    page = await shop.get("/merchant/complaint-corrections")
    assert page.status_code == 200
    # Eight complaints in the window (the consultation and the old one are not): a form each.
    assert page.text.count('action="/merchant/complaint-corrections"') == 8
    assert "不予公示" in page.text and "消费者撤回" in page.text and "<script" not in page.text
    entry = await Complaint.filter(
        merchant__uscc=city.merchant, status=ComplaintStatus.MEDIATING
    ).get()
    blank = {"complaint_id": str(entry.id), "reason": "", "evidence": "x"}
    # As a browser sends the form: multipart, the file input left empty.
    none = {"files": ("", b"", "application/octet-stream")}
    refused = await shop.post("/merchant/complaint-corrections", data=blank, files=none)
    assert refused.status_code == 422 and "未提交" in refused.text
    form = {"complaint_id": str(entry.id), "reason": "已当场退款", "evidence": "退款凭证"}
    sent = await shop.post("/merchant/complaint-corrections", data=form, files=none)
    assert sent.status_code == 303
    page = await shop.get(sent.headers["location"])
    assert "申请已提交。" in page.text and "已当场退款" in page.text and "更正中" in page.text
    assert page.text.count('action="/merchant/complaint-corrections"') == 7

    desk = (await yicheng.get("/official")).text
    assert 'href="/official/complaint-corrections"' in desk
    assert "1 件投诉公示更正申请待决定" in desk
    queue = await yicheng.get("/official/complaint-corrections")
    assert queue.status_code == 200 and "老王烩面馆" in queue.text and "退款凭证" in queue.text
    (request,) = (await yicheng.get(API)).json()
    # Another district's official: the request is missing, its queue empty, nothing decided.
    parent = await Area.get(code="411700")
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=parent
    )
    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    xiping = await signed_in(client, "xiping")
    elsewhere = await xiping.post(
        f"/official/complaint-corrections/{request['id']}/decision",
        data={"decision": "refused", "note": "不属实"},
    )
    assert elsewhere.status_code == 404
    assert "老王烩面馆" not in (await xiping.get("/official/complaint-corrections")).text
    decided = await yicheng.post(
        f"/official/complaint-corrections/{request['id']}/decision",
        data={"decision": "accepted", "note": "核实无误"},
    )
    assert decided.status_code == 303
    queue = await yicheng.get(decided.headers["location"])
    assert "决定已记录。" in queue.text and "没有待决定的更正申请。" in queue.text
    after = await record(client, city.merchant)
    assert after["still_open"] == 0 and after["published"] == 2
    page = await shop.get("/merchant/complaint-corrections")
    assert "已更正" in page.text and "核实无误" in page.text


PDF = b"%PDF-1.4\n% a scanned receipt\n%%EOF\n"


async def test_files_of_evidence_are_kept_clean_and_read_only_by_the_parties(
    client: httpx.AsyncClient,
) -> None:
    """Files sent with a request (page or API) are sniffed and cleaned like every upload, kept
    by the request, and served as attachments only to its merchant and the officials of its
    district; more may be added while it is pending, never after the decision."""
    city = await make_city()
    entry = await complaint(city.merchant, ComplaintStatus.MEDIATING)
    parent = await Area.get(code="411700")
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=parent
    )
    await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
    await make_account("other-shop", Role.MERCHANT, merchant_uscc=city.other_merchant)
    await make_account("yicheng", Role.OFFICIAL, district_code="411702")
    await make_account("xiping", Role.OFFICIAL, district_code="411721")
    shop, other, yicheng, xiping = [
        await signed_in(client, u) for u in ("shop", "other-shop", "yicheng", "xiping")
    ]
    form = {"complaint_id": str(entry.id), "reason": "已当场退款", "evidence": "退款凭证"}
    page = "/merchant/complaint-corrections"
    # A file that is not what it says is refused with the form, and nothing is kept.
    svg = [("files", ("receipt.png", b"<svg onload=alert(1)></svg>", "image/png"))]
    refused = await shop.post(page, data=form, files=svg)
    assert refused.status_code == 422 and "receipt.png" in refused.text
    assert await ComplaintCorrectionFile.all().count() == 0
    assert await ComplaintCorrection.all().count() == 0

    photo = png_with_text()
    sent = await shop.post(
        page,
        data=form,
        files=[("files", ("收据.png", photo, "image/png")), ("files", ("r.pdf", PDF, "x/y"))],
    )
    assert sent.status_code == 303, sent.text
    correction = await ComplaintCorrection.get(complaint_id=entry.id)
    kept = await ComplaintCorrectionFile.filter(correction_id=correction.id).order_by("id")
    assert [(f.filename, f.media_type) for f in kept] == [
        ("收据.png", "image/png"),
        ("r.pdf", "application/pdf"),
    ]
    api = f"{API}/{correction.id}/files/{kept[0].id}"
    got = await shop.get(api)
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"
    assert b"Zhang San" not in got.content and "我家地址".encode() not in got.content
    assert got.content.startswith(b"\x89PNG") and len(got.content) < len(photo)
    listed = (await shop.get(API)).json()
    assert [f["filename"] for f in listed[0]["files"]] == ["收据.png", "r.pdf"]
    mine = await shop.get(f"{page}/{correction.id}/files/{kept[1].id}")
    assert mine.status_code == 200 and mine.content == PDF
    assert f'href="{page}/{correction.id}/files/{kept[0].id}"' in (await shop.get(page)).text
    queue = (await yicheng.get("/official/complaint-corrections")).text
    official_page = f"/official/complaint-corrections/{correction.id}/files/{kept[0].id}"
    assert f'href="{official_page}"' in queue and "收据.png" in queue
    assert (await yicheng.get(official_page)).content == got.content
    assert (await yicheng.get(api)).status_code == 200
    # Nobody else reads them: another merchant, another district's official, by any route.
    for outsider, path in (
        (other, api),
        (other, f"{page}/{correction.id}/files/{kept[0].id}"),
        (xiping, api),
        (xiping, official_page),
    ):
        assert (await outsider.get(path)).status_code == 404, path

    # More evidence while pending, by its merchant only, up to the policy's five files.
    more = f"{API}/{correction.id}/files"
    pdf = [("files", ("more.pdf", PDF, "application/pdf"))]
    assert (await other.post(more, files=pdf)).status_code == 404
    added = await shop.post(more, files=pdf)
    assert added.status_code == 200, added.text
    assert len(added.json()["files"]) == 3
    too_many = await shop.post(more, files=pdf * 3)
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["files"]
    assert (await shop.post(more)).status_code == 422
    assert await ComplaintCorrectionFile.filter(correction_id=correction.id).count() == 3
    decided = {"decision": "refused", "note": "证据不足"}
    assert (await yicheng.post(f"{API}/{correction.id}/decision", json=decided)).status_code == 200
    assert (await shop.post(more, files=pdf)).status_code == 409
    actions = await AuditEvent.filter(subject=f"complaint_correction:{correction.id}").order_by(
        "id"
    )
    assert [a.action for a in actions] == [
        "complaint_correction.request",
        "complaint_correction.files",
        "complaint_correction.decide",
    ]
    sent_files = actions[0].details["files"]
    assert isinstance(sent_files, list) and len(sent_files) == 2
