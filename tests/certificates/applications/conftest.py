"""A city with one merchant eligible under a lenient policy (any published score), served in
process, for the journeys of applications."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

import certificates
from scoring.satisfaction import runs
from service.kernel.models import Area, AreaKind, Role
from service.kernel.settings import Settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process, with_env
from tests.helpers import TEST_ACTOR, commit_to_returns, make_account
from tests.scoring.satisfaction.test_pages import _responses
from tests.surveys.conftest import City, make_city

OTHER_DISTRICT = "411721"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def lenient_policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    text = (Path(certificates.__file__).parent / "policy.toml").read_text(encoding="utf-8")
    path.write_text(text.replace("min_score = 80.0", "min_score = 0.0", 1), encoding="utf-8")
    return path


@pytest.fixture
def lenient(app_settings: Settings, tmp_path: Path) -> Settings:
    return with_env(app_settings, certificate_policy=lenient_policy(tmp_path))


async def eligible_city(settings: Settings) -> City:
    """The test city, its merchant with 31 responses in a published run (eligible under the
    lenient policy); accounts for the merchant, the street's manager, a city official and an
    official of another district."""
    city = await make_city()
    await commit_to_returns(city.merchant)
    await _responses(city.merchant, 31, settings.secret_key)
    await runs.run_now(runs.parse_params({}), settings, actor=TEST_ACTOR, publish=True)
    parent = await Area.get(code="411700")
    await Area.create(
        code=OTHER_DISTRICT, kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=parent
    )
    await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
    await make_account("other-shop", Role.MERCHANT, merchant_uscc=city.other_merchant)
    from service.kernel import accounts

    await accounts.create_account(
        "street-office",
        "correct-horse-battery",
        Role.AREA_MANAGER,
        area_code=city.street,
        actor=TEST_ACTOR,
    )
    await make_account("inspector", Role.OFFICIAL)
    await make_account("county", Role.OFFICIAL, district_code=OTHER_DISTRICT)
    return city


@pytest.fixture
async def served(lenient: Settings) -> AsyncIterator[httpx.AsyncClient]:
    await empty_database(lenient)
    async with serve_in_process(make_app(lenient), BASE_URL) as c:
        yield c


async def session(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    """Another client on the same app, signed in as ``username`` with its CSRF header set."""
    from tests.helpers import csrf, login

    other = httpx.AsyncClient(transport=client._transport, base_url=BASE_URL)
    assert await login(other, username) == 303
    other.headers["x-csrftoken"] = await csrf(other)
    return other
