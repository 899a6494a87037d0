"""The five journeys of the issue, clicked through in Chromium against a served demo city.

They run in file order and share one server: the official publishes a run (2), certifies the
street the demo merchant trades on (3), and a feed then lists that merchant (4)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from service.kernel.i18n import translations
from service.register.demo_city import SHOWCASE_AREAS
from surveys.qr import survey_url
from tests.e2e.conftest import Server

pytestmark = pytest.mark.db  # through the server, on the dialect under test

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
SHOWCASE_STREET = "411728-ST01"  # the demo street left for an official to certify
ZH = translations("zh_CN").gettext
LIKERT = ("quality", "price", "honesty", "safety", "service", "returns", "complaints")


def _context(browser: Browser, server: Server, **kind: Any) -> BrowserContext:
    context = browser.new_context(base_url=server.base, locale="zh-CN", **kind)
    context.set_default_timeout(20_000)
    return context


def _shot(page: Page, server: Server, name: str) -> None:
    page.screenshot(path=str(server.shots / f"{name}.png"), full_page=True)


def _sign_in(page: Page, server: Server, user: str) -> None:
    page.goto("/login")
    page.get_by_label(re.compile("用户名")).fill(user)
    page.get_by_label(re.compile("密码")).fill(server.passwords[user])
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _merchant_on_a_street(server: Server, skip: int = 0) -> str:
    with server.api() as api:
        r = api.get(
            "/api/v1/merchants",
            params={"street": "411702-ST02", "status": "active", "page_size": 10},
        )
        r.raise_for_status()
        return str(r.json()["items"][skip]["uscc"])


def _responses_about(server: Server, uscc: str, since: str) -> list[dict[str, Any]]:
    """The responses about a merchant stored since a moment, by the officials' API."""
    with server.api() as api:
        r = api.get(
            "/api/v1/surveys/merchant/responses",
            params={"target": uscc, "since": since, "page_size": 100},
        )
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()["items"]
        return items


def _now() -> str:
    return datetime.now(UTC).isoformat()


def test_1_a_visitor_rates_a_merchant_from_its_qr_code(browser: Browser, server: Server) -> None:
    uscc = _merchant_on_a_street(server)
    since = _now()
    context = _context(browser, server, **PHONE)
    page = context.new_page()
    page.goto(survey_url(server.base, "merchant", uscc))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    for key in LIKERT:
        if key != "service":  # one required answer left out
            page.locator(f"input[name=q_{key}][value='4']").check()
    page.locator("input[name=q_recommend][value='8']").check()
    page.locator("form[method=post] button[type=submit]").click()

    # The error sits next to the question left out; the other answers are kept.
    problem = page.locator("#q-service .field-error")
    expect(problem).to_be_visible()
    expect(problem).to_have_text(ZH("Please answer this question"))
    expect(page.locator("#problems")).to_contain_text(ZH("Please check the answers marked below."))
    for key in LIKERT:
        if key != "service":
            expect(page.locator(f"input[name=q_{key}][value='4']")).to_be_checked()
    expect(page.locator("input[name=q_recommend][value='8']")).to_be_checked()
    assert _responses_about(server, uscc, since) == []  # nothing stored yet

    page.locator("input[name=q_service][value='5']").check()
    page.locator("form[method=post] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ZH("Thank you for your rating"))
    expect(page.locator("a[href^='/scores?q=']")).to_be_visible()
    _shot(page, server, "1-survey-thank-you")
    context.close()

    (newest,) = _responses_about(server, uscc, since)
    assert newest["answers"]["service"] == 5 and newest["answers"]["quality"] == 4
    assert newest["answers"]["recommend"] == 8


def test_2_an_official_runs_scoring_reviews_the_movers_and_publishes(
    browser: Browser, server: Server
) -> None:
    context = _context(browser, server, **DESKTOP)
    page = context.new_page()
    page.goto("/scores")
    expect(page.locator("#run-id")).to_contain_text("1")
    _sign_in(page, server, "demo-official")
    page.goto("/official/runs")
    page.locator("form[action='/official/runs'] button").click()
    page.wait_for_url(re.compile(r"/official/runs/\d+$"))
    run_id = int(page.url.rsplit("/", 1)[1])
    assert run_id == 2
    for _ in range(120):  # the run computes in the background; the page says when it is done
        if page.locator("form[action$='/publish']").count():
            break
        page.wait_for_timeout(500)
        page.reload()
    movers = page.locator("section[aria-labelledby=movers-h]")
    expect(movers).to_be_visible()
    rows = movers.locator("tbody tr")
    assert rows.count() > 0, "a year's window moved and one more response: something moved"
    moved_areas = []
    for i in range(rows.count()):
        unit = rows.nth(i).locator("th").inner_text().split()
        now = rows.nth(i).locator("td").nth(1).inner_text()
        if unit[0] in ("street", "scenic_spot"):
            moved_areas.append((unit[0], unit[1], now))
    _shot(page, server, "2-draft-run-movers")
    page.locator("form[action$='/publish'] button").click()
    expect(page.locator("h1")).to_contain_text("published")

    page.goto("/scores")
    expect(page.locator("#run-id")).to_contain_text(str(run_id))
    with server.api() as api:
        for kind, code, now in moved_areas:
            published = {
                u["code"]: u
                for u in api.get("/api/v1/scores", params={"kind": kind}).json()["items"]
            }
            assert f"{published[code]['score']:.1f}" == now
            # The public table shows the new score in the row of that place.
            expect(page.locator("table").get_by_text(now, exact=True).first).to_be_visible()
    _shot(page, server, "2-public-scores")
    context.close()


def test_3_an_official_certifies_a_street_and_its_merchant_downloads_its_pdf(
    browser: Browser, server: Server, tmp_path: Any
) -> None:
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    official = _context(browser, server, **DESKTOP)
    page = official.new_page()
    _sign_in(page, server, "demo-official")
    page.goto("/official/certificates/eligibility?kind=street&show=eligible")
    page.locator(f"input[name=subject][value='{SHOWCASE_STREET}']").check()
    page.locator("form[action='/official/certificates/issue'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"issued=1"))
    _shot(page, server, "3-street-issued")
    official.close()

    merchant = _context(browser, server, **PHONE, accept_downloads=True)
    page = merchant.new_page()
    _sign_in(page, server, "demo-merchant")
    page.goto("/merchant")
    certs = page.locator("#certificates")
    expect(certs).to_contain_text("遂平县建设路商业街")  # its street's certificate, now held
    link = certs.locator("a[href$='/pdf']").first
    serial = link.get_attribute("href").split("/")[-2]  # type: ignore[union-attr]
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "certificate.pdf"
    download.value.save_as(path)
    _shot(page, server, "3-merchant-page")
    merchant.close()

    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF-")
    root = load_cert_from_pemder(str(server_signing_cert(server)))  # type: ignore[no-untyped-call]

    def validate() -> Any:
        with path.open("rb") as fh:
            (signature,) = PdfFileReader(fh).embedded_signatures
            return validate_pdf_signature(
                signature, ValidationContext(trust_roots=[root], allow_fetching=False)
            )

    # pyhanko runs its own event loop; Playwright's owns this thread.
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(validate).result()
    assert status.intact and status.valid and status.trusted
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    with server.api() as api:
        check = api.post(
            "/api/v1/certificates/verify",
            files={"file": ("certificate.pdf", pdf, "application/pdf")},
        ).json()
    assert {k: v for k, v in check.items() if k != "detail"} == {
        "serial": serial,
        "signature_valid": True,
        "issued_by_us": True,
        "unaltered": True,
        "matches_register": True,
        "status": "active",
        "verdict": "genuine",
        "signed_serial": serial,
    }


def server_signing_cert(server: Server) -> Any:
    from pathlib import Path

    return Path(server.env["FANGXIN_DATA_DIR"]) / "signing" / "issuer-cert.pem"


def test_4_a_serious_listing_revokes_the_merchant_and_suspends_its_street(
    browser: Browser, server: Server
) -> None:
    with server.api() as api:
        certs = {
            c["serial"]: c
            for c in api.get("/api/v1/certificates/status-list").json()["certificates"]
        }
    context = _context(browser, server, **PHONE)
    page = context.new_page()
    _sign_in(page, server, "demo-merchant")
    page.goto("/merchant")
    uscc = page.locator("h1 + p").inner_text().split()[1]
    own = page.locator("#certificates a[href$='/pdf']").first.get_attribute("href")
    own_serial = own.split("/")[-2]  # type: ignore[union-attr]
    street_serial = page.locator("#certificates a[href^='/verify/']").last.get_attribute("href")
    street_serial = street_serial.rsplit("/", 1)[1]  # type: ignore[union-attr]
    assert certs[own_serial]["status"] == "active" and certs[street_serial]["status"] == "active"
    context.close()

    import httpx

    r = httpx.post(
        f"{server.base}/api/v1/credit/events",
        headers={"authorization": f"Bearer {server.feed_token}"},
        json={
            "events": [
                {
                    "uscc": uscc,
                    "kind": "serious_list_added",
                    "occurred_at": "2026-11-01T09:00:00+08:00",
                    "source": "e2e-credit-feed",
                    "external_ref": "serious-0001",
                    "note": "列入严重违法失信名单",
                }
            ]
        },
        timeout=30,
    )
    assert r.status_code in (200, 201), r.text

    public = _context(browser, server, **PHONE)
    page = public.new_page()
    page.goto(f"/verify/{own_serial}")
    expect(page.locator("main")).to_contain_text(ZH("Revoked"))
    expect(page.locator("main")).to_contain_text(ZH("Put on the serious violation list"))
    _shot(page, server, "4-merchant-revoked")
    page.goto(f"/verify/{street_serial}")
    expect(page.locator("main")).to_contain_text(ZH("Suspended"))
    expect(page.locator("main")).to_contain_text(ZH("No longer meets the criteria"))
    _shot(page, server, "4-street-suspended")
    public.close()


def test_5_the_survey_works_by_keyboard_and_pages_pass_an_accessibility_check(
    browser: Browser, server: Server
) -> None:
    from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]

    uscc = _merchant_on_a_street(server, skip=1)
    since = _now()
    context = _context(browser, server, **PHONE)
    page = context.new_page()
    page.goto(survey_url(server.base, "merchant", uscc))
    wanted = {**dict.fromkeys(LIKERT, 4), "recommend": 9}
    answered: set[str] = set()
    for _ in range(200):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => ({tag: document.activeElement.tagName, type: document.activeElement.type,"
            " name: document.activeElement.name || ''})"
        )
        name = str(focused["name"]).removeprefix("q_")
        if focused["type"] == "radio" and name in wanted and name not in answered:
            page.keyboard.press("Space")  # the first option of the group
            first = int(page.evaluate("() => document.activeElement.value"))
            for _ in range(wanted[name] - first):
                page.keyboard.press("ArrowRight")  # the next option, checked as it is reached
            answered.add(name)
        elif focused["tag"] == "BUTTON" and focused["type"] == "submit" and answered == set(wanted):
            page.keyboard.press("Enter")
            break
    else:
        pytest.fail(f"the keyboard never reached the submit button; answered {sorted(answered)}")
    expect(page.get_by_role("heading", level=1)).to_have_text(ZH("Thank you for your rating"))
    _shot(page, server, "5-keyboard-thank-you")
    (stored,) = _responses_about(server, uscc, since)
    assert stored["answers"] == {
        **dict.fromkeys(LIKERT, 4),
        "recommend": 9,
    }
    context.close()

    axe = Axe()
    pages = {
        "survey": survey_url(server.base, "merchant", _merchant_on_a_street(server, skip=2)),
        "verify": f"/verify/{next(iter(_serials(server)))}",
        "home": "/",
        "merchant": f"/merchants/{_merchant_on_a_street(server, skip=2)}",
        "area": f"/areas/{SHOWCASE_AREAS[0]}",
        "lists": "/lists",  # the yearly review's red and black lists
    }
    context = _context(browser, server, **PHONE, bypass_csp=True)
    page = context.new_page()
    # The checker itself, on a page built to fail it: an image with no text alternative.
    page.set_content("<html lang='zh-CN'><title>t</title><main><img src='data:,'></main></html>")
    assert "image-alt" in {v["id"] for v in axe.run(page).response["violations"]}
    failures = {}
    for name, url in pages.items():
        page.goto(url)
        results = axe.run(page)
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
            for v in results.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            failures[name] = serious
    context.close()
    assert failures == {}


def _serials(server: Server) -> list[str]:
    with server.api() as api:
        listed = api.get("/api/v1/certificates/status-list").json()["certificates"]
        return [c["serial"] for c in listed]


def test_public_pages_are_light_and_fetch_nothing_from_elsewhere(
    browser: Browser, server: Server
) -> None:
    """Under 100 KB of HTML and CSS each, on a phone, and every request to this server."""
    context = _context(browser, server, **PHONE)
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    pages = [
        "/",
        "/scores",
        "/certificates",
        "/methodology",
        survey_url(server.base, "merchant", _merchant_on_a_street(server, skip=3)),
        f"/verify/{_serials(server)[0]}",
        f"/merchants/{_merchant_on_a_street(server, skip=3)}",
        f"/areas/{SHOWCASE_AREAS[0]}",
    ]
    sizes = {}
    for url in pages:
        weights: dict[str, int] = {}

        def count(response: Any, weights: dict[str, int] = weights) -> None:
            kind = response.request.resource_type
            if kind in ("document", "stylesheet"):
                weights[response.url] = len(response.body())

        page.on("response", count)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", count)
        sizes[url] = sum(weights.values())
    context.close()
    assert all(2_000 < size < 100_000 for size in sizes.values()), sizes
    assert requests and all(u.startswith(server.base) or u.startswith("data:") for u in requests), [
        u for u in requests if not u.startswith(server.base)
    ]


def test_script_in_a_merchant_name_or_an_answer_never_runs(
    browser: Browser, server: Server
) -> None:
    """Injected markup is shown as text on every page that shows it, and nothing executes."""
    import random

    from service.register.uscc import generate

    payload = "<img src=x onerror=alert('name')><script>alert('name')</script>"
    uscc = generate(random.Random(77), "411702")
    with server.api() as api:
        r = api.post(
            "/api/v1/merchants",
            json={
                "uscc": uscc,
                "name": f"坏人{payload}",
                "category": "retail",
                "district": "411702",
                "address": payload,
            },
        )
        assert r.status_code == 201, r.text
    context = _context(browser, server, **PHONE)
    page = context.new_page()
    fired: list[str] = []

    def caught(dialog: Dialog) -> None:
        fired.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", caught)
    page.goto(survey_url(server.base, "merchant", uscc))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"坏人{payload}")
    for key in LIKERT:
        page.locator(f"input[name=q_{key}][value='3']").check()
    page.locator("input[name=q_recommend][value='5']").check()
    page.locator("textarea[name=q_comment]").fill("<script>alert('answer')</script>")
    page.locator("form[method=post] button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ZH("Thank you for your rating"))
    for url in (f"/?q={uscc}", "/?q=坏人", "/scores?q=坏人", "/certificates?q=坏人"):
        page.goto(url)
        page.wait_for_load_state("load")
    page.goto("/?q=坏人")
    expect(page.locator("main")).to_contain_text(payload)
    _shot(page, server, "x-injected-name-shown-as-text")
    context.close()
    assert fired == []
