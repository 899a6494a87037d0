"""The public pages of one merchant and of one area: what the bureau publishes about it —
its published score with its interval, its certificates with their live status, its
complaint record (投诉公示), the consumer advisories that name it, and where to rate it.
Plain HTML, no script, for a phone that followed a link from the search, a ranking or a
certificate."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Litestar, Request, get
from litestar.params import PathParameter
from litestar.response import Template
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler
from tortoise.expressions import Q, Subquery

from certificates import issuance
from certificates.applications.models import Application, ApplicationStatus
from certificates.commitments import store as commitments
from certificates.labels import STATUS_LABELS
from certificates.models import Certificate, Status
from certificates.policy import Kind
from scoring.disclosure import labels as disclosure_labels
from scoring.disclosure import rules as disclosure
from scoring.disclosure import store as disclosure_store
from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from scoring.satisfaction.scores import Params
from service.kernel.errors import NotFound
from service.kernel.i18n import N_
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus
from service.kernel.security import PUBLIC
from service.portal.advisories import store as advisories
from service.portal.advisories.pages import ADVISORY_CATEGORIES
from service.portal.advisories.schemas import AdvisoryOut
from service.register import store as registry
from surveys.models import Survey, TargetKind

CATEGORY_LABELS: Final = {
    "catering": N_("Catering"),
    "retail": N_("Retail"),
    "lodging": N_("Lodging"),
    "tourism_services": N_("Tourism services"),
    "entertainment": N_("Entertainment"),
    "personal_services": N_("Personal services"),
    "automotive": N_("Automotive"),
    "pharmacy_health": N_("Pharmacy and health"),
}
AREA_KIND_LABELS: Final = {
    "city": N_("City"),
    "district": N_("District or county"),
    "street": N_("Commercial street"),
    "scenic_spot": N_("Scenic spot"),
}
CERTIFIED_SHOWN = 50  # an area page lists at most this many certified merchants


async def _score(kind: str, code: str) -> tuple[UnitScore | None, Params]:
    run = await runs.current_run()
    if run is None:
        return None, Params()
    unit = await UnitScore.get_or_none(run_id=run.id, kind=kind, code=code)
    return unit, Params.from_mapping(run.params)


async def _open_survey(kind: TargetKind, now: datetime) -> Survey | None:
    return (
        await Survey.filter(Q(closes_at__isnull=True) | Q(closes_at__gt=now), target_kind=kind)
        .filter(opens_at__lte=now)
        .order_by("slug")
        .first()
    )


async def _in_notice(code: str, now: datetime) -> Application | None:
    """The application of this subject in public notice now, open for objections."""
    return await Application.get_or_none(
        subject_code=code,
        status=ApplicationStatus.IN_NOTICE,
        notice_starts_at__lte=now,
        notice_ends_at__gt=now,
    )


def _unique(*lists: list[AdvisoryOut]) -> list[AdvisoryOut]:
    seen: dict[int, AdvisoryOut] = {}
    for items in lists:
        for a in items:
            seen.setdefault(a.id, a)
    return sorted(seen.values(), key=lambda a: (a.valid_from, a.id), reverse=True)


@dataclass(frozen=True, slots=True)
class Live:
    """A certificate with its status now (past its validity it is expired, whatever the sweep
    has yet to record)."""

    cert: Certificate
    status: Status


async def live_certificates(kinds: Collection[Kind], code: str) -> list[Live]:
    """The subject's certificates that are not expired, newest first, each with its status."""
    certs = (
        await Certificate.filter(kind__in=list(kinds), subject_code=code)
        .exclude(status=Status.EXPIRED)
        .order_by("-issued_at", "-id")
    )
    out = []
    for cert in certs:
        state = await issuance.status_at(cert)
        if state.status != Status.EXPIRED:
            out.append(Live(cert, state.status))
    return out


async def merchant_context(uscc: str, now: datetime) -> dict[str, Any]:
    """What the public is shown about one merchant, for its page and its storefront; the
    advisories are those naming it or the street, scenic spot or district it trades in."""
    merchant = await registry.get_merchant(uscc)
    codes = [c for c in (merchant.district, merchant.street, merchant.scenic_spot) if c]
    areas = {a.code: a for a in await Area.filter(code__in=codes)}
    unit, params = await _score("merchant", merchant.uscc)
    named = await advisories.in_force(now, kind="merchant", code=merchant.uscc)
    around = [await advisories.in_force(now, kind="area", code=c) for c in codes]
    merchant_id: int = (await Merchant.get(uscc=merchant.uscc)).id
    record = await disclosure_store.merchant_record(
        merchant_id, merchant.uscc, now, disclosure.policy()
    )
    return {
        "m": merchant,
        "areas": areas,
        "unit": unit,
        "params": params,
        "certificates": await live_certificates([Kind.MERCHANT], merchant.uscc),
        "statuses": STATUS_LABELS,
        "advisories": _unique(named, *around),
        "advisory_categories": ADVISORY_CATEGORIES,
        "categories": CATEGORY_LABELS,
        "commitments": await commitments.in_force(merchant.uscc, now),
        "notice": await _in_notice(merchant.uscc, now),
        "complaint_record": record,
        "complaint_categories": disclosure_labels.CATEGORIES,
        "survey": await _open_survey(TargetKind.MERCHANT, now)
        if merchant.status == MerchantStatus.ACTIVE
        else None,
    }


async def area_context(code: str, now: datetime) -> dict[str, Any]:
    """What the public is shown about a street, scenic spot, district or the city, for its
    page and its storefront."""
    area = await Area.get_or_none(code=code).select_related("parent")
    if area is None:
        raise NotFound(f"No area {code}")
    unit: UnitScore | None = None
    params = Params()
    survey: Survey | None = None
    within = Q()
    if area.kind in (AreaKind.STREET, AreaKind.SCENIC_SPOT):
        unit, params = await _score(area.kind.value, area.code)
        survey = await _open_survey(TargetKind(area.kind.value), now)
        within = Q(street_id=area.id) if area.kind == AreaKind.STREET else Q(scenic_spot_id=area.id)
    elif area.kind == AreaKind.DISTRICT:
        within = Q(district_id=area.id)
    merchants = Merchant.filter(within, status=MerchantStatus.ACTIVE)
    certified = Certificate.filter(
        kind=Kind.MERCHANT,
        status=Status.ACTIVE,
        subject_code__in=Subquery(merchants.values("uscc")),
    )
    return {
        "area": area,
        "kind_labels": AREA_KIND_LABELS,
        "notice": await _in_notice(area.code, now),
        "unit": unit,
        "params": params,
        "survey": survey,
        "certificates": await live_certificates([Kind.STREET, Kind.SCENIC_SPOT], area.code),
        "statuses": STATUS_LABELS,
        "advisories": await advisories.in_force(now, kind="area", code=area.code),
        "advisory_categories": ADVISORY_CATEGORIES,
        "merchant_count": await merchants.count(),
        "certified_count": await certified.count(),
        "certified": await certified.order_by("subject_name").limit(CERTIFIED_SHOWN),
        "children": await Area.filter(parent_id=area.id).order_by("kind", "code"),
    }


COMPLAIN_PATH: Final = "/complain/{}"
_PARAMETER = re.compile(r"\{[^}]*\}")


def takes_complaints(app: Litestar) -> bool:
    """Whether this app serves GET /complain/{uscc} (read from its route table at render time:
    the complaint pages are another part, and may be absent)."""
    return any(
        isinstance(route, HTTPRoute)
        and _PARAMETER.sub("{}", route.path) == COMPLAIN_PATH
        and "GET" in route.methods
        for route in app.routes
    )


def complain_url(app: Litestar, uscc: str) -> str | None:
    """Where the public complains about this merchant, if this app takes complaints."""
    return COMPLAIN_PATH.format(uscc) if takes_complaints(app) else None


@get("/merchants/{uscc:str}", opt=PUBLIC, include_in_schema=False)
async def merchant_page(
    request: Request[Any, Any, Any], uscc: Annotated[str, PathParameter(max_length=18)]
) -> Template:
    """One merchant as the public sees it (with the complaint link when the app takes them)."""
    context = await merchant_context(uscc, datetime.now(UTC))
    context["complain_url"] = complain_url(request.app, context["m"].uscc)
    return Template("portal/merchant_public.html", context=context)


@get("/areas/{code:str}", opt=PUBLIC, include_in_schema=False)
async def area_page(code: Annotated[str, PathParameter(max_length=32)]) -> Template:
    """A street, scenic spot, district or the city: its score and rank, its certificate, the
    advisories naming it, its certified merchants and the places within it."""
    return Template("portal/area_public.html", context=await area_context(code, datetime.now(UTC)))


PAGES: list[ControllerRouterHandler] = [merchant_page, area_page]
