"""Web pages of applications: the applicant's (a merchant's /merchant/applications, an area
manager's /area), the officials' list and detail with their forms, and the public notices
with the objection form. Forms that fail re-render with the reason and change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from certificates.applications import objections
from certificates.applications import store as applications
from certificates.applications.inspections import CHECKLIST, KIND_LABELS
from certificates.applications.models import Objection
from certificates.applications.routes import UPLOAD_MAX_BYTES, Id, client_address, uploads_of
from certificates.applications.schemas import (
    AnswerIn,
    ApplicationDecisionIn,
    ChecklistItemIn,
    InspectionIn,
    ObjectionIn,
)
from certificates.labels import REASON_LABELS
from certificates.policy import Kind, policy_for
from scoring.credit import store as credit_store
from service.kernel.accounts import Principal
from service.kernel.errors import FangxinError, NotFound
from service.kernel.i18n import N_
from service.kernel.security import (
    AREA_MANAGER_ONLY,
    MERCHANT_ONLY,
    OFFICIALS,
    PUBLIC,
    require_principal,
)
from service.kernel.settings import Settings

STATUS_LABELS: Final = {
    "submitted": N_("Application submitted"),
    "under_review": N_("Under review"),
    "refused": N_("Refused"),
    "approved": N_("Approved"),
    "in_notice": N_("In public notice"),
    "issued": N_("Certificate issued"),
    "blocked": N_("Stopped by an upheld objection"),
}
OUTCOME_LABELS: Final = {"upheld": N_("Objection upheld"), "dismissed": N_("Objection dismissed")}
KIND_NAMES: Final = {
    "merchant": N_("Merchant"),
    "street": N_("Street"),
    "scenic_spot": N_("Scenic spot"),
}
FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
UploadBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


def _messages(exc: FangxinError) -> list[str]:
    return [f"{e.field}: {e.message}" for e in exc.errors] or [exc.detail]


def _labels() -> dict[str, Any]:
    return {
        "statuses": STATUS_LABELS,
        "outcomes": OUTCOME_LABELS,
        "kinds": KIND_NAMES,
        "checklist": CHECKLIST,
        "inspection_kinds": KIND_LABELS,
        "reasons": REASON_LABELS,
    }


def _titles(request: Request[Any, Any, State]) -> dict[str, tuple[str, str]]:
    """Each kind's certificate title (Chinese, English) from the policy."""
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    return {k.value: policy.title(k) for k in Kind}


# --- the applicant ---------------------------------------------------------------------------


async def _applicant_page(
    request: Request[Any, Any, State],
    action: str,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
    statement: str = "",
) -> Template:
    who = require_principal(request)
    _, own = await applications.visible(who)
    rows = await applications.listing(who, page_size=20)
    details = [
        await applications.out(await applications.get_for(s.id, who), who) for s in rows.items
    ]
    return Template(
        "applications/applicant.html",
        context={
            "own": own,
            "action": action,
            "applications": details,
            "errors": errors or [],
            "statement": statement,
            "submitted": request.query_params.get("submitted") == "1",
            **_labels(),
        },
        status_code=status_code,
    )


async def _apply(request: Request[Any, Any, State], data: dict[str, Any], page: str) -> Any:
    settings: Settings = request.app.state.settings
    statement = data.get("statement") if isinstance(data.get("statement"), str) else ""
    try:
        await applications.submit(
            require_principal(request),
            kind=None,
            subject=None,
            statement=str(statement),
            uploads=await uploads_of(data),
            data_dir=settings.data_dir,
        )
    except NotFound:
        raise
    except FangxinError as exc:
        errors = [e.message for e in exc.errors] or [exc.detail]
        return await _applicant_page(
            request, page, errors=errors, status_code=exc.status, statement=str(statement)
        )
    return Redirect(f"{page}?submitted=1", status_code=303)


@get("/merchant/applications", opt=MERCHANT_ONLY, include_in_schema=False)
async def merchant_applications(request: Request[Any, Any, State]) -> Template:
    """The merchant's applications and where each stands; a form to apply."""
    return await _applicant_page(request, "/merchant/applications")


@post(
    "/merchant/applications",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
    request_max_body_size=UPLOAD_MAX_BYTES,
)
async def merchant_apply(request: Request[Any, Any, State], data: UploadBody) -> Any:
    return await _apply(request, data, "/merchant/applications")


@get("/area", opt=AREA_MANAGER_ONLY, include_in_schema=False)
async def area_home(request: Request[Any, Any, State]) -> Template:
    """The area manager's home: its street's or scenic spot's applications; a form to apply."""
    return await _applicant_page(request, "/area")


@post(
    "/area",
    opt=AREA_MANAGER_ONLY,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
    request_max_body_size=UPLOAD_MAX_BYTES,
)
async def area_apply(request: Request[Any, Any, State], data: UploadBody) -> Any:
    return await _apply(request, data, "/area")


# --- officials -------------------------------------------------------------------------------


@get("/official/applications", opt=OFFICIALS, include_in_schema=False)
async def official_applications(request: Request[Any, Any, State]) -> Template:
    """Applications to work on (a district's official: its district's), newest first."""
    status = request.query_params.get("status") or None
    who = require_principal(request)
    try:
        rows = await applications.listing(who, status=status, page_size=200)
    except FangxinError:
        rows = await applications.listing(who, page_size=200)
        status = None
    return Template(
        "applications/official_list.html",
        context={"rows": rows, "status": status, **_labels()},
    )


async def _official_page(
    request: Request[Any, Any, State],
    application_id: int,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Template:
    who = require_principal(request)
    application = await applications.get_for(application_id, who)
    now = datetime.now(UTC)
    return Template(
        "applications/official_detail.html",
        context={
            "a": await applications.out(application, who),
            "why_not": await applications.why_not_issuable(application, now),
            "errors": errors or [],
            "done": request.query_params.get("done"),
            **_labels(),
        },
        status_code=status_code,
    )


@get("/official/applications/{application_id:int}", opt=OFFICIALS, include_in_schema=False)
async def official_application(request: Request[Any, Any, State], application_id: Id) -> Template:
    return await _official_page(request, application_id)


def _inspection_from(data: dict[str, Any]) -> InspectionIn:
    items = [
        ChecklistItemIn(
            item=key,
            passed=data.get(f"item_{key}") == "pass",
            note=str(data.get(f"note_{key}") or "")[:500],
        )
        for key in CHECKLIST
        if data.get(f"item_{key}") in ("pass", "fail")
    ]
    return InspectionIn(
        kind=str(data.get("kind") or ""),
        checklist=items,
        passed=data.get("result") == "pass",
        note=str(data.get("note") or ""),
        visited_at=None,
    )


async def _act(
    request: Request[Any, Any, State], application_id: int, done: str, step: Any
) -> Template | Redirect:
    try:
        await step
    except NotFound:
        raise
    except FangxinError as exc:
        return await _official_page(
            request, application_id, errors=_messages(exc), status_code=exc.status
        )
    return Redirect(f"/official/applications/{application_id}?done={done}", status_code=303)


@post(
    "/official/applications/{application_id:int}/inspections",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def inspect_form(
    request: Request[Any, Any, State], application_id: Id, data: FormBody
) -> Template | Redirect:
    who = require_principal(request)
    if data.get("result") not in ("pass", "fail"):
        return await _official_page(
            request, application_id, errors=["result: choose pass or fail"], status_code=422
        )
    step = applications.record_inspection(application_id, _inspection_from(data), who=who)
    return await _act(request, application_id, "inspected", step)


@post(
    "/official/applications/{application_id:int}/decision",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def decide_form(
    request: Request[Any, Any, State], application_id: Id, data: FormBody
) -> Template | Redirect:
    settings: Settings = request.app.state.settings
    decision = ApplicationDecisionIn(str(data.get("decision") or ""), str(data.get("reason") or ""))
    step = applications.decide(
        application_id,
        decision,
        who=require_principal(request),
        policy=policy_for(settings.certificate_policy),
    )
    return await _act(request, application_id, "decided", step)


@post(
    "/official/applications/{application_id:int}/issue",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def issue_form(request: Request[Any, Any, State], application_id: Id) -> Template | Redirect:
    settings: Settings = request.app.state.settings
    step = applications.issue(
        application_id,
        who=require_principal(request),
        settings=settings,
        policy=policy_for(settings.certificate_policy),
        credit_rules=credit_store.rules_for(settings.credit_rules),
    )
    return await _act(request, application_id, "issued", step)


@post(
    "/official/objections/{objection_id:int}/answer",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def answer_form(
    request: Request[Any, Any, State], objection_id: Id, data: FormBody
) -> Template | Redirect:
    who: Principal = require_principal(request)
    objection = await Objection.get_or_none(id=objection_id)
    if objection is None:
        raise NotFound(f"No objection {objection_id}")
    answer = AnswerIn(str(data.get("outcome") or ""), str(data.get("reply") or ""))
    step = objections.answer(objection_id, answer, who=who)
    return await _act(request, objection.application_id, "answered", step)


# --- the public ------------------------------------------------------------------------------


@get("/notices", opt=PUBLIC, include_in_schema=False)
async def notices_page() -> Template:
    """Public notices (公示): those open for objections, and those recently ended."""
    return Template(
        "applications/notices.html", context={"notices": await objections.notices(), **_labels()}
    )


async def _notice_page(
    request: Request[Any, Any, State],
    application_id: int,
    *,
    errors: list[str] | None = None,
    status_code: int = 200,
    text: str = "",
    contact: str = "",
    lodged: bool = False,
) -> Template:
    return Template(
        "applications/notice.html",
        context={
            "n": await objections.notice(application_id),
            "errors": errors or [],
            "text": text,
            "contact": contact,
            "lodged": lodged,
            "text_min": objections.TEXT_MIN,
            "text_max": objections.TEXT_MAX,
            "titles": _titles(request),
            **_labels(),
        },
        status_code=status_code,
    )


@get("/notices/{application_id:int}", opt=PUBLIC, include_in_schema=False)
async def notice_page(request: Request[Any, Any, State], application_id: Id) -> Template:
    return await _notice_page(
        request, application_id, lodged=request.query_params.get("lodged") == "1"
    )


@post(
    "/notices/{application_id:int}/objections",
    opt=PUBLIC,
    include_in_schema=False,
    status_code=303,
)
async def objection_form(
    request: Request[Any, Any, State], application_id: Id, data: FormBody
) -> Template | Redirect:
    """The public's objection, from the notice page's form (works without JavaScript)."""
    settings: Settings = request.app.state.settings
    text, contact = str(data.get("text") or ""), str(data.get("contact") or "")
    try:
        await objections.lodge(
            application_id,
            ObjectionIn(text=text, contact=contact),
            address=client_address(request),
            secret=settings.secret_key,
        )
    except NotFound:
        raise
    except FangxinError as exc:
        return await _notice_page(
            request,
            application_id,
            errors=[e.message for e in exc.errors] or [exc.detail],
            status_code=exc.status,
            text=text[: objections.TEXT_MAX * 2],
            contact=contact[: objections.CONTACT_MAX * 2],
        )
    return Redirect(f"/notices/{application_id}?lodged=1#objections", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    merchant_applications,
    merchant_apply,
    area_home,
    area_apply,
    official_applications,
    official_application,
    inspect_form,
    decide_form,
    issue_form,
    answer_form,
    notices_page,
    notice_page,
    objection_form,
]
