"""The storefront (一户一码): /m/{uscc} and /a/{code}, the page a QR at the door opens, and its
poster and sticker — read back the way a phone and a printer would (the QR decoded from the
rasterised PDF, the text extracted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pypdf import PdfReader

from certificates.models import Certificate
from scoring.credit import store as credit_store
from scoring.credit.models import CreditStanding
from scoring.credit.schemas import CreditEventIn
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.models import Merchant, MerchantStatus, Role
from service.kernel.settings import Settings
from service.portal import places
from tests.certificates.test_cascade import _certified_merchant_and_street
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process
from tests.helpers import TEST_ACTOR, commit_to_returns, login, make_account
from tests.surveys.conftest import City, make_city
from tests.surveys.test_qr import _assert_single_qr, _pdftotext, _rasterise_pdf

HTML = {"accept": "text/html"}
RULES = credit_store.rules_for(None)
A4 = (595.28, 841.89)
STICKER = (170.08, 226.77)  # 60 × 80 mm in points


async def _scores(city: City) -> None:
    """A published run: the merchant scored with its interval, the other one on too few
    ratings."""
    now = datetime.now(UTC)
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=now,
        window_since=now - timedelta(days=365),
        window_until=now,
        params={"min_n_display": 16},
    )
    await UnitScore.create(
        run=run,
        kind="merchant",
        code=city.merchant,
        n=123,
        score=86.4,
        ci_low=82.1,
        ci_high=90.3,
        insufficient_data=False,
    )
    await UnitScore.create(
        run=run, kind="merchant", code=city.other_merchant, n=5, insufficient_data=True
    )


async def _credit_records(uscc: str) -> None:
    """A penalty and a serious-list entry (public), an old penalty no longer published, an
    abnormal-list entry since removed, and a commendation (never public)."""
    now = datetime.now(UTC)

    def event(kind: str, days: float, ref: str, note: str) -> CreditEventIn:
        at = (now - timedelta(days=days)).isoformat()
        return CreditEventIn(uscc, kind, at, "sfgs", ref, note)

    await credit_store.ingest_events(
        [
            event("penalty_minor", 30, "P-1", "未明码标价"),
            event("penalty_major", 4 * 365, "P-0", "旧案已过公示期"),
            event("serious_list_added", 10, "S-1", "虚假宣传情节严重"),
            event("abnormal_list_added", 200, "A-1", "未报年报"),
            event("abnormal_list_removed", 100, "A-2", "已补报"),
            event("commendation", 20, "C-1", "诚信经营示范表彰"),
        ],
        actor=TEST_ACTOR,
        rules=RULES,
    )


async def test_a_merchant_storefront_shows_the_public_facts_and_the_actions_first(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    merchant_cert, _, _ = await _certified_merchant_and_street(city)
    await _scores(city)
    await commit_to_returns(city.merchant)
    await _credit_records(city.merchant)

    page = await client.get(f"/m/{city.merchant}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "老王烩面馆" in text and "解放路1号" in text
    # The actions come first: rating this merchant, complaining, verifying a certificate.
    actions = text.index('class="storefront-actions"')
    assert actions < text.index('id="certs-h"') < text.index('id="score-h"')
    assert f'href="/s/merchant/{city.merchant}"' in text
    assert 'href="#certificates"' in text and 'action="/verify"' in text
    assert 'href="/verify/upload"' in text
    assert f'href="/complain/{city.merchant}"' in text
    # The certificate's live status (the serious listing revoked it) and its verify link.
    cert = await Certificate.get(id=merchant_cert.id)
    assert cert.status.value == "revoked"
    assert f'href="/verify/{cert.serial}"' in text and "已撤销" in text
    # The published score with its interval, the commitment.
    assert "86.4" in text and "82.1–90.3" in text and "123" in text
    assert "线下无理由退货" in text
    # What the law makes public: the penalty and the listing in force; not the penalty past
    # its three years, the listing removed, nor anything else of its credit.
    assert "列入严重违法失信名单" in text and "虚假宣传情节严重" in text
    assert "行政处罚" in text and "未明码标价" in text
    assert "旧案已过公示期" not in text and "未报年报" not in text
    assert "经营异常名录" not in text and "诚信经营示范表彰" not in text
    standing = await CreditStanding.get(merchant__uscc=city.merchant)
    assert standing.risk_class == "D"
    for internal in ("信用等级", "信用分", "风险", f"{standing.score:.1f}"):
        assert internal not in text, internal
    # The complaint record's hook renders nothing yet; no script anywhere.
    assert "<script" not in text.lower()
    # The poster and sticker, and the full public page, are linked.
    for link in (f"/m/{city.merchant}/poster.pdf", f"/m/{city.merchant}/sticker.pdf"):
        assert f'href="{link}"' in text
    assert f'href="/merchants/{city.merchant}"' in text

    english = await client.get(f"/m/{city.merchant}", params={"lang": "en"})
    for phrase in (
        "Rate this merchant",
        "Verify a certificate",
        "Penalties and lists",
        "On the serious violation list",
        "Administrative penalty",
        "Published satisfaction score",
    ):
        assert phrase in english.text, phrase
    assert "Credit class" not in english.text and "Credit score" not in english.text


async def test_too_few_ratings_and_a_clean_record(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await _scores(city)
    page = await client.get(f"/m/{city.other_merchant}", headers=HTML)
    assert page.status_code == 200
    assert "天中超市" in page.text
    assert "数据不足" in page.text and "至少需要 16 份" in page.text
    assert "本商户没有公示中的行政处罚或名录记录" in page.text
    assert "这家商户没有证书" in page.text
    # A code typed by hand in lower case finds the same merchant.
    typed = await client.get(f"/m/{city.other_merchant.lower()}", headers=HTML)
    assert typed.status_code == 200 and "天中超市" in typed.text


async def test_a_closed_merchant_says_so_and_is_not_rated(client: httpx.AsyncClient) -> None:
    city = await make_city()
    await Merchant.filter(uscc=city.merchant).update(status=MerchantStatus.CLOSED)
    page = await client.get(f"/m/{city.merchant}", headers=HTML)
    assert page.status_code == 200
    assert "已停业" in page.text
    assert "/s/merchant/" not in page.text


async def test_an_area_storefront(client: httpx.AsyncClient) -> None:
    city = await make_city()
    _, street_cert, _ = await _certified_merchant_and_street(city)
    page = await client.get(f"/a/{city.street}", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "解放路步行街" in text
    assert text.index('class="storefront-actions"') < text.index('id="certs-h"')
    assert f'href="/s/street/{city.street}"' in text
    assert f'href="/verify/{street_cert.serial}"' in text
    assert f'href="/m/{city.merchant}"' in text  # its certified merchant, by its storefront
    assert f'href="/a/{city.street}/poster.pdf"' in text
    assert "/complain/" not in text and "<script" not in text.lower()
    district = await client.get("/a/411702", headers=HTML)
    assert district.status_code == 200 and f'href="/a/{city.street}"' in district.text


@pytest.mark.parametrize(
    "path",
    [
        "/m/91411702MA44XYZ12K",  # well-formed, nobody's
        "/m/NOT-A-USCC",
        "/m/" + "9" * 300,
        "/m/%3Cscript%3E",
        "/m/91411702MA44XYZ12K/poster.pdf",
        "/m/nope/sticker.pdf",
        "/a/NOPE",
        "/a/bad%20code",
        "/a/" + "A" * 200,
        "/a/%2e%2e/poster.pdf",
        "/a/NOPE/sticker.pdf",
    ],
)
async def test_unknown_or_malformed_codes_are_a_friendly_404(
    client: httpx.AsyncClient, path: str
) -> None:
    await make_city()
    r = await client.get(path, headers=HTML)
    assert r.status_code == 404, (path, r.status_code)
    assert "text/html" in r.headers["content-type"] and "<script" not in r.text.lower()
    said = "本平台没有登记这个编码的" + ("商户" if path.startswith("/m/") else "地点")
    assert said in r.text and 'href="/"' in r.text


async def test_a_hostile_name_is_escaped_on_the_page_and_printed_as_text(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    city = await make_city()
    hostile = '<img src=x onerror="alert(1)">店'
    await Merchant.filter(uscc=city.merchant).update(name=hostile)
    page = await client.get(f"/m/{city.merchant}", headers=HTML)
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
    poster = await client.get(f"/m/{city.merchant}/poster.pdf")
    assert poster.status_code == 200
    assert hostile.replace('"', "") in _pdftotext(poster.content, tmp_path).replace('"', "")


async def test_the_posters_qr_opens_the_storefront(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    for path, code, size in (
        ("m", city.merchant, A4),
        ("a", city.street, A4),
    ):
        for name, box in (("poster", size), ("sticker", STICKER)):
            r = await client.get(f"/{path}/{code}/{name}.pdf")
            assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
            pdf_path = tmp_path / f"{path}-{name}.pdf"
            pdf_path.write_bytes(r.content)
            pages = PdfReader(pdf_path).pages
            assert len(pages) == 1
            assert float(pages[0].mediabox.width) == pytest.approx(box[0], abs=1)
            assert float(pages[0].mediabox.height) == pytest.approx(box[1], abs=1)
            url = f"{app_settings.base_url}/{path}/{code}"
            _assert_single_qr(_rasterise_pdf(r.content, tmp_path, f"{path}-{name}"), url)
            text = _pdftotext(r.content, tmp_path)
            assert ("老王烩面馆" if path == "m" else "解放路步行街") in text, text
            assert "评价" in text and "查验证书" in text
            # A complaint names a merchant, never an area.
            assert ("投诉" in text) == (path == "m"), text
    # The survey's own QR poster still works beside it.
    survey = await client.get(f"/qr/{city.merchant}/poster.pdf")
    assert survey.status_code == 200
    _assert_single_qr(
        _rasterise_pdf(survey.content, tmp_path, "survey"),
        f"{app_settings.base_url}/s/merchant/{city.merchant}",
    )


async def test_the_complaint_action_appears_once_the_app_takes_complaints(
    app_settings: Settings, tmp_path: Path
) -> None:
    await empty_database(app_settings)
    app = make_app(app_settings)
    # The complaint pages (scoring.disputes.consumer_pages) serve GET /complain/{uscc}.
    assert places.takes_complaints(app)
    async with serve_in_process(app, BASE_URL) as c:
        city = await make_city()
        page = await c.get(f"/m/{city.merchant}", headers=HTML)
        assert f'href="/complain/{city.merchant}"' in page.text
        area = await c.get(f"/a/{city.street}", headers=HTML)
        assert "/complain/" not in area.text  # a complaint names a merchant, never an area
        poster = await c.get(f"/m/{city.merchant}/poster.pdf")
        assert "投诉" in _pdftotext(poster.content, tmp_path)


async def test_the_merchant_and_the_official_find_the_storefront_poster(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
    assert await login(client, "shop") == 303
    own = await client.get("/merchant", headers=HTML)
    for link in (f"/m/{city.merchant}", f"/m/{city.merchant}/poster.pdf"):
        assert f'href="{link}"' in own.text, link
    assert f'href="/m/{city.merchant}/sticker.pdf"' in own.text
    assert f'href="/qr/{city.merchant}/poster.pdf"' in own.text  # the survey poster stays

    await make_account("offi", Role.OFFICIAL)
    client.cookies.clear()
    assert await login(client, "offi") == 303
    desk = await client.get(f"/official/credit/{city.merchant}", headers=HTML)
    assert desk.status_code == 200
    assert f'href="/m/{city.merchant}/poster.pdf"' in desk.text
    assert f'href="/m/{city.merchant}/sticker.pdf"' in desk.text
