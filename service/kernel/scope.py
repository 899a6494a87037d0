"""Where an official may look and act: the city bureau's officials (and administrators) over
the whole city, a district bureau's officials over their district only.

The one rule every official-facing route applies. A district holds its merchants
(``Merchant.district``), its streets and scenic spots (``Area.parent``) and itself as a
scored unit; anything that belongs to one of them (a survey response, a score, a
certificate, a complaint) belongs to that district. Whatever lies outside answers as if it
did not exist — ``NotFound``, never 403, which would confirm it does — and lists simply leave
it out.

``None`` stands for "the whole city" throughout, so a city official's request runs the very
queries it ran before districts existed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar.connection import ASGIConnection
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from service.kernel.accounts import Principal
from service.kernel.errors import NotFound
from service.kernel.models import Area, AreaKind, Merchant
from service.kernel.security import principal_of

# The kinds of target a district holds besides merchants (survey targets, scored units,
# certificate subjects all use these words).
MERCHANT = "merchant"
PLACES = (AreaKind.STREET.value, AreaKind.SCENIC_SPOT.value)


async def district_of(principal: Principal | None) -> Area | None:
    """The district this caller is confined to; None for the whole city (city officials,
    administrators, tokens, and anyone a route lets in without a district)."""
    if principal is None or principal.district_id is None:
        return None
    district = await Area.get_or_none(id=principal.district_id)
    if district is None:  # the foreign key forbids it; never fall back to the whole city
        raise NotFound("Your district no longer exists")
    return district


async def of(connection: ASGIConnection[Any, Any, Any, Any]) -> Area | None:
    """The district the caller of this request is confined to (None: the whole city)."""
    return await district_of(principal_of(connection))


def merchants(district: Area | None) -> QuerySet[Merchant]:
    """Every merchant the caller may see."""
    qs = Merchant.all()
    return qs if district is None else qs.filter(district_id=district.id)


def places(district: Area | None) -> QuerySet[Area]:
    """The streets and scenic spots the caller may see."""
    qs = Area.filter(kind__in=PLACES)
    return qs if district is None else qs.filter(parent_id=district.id)


def areas(district: Area | None) -> QuerySet[Area]:
    """Every area the caller may see: all of them, or the district with its streets and
    scenic spots (not the city, which no district holds)."""
    if district is None:
        return Area.all()
    return Area.filter(Q(id=district.id) | Q(parent_id=district.id, kind__in=PLACES))


def districts(district: Area | None) -> QuerySet[Area]:
    """The districts the caller may see: all of them, or its own."""
    qs = Area.filter(kind=AreaKind.DISTRICT)
    return qs if district is None else qs.filter(id=district.id)


def targets(district: Area | None, *, code: str, kind: str, units: bool = False) -> Q:
    """A filter for rows that name a target by ``kind`` and ``code`` (a USCC or an area code):
    only those inside the district. ``units``: the rows are scored units, among which the
    district itself is one. Subqueries, not values: a district may hold more merchants than
    one query can bind."""
    if district is None:
        return Q()
    in_merchants: dict[str, Any] = {
        kind: MERCHANT,
        f"{code}__in": Subquery(merchants(district).values("uscc")),
    }
    in_places: dict[str, Any] = {
        f"{kind}__in": PLACES,
        f"{code}__in": Subquery(places(district).values("code")),
    }
    inside = Q(**in_merchants) | Q(**in_places)
    if units:
        itself: dict[str, Any] = {kind: AreaKind.DISTRICT.value, code: district.code}
        inside |= Q(**itself)
    return inside


async def holds(district: Area | None, kind: str | None, code: str) -> bool:
    """Whether the target lies inside the district (always, for the whole city)."""
    if district is None:
        return True
    if kind == MERCHANT:
        return await merchants(district).filter(uscc=code).exists()
    if kind in PLACES:
        return await places(district).filter(kind=kind, code=code).exists()
    if kind == AreaKind.DISTRICT.value:
        return code == district.code
    if kind is None:  # a survey target named by its code alone
        return (
            await merchants(district).filter(uscc=code).exists()
            or await places(district).filter(code=code).exists()
        )
    return False  # the city itself, or a kind no district holds


async def codes(district: Area | None, kind: str) -> set[str] | None:
    """The codes of the merchants (USCCs), streets or scenic spots inside the district, for
    filtering what was computed city-wide; None for the city: nothing to filter."""
    if district is None:
        return None
    if kind == MERCHANT:
        found = await merchants(district).values_list("uscc", flat=True)
    else:
        found = await places(district).filter(kind=kind).values_list("code", flat=True)
    return {str(c) for c in found}


async def require(district: Area | None, kind: str | None, code: str, missing: str) -> None:
    """Refuse a target outside the district with the very answer a missing one gets."""
    if not await holds(district, kind, code):
        raise NotFound(missing)


async def require_all(district: Area | None, kind: str, codes: Iterable[str]) -> None:
    """Every one of the targets inside, or the first outside refused as missing."""
    for code in codes:
        await require(district, kind, code, f"No {kind} {code}")


def district_filter(district: Area | None, requested: str | None) -> str | None:
    """A list's ``district`` filter as the caller may use it: a district official's lists are
    always of its own district, and asking for another is asking for something missing."""
    if district is None:
        return requested or None
    if requested and requested != district.code:
        raise NotFound(f"No district with code {requested}")
    return district.code


async def place_filter(district: Area | None, requested: str | None) -> str | None:
    """A list's street or scenic spot filter: one outside the district is missing."""
    if not requested:
        return None
    if district is not None and not await places(district).filter(code=requested).exists():
        raise NotFound(f"No street or scenic spot with code {requested}")
    return requested
