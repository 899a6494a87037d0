"""Officials' credit pages: the complaint figures the bureau reports, credit classes per street
and scenic spot, and one merchant's credit with its history and events."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from scoring.credit import figures as credit_figures
from scoring.credit import view as credit_view
from scoring.credit.routes import classes_within, require_merchant_in_scope, rules_of
from service.kernel import scope
from service.kernel.models import Merchant
from service.kernel.security import OFFICIALS


@get("/official/credit", opt=OFFICIALS, include_in_schema=False)
async def credit_page(
    request: Request[Any, Any, State],
    period: Annotated[credit_figures.Period, QueryParameter()] = "year",
    district: Annotated[str | None, QueryParameter(max_length=32)] = None,
) -> Template:
    """Complaints per period and district, and credit classes per street and scenic spot."""
    confined = await scope.of(request)
    district = scope.district_filter(confined, district)
    q = credit_figures.ComplaintQuery(period, district)
    figures = credit_figures.shown(await credit_figures.complaints_report(q), district)
    classes = classes_within(await credit_figures.classes_report(rules_of(request)), district)
    query = urlencode({k: v for k, v in (("period", period), ("district", district)) if v})
    return Template(
        "credit/credit.html",
        context={
            "period": period,
            "periods": credit_figures.PERIODS,
            "district": district or "",
            "districts": await scope.districts(confined).order_by("code"),
            "figures": figures.to_dicts(),
            "classes": classes.to_dicts(),
            "city_total": credit_figures.CITY_TOTAL,
            "query": query,
        },
    )


@get("/official/credit/{uscc:str}", opt=OFFICIALS, include_in_schema=False)
async def merchant_credit_page(
    request: Request[Any, Any, State], uscc: Annotated[str, PathParameter(max_length=64)]
) -> Template:
    """One merchant's credit: score, class, listings, each change and each event's points."""
    await require_merchant_in_scope(request, uscc)
    credit = await credit_view.merchant_credit(uscc, rules_of(request))
    merchant = await Merchant.get(uscc=uscc)
    return Template("credit/merchant_credit.html", context={"credit": credit, "merchant": merchant})


PAGES: list[ControllerRouterHandler] = [credit_page, merchant_credit_page]
