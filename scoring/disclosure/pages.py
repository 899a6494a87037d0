"""The city's complaint figures as a public page (/complaint-records): charts drawn on the
server with the table beside each, no script — by category, by district, this quarter's
most-complained categories (热点) and the trend by month; with the open data's links."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any

import anyio
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter
from litestar.response import Redirect, Response, Template
from litestar.types import ControllerRouterHandler

from scoring.credit.models import Complaint
from scoring.credit.workdays import local_date
from scoring.disclosure import corrections, labels, store
from scoring.disclosure.models import CorrectionStatus
from scoring.disclosure.routes import CorrectionId, file_response, files_body_max
from scoring.disclosure.rules import policy
from scoring.satisfaction.charts import count_chart_uri
from service.kernel.db import MAX_ID
from service.kernel.errors import FangxinError, NotFound
from service.kernel.i18n import _, current_locale
from service.kernel.models import Area, AreaKind, Merchant
from service.kernel.security import MERCHANT_ONLY, OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings
from service.kernel.upload_http import MultipartBody, form_uploads


def _category(code: str) -> str:
    return _(labels.CATEGORIES[code]) if code in labels.CATEGORIES else code


async def _charts(rows: dict[str, tuple[tuple[str, int], ...]], title: str) -> dict[str, str]:
    """Each chart's data URI (none for an empty table), drawn off the event loop."""
    out = {}
    for name, data in rows.items():
        if data:
            draw = partial(count_chart_uri, data, title, in_order=name == "by_month")
            out[name] = await anyio.to_thread.run_sync(draw)
    return out


@get("/complaint-records", opt=PUBLIC, include_in_schema=False)
async def city_page() -> Template:
    p = policy()
    figures = await store.city_views(datetime.now(UTC), p)
    zh = current_locale() == "zh_CN"
    districts = {
        a.code: (a.name_zh if zh else a.name_en) for a in await Area.filter(kind=AreaKind.DISTRICT)
    }
    tables = {
        "by_category": tuple((_category(k), n) for k, n in figures.by_category.items()),
        "by_district": tuple((districts.get(k, k), n) for k, n in figures.by_district.items()),
        "hot": tuple((_category(k), n) for k, n in figures.hot.items()),
        "by_month": tuple(figures.by_month.items()),
    }
    return Template(
        "disclosure/city.html",
        context={
            "figures": figures,
            "tables": tables,
            "charts": await _charts(tables, _("Complaints")),
            "exclusion_labels": labels.EXCLUSIONS,
            "policy": p,
        },
    )


# --- corrections (申请更正): the merchant's form and the officials' queue ---------------------

Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


def _field(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _problem(exc: FangxinError) -> str:
    return "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.detail


async def _merchant_page(
    request: Request[Any, Any, Any], *, error: str | None = None, status_code: int = 200
) -> Template:
    who = require_principal(request)
    if who.merchant_id is None:
        raise NotFound("This account has no merchant")
    p = policy()
    now = datetime.now(UTC)
    merchant = await Merchant.get(id=who.merchant_id)
    entries = await store.entries(merchant.id, now, p)
    requests = await corrections.listing(who)
    return Template(
        "disclosure/merchant_corrections.html",
        context={
            "merchant": merchant,
            "entries": entries,
            "requests": requests,
            "files": await corrections.files_of(requests),
            "record": await store.merchant_record(merchant.id, merchant.uscc, now, p),
            "policy": p,
            "categories": labels.CATEGORIES,
            "exclusion_labels": labels.EXCLUSIONS,
            "correction_labels": labels.CORRECTION_STATUSES,
            "error": error,
        },
        status_code=status_code,
    )


@get("/merchant/complaint-corrections", opt=MERCHANT_ONLY, include_in_schema=False)
async def merchant_corrections(request: Request[Any, Any, Any]) -> Template:
    """The merchant's complaints in the record's window, each with whether it is published
    and a form to ask for its correction; and its requests with their decisions."""
    return await _merchant_page(request)


@post(
    "/merchant/complaint-corrections",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    status_code=303,
    request_max_body_size=files_body_max(),
)
async def merchant_correction_form(
    request: Request[Any, Any, Any], data: MultipartBody
) -> Template | Redirect:
    who = require_principal(request)
    if who.merchant_id is None:
        raise NotFound("This account has no merchant")
    try:
        complaint_id = int(_field(data, "complaint_id"))
    except ValueError:
        raise NotFound(corrections.NO_ENTRY) from None
    asked = corrections.Request(complaint_id, _field(data, "reason"), _field(data, "evidence"))
    p = policy()
    settings: Settings = request.app.state.settings
    try:
        await corrections.request(
            who.merchant_id,
            asked,
            actor=who.actor,
            p=p,
            now=datetime.now(UTC),
            files=await form_uploads(data, p.file_max_mb * 1024 * 1024),
            data_dir=settings.data_dir,
        )
    except NotFound:
        raise
    except FangxinError as exc:
        return await _merchant_page(request, error=_problem(exc), status_code=422)
    return Redirect("/merchant/complaint-corrections?asked=1", status_code=303)


async def _official_page(
    request: Request[Any, Any, Any], *, error: str | None = None, status_code: int = 200
) -> Template:
    who = require_principal(request)
    pending = await corrections.listing(who, CorrectionStatus.PENDING)
    merchants = {m.id: m for m in await Merchant.filter(id__in=[c.merchant_id for c in pending])}
    complaints = {c.id: c for c in await Complaint.filter(id__in=[c.complaint_id for c in pending])}
    return Template(
        "disclosure/official_corrections.html",
        context={
            "pending": pending,
            "merchants": merchants,
            "complaints": complaints,
            "files": await corrections.files_of(pending),
            "categories": labels.CATEGORIES,
            "today": local_date(datetime.now(UTC)),
            "error": error,
        },
        status_code=status_code,
    )


@get(
    "/merchant/complaint-corrections/{correction_id:int}/files/{file_id:int}",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
)
async def merchant_file(
    request: Request[Any, Any, State], correction_id: CorrectionId, file_id: CorrectionId
) -> Response[bytes]:
    return await file_response(request, correction_id, file_id)


@get(
    "/official/complaint-corrections/{correction_id:int}/files/{file_id:int}",
    opt=OFFICIALS,
    include_in_schema=False,
)
async def official_file(
    request: Request[Any, Any, State], correction_id: CorrectionId, file_id: CorrectionId
) -> Response[bytes]:
    return await file_response(request, correction_id, file_id)


@get("/official/complaint-corrections", opt=OFFICIALS, include_in_schema=False)
async def official_corrections(request: Request[Any, Any, Any]) -> Template:
    """The requests waiting for a decision (a district's officials: their district's), the
    oldest due first."""
    return await _official_page(request)


@post(
    "/official/complaint-corrections/{correction_id:int}/decision",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def official_decision_form(
    request: Request[Any, Any, Any],
    correction_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    data: Form,
) -> Template | Redirect:
    try:
        decision = corrections.Decision(_field(data, "decision"))
    except ValueError:
        return await _official_page(request, error="decision: ?", status_code=422)
    try:
        await corrections.decide(
            correction_id,
            decision,
            _field(data, "note"),
            who=require_principal(request),
            p=policy(),
            now=datetime.now(UTC),
        )
    except NotFound:
        raise
    except FangxinError as exc:
        return await _official_page(request, error=_problem(exc), status_code=422)
    return Redirect("/official/complaint-corrections?decided=1", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    city_page,
    merchant_corrections,
    merchant_correction_form,
    merchant_file,
    official_corrections,
    official_file,
    official_decision_form,
]
