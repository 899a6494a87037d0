"""The public pages of a merchant and of an area, on the demo city: reached from the search,
the rankings and the verify page; each shows what is published about it and the advisories
that concern it, escaped, in Chinese or English."""

from __future__ import annotations

import httpx

from scoring.credit.models import CreditEvent
from scoring.satisfaction.models import UnitScore
from service.demo import load_demo
from service.kernel.models import Merchant
from service.kernel.settings import Settings
from service.portal.advisories.models import AdvisorySubject
from service.register.demo_city import SHOWCASE_AREAS
from tests.certificates.test_cascade import _certified_merchant_and_street
from tests.helpers import SMALL_INTAKE, TEST_ACTOR
from tests.surveys.conftest import make_city

HTML = {"accept": "text/html"}


async def test_a_merchant_and_its_scenic_spot_show_the_advisory_naming_them(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    report = await load_demo(app_settings, actor=TEST_ACTOR, responses=2000, intake=SMALL_INTAKE)
    assert report.advisories == 2
    home = await client.get("/", headers=HTML)
    assert "预付式消费提示" in home.text and "景区购物提示" in home.text

    named = await AdvisorySubject.get(kind="merchant")
    merchant = await Merchant.get(uscc=named.code).select_related("scenic_spot")
    assert merchant.scenic_spot is not None and merchant.scenic_spot.code == SHOWCASE_AREAS[0]
    page = await client.get(f"/merchants/{merchant.uscc}", headers=HTML)
    assert page.status_code == 200
    assert merchant.name in page.text and "景区购物提示" in page.text
    assert "预付式消费提示" not in page.text  # city-wide: on the home page, not on each page
    assert f'href="/areas/{SHOWCASE_AREAS[0]}"' in page.text
    assert f'href="/s/merchant/{merchant.uscc}"' in page.text  # rate it

    spot = await client.get(f"/areas/{SHOWCASE_AREAS[0]}", headers=HTML)
    assert spot.status_code == 200 and "景区购物提示" in spot.text
    unit = await UnitScore.filter(kind="scenic_spot", code=SHOWCASE_AREAS[0]).first()
    assert unit is not None
    if not unit.insufficient_data and unit.score is not None:
        assert f"{unit.score:.1f}" in spot.text
    else:
        assert "数据不足" in spot.text

    from certificates.applications.models import Application, ApplicationStatus

    # Every merchant of the showcase areas commits to returns in the demo.
    assert "线下无理由退货" in page.text
    assert f'href="/api/v1/merchants/{merchant.uscc}/commitments"' in page.text
    noticed = await Application.get(status=ApplicationStatus.IN_NOTICE)
    area = await client.get(f"/areas/{noticed.subject_code}", headers=HTML)
    assert f'href="/notices/{noticed.id}"' in area.text and "公示中" in area.text

    english = await client.get(f"/merchants/{merchant.uscc}", params={"lang": "en"})
    assert "Published satisfaction score" in english.text and "Consumer advisories" in english.text

    # Every demo merchant and area has its storefront: a merchant fined in the demo shows it.
    fined = (
        await CreditEvent.filter(kind="penalty_major")
        .order_by("-occurred_at")
        .first()
        .select_related("merchant")
    )
    assert fined is not None
    front = await client.get(f"/m/{fined.merchant.uscc}", headers=HTML)
    # (in English: the page above chose it)
    assert front.status_code == 200 and "Major administrative penalty" in front.text
    assert fined.note in front.text
    spot_front = await client.get(f"/a/{SHOWCASE_AREAS[0]}", headers=HTML)
    assert spot_front.status_code == 200 and "景区购物提示" in spot_front.text  # its advisory

    # The search result and the rankings lead to these pages.
    found = await client.get("/", params={"q": merchant.name}, headers=HTML)
    assert f'href="/merchants/{merchant.uscc}"' in found.text
    scores = await client.get("/scores", params={"kind": "scenic_spot"}, headers=HTML)
    assert f'href="/areas/{SHOWCASE_AREAS[0]}"' in scores.text


async def test_a_certified_place_links_its_certificate_and_back(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    merchant_cert, street_cert, _ = await _certified_merchant_and_street(city)
    page = await client.get(f"/merchants/{city.merchant}", headers=HTML)
    assert f'href="/verify/{merchant_cert.serial}"' in page.text
    assert f'href="/areas/{city.street}"' in page.text
    verify = await client.get(f"/verify/{merchant_cert.serial}", headers=HTML)
    assert f'href="/merchants/{city.merchant}"' in verify.text
    street = await client.get(f"/areas/{city.street}", headers=HTML)
    assert f'href="/verify/{street_cert.serial}"' in street.text
    assert f'href="/merchants/{city.merchant}"' in street.text  # its certified merchant
    verify_street = await client.get(f"/verify/{street_cert.serial}", headers=HTML)
    assert f'href="/areas/{city.street}"' in verify_street.text


async def test_hostile_names_are_escaped_on_the_merchant_page(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    await load_demo(app_settings, actor=TEST_ACTOR, responses=0, intake=SMALL_INTAKE)
    merchant = await Merchant.first()
    assert merchant is not None
    merchant.name = '<img src=x onerror="alert(1)">店'
    await merchant.save()
    page = await client.get(f"/merchants/{merchant.uscc}", headers=HTML)
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
