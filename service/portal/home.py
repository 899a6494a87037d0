"""The city's trusted-consumption home: published rankings of streets and scenic spots with
their intervals, the certified places, a merchant search, and a way to check a certificate.
Plain HTML for a slow phone: no script, no chart image, nothing fetched from elsewhere."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from certificates.commitments import store as commitments
from certificates.labels import STATUS_LABELS
from certificates.models import Certificate, Status
from certificates.policy import Kind
from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from scoring.satisfaction.pages import RANKED_KINDS, area_rows
from scoring.satisfaction.scores import Params
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus
from service.kernel.security import PUBLIC
from service.portal.advisories import store as advisories
from service.portal.advisories.pages import ADVISORY_CATEGORIES
from service.register import store as registry
from service.register.store import MerchantFilter, Page

SEARCH_PAGE_SIZE = 20
RANKING_ROWS = 10  # the home page shows the top of each ranking; /scores has the rest


@get("/", opt=PUBLIC, include_in_schema=False)
async def home(
    request: Request[Any, Any, State],
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Template:
    city = await Area.filter(kind=AreaKind.CITY).order_by("code").first()
    districts = await Area.filter(kind=AreaKind.DISTRICT).order_by("code")
    run = await runs.current_run()
    rankings = []
    if run is not None:
        for kind in RANKED_KINDS:
            rows = await area_rows(run.id, kind)
            rankings.append((kind, rows[:RANKING_ROWS], len(rows)))
    results: list[Any] = []
    total = 0
    query = (q or "").strip()
    scores: dict[str, UnitScore] = {}
    certified: set[str] = set()
    promised: dict[str, list[Any]] = {}
    if query:
        results, total = await registry.list_merchants(
            Page(page, SEARCH_PAGE_SIZE), MerchantFilter(q=query)
        )
        codes = [m.uscc for m in results]
        if run is not None:
            scores = {
                u.code: u
                for u in await UnitScore.filter(run_id=run.id, kind="merchant", code__in=codes)
            }
        certified = {
            str(c)
            for c in await Certificate.filter(
                kind=Kind.MERCHANT, status=Status.ACTIVE, subject_code__in=codes
            ).values_list("subject_code", flat=True)
        }
        promised = await commitments.in_force_many(codes)
    return Template(
        template_name="home.html",
        context={
            "city": city,
            "run": run,
            "params": Params.from_mapping(run.params) if run else Params(),
            "rankings": rankings,
            "places": await Certificate.filter(
                kind__in=[Kind.STREET, Kind.SCENIC_SPOT],
                status__in=[Status.ACTIVE, Status.SUSPENDED],
            ).order_by("kind", "subject_name"),
            "certified_merchants": await Certificate.filter(
                kind=Kind.MERCHANT, status=Status.ACTIVE
            ).count(),
            "statuses": STATUS_LABELS,
            "districts": districts,
            "merchant_count": await Merchant.filter(status=MerchantStatus.ACTIVE).count(),
            "q": query,
            "results": results,
            "scores": scores,
            "certified": certified,
            "commitments_of": promised,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // SEARCH_PAGE_SIZE)),
            "district_names": {d.code: d for d in districts},
            "advisories": await advisories.in_force(),
            "advisory_categories": ADVISORY_CATEGORIES,
        },
    )


PAGES: list[ControllerRouterHandler] = [home]
