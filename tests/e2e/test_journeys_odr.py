"""Issue 30's whole loop, clicked through in a phone-sized Chromium on a served demo city.

A merchant joins online dispute resolution in its portal; a consumer scans the storefront code
printed on the merchant's poster (the PDF rasterised by poppler, the QR decoded by zxing-cpp),
files a complaint with a photo, and keeps the receipt; the merchant offers a refund; the
consumer rejects it; the merchant's ten working days pass on the official calendar; the
deadline job escalates the complaint into the bureau's intake; the district's official
accepts it, assigns a mediator and records the agreement; the consumer answers the follow-up;
and the annual report counts that answer. axe checks each new page on the way.

The clock: the server and the job run under libfaketime with an offset read from a file, so
the test moves the service's time forward as the calendar would, with no hook in our code.
This journey has a server of its own (its clock moves), on the dialect under test."""

from __future__ import annotations

import io
import json
import re
import subprocess
import time as time_module
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Page, expect

from scoring.credit.workdays import add_working_days, is_workday
from service.kernel.localtime import LOCAL_TZ
from service.register.demo_city import SHOWCASE_AREAS
from tests.conftest import unavailable
from tests.e2e.conftest import FANGXIN, Server, chromium, served_demo
from tests.e2e.test_journeys import DESKTOP, PHONE, ZH, _shot, _sign_in

pytestmark = pytest.mark.db

CACHE_SECONDS = 1
FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1")
DISTRICT = "411728"  # demo-district's: where the demo merchant trades (SHOWCASE_AREAS[2])
CERTIFICATE_LINK = re.compile(r'href="/verify/(?!upload)')  # on the storefront of a holder
DESCRIPTION = "在店里买的电饭煲用了两天就不能加热，要求退货被拒。<b>不是标记</b>"
RUN_DEADLINES = """
from scoring.credit.store import rules_for
from scoring.disputes.sweeps import escalate_due
from service.kernel.commands import cli_settings, run_with_db

settings = cli_settings()
done = run_with_db(settings, lambda: escalate_due(credit=rules_for(settings.credit_rules)))
print(done.escalated)
"""


class Clock:
    """The served city's clock: an offset from real time in a file libfaketime rereads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.set(timedelta(0))

    def set(self, offset: timedelta) -> None:
        seconds = int(offset.total_seconds())
        self.path.write_text(f"{'+' if seconds >= 0 else '-'}{abs(seconds)}\n")
        time_module.sleep(CACHE_SECONDS + 0.2)  # until every process has read it again

    def move_to(self, moment: datetime) -> None:
        self.set(moment - datetime.now(LOCAL_TZ))

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(FAKETIME_LIB),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            # Reread at most once a second: rereading it on every call slows the server ten-fold.
            "FAKETIME_CACHE_DURATION": str(CACHE_SECONDS),
            # The event loop's timers keep real time: only the wall clock moves.
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }


@dataclass
class Clocked:
    server: Server
    clock: Clock
    browser: Browser


@pytest.fixture(scope="module")
def clocked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clocked]:
    """This journey's own server under the movable clock, then Chromium (in that order: the
    server's PostgreSQL database is made with asyncio.run, which Playwright's loop forbids)."""
    if not FAKETIME_LIB.exists():
        unavailable(f"no libfaketime at {FAKETIME_LIB}: `make test` installs Debian's faketime")
    home = tmp_path_factory.mktemp("e2e-odr")
    clock = Clock(home / "faketime")
    with served_demo(home, **clock.env()) as served, chromium() as launched:
        yield Clocked(served, clock, cast(Browser, launched))


def _context(browser: Browser, server: Server, **kind: Any) -> BrowserContext:
    # bypass_csp: axe is injected as a script, which our CSP otherwise (rightly) refuses.
    context = browser.new_context(base_url=server.base, locale="zh-CN", bypass_csp=True, **kind)
    context.set_default_timeout(20_000)
    return context


class Axe:
    """Serious and critical accessibility violations of each page checked, by page."""

    def __init__(self) -> None:
        from axe_playwright_python.sync_playwright import Axe as Checker  # type: ignore[import-untyped]

        self.checker = Checker()
        self.failures: dict[str, list[str]] = {}

    def check(self, page: Page, name: str) -> None:
        serious = [
            f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
            for v in self.checker.run(page).response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        if serious:
            self.failures[name] = serious


def _photo(path: Path) -> Path:
    """A phone's photo: a JPEG carrying the camera's make and a GPS position in its EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x8825] = {1: "N", 2: (32.0, 58.0, 0.0), 3: "E", 4: (114.0, 1.0, 0.0)}
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 40, 40)).save(out, "JPEG", exif=exif)
    path.write_bytes(out.getvalue())
    return path


def _scan(server: Server, uscc: str, tmp_path: Path, context: BrowserContext) -> str:
    """The URL in the QR code of the merchant's storefront poster, as a phone's camera reads
    it off the printed page."""
    pdf = context.request.get(f"/m/{uscc}/poster.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    (tmp_path / "poster.pdf").write_bytes(pdf.body())
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", "poster.pdf", "poster"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    with Image.open(tmp_path / "poster.png") as image:
        codes = zxingcpp.read_barcodes(image)
    assert len(codes) == 1, codes
    return str(codes[0].text)


def _a_merchant_to_complain_about(server: Server) -> str:
    """An active merchant of demo-district's district, not yet in ODR, holding no certificate
    and on none of the streets the other journeys use."""
    with server.api() as api:
        r = api.get(
            "/api/v1/merchants", params={"district": DISTRICT, "status": "active", "page_size": 100}
        )
        r.raise_for_status()
        for m in r.json()["items"]:
            if m.get("street") in SHOWCASE_AREAS or m.get("scenic_spot") in SHOWCASE_AREAS:
                continue
            if CERTIFICATE_LINK.search(api.get(f"/m/{m['uscc']}").text):
                continue
            if not api.get(f"/api/v1/merchants/{m['uscc']}/odr").json()["participating"]:
                return str(m["uscc"])
    pytest.fail("no merchant for the journey in the demo city")


def _followups(server: Server, year: int) -> dict[str, Any]:
    with server.api() as api:
        r = api.get("/api/v1/reports/annual", params={"year": year, "district": DISTRICT})
        r.raise_for_status()
        figures: dict[str, Any] = r.json()["followups"]
        return figures


def _dispute(server: Server, code: str) -> dict[str, Any]:
    with server.api() as api:
        r = api.get(f"/api/v1/disputes/{code}")
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body


def _run_deadlines(server: Server) -> int:
    """The deadline job, run as the worker runs it: at the service's (moved) time."""
    done = subprocess.run(
        [str(Path(FANGXIN).with_name("python")), "-c", RUN_DEADLINES],
        env=server.env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return int(done.stdout.strip().splitlines()[-1])


def _status(page: Page) -> str:
    return page.locator("#status dl.facts dd strong").first.inner_text()


@pytest.mark.timeout(900)  # a demo city of its own is loaded first
def test_8_complain_settle_escalate_mediate_follow_up(clocked: Clocked, tmp_path: Path) -> None:
    server, clock, browser = clocked.server, clocked.clock, clocked.browser
    axe = Axe()
    uscc = _a_merchant_to_complain_about(server)
    shop_user = server.add_merchant_account("odr-shop", uscc)

    # The merchant joins online dispute resolution in its portal, on its phone.
    shop = _context(browser, server, **PHONE)
    shop_page = shop.new_page()
    _sign_in(shop_page, server, shop_user)
    shop_page.goto("/merchant")
    shop_page.locator("form[action='/merchant/odr/join'] input[name=commit]").check()
    shop_page.locator("form[action='/merchant/odr/join'] button[type=submit]").click()
    expect(shop_page.locator("form[action='/merchant/odr/leave']")).to_be_visible()
    axe.check(shop_page, "merchant portal")

    # A consumer scans the code on the shop's poster: the storefront page, then the form.
    consumer = _context(browser, server, **PHONE)
    page = consumer.new_page()
    url = _scan(server, uscc, tmp_path, consumer)
    assert url == f"{server.base}/m/{uscc}", url
    page.goto(url)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    axe.check(page, "storefront")
    page.get_by_role("link", name=ZH("Complain")).click()
    page.wait_for_url(f"**/complain/{uscc}")
    axe.check(page, "complaint form")
    page.select_option("#category", "quality")
    page.fill("#description", DESCRIPTION)
    page.fill("#occurred_on", (datetime.now(LOCAL_TZ).date() - timedelta(days=3)).isoformat())
    page.fill("#amount", "299")
    page.locator("input[name=wants][value=refund]").check()
    page.set_input_files("#files", str(_photo(tmp_path / "IMG_0001.jpg")))
    page.fill("#phone", "138 1234 5678")
    page.locator("#consent_contact").check()
    page.locator("#share_contact").check()
    page.locator("form[enctype='multipart/form-data'] button[type=submit]").click()
    expect(page.locator("#receipt-code")).to_be_visible()
    axe.check(page, "receipt")
    code = page.locator("#receipt-code").inner_text()
    secret = page.locator("#tracking-secret").inner_text()
    tracking = str(page.locator("#tracking-link").get_attribute("href"))
    assert re.fullmatch(r"TS-\d{4}-[2-9A-HJKMNP-Z]{6}", code), code
    assert tracking == f"/track/{code}?k={secret}"
    _shot(page, server, "8-receipt")

    # The merchant sees it, with the photo stripped of its EXIF, and offers a refund.
    shop_page.goto("/merchant/disputes")
    axe.check(shop_page, "merchant's complaints")
    shop_page.get_by_role("link", name=code).click()
    expect(shop_page.locator("main")).to_contain_text("不是标记")
    assert shop_page.locator("main b").count() == 0  # the consumer's markup is text
    assert "5678" in shop_page.locator("main").inner_text()  # masked, last digits only
    assert "13812345678" not in shop_page.content()
    photo_link = shop_page.locator("a[href*='/files/']").first
    evidence = shop.request.get(str(photo_link.get_attribute("href")))
    assert evidence.ok and evidence.headers["content-type"] == "image/jpeg"
    assert "attachment" in evidence.headers.get("content-disposition", "")
    with Image.open(io.BytesIO(evidence.body())) as served_photo:
        assert dict(served_photo.getexif()) == {}
    axe.check(shop_page, "merchant's complaint")
    shop_page.locator("input[name=kind][value=refund]").check()
    shop_page.fill("#amount", "100")
    shop_page.fill("#note", "可以退一半，电饭煲请带回店里。")
    shop_page.locator("form[action$='/offer'] button[type=submit]").click()
    expect(shop_page.locator("main")).to_contain_text(ZH("The merchant made an offer"))

    # The consumer follows the link kept from the receipt, and rejects the offer.
    page.goto(tracking)
    expect(page.locator("#offers")).to_contain_text("100.00")
    assert _status(page) == ZH("The merchant made an offer")
    axe.check(page, "tracking page")
    page.fill("#reject-reason", "要求全额退款。")
    page.locator("form[action$='/reject'] button[type=submit]").click()
    expect(page.locator("#offers")).to_contain_text(ZH("You rejected it."))
    assert _status(page) == ZH("With the merchant")  # its ten working days still run
    _shot(page, server, "8-rejected")

    # The merchant's deadline: ten working days on the official calendar from filing.
    due = date.fromisoformat(_dispute(server, code)["merchant_due"])
    filed = date.fromisoformat(_dispute(server, code)["filed_at"][:10])
    assert due == add_working_days(filed, 10)
    assert is_workday(due)
    # On the last day the job leaves it with the merchant; the next morning it escalates.
    clock.move_to(datetime.combine(due, time(23, 0), LOCAL_TZ))
    _run_deadlines(server)  # (the demo's own complaints may fall due: not this one)
    assert _dispute(server, code)["status"] == "with_merchant"
    clock.move_to(datetime.combine(due + timedelta(days=1), time(0, 5), LOCAL_TZ))
    assert _run_deadlines(server) >= 1
    escalated = _dispute(server, code)
    assert escalated["status"] == "escalated" and escalated["intake"]["handled_by"] == "regulator"
    year = date.fromisoformat(escalated["intake"]["received_at"][:10]).year
    before = _followups(server, year)
    page.goto(tracking)
    assert _status(page) == ZH("With the bureau")

    # The district's official accepts it, assigns a mediator and records the agreement.
    official = _context(browser, server, **DESKTOP)
    desk = official.new_page()
    _sign_in(desk, server, "demo-district")
    desk.goto("/official/disputes")
    axe.check(desk, "officials' complaints")
    desk.get_by_role("link", name=code).click()
    axe.check(desk, "officials' complaint")
    desk.locator("form[action$='/accept'] button[type=submit]").click()
    desk.locator("input[name=mode][value=people_mediation]").check()
    desk.locator("form[action$='/mediator'] button[type=submit]").click()
    desk.locator("input[name=outcome][value=agreement]").check()
    desk.fill("#amount_recovered", "299")
    desk.locator("input[name=upheld][value=yes]").check()
    desk.fill("#outcome-note", "经人民调解，商家全额退款。")
    desk.locator("form[action$='/outcome'] button[type=submit]").click()
    expect(desk.locator("main")).to_contain_text(ZH("Closed by the bureau"))
    _shot(desk, server, "8-official")

    # The consumer sees every step, and answers the follow-up once.
    page.goto(tracking)
    assert _status(page).startswith(ZH("Closed by the bureau"))
    for step in ("Passed to the bureau", "The bureau accepted it", "Mediation ended"):
        expect(page.locator("main")).to_contain_text(ZH(step))
    expect(page.locator("main")).to_contain_text("299.00")
    page.locator("#followup input[name=answer][value=satisfied]").check()
    page.fill("#comment", "调解很及时。")
    page.locator("#followup button[type=submit]").click()
    expect(page.locator("main")).to_contain_text(ZH("Your follow-up"))
    assert page.locator("#followup form").count() == 0
    axe.check(page, "tracking page, closed")
    _shot(page, server, "8-followed-up")

    # The annual report counts the answer, in the district and as the regulator's.
    after = _followups(server, year)
    assert after["answered"] == before["answered"] + 1, json.dumps([before, after])
    assert after["satisfied"] == before["satisfied"] + 1
    for context in (shop, consumer, official):
        context.close()
    assert axe.failures == {}
