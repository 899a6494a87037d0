"""What a district's official may post to the feeds: records of its own district only.

A record handled by another district, a merchant registered in another, answers as missing
(404, like every other route of a district official); a record that names no district is
handled by the official's own. City officials, administrators and feed tokens post anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from scoring.credit.schemas import ComplaintIn, CreditEventIn, SpotCheckCampaignIn, VisitTallyIn
from service.kernel import scope
from service.kernel.db import in_slices
from service.kernel.errors import NotFound
from service.kernel.models import Area


def _own(district: Area, named: str | None) -> str:
    if named is not None and named != district.code:
        raise NotFound(f"No district with code {named}")
    return district.code


async def _registered_inside(district: Area, usccs: Iterable[str]) -> None:
    """A USCC of a merchant registered elsewhere is missing here; one not registered at all
    may be named (the party is kept until it registers)."""
    wanted = set(usccs)
    if not wanted:
        return
    inside = set(
        await in_slices(
            lambda c: scope.merchants(district).filter(uscc__in=c).values_list("uscc", flat=True),
            wanted,
        )
    )
    registered = await in_slices(
        lambda c: scope.merchants(None).filter(uscc__in=c).values_list("uscc", flat=True),
        wanted - inside,
    )
    for uscc in sorted(registered):
        raise NotFound(f"No merchant with USCC {uscc}")


async def events(district: Area | None, items: Sequence[CreditEventIn]) -> None:
    if district is not None:
        await _registered_inside(district, (i.uscc for i in items))


async def complaints(district: Area | None, items: Sequence[ComplaintIn]) -> list[ComplaintIn]:
    if district is None:
        return list(items)
    await _registered_inside(district, (i.uscc for i in items if i.uscc))
    return [msgspec.structs.replace(i, district=_own(district, i.district)) for i in items]


async def tallies(district: Area | None, items: Sequence[VisitTallyIn]) -> list[VisitTallyIn]:
    if district is None:
        return list(items)
    return [msgspec.structs.replace(i, district=_own(district, i.district)) for i in items]


async def campaigns(
    district: Area | None, items: Sequence[SpotCheckCampaignIn]
) -> list[SpotCheckCampaignIn]:
    if district is None:
        return list(items)
    await _registered_inside(
        district, (b.uscc for c in items for r in c.rounds for b in r.batches if b.uscc)
    )
    return [msgspec.structs.replace(c, district=_own(district, c.district)) for c in items]
