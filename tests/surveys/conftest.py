"""A small city with the default questionnaires loaded, for survey tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory
from surveys import submit
from surveys.questionnaire import default_files, load_file
from surveys.routes import DEVICE_COOKIE, DEVICE_HEADER
from tests.helpers import TEST_ACTOR

USCC = "9144030071526726XG"
OTHER_USCC = "91330100716105852F"
STREET = "411702-ST01"


@dataclass(frozen=True, slots=True)
class City:
    merchant: str
    other_merchant: str
    street: str


async def make_city() -> City:
    """Two merchants on one street, and the three default questionnaires."""
    submit.forget_cached()
    city = await Area.create(
        code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Zhumadian"
    )
    district = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Yicheng", parent=city
    )
    street = await Area.create(
        code=STREET,
        kind=AreaKind.STREET,
        name_zh="解放路步行街",
        name_en="Jiefang Road",
        parent=district,
    )
    await Merchant.create(
        uscc=USCC,
        name="老王烩面馆",
        category=MerchantCategory.CATERING,
        district=district,
        street=street,
        address="解放路1号",
    )
    await Merchant.create(
        uscc=OTHER_USCC,
        name="天中超市",
        category=MerchantCategory.RETAIL,
        district=district,
        street=street,
    )
    for path in default_files():
        await load_file(path, actor=TEST_ACTOR)
    return City(USCC, OTHER_USCC, STREET)


GOOD_ANSWERS = {
    "quality": 5,
    "price": 4,
    "honesty": 4,
    "safety": 5,
    "service": 3,
    "returns": 4,
    "complaints": 4,
    "recommend": 9,
    "visitor": "tourist",
    "comment": "面很好吃",
}


@dataclass(frozen=True, slots=True)
class Respondent:
    """What an API client holds after fetching a questionnaire: its device id (sent back in
    a header) and a start token that times the answering."""

    headers: dict[str, str]
    start_token: str


async def respondent(
    client: httpx.AsyncClient,
    secret: str,
    target: str,
    *,
    survey: str = "merchant",
    seconds_ago: int = 40,
) -> Respondent:
    """A new device, as the API issues one, whose questionnaire was shown ``seconds_ago``:
    the token is signed here with the server's secret, since a test cannot wait that long."""
    client.cookies.delete(DEVICE_COOKIE)
    got = await client.get(f"/api/v1/surveys/{survey}", params={"target": target})
    assert got.status_code == 200, got.text
    client.cookies.delete(DEVICE_COOKIE)
    started = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return Respondent(
        {DEVICE_HEADER: got.headers[DEVICE_HEADER]},
        submit.issue_start_token(secret, survey, target, started),
    )
