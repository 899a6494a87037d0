"""Publishing and withdrawing consumer advisories, and the ones in force.

One function each for the API, the pages and the tests. A district's official publishes
for its district: the merchants and areas it names must be its own (any other answers as
missing, like every route of a district official).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from service.kernel import audit, scope
from service.kernel.audit import Actor
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.models import Area
from service.kernel.validation import FUTURE_TOLERANCE, check_text, parse_time
from service.portal.advisories.models import Advisory, AdvisoryCategory, AdvisorySubject
from service.portal.advisories.schemas import AdvisoryIn, AdvisoryOut

TITLE_MAX = 100
TEXT_MAX = 4000


def _check(
    data: AdvisoryIn, now: datetime
) -> tuple[AdvisoryIn, datetime, datetime | None, list[FieldError]]:
    """The advisory as kept (its title and text cleaned), its validity, and every problem."""
    errors: list[FieldError] = []
    kept = msgspec.structs.replace(
        data,
        title=check_text(errors, "title", data.title, TITLE_MAX),
        text=check_text(errors, "text", data.text, TEXT_MAX),
    )
    try:
        AdvisoryCategory(data.category)
    except ValueError:
        choices = ", ".join(c.value for c in AdvisoryCategory)
        errors.append(FieldError("category", f"must be one of {choices}"))
    start, end = now, None
    times: tuple[tuple[str, str | None], ...] = (
        ("valid_from", data.valid_from),
        ("valid_until", data.valid_until),
    )
    for name, when in times:
        if when is None:
            continue
        try:
            moment = parse_time(when)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
            continue
        if name == "valid_from":
            start = moment
        else:
            end = moment
    if end is not None and end <= max(start, now - FUTURE_TOLERANCE):
        errors.append(FieldError("valid_until", "must be later than valid_from and now"))
    return kept, start, end, errors


async def publish(data: AdvisoryIn, *, actor: Actor, district: Area | None) -> AdvisoryOut:
    now = datetime.now(UTC)
    data, start, end, errors = _check(data, now)
    merchants = sorted(set(data.merchants))
    areas = sorted(set(data.areas))
    known_merchants = {
        str(u)
        for u in await scope.merchants(district)
        .filter(uscc__in=merchants)
        .values_list("uscc", flat=True)
    }
    known_areas = {
        str(c)
        for c in await scope.areas(district).filter(code__in=areas).values_list("code", flat=True)
    }
    errors += [
        FieldError("merchants", f"no merchant with USCC {m}")
        for m in merchants
        if m not in known_merchants
    ]
    errors += [FieldError("areas", f"no area with code {a}") for a in areas if a not in known_areas]
    if errors:
        raise InvalidInput("The advisory is not valid", errors)
    async with in_transaction() as tx:
        advisory = await Advisory.create(
            using_db=tx,
            title=data.title,
            text=data.text,
            category=AdvisoryCategory(data.category),
            valid_from=start,
            valid_until=end,
            district_id=district.id if district else None,
            published_by=actor.name,
            published_at=now,
        )
        await AdvisorySubject.bulk_create(
            [AdvisorySubject(advisory_id=advisory.id, kind="merchant", code=m) for m in merchants]
            + [AdvisorySubject(advisory_id=advisory.id, kind="area", code=a) for a in areas],
            using_db=tx,
        )
        await audit.record(
            tx,
            actor,
            "advisory.published",
            f"advisory:{advisory.id}",
            {"title": advisory.title, "merchants": merchants, "areas": areas},
        )
    return (await _out([advisory]))[0]


async def withdraw(advisory_id: int, *, actor: Actor, district: Area | None) -> AdvisoryOut:
    """Withdrawn at once; a district's official withdraws only its district's."""
    async with in_transaction() as tx:
        found = Advisory.filter(id=advisory_id, withdrawn_at__isnull=True)
        if district is not None:
            found = found.filter(district_id=district.id)
        advisory = await found.using_db(tx).first()
        if advisory is None:
            raise NotFound(f"No advisory {advisory_id} in force")
        advisory.withdrawn_at = datetime.now(UTC)
        advisory.withdrawn_by = actor.name
        await advisory.save(using_db=tx, update_fields=["withdrawn_at", "withdrawn_by"])
        await audit.record(tx, actor, "advisory.withdrawn", f"advisory:{advisory.id}", {})
    return (await _out([advisory]))[0]


async def in_force(
    now: datetime | None = None, *, kind: str | None = None, code: str | None = None
) -> list[AdvisoryOut]:
    """Advisories in force now, newest first; with ``kind`` and ``code``, those naming that
    merchant or area."""
    now = now or datetime.now(UTC)
    qs = Advisory.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gt=now),
        withdrawn_at__isnull=True,
        valid_from__lte=now,
    )
    if kind is not None and code is not None:
        qs = qs.filter(subjects__kind=kind, subjects__code=code)
    return await _out(await qs.order_by("-valid_from", "-id").distinct())


async def _out(items: Sequence[Advisory]) -> list[AdvisoryOut]:
    subjects: dict[int, list[AdvisorySubject]] = {}
    for s in await AdvisorySubject.filter(advisory_id__in=[a.id for a in items]).order_by("code"):
        subjects.setdefault(s.advisory_id, []).append(s)
    return [
        AdvisoryOut(
            id=a.id,
            title=a.title,
            text=a.text,
            category=str(a.category),
            valid_from=a.valid_from,
            valid_until=a.valid_until,
            published_at=a.published_at,
            withdrawn_at=a.withdrawn_at,
            merchants=[s.code for s in subjects.get(a.id, []) if s.kind == "merchant"],
            areas=[s.code for s in subjects.get(a.id, []) if s.kind == "area"],
        )
        for a in items
    ]


async def ended(limit: int = 20, now: datetime | None = None) -> list[AdvisoryOut]:
    """The most recently withdrawn or lapsed advisories, for the officials' page."""
    now = now or datetime.now(UTC)
    qs = Advisory.filter(Q(withdrawn_at__isnull=False) | Q(valid_until__lte=now))
    return await _out(await qs.order_by("-published_at", "-id").limit(limit))


async def districts_of(ids: Sequence[int]) -> dict[int, int | None]:
    """Which district (by area id) each advisory was published for; None for the city's."""
    rows = await Advisory.filter(id__in=list(ids)).values_list("id", "district_id")
    return {int(i): (int(d) if d is not None else None) for i, d in rows}
