"""The journey of issue 20's applications, clicked through in Chromium: a merchant applies
with a file, an official inspects (mystery shopping, the checklist) and approves, a visitor
objects on the public notice page, the official dismisses the objection, the notice ends (moved
into the past through the store: nobody waits a week), the official issues, and the
certificate verifies at /verify/{serial}.

It runs after the five journeys (file order) on their server: the merchant it uses is one the
demo certified, its certificate revoked by an official first, so that it may apply anew."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Server
from tests.e2e.test_journeys import DESKTOP, PHONE, ZH, _context, _shot, _sign_in

pytestmark = pytest.mark.db

SHOWCASE = ("411725-SS02", "411727-SS02", "411728-ST01")  # the demo's areas other tests use
MOVE_NOTICE = """
import sys
from datetime import datetime
from certificates.policy import policy_for
from certificates.applications import store as applications
from service.kernel.commands import cli_settings, run_with_db

settings = cli_settings()
run_with_db(settings, lambda: applications.move_notice(
    int(sys.argv[1]), datetime.fromisoformat(sys.argv[2]), policy_for(settings.certificate_policy)
))
"""
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
OBJECTION = "上周日在该店购物，部分商品没有价签，结账时才告知价格。"
ANSWER = "经执法人员现场核查，该店价签齐全，异议不成立。"


def _a_certified_merchant(browser: Browser, server: Server) -> tuple[str, str]:
    """An eligible merchant holding a certificate (not one on the other journeys' areas), and
    its certificate's serial, read from the officials' eligibility page and the public
    register."""
    context = _context(browser, server, **DESKTOP)
    page = context.new_page()
    _sign_in(page, server, "demo-official")
    page.goto("/official/certificates/eligibility?kind=merchant&show=eligible")
    codes = page.locator("h2 span.muted").all_inner_texts()
    with server.api() as api:
        for code in codes:
            merchant = api.get(f"/api/v1/merchants/{code}").json()
            if merchant.get("street") in SHOWCASE or merchant.get("scenic_spot") in SHOWCASE:
                continue
            page.goto(f"/certificates?{urlencode({'q': merchant['name'], 'kind': 'merchant'})}")
            for href in page.locator("a[href^='/verify/']").evaluate_all(
                "links => links.map(a => a.getAttribute('href'))"
            ):
                serial = str(href).rsplit("/", 1)[1]
                cert = api.get(f"/api/v1/certificates/{serial}").json()
                if cert["subject"]["code"] == code and cert["status"] == "active":
                    context.close()
                    return code, serial
    context.close()
    pytest.fail("no certified eligible merchant in the demo city")


def _move_notice_into_the_past(server: Server, application_id: int) -> None:
    started = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    subprocess.run(
        [sys.executable, "-c", MOVE_NOTICE, str(application_id), started],
        env=server.env, check=True, capture_output=True, text=True,
    )  # fmt: skip


def test_6_apply_inspect_notice_object_answer_issue_verify(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    uscc, old_serial = _a_certified_merchant(browser, server)
    with server.api() as api:
        r = api.post(
            f"/api/v1/certificates/{old_serial}/revoke",
            json={"reason": "corrected", "note": "e2e：重新申报"},
        )
        assert r.status_code == 200, r.text
    user = server.add_merchant_account("e2e-shop", uscc)
    letter = tmp_path / "承诺书.pdf"
    letter.write_bytes(PDF)

    # The merchant applies with its file, on a phone.
    shop = _context(browser, server, **PHONE)
    page = shop.new_page()
    _sign_in(page, server, user)
    page.goto("/merchant/applications")
    page.locator("#statement").fill("本店承诺明码标价、七日无理由退货、先行赔付。")
    page.locator("#files").set_input_files(str(letter))
    page.locator("form[action='/merchant/applications'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"submitted=1"))
    section = page.locator("section[id^=application-]").first
    expect(section).to_contain_text(ZH("Application submitted"))
    application_id = int(str(section.get_attribute("id")).split("-")[1])
    _shot(page, server, "6-applied")

    # The official records a mystery-shopping visit with the checklist, then approves.
    office = _context(browser, server, **DESKTOP)
    desk = office.new_page()
    _sign_in(desk, server, "demo-official")
    desk.goto(f"/official/applications/{application_id}")
    expect(desk.locator("main")).to_contain_text("承诺书.pdf")
    desk.locator("#kind").select_option("mystery_shopping")
    for radio in desk.locator("fieldset.check-item input[value=pass]").all():
        radio.check()
    desk.locator("input[name=result][value=pass]").check()
    desk.locator("#inspection-note").fill("暗访购物一次，价签齐全，服务规范。")
    desk.locator("form[action$='/inspections'] button[type=submit]").click()
    desk.wait_for_url(re.compile(r"done=inspected"))
    expect(desk.locator("main")).to_contain_text(ZH("Under review"))
    desk.locator("input[name=decision][value=approve]").check()
    desk.locator("#reason").fill("材料齐全，暗访合格。")
    desk.locator("form[action$='/decision'] button[type=submit]").click()
    desk.wait_for_url(re.compile(r"done=decided"))
    expect(desk.locator("main")).to_contain_text(ZH("In public notice"))

    # A visitor objects on the public notice page, with no account.
    public = _context(browser, server, **PHONE)
    visitor = public.new_page()
    visitor.goto("/notices")
    visitor.locator(f"a[href='/notices/{application_id}']").click()
    visitor.locator("#text").fill(OBJECTION)
    visitor.locator(f"form[action='/notices/{application_id}/objections'] button").click()
    visitor.wait_for_url(re.compile(r"lodged=1"))
    expect(visitor.locator("#objections")).to_contain_text(OBJECTION)
    expect(visitor.locator("#objections")).to_contain_text(ZH("Not answered yet"))
    _shot(visitor, server, "6-objection-lodged")

    # Issuing is refused while the notice runs; the official answers the objection.
    desk.reload()
    desk.locator("form[action$='/issue'] button").click()
    expect(desk.locator("[role=alert]")).to_contain_text("notice")
    desk.goto(f"/official/applications/{application_id}")
    desk.locator("input[name=outcome][value=dismissed]").check()
    desk.locator("textarea[name=reply]").fill(ANSWER)
    desk.locator("form[action$='/answer'] button[type=submit]").click()
    desk.wait_for_url(re.compile(r"done=answered"))

    # The notice ends; the official issues and the certificate verifies.
    _move_notice_into_the_past(server, application_id)
    desk.reload()
    desk.locator("form[action$='/issue'] button").click()
    desk.wait_for_url(re.compile(r"done=issued"))
    expect(desk.locator("main")).to_contain_text(ZH("Certificate issued"))
    link = desk.locator("a[href^='/verify/']").first
    serial = str(link.get_attribute("href")).rsplit("/", 1)[1]
    assert serial != old_serial
    _shot(desk, server, "6-issued")
    office.close()

    visitor.goto(f"/verify/{serial}")
    expect(visitor.locator("main")).to_contain_text(ZH("Valid"))
    _shot(visitor, server, "6-verified")
    visitor.goto(f"/notices/{application_id}")
    expect(visitor.locator("#objections")).to_contain_text(ANSWER)
    public.close()

    page.goto("/merchant/applications")
    expect(page.locator(f"#application-{application_id}")).to_contain_text(serial)
    expect(page.locator(f"#application-{application_id}")).to_contain_text(ANSWER)
    shop.close()
    with server.api() as api:
        state: dict[str, Any] = api.get(f"/api/v1/applications/{application_id}").json()
    assert [s["new_status"] for s in state["timeline"]] == [
        "submitted", "under_review", "approved", "in_notice", "issued",
    ]  # fmt: skip
    assert state["certificate_serial"] == serial


def test_7_the_notice_pages_pass_an_accessibility_check(browser: Browser, server: Server) -> None:
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    with server.api() as api:
        notices = api.get("/api/v1/notices").json()
    assert notices, "the demo city has an application in notice"
    axe = Axe()
    context = _context(browser, server, **PHONE, bypass_csp=True)
    page = context.new_page()
    failures = {}
    for url in ("/notices", f"/notices/{notices[0]['id']}"):
        page.goto(url)
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
            for v in axe.run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            failures[url] = serious
    context.close()
    assert failures == {}
