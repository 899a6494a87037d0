"""The demo city's register: its areas and merchants through the same validated import as an
operator's files (marked as demo data), and the demo accounts that work in it."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from service.kernel import accounts
from service.kernel.models import AreaKind, MerchantCategory, MerchantStatus, Role
from service.kernel.plugins import DemoContext
from service.register import imports
from service.register.demo_city import (
    SHOWCASE_AREAS,
    DemoArea,
    DemoMerchant,
    demo_areas,
    demo_merchants,
)
from service.register.schemas import AreaIn, MerchantIn

DEMO_MERCHANTS = 1200


def area_ins(areas: Sequence[DemoArea]) -> list[AreaIn]:
    """The demo areas as the register's import takes them."""
    return [AreaIn(a.code, AreaKind(a.kind), a.name_zh, a.name_en, a.parent) for a in areas]


def merchant_ins(merchants: Sequence[DemoMerchant]) -> list[MerchantIn]:
    """The demo merchants as the register's import takes them."""
    return [
        MerchantIn(
            uscc=m.uscc,
            name=m.name,
            category=MerchantCategory(m.category),
            district=m.district,
            address=m.address,
            street=m.street,
            scenic_spot=m.scenic_spot,
            status=MerchantStatus(m.status),
        )
        for m in merchants
    ]


async def load(ctx: DemoContext) -> None:
    """The areas, the merchants, and the bureau's and a merchant's demo accounts."""
    areas = demo_areas()
    merchants = demo_merchants(areas, count=DEMO_MERCHANTS)
    await imports.import_area_structs(area_ins(areas), actor=ctx.actor, is_demo=True, source="demo")
    await imports.import_merchant_structs(
        merchant_ins(merchants), actor=ctx.actor, is_demo=True, source="demo"
    )
    ctx.facts.update(areas=len(areas), merchants=len(merchants))
    # The demo merchant trades on the street left for an official to certify.
    on_street = next(m for m in merchants if m.street == SHOWCASE_AREAS[2] and m.status == "active")
    # The district bureau's official works where the demo merchant trades, so that its
    # confined view has certificates, appeals and flags to show.
    for username, role, uscc, district in (
        ("demo-admin", Role.ADMIN, None, None),
        ("demo-official", Role.OFFICIAL, None, None),
        ("demo-district", Role.OFFICIAL, None, on_street.district),
        ("demo-merchant", Role.MERCHANT, on_street.uscc, None),
    ):
        password = secrets.token_urlsafe(12)
        await accounts.create_account(
            username,
            password,
            role,
            merchant_uscc=uscc,
            district_code=district,
            actor=ctx.actor,
            is_demo=True,
        )
        ctx.accounts.append((username, role.value, password))
