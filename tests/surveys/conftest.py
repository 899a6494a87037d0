"""A small city with the default questionnaires loaded, for survey tests."""

from __future__ import annotations

from dataclasses import dataclass

from service.models import Area, AreaKind, Merchant, MerchantCategory
from surveys import submit
from surveys.questionnaire import default_files, load_file
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
