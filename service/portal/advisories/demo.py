"""The demo city's consumer advisories: one city-wide, one naming a scenic spot and a merchant
trading there, so that the home page, an area page and a merchant page each show one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from service.kernel.audit import Actor
from service.kernel.models import Merchant, MerchantStatus
from service.portal.advisories import store
from service.portal.advisories.schemas import AdvisoryIn
from service.register.demo_city import SHOWCASE_AREAS


async def publish_demo(actor: Actor) -> int:
    now = datetime.now(UTC)
    spot = SHOWCASE_AREAS[0]
    merchant = (
        await Merchant.filter(scenic_spot__code=spot, status=MerchantStatus.ACTIVE)
        .order_by("uscc")
        .first()
    )
    items = [
        AdvisoryIn(
            title="预付式消费提示：办卡前请看清经营者资质",
            text=(
                "近期部分健身、美容、教育培训机构以低价办卡吸引消费者后关门停业。"
                "办理预付卡前请查看经营者营业执照和信用记录，单次充值不宜过多，"
                "签订书面合同并保存好付款凭证。遇到纠纷请拨打12315。"
            ),
            category="prepaid",
            valid_from=(now - timedelta(days=10)).isoformat(),
        ),
        AdvisoryIn(
            title="景区购物提示：警惕“低价团”强制消费",
            text=(
                "节假日景区游客增多，请选择明码标价的商户购物，索要并保存购物凭证；"
                "遇到强制消费、以次充好，可现场向景区管理处投诉或拨打12315。"
            ),
            category="travel",
            valid_from=(now - timedelta(days=3)).isoformat(),
            valid_until=(now + timedelta(days=60)).isoformat(),
            areas=[spot],
            merchants=[merchant.uscc] if merchant else [],
        ),
    ]
    for item in items:
        await store.publish(item, actor=actor, district=None)
    return len(items)
