"""HTTP of the annual report: the figures as JSON or a workbook, and the PDF to publish."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Response
from litestar.types import ControllerRouterHandler

from service.kernel import scope
from service.kernel.exports import EXPORT_TYPES, Headers, disposition
from service.kernel.security import OFFICIALS
from service.reports import annual, render
from service.reports.schemas import AnnualReport

Year = Annotated[int, QueryParameter(ge=2000, le=2100, description="the bureau's year")]
District = Annotated[
    str | None, QueryParameter(max_length=32, description="a district's code; none: the city")
]


def report_name(year: int, district: str | None) -> str:
    return f"fangxin-annual-{year}" + (f"-{district}" if district else "")


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]

    @get("/annual", opt=OFFICIALS)
    async def annual_report(
        self,
        request: Request[Any, Any, State],
        year: Year,
        district: District = None,
        format: Annotated[Literal["json", "xlsx"], QueryParameter()] = "json",
        header_row: Headers = "label",
    ) -> AnnualReport | Response[bytes]:
        """The year's figures as the bureau reports them: consumer associations, all
        channels, counter visits, spot checks, satisfaction, certificates, by district,
        channel and month. Money in yuan as decimal strings; rates in percent."""
        district = scope.district_filter(await scope.of(request), district)
        report = await annual.annual_report(year, district)
        if format == "json":
            return report
        content = await anyio.to_thread.run_sync(render.annual_xlsx, report, header_row)
        return Response(
            content,
            media_type=EXPORT_TYPES["xlsx"],
            headers={
                "content-disposition": disposition(
                    "attachment", f"{report_name(year, district)}.xlsx"
                )
            },
        )

    @get("/annual.pdf", opt=OFFICIALS, media_type="application/pdf")
    async def annual_pdf(
        self, request: Request[Any, Any, State], year: Year, district: District = None
    ) -> Response[bytes]:
        """The report a bureau can publish: A4, in Chinese, its figures in sentences, tables
        and charts."""
        district = scope.district_filter(await scope.of(request), district)
        report = await annual.annual_report(year, district)
        content = await anyio.to_thread.run_sync(render.annual_pdf, report)
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "content-disposition": disposition("inline", f"{report_name(year, district)}.pdf")
            },
        )


ROUTES: list[ControllerRouterHandler] = [ReportController]
