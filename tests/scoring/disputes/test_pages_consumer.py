"""The consumer's complaint pages through their HTML forms (no JavaScript): the form of a
merchant, the receipt shown once, the tracking page with its answers; a refused form named
field by field and storing nothing; a double submit filing once; a wrong secret a 404;
script in every text field shown as text."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx

from scoring.credit.models import Complaint
from scoring.disputes import store
from scoring.disputes.models import Dispute, DisputeEvent, DisputeFile
from scoring.disputes.schemas import OfferIn
from service.kernel.models import Merchant, MerchantStatus
from tests.helpers import csrf
from tests.scoring.disputes.conftest import CREDIT, NO_ODR, SHOP, Town, make_town, photo

SCRIPT = "<script>alert('xss')</script>"
NO_FILE = [("files", ("", b"", "application/octet-stream"))]


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden {name}"
    return html.unescape(found.group(1))


def fields(page: str, **changes: str) -> dict[str, str]:
    """The form as a consumer fills it in, with the page's own hidden fields."""
    return {
        "_csrf_token": hidden(page, "_csrf_token"),
        "client_submission_id": hidden(page, "client_submission_id"),
        "category": "quality",
        "description": "买的电饭煲第二天就坏了，商家不给退。",
        "occurred_on": "2026-09-27",
        "amount": "299",
        "wants": "refund",
        "phone": "138 1234 1234",
        "consent_contact": "on",
        "share_contact": "on",
        **changes,
    }


async def file_through_form(
    client: httpx.AsyncClient, uscc: str = SHOP, files: list[Any] | None = None, **changes: str
) -> tuple[str, str, str]:
    """File through the page; the receipt's code, secret and tracking link."""
    form = await client.get(f"/complain/{uscc}")
    assert form.status_code == 200
    r = await client.post(
        f"/complain/{uscc}", data=fields(form.text, **changes), files=files or NO_FILE
    )
    assert r.status_code == 200, r.text[:2000]
    code = re.search(r'id="receipt-code">([^<]+)<', r.text)
    secret = re.search(r'id="tracking-secret">([^<]+)<', r.text)
    link = re.search(r'id="tracking-link" href="([^"]+)"', r.text)
    assert code and secret and link
    return code.group(1), secret.group(1), html.unescape(link.group(1))


async def answer(client: httpx.AsyncClient, page: str, action: str, **data: str) -> httpx.Response:
    code = re.search(r'action="(/track/[^"]+/' + action + ')"', page)
    assert code, f"no {action} form"
    body = {"_csrf_token": hidden(page, "_csrf_token"), "k": hidden(page, "k"), **data}
    return await client.post(html.unescape(code.group(1)), data=body)


async def offer(town: Town, code: str) -> None:
    await store.merchant_offer(
        code,
        OfferIn(kind="refund", amount="120", note="退一半"),
        who=town.principals["shop"],
        credit=CREDIT,
    )


async def test_filed_with_a_photo_offered_accepted_settled_and_followed_up_once(
    client: httpx.AsyncClient,
) -> None:
    town = await make_town()
    form = await client.get(f"/complain/{SHOP}")
    assert "老王烩面馆" in form.text and "先行和解" in form.text
    assert 'type="file"' in form.text and 'enctype="multipart/form-data"' in form.text
    assert "180" in form.text  # the retention the PIPL notice states
    code, secret, link = await file_through_form(
        client, files=[("files", ("IMG_1.jpg", photo(), "image/jpeg"))]
    )
    assert link == f"/track/{code}?k={secret}"
    assert await Dispute.all().count() == 1 and await DisputeFile.all().count() == 1

    page = await client.get(link)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert "138****1234" in page.text and "13812341234" not in page.text
    d = await Dispute.get(code=code)
    assert d.merchant_due is not None and d.merchant_due.isoformat() in page.text
    # The evidence, as an attachment through the page's own link.
    href = re.search(r'href="(/track/[^"]+/files/\d+\?k=[^"]+)"', page.text)
    assert href
    f = await client.get(html.unescape(href.group(1)))
    assert f.status_code == 200 and f.headers["content-type"] == "image/jpeg"
    assert f.headers["content-disposition"].startswith("attachment")

    await offer(town, code)
    page = await client.get(link)
    assert "120.00" in page.text and "退一半" in page.text
    r = await answer(client, page.text, "accept")
    assert r.status_code == 303 and r.headers["location"].startswith(link)
    assert (await Dispute.get(code=code)).status.value == "settled"

    page = await client.get(link)
    assert 'action="/track/' + code + '/followup"' in page.text
    r = await answer(client, page.text, "followup", answer="basically_satisfied", comment="还行")
    assert r.status_code == 303
    page = await client.get(link)
    assert "/followup" not in page.text and "还行" in page.text
    # Sent again (a stale page), it is refused on the page and nothing changes.
    token = await csrf(client)
    again = await client.post(
        f"/track/{code}/followup",
        data={"_csrf_token": token, "k": secret, "answer": "satisfied"},
    )
    assert again.status_code == 409 and "还行" in again.text


async def test_a_rejected_offer_is_shown_and_a_withdrawal_needs_its_confirmation(
    client: httpx.AsyncClient,
) -> None:
    town = await make_town()
    code, _, link = await file_through_form(client)
    await offer(town, code)
    page = await client.get(link)
    r = await answer(client, page.text, "reject", reason="太少了")
    assert r.status_code == 303
    page = await client.get(link)
    assert "太少了" in page.text
    assert (await Dispute.get(code=code)).status.value == "with_merchant"

    r = await answer(client, page.text, "withdraw", reason="不想投诉了")
    assert r.status_code == 422 and 'name="confirm"' in r.text
    assert (await Dispute.get(code=code)).status.value == "with_merchant"
    r = await answer(client, page.text, "withdraw", reason="不想投诉了", confirm="on")
    assert r.status_code == 303
    assert (await Dispute.get(code=code)).status.value == "withdrawn"
    page = await client.get(link)
    assert "不想投诉了" in page.text and "/withdraw" not in page.text


async def test_a_bad_form_names_every_field_keeps_the_values_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    form = await client.get(f"/complain/{SHOP}")
    bad = fields(
        form.text,
        category="nonsense",
        occurred_on="2999-01-01",
        amount="abc",
        wants="other",
        phone="12",
        consent_contact="",
        description="坏了",
    )
    r = await client.post(
        f"/complain/{SHOP}",
        data=bad,
        files=[("files", ("IMG_1.jpg", photo(), "image/jpeg"))],
    )
    assert r.status_code == 422
    for name in ("category", "occurred_on", "amount", "wants_detail", "phone", "consent_contact"):
        assert f'id="{name}-error"' in r.text, name
        assert f'<a href="#{name}">' in r.text, name  # named in the summary too
    assert 'value="2999-01-01"' in r.text and 'value="abc"' in r.text and "坏了" in r.text
    assert "choose them again" in r.text or "重新选择" in r.text
    # The refused form keeps its key: the corrected one is still one complaint.
    assert hidden(r.text, "client_submission_id") == bad["client_submission_id"]
    assert await Dispute.all().count() == 0 and await DisputeFile.all().count() == 0


async def test_a_double_submit_files_once_and_shows_the_same_receipt(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    form = await client.get(f"/complain/{SHOP}")
    data = fields(form.text)
    first = await client.post(f"/complain/{SHOP}", data=data, files=NO_FILE)
    second = await client.post(f"/complain/{SHOP}", data=data, files=NO_FILE)
    assert first.status_code == second.status_code == 200
    code = re.search(r'id="receipt-code">([^<]+)<', second.text)
    assert code and code.group(1) in first.text
    assert await Dispute.all().count() == 1


async def test_a_wrong_secret_or_code_or_merchant_is_the_friendly_404(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    code, secret, _ = await file_through_form(client)
    for path in (f"/track/{code}?k=wrong", f"/track/{code}", f"/track/TS2026XXXXXX?k={secret}"):
        r = await client.get(path)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    token = await csrf(client)
    r = await client.post(f"/track/{code}/withdraw", data={"_csrf_token": token, "k": "wrong"})
    assert r.status_code == 404
    assert (await Dispute.get(code=code)).status.value == "with_merchant"
    assert (await client.get("/complain/91110000000000000X")).status_code == 404
    await Merchant.filter(uscc=NO_ODR).update(status=MerchantStatus.CLOSED)
    assert (await client.get(f"/complain/{NO_ODR}")).status_code == 404
    # Its storefront no longer offers the form.
    storefront = await client.get(f"/m/{NO_ODR}")
    assert storefront.status_code == 200 and "/complain/" not in storefront.text


async def test_script_in_every_text_field_is_escaped_on_every_page(
    client: httpx.AsyncClient,
) -> None:
    town = await make_town()
    form = await client.get(f"/complain/{SHOP}")
    refused = await client.post(
        f"/complain/{SHOP}",
        data=fields(
            form.text,
            description=SCRIPT,
            wants="other",
            wants_detail=SCRIPT,
            phone=SCRIPT,
            amount=SCRIPT,
            occurred_on=SCRIPT,
        ),
        files=NO_FILE,
    )
    assert refused.status_code == 422 and SCRIPT not in refused.text
    assert html.escape(SCRIPT, quote=False) in refused.text or "&lt;script&gt;" in refused.text
    code, _, link = await file_through_form(
        client, description=SCRIPT, wants="other", wants_detail=SCRIPT
    )
    await store.merchant_offer(
        code, OfferIn(kind="explanation", note=SCRIPT), who=town.principals["shop"], credit=CREDIT
    )
    page = await client.get(link)
    r = await answer(client, page.text, "reject", reason=SCRIPT)
    assert r.status_code == 303
    page = await client.get(link)
    assert page.text.count("&lt;script&gt;") >= 4 and SCRIPT not in page.text
    assert await DisputeEvent.filter(note=SCRIPT).exists()


async def test_the_storefront_and_the_merchant_page_link_to_the_form(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    for page in (f"/m/{SHOP}", f"/merchants/{SHOP}"):
        r = await client.get(page)
        assert r.status_code == 200 and f'href="/complain/{SHOP}"' in r.text, page
    home = await client.get("/")
    assert 'id="how-to-complain"' in home.text


async def test_an_escalated_complaint_shows_the_bureaus_steps_and_deadline(
    client: httpx.AsyncClient,
) -> None:
    await make_town()
    form = await client.get(f"/complain/{NO_ODR}")
    assert "未参加先行和解" in form.text and 'name="_csrf_token"' in form.text
    # Without the form's CSRF token nothing is filed.
    data = fields(form.text)
    del data["_csrf_token"]
    client.cookies.clear()
    r = await client.post(f"/complain/{NO_ODR}", data=data, files=NO_FILE)
    assert r.status_code == 403 and await Dispute.all().count() == 0
    code, _, link = await file_through_form(client, NO_ODR)
    d = await Dispute.get(code=code)
    assert d.status.value == "escalated" and d.complaint_id is not None
    page = await client.get(link)
    assert 'id="bureau-h"' in page.text
    record = await Complaint.get(id=d.complaint_id)
    assert record.accept_due is not None and record.accept_due.isoformat() in page.text
