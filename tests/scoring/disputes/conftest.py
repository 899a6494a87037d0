"""A small town for complaints: two districts, a merchant taking part in online dispute
resolution and one that does not in the first, a participating merchant in the second; the
parties as principals; a helper that files a complaint as the public would."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PIL import Image

from scoring.credit import store as credit_store
from scoring.disputes import odr, receipts, store
from scoring.disputes.schemas import DisputeIn
from service.kernel.accounts import Principal
from service.kernel.localtime import LOCAL_TZ
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, Role
from service.kernel.settings import Settings
from service.kernel.uploads import Upload
from tests.helpers import TEST_ACTOR

CREDIT = credit_store.rules_for(None)
SHOP = "9144030071526726XG"  # takes part in ODR, district 411702
NO_ODR = "91330100716105852F"  # does not, district 411702
FAR = "92411721398259791L"  # takes part, district 411721
PHONE = "13812341234"


def at(day: str, hour: int = 10, minute: int = 0) -> datetime:
    """A Beijing wall-clock moment."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:{minute:02d}:00").replace(tzinfo=LOCAL_TZ)


def photo(colour: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGB", (12, 12), colour).save(out, "JPEG", exif=exif)
    return out.getvalue()


@dataclass
class Town:
    shop: Merchant
    no_odr: Merchant
    far: Merchant
    district: Area
    far_district: Area
    principals: dict[str, Principal] = field(default_factory=dict)


async def make_town(joined: datetime | None = None) -> Town:
    receipts.register()
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    district = await Area.create(
        code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
    )
    far_district = await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="X", parent=city
    )

    async def merchant(uscc: str, name: str, where: Area) -> Merchant:
        return await Merchant.create(
            uscc=uscc,
            name=name,
            category=MerchantCategory.RETAIL,
            district=where,
            address="解放路1号",
        )

    town = Town(
        shop=await merchant(SHOP, "老王烩面馆", district),
        no_odr=await merchant(NO_ODR, "天中超市", district),
        far=await merchant(FAR, "西平商店", far_district),
        district=district,
        far_district=far_district,
    )
    joined = joined or at("2026-01-05")
    await odr.join(town.shop.id, actor=TEST_ACTOR, now=joined)
    await odr.join(town.far.id, actor=TEST_ACTOR, now=joined)
    town.principals = {
        "shop": Principal(role=Role.MERCHANT, name="shop", merchant_id=town.shop.id),
        "far": Principal(role=Role.MERCHANT, name="far", merchant_id=town.far.id),
        "city": Principal(role=Role.OFFICIAL, name="city-official"),
        "county": Principal(role=Role.OFFICIAL, name="county", district_id=far_district.id),
        "district": Principal(role=Role.OFFICIAL, name="yicheng", district_id=district.id),
    }
    return town


def complaint(merchant: str = SHOP, **changes: Any) -> DisputeIn:
    fields: dict[str, Any] = {
        "merchant": merchant,
        "category": "quality",
        "description": "买的电饭煲第二天就坏了，商家不给退。",
        "occurred_on": "2026-09-27",
        "amount": "299.00",
        "wants": "refund",
        "phone": PHONE,
        "consent_contact": True,
        "share_contact": True,
        "client_submission_id": str(uuid.uuid4()),
        **changes,
    }
    return DisputeIn(**fields)


async def file(
    settings: Settings,
    data: DisputeIn | None = None,
    *,
    now: datetime,
    files: list[Upload] | None = None,
    ip: str = "10.0.0.1",
    device: str | None = None,
) -> store.Filed:
    return await store.file(
        data or complaint(),
        files or [],
        origin=store.Origin(ip=ip, device_id=device),
        secret_key=settings.secret_key,
        data_dir=settings.data_dir,
        credit=CREDIT,
        now=now,
    )
