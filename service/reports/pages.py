"""The annual report page for officials: the figures in sentences, charts and tables, with the
PDF, workbook and JSON one link away."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from service.kernel import i18n, scope
from service.kernel.localtime import to_local
from service.kernel.security import OFFICIALS
from service.reports import annual, charts, render


@get("/official/reports/annual", opt=OFFICIALS, include_in_schema=False)
async def annual_page(
    request: Request[Any, Any, State],
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
    district: Annotated[str | None, QueryParameter(max_length=32)] = None,
) -> Template:
    """Last year's report unless another is asked for: the one a bureau is writing."""
    year = year or to_local(datetime.now(UTC)).year - 1
    confined = await scope.of(request)
    district = scope.district_filter(confined, district)
    report = await annual.annual_report(year, district)
    ctx = render.context(report, i18n.gettext)
    for name in ("district_chart", "month_chart", "channel_chart"):
        ctx[name] = charts.svg_uri(ctx[name])
    query = urlencode({k: v for k, v in (("year", year), ("district", district)) if v})
    return Template(
        "reports/annual.html",
        context=ctx
        | {
            "year": year,
            "district": district or "",
            "all_districts": await scope.districts(confined).order_by("code"),
            "confined": confined,
            "query": query,
        },
    )


PAGES: list[ControllerRouterHandler] = [annual_page]
