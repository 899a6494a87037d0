"""Web pages of credit repair (信用修复): the merchant's (what it may repair and when, the form
with the pledge, its applications) and the officials' (the queue and one application with
its evidence and the decision form). No JavaScript: plain forms, CSRF, a refused form
re-rendered with each bad field named (422; 409 for what is no longer possible)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Response, Template
from litestar.types import ControllerRouterHandler

from scoring.credit import repair
from scoring.credit.models import RepairStatus
from scoring.credit.repair_routes import (
    UPLOAD_MAX_BYTES,
    UploadBody,
    file_response,
    form_of,
    text_of,
    uploads_of,
)
from scoring.credit.routes import rules_of
from scoring.credit.workdays import local_date, working_days_between
from service.kernel.errors import FangxinError, NotFound
from service.kernel.i18n import N_
from service.kernel.security import MERCHANT_ONLY, OFFICIALS, require_principal
from service.kernel.settings import Settings

Id = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
KIND_LABELS: Final = {
    "penalty_minor": N_("Administrative penalty"),
    "penalty_major": N_("Major administrative penalty"),
    "abnormal_list_added": N_("On the abnormal operations list"),
    "serious_list_added": N_("On the serious violation list"),
}
STATUS_LABELS: Final = {
    "pending": N_("Awaiting decision"),
    "approved": N_("Credit repaired"),
    "refused": N_("Refused"),
}


def _labels() -> dict[str, Any]:
    return {"kind_labels": KIND_LABELS, "repair_statuses": STATUS_LABELS}


def _field_errors(exc: FangxinError) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in exc.errors:
        # files[0] and files alike are the file input's errors.
        out.setdefault(e.field.split("[")[0], []).append(e.message)
    return out


# --- the merchant ----------------------------------------------------------------------------


async def _merchant_page(
    request: Request[Any, Any, State],
    *,
    exc: FangxinError | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    who = require_principal(request)
    merchant = await repair.own_merchant(who)
    rules = rules_of(request)
    now = datetime.now(UTC)
    found = await repair.repairables(merchant, rules, now)
    mine = await repair.listing(who)
    return Template(
        "credit/repair_merchant.html",
        context={
            "merchant": merchant,
            "repairables": [repair.repairable_out(r, now) for r in found],
            "applications": [await repair.out(r, now) for r in reversed(mine)],
            "pledge": rules.repair.pledge if rules.repair else "",
            "source": rules.repair.source if rules.repair else "",
            "errors": [e.message for e in exc.errors] or [exc.detail] if exc else [],
            "field_errors": _field_errors(exc) if exc else {},
            "form": form or {},
            "submitted": request.query_params.get("submitted") == "1",
            "max_files": repair.MAX_FILES,
            "max_mb": repair.MAX_BYTES // (1024 * 1024),
            **_labels(),
        },
        status_code=status_code,
    )


@get("/merchant/credit-repair", opt=MERCHANT_ONLY, include_in_schema=False)
async def merchant_repair(request: Request[Any, Any, State]) -> Template:
    """What the merchant may repair and from when, the form, and its applications."""
    return await _merchant_page(request)


# A refused form answers with the page again: HTML, whatever the handler's default type.
@post(
    "/merchant/credit-repair",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    status_code=303,
    media_type=MediaType.HTML,
    request_max_body_size=UPLOAD_MAX_BYTES,
)
async def merchant_apply(request: Request[Any, Any, State], data: UploadBody) -> Any:
    settings: Settings = request.app.state.settings
    # Only the texts go back into the form: files must be chosen again.
    kept = {k: text_of(data, k) for k in ("event", "correction", "signatory", "pledge")}
    try:
        await repair.submit(
            require_principal(request),
            form_of(data),
            await uploads_of(data),
            rules=rules_of(request),
            data_dir=settings.data_dir,
        )
    except NotFound:
        raise
    except FangxinError as exc:
        return await _merchant_page(request, exc=exc, form=kept, status_code=exc.status)
    return Redirect("/merchant/credit-repair?submitted=1#applications", status_code=303)


# --- officials -------------------------------------------------------------------------------


@get("/official/credit-repairs", opt=OFFICIALS, include_in_schema=False)
async def official_repairs(
    request: Request[Any, Any, State],
    status: Annotated[str | None, QueryParameter(max_length=16)] = None,
) -> Template:
    """The queue: applications awaiting decision (by default), nearest deadline first."""
    shown = RepairStatus.PENDING
    if status in {s.value for s in RepairStatus}:
        shown = RepairStatus(status)
    now = datetime.now(UTC)
    rows = await repair.listing(require_principal(request), status=shown)
    today = local_date(now)
    return Template(
        "credit/repair_official_list.html",
        context={
            "rows": [await repair.out(r, now) for r in rows],
            "status": shown.value,
            "statuses": [s.value for s in RepairStatus],
            "left": {r.id: working_days_between(today, r.decide_by) for r in rows},
            **_labels(),
        },
    )


async def _official_page(
    request: Request[Any, Any, State],
    repair_id: int,
    *,
    exc: FangxinError | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Template:
    who = require_principal(request)
    found = await repair.get_for(repair_id, who)
    rules = rules_of(request)
    now = datetime.now(UTC)
    view = await repair.out(found, now)
    pledge_now = rules.repair.pledge_sha256 if rules.repair else ""
    return Template(
        "credit/repair_official_detail.html",
        context={
            "r": view,
            "pledge": rules.repair.pledge if rules.repair else "",
            "pledge_same": view.pledge_sha256 == pledge_now,
            "left": working_days_between(local_date(now), view.decide_by),
            "errors": [e.message for e in exc.errors] or [exc.detail] if exc else [],
            "field_errors": _field_errors(exc) if exc else {},
            "form": form or {},
            "done": request.query_params.get("done"),
            **_labels(),
        },
        status_code=status_code,
    )


@get("/official/credit-repairs/{repair_id:int}", opt=OFFICIALS, include_in_schema=False)
async def official_repair(request: Request[Any, Any, State], repair_id: Id) -> Template:
    return await _official_page(request, repair_id)


@get(
    "/merchant/credit-repairs/{repair_id:int}/files/{file_id:int}",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
)
async def merchant_file(
    request: Request[Any, Any, State], repair_id: Id, file_id: Id
) -> Response[bytes]:
    """A file the merchant sent, to read again what it was decided on."""
    settings: Settings = request.app.state.settings
    f = await repair.file_for(repair_id, file_id, require_principal(request))
    return file_response(settings, f)


@get(
    "/official/credit-repairs/{repair_id:int}/files/{file_id:int}",
    opt=OFFICIALS,
    include_in_schema=False,
)
async def official_file(
    request: Request[Any, Any, State], repair_id: Id, file_id: Id
) -> Response[bytes]:
    settings: Settings = request.app.state.settings
    f = await repair.file_for(repair_id, file_id, require_principal(request))
    return file_response(settings, f)


@post(
    "/official/credit-repairs/{repair_id:int}/decision",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
    media_type=MediaType.HTML,
)
async def decide_form(request: Request[Any, Any, State], repair_id: Id, data: FormBody) -> Any:
    kept = {k: text_of(data, k) for k in ("decision", "reason")}
    try:
        await repair.decide(
            repair_id,
            require_principal(request),
            approve=repair.parse_decision(kept["decision"]),
            reason=kept["reason"],
            rules=rules_of(request),
        )
    except NotFound:
        raise
    except FangxinError as exc:
        return await _official_page(request, repair_id, exc=exc, form=kept, status_code=exc.status)
    return Redirect(f"/official/credit-repairs/{repair_id}?done=decided", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    merchant_repair,
    merchant_apply,
    official_repairs,
    official_repair,
    merchant_file,
    official_file,
    decide_form,
]
