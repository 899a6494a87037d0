"""Issue 31's credit repair (信用修复), clicked through in Chromium on the served demo city: a
feed records a fine of thirteen months ago; the merchant, on a phone, finds it repairable in its
portal, signs the pledge and applies with a scan of its rectification report; the city's
official opens the application on the desk, reads the evidence and approves it; the
merchant's credit is recomputed at once and its public record says "已信用修复"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server
from tests.e2e.test_journeys import DESKTOP, PHONE, ZH, _context, _shot, _sign_in

pytestmark = pytest.mark.db

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
STREET = "411702-ST03"  # a street the other journeys leave alone


def _a_merchant(server: Server) -> str:
    with server.api() as api:
        r = api.get("/api/v1/merchants", params={"street": STREET, "status": "active"})
        r.raise_for_status()
        return str(r.json()["items"][-1]["uscc"])


def _credit(server: Server, uscc: str) -> dict[str, object]:
    with server.api() as api:
        r = api.get(f"/api/v1/merchants/{uscc}/credit")
        r.raise_for_status()
        found: dict[str, object] = r.json()
        return found


def test_7_a_merchant_applies_for_credit_repair_and_an_official_approves(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    uscc = _a_merchant(server)
    # Over a year ago: past the longer period too, whatever the category (catering: 12 months).
    fined = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    r = httpx.post(
        f"{server.base}/api/v1/credit/events",
        headers={"authorization": f"Bearer {server.feed_token}"},
        json={
            "events": [
                {
                    "uscc": uscc,
                    "kind": "penalty_minor",
                    "occurred_at": fined,
                    "source": "e2e-repair-feed",
                    "external_ref": "fine-0001",
                    "note": "未明码标价",
                }
            ]
        },
        timeout=30,
    )
    assert r.status_code == 200, r.text
    before = _credit(server, uscc)
    events = before["events"]
    assert isinstance(events, list)
    (fine,) = [e for e in events if e["source"] == "e2e-repair-feed"]
    assert fine["points"] < 0 and fine["repaired_at"] is None
    report = tmp_path / "整改报告.pdf"
    report.write_bytes(PDF)

    # The merchant, on a phone: the portal says the fine may be repaired now; it applies.
    user = server.add_merchant_account("repair-shop", uscc)
    shop = _context(browser, server, **PHONE)
    page = shop.new_page()
    _sign_in(page, server, user)
    page.goto("/merchant")
    expect(page.locator("#credit-repair")).to_contain_text(ZH("May be applied for now"))
    page.locator("#credit-repair a[href='/merchant/credit-repair']").click()
    page.wait_for_url(re.compile(r"/merchant/credit-repair$"))
    expect(page.locator("main")).to_contain_text("本单位郑重承诺")
    # Sent without the pledge signed: the page again, the box named, nothing stored.
    page.locator(f"input[name=event][value='{fine['id']}']").check()
    page.locator("#correction").fill("已缴清罚款，全部商品重新明码标价。")
    page.locator("#files").set_input_files(str(report))
    page.locator("#signatory").fill("王小明")
    page.locator("input[name=pledge]").evaluate("box => box.removeAttribute('required')")
    page.locator("form[action='/merchant/credit-repair'] button[type=submit]").click()
    expect(page.locator("#pledge-error")).to_contain_text(ZH("Tick the box to sign the pledge"))
    page.locator(f"input[name=event][value='{fine['id']}']").check()
    page.locator("#files").set_input_files(str(report))
    page.locator("input[name=pledge]").check()
    page.locator("form[action='/merchant/credit-repair'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"submitted=1"))
    item = page.locator("#applications li[id^=repair-]").first
    expect(item).to_contain_text(ZH("Awaiting decision"))
    repair_id = int(str(item.get_attribute("id")).split("-")[1])
    _shot(page, server, "7-repair-applied")

    # The city's official: the desk counts it; the application shows the evidence; approve.
    office = _context(browser, server, **DESKTOP)
    desk = office.new_page()
    _sign_in(desk, server, "demo-official")
    desk.goto("/official")
    expect(desk.locator("#desk-repairs")).to_be_visible()
    desk.goto("/official/credit-repairs")
    desk.locator(f"a[href='/official/credit-repairs/{repair_id}']").click()
    expect(desk.locator("main")).to_contain_text("整改报告.pdf")
    expect(desk.locator("main")).to_contain_text("王小明")
    desk.locator("input[name=decision][value=approve]").check()
    desk.locator("#reason").fill("罚款已缴清，现场核查价签齐全。")
    desk.locator("form[action$='/decision'] button[type=submit]").click()
    desk.wait_for_url(re.compile(r"done=decided"))
    expect(desk.locator("main")).to_contain_text(ZH("Credit repaired"))
    _shot(desk, server, "7-repair-approved")

    # The fine no longer counts: the score is back up by what it weighed, at once.
    after = _credit(server, uscc)
    events = after["events"]
    assert isinstance(events, list)
    (repaired,) = [e for e in events if e["source"] == "e2e-repair-feed"]
    assert repaired["points"] == 0.0 and repaired["repaired_at"] is not None
    gained = float(str(after["score"])) - float(str(before["score"]))
    # (Up by what it weighed, to the table's precision; less only if the cap of 100 bites.)
    assert 0 < gained <= -float(fine["points"]) + 0.1
    # The public record, on the storefront code's page, marks it repaired.
    visitor = _context(browser, server, **PHONE).new_page()
    visitor.goto(f"/m/{uscc}")
    expect(visitor.locator("#public-record .repaired")).to_be_visible()
    _shot(visitor, server, "7-repair-public-record")
    shop.close()
    office.close()
