"""Web pages of complaints filed online: the merchant's (its list, one complaint with the
offer and refusal forms, joining and leaving ODR) and the officials' (the queue and one
complaint with the bureau's steps and the audited contact reveal).

Every step goes through the store (``store``, ``intake``, ``odr``): a page never decides
anything itself. A refused form re-renders the page with each bad field named (422, 409 for a
step that is no longer possible) and changes nothing; another party's complaint is a 404."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Final, Protocol

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from scoring.credit import store as credit_store
from scoring.credit import workdays
from scoring.credit.models import Complaint
from scoring.credit.rules import Rules
from scoring.disputes import intake, labels, odr, store
from scoring.disputes.models import Dispute
from scoring.disputes.routes import evidence_response
from scoring.disputes.rules import DisputeStatus
from scoring.disputes.schemas import MediatorIn, OfferIn, OutcomeIn, ReasonIn
from scoring.disputes.view import Audience, listing, out
from service.kernel import scope
from service.kernel.accounts import Principal
from service.kernel.errors import FangxinError, NotFound
from service.kernel.models import Area, AreaKind, Merchant
from service.kernel.security import MERCHANT_ONLY, OFFICIALS, require_principal
from service.kernel.settings import Settings
from service.register.store import Page

PAGE_SIZE: Final = 20
# A page showing the number in full: kept by no cache, sent to no other site.
_NO_STORE: Final = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
Code = Annotated[str, PathParameter(max_length=32)]
Id = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]


def _credit(request: Request[Any, Any, State]) -> Rules:
    settings: Settings = request.app.state.settings
    return credit_store.rules_for(settings.credit_rules)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


def _errors(exc: FangxinError) -> list[str]:
    return [f"{e.field}: {e.message}" for e in exc.errors] or [exc.detail]


@dataclass(frozen=True, slots=True)
class Due:
    """A deadline as a page shows it: the date, working days left, and whether it passed."""

    on: date
    left: int
    overdue: bool


def due(on: date | None, now: datetime | None = None) -> Due | None:
    if on is None:
        return None
    today = workdays.local_date(now or datetime.now(UTC))
    return Due(on, workdays.working_days_between(today, on), on < today)


# --- what both parties' pages do alike -----------------------------------------------------

Form = dict[str, Any]


class Detail(Protocol):
    """A party's page of one complaint, rendered again with errors, the form or the number."""

    async def __call__(
        self,
        request: Request[Any, Any, State],
        code: str,
        *,
        errors: list[str] | None = None,
        form: Form | None = None,
        phone: str | None = None,
        status_code: int = 200,
    ) -> Template: ...


async def _evidence(request: Request[Any, Any, State], code: str, file_id: int) -> Any:
    settings: Settings = request.app.state.settings
    f = await store.file_for(code, file_id, who=require_principal(request))
    return evidence_response(settings, f)


async def _reveal(request: Request[Any, Any, State], code: str, detail: Detail) -> Template:
    """The number in full on this answer only; the store audits the look-up, or refuses it
    (409) and the page says why. Another party's complaint stays a 404."""
    settings: Settings = request.app.state.settings
    try:
        phone = await store.reveal_contact(code, require_principal(request), settings.data_dir)
    except NotFound:
        raise
    except FangxinError as exc:
        return await detail(request, code, errors=_errors(exc), status_code=exc.status)
    return await detail(request, code, phone=phone)


async def _step(
    request: Request[Any, Any, State],
    code: str,
    step: Awaitable[object],
    done: str,
    form: Form,
    detail: Detail,
    base: str,
) -> Any:
    """A party's step through the store: back to the complaint's page (303) when done; the
    page again with the form and each error when refused; a 404 stays a 404."""
    try:
        await step
    except NotFound:
        raise
    except FangxinError as exc:
        return await detail(request, code, errors=_errors(exc), form=form, status_code=exc.status)
    return Redirect(f"{base}/{code}?done={done}", status_code=303)


# --- the merchant ----------------------------------------------------------------------------


async def odr_context(merchant: Merchant) -> dict[str, Any]:
    """The merchant page's "先行和解 (ODR)" section: taking part or not, and the complaints
    waiting for its answer with the nearest deadline."""
    waiting = Dispute.filter(
        merchant_id=merchant.id, status__in=[DisputeStatus.WITH_MERCHANT, DisputeStatus.OFFERED]
    )
    nearest = (
        await Dispute.filter(merchant_id=merchant.id, status=DisputeStatus.WITH_MERCHANT)
        .exclude(merchant_due=None)
        .order_by("merchant_due")
        .first()
    )
    return {
        "odr": await odr.status(merchant.uscc),
        "odr_waiting": await waiting.filter(status=DisputeStatus.WITH_MERCHANT).count(),
        "odr_open": await waiting.count(),
        "odr_nearest": due(nearest.merchant_due) if nearest else None,
    }


@get("/merchant/disputes", opt=MERCHANT_ONLY, include_in_schema=False)
async def merchant_disputes(
    request: Request[Any, Any, State],
    status: Annotated[str | None, QueryParameter(max_length=16)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Template:
    """The merchant's own complaints, newest first, each with its deadline."""
    who = require_principal(request)
    if status not in labels.STATUSES:
        status = None
    rows = await listing(who, status=status, page=page, page_size=PAGE_SIZE)
    return Template(
        "disputes/merchant_list.html",
        context={
            "rows": rows,
            "dues": {r.code: due(r.due) for r in rows.items},
            "status": status,
            "pages": max(1, -(-rows.total // PAGE_SIZE)),
            "query": f"status={status}" if status else "",
            **labels.context(),
        },
    )


async def _merchant_detail(
    request: Request[Any, Any, State],
    code: str,
    *,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    phone: str | None = None,
    status_code: int = 200,
) -> Template:
    who = require_principal(request)
    d = await store.get_for(code, who)
    view = await out(d, Audience.MERCHANT)
    open_ = view.status in (DisputeStatus.WITH_MERCHANT.value, DisputeStatus.OFFERED.value)
    return Template(
        "disputes/merchant_detail.html",
        context={
            "d": view,
            "due": due(view.merchant_due),
            "may_answer": view.status == DisputeStatus.WITH_MERCHANT.value,
            # The store gives the merchant the number only while the complaint is with it
            # and the consumer agreed to share it: the button is offered only then.
            "may_reveal": open_ and view.share_contact and view.contact is not None,
            "phone": phone,
            "errors": errors or [],
            "form": form or {},
            "done": request.query_params.get("done"),
            **labels.context(),
        },
        status_code=status_code,
        headers=_NO_STORE if phone else {},
    )


@get("/merchant/disputes/{code:str}", opt=MERCHANT_ONLY, include_in_schema=False)
async def merchant_dispute(request: Request[Any, Any, State], code: Code) -> Template:
    return await _merchant_detail(request, code)


@get(
    "/merchant/disputes/{code:str}/files/{file_id:int}", opt=MERCHANT_ONLY, include_in_schema=False
)
async def merchant_file(request: Request[Any, Any, State], code: Code, file_id: Id) -> Any:
    return await _evidence(request, code, file_id)


@post(
    "/merchant/disputes/{code:str}/contact",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    status_code=200,
)
async def merchant_contact_form(request: Request[Any, Any, State], code: Code) -> Template:
    """The consumer's number in full when the consumer agreed to share it, shown on this
    answer only; the store audits it and refuses it otherwise (409)."""
    return await _reveal(request, code, _merchant_detail)


async def _merchant_step(
    request: Request[Any, Any, State], code: str, step: Awaitable[object], done: str, form: Form
) -> Any:
    return await _step(request, code, step, done, form, _merchant_detail, "/merchant/disputes")


@post(
    "/merchant/disputes/{code:str}/offer",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
)
async def offer_form(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    offer = OfferIn(
        kind=_text(data, "kind"), amount=_text(data, "amount") or "0", note=_text(data, "note")
    )
    who = require_principal(request)
    step = store.merchant_offer(code, offer, who=who, credit=_credit(request))
    return await _merchant_step(request, code, step, "offered", data)


@post(
    "/merchant/disputes/{code:str}/refuse",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
)
async def refuse_form(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    who = require_principal(request)
    reason = ReasonIn(reason=_text(data, "reason"))
    step = store.merchant_refuse(code, reason, who=who, credit=_credit(request))
    return await _merchant_step(request, code, step, "refused", data)


# --- officials -------------------------------------------------------------------------------


def stage(d_status: str, record: Complaint | None) -> str | None:
    """Where an escalated complaint stands in the bureau: awaiting acceptance, in mediation,
    or closed."""
    if d_status == DisputeStatus.CLOSED.value:
        return "closed"
    if d_status != DisputeStatus.ESCALATED.value or record is None:
        return None
    return "awaiting" if record.accepted_at is None else "mediating"


async def awaiting_acceptance(who: Principal) -> int:
    """The desk's count: escalated complaints the official's district has yet to accept."""
    qs = Dispute.filter(status=DisputeStatus.ESCALATED, complaint__accepted_at__isnull=True)
    district = await scope.district_of(who)
    if district is not None:
        qs = qs.filter(district_id=district.id)
    return await qs.count()


@get("/official/disputes", opt=OFFICIALS, include_in_schema=False)
async def official_disputes(
    request: Request[Any, Any, State],
    status: Annotated[str | None, QueryParameter(max_length=16)] = None,
    district: Annotated[str | None, QueryParameter(max_length=12)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Template:
    """The queue: complaints with the bureau (by default), newest first, each with the
    deadline that runs and where it stands; a city official may narrow it to a district."""
    who = require_principal(request)
    own = await scope.district_of(who)
    if status not in labels.STATUSES:
        status = DisputeStatus.ESCALATED.value if status is None else None
    if own is not None:
        district = None  # the store keeps a district's official to its own district
    p = Page(page, PAGE_SIZE)
    rows = await listing(
        who, status=status, page=p.page, page_size=p.page_size, district=district or None
    )
    found = await Dispute.filter(code__in=[r.code for r in rows.items]).select_related("complaint")
    records = {d.code: d.complaint for d in found}
    query = "&".join(
        f"{k}={v}" for k, v in (("status", status or ""), ("district", district or "")) if v
    )
    return Template(
        "disputes/official_list.html",
        context={
            "rows": rows,
            "dues": {r.code: due(r.due) for r in rows.items},
            "stage_of": {r.code: stage(r.status, records.get(r.code)) for r in rows.items},
            "status": status or "",
            "district": district or "",
            "districts": []
            if own
            else await Area.filter(kind=AreaKind.DISTRICT).order_by("code").all(),
            "awaiting": await awaiting_acceptance(who),
            "pages": max(1, -(-rows.total // PAGE_SIZE)),
            "query": query,
            **labels.context(),
        },
    )


async def _official_detail(
    request: Request[Any, Any, State],
    code: str,
    *,
    errors: list[str] | None = None,
    form: dict[str, Any] | None = None,
    phone: str | None = None,
    status_code: int = 200,
) -> Template:
    who = require_principal(request)
    d = await store.get_for(code, who)
    view = await out(d, Audience.OFFICIAL)
    headers = _NO_STORE if phone else {}
    record = await Complaint.get_or_none(id=d.complaint_id) if d.complaint_id else None
    where = stage(view.status, record)
    intake_due = None
    if view.intake is not None:
        intake_due = view.intake.accept_due if where == "awaiting" else view.intake.mediation_due
    return Template(
        "disputes/official_detail.html",
        context={
            "d": view,
            "stage": where,
            "due": due(intake_due) if where in ("awaiting", "mediating") else None,
            "assigned": d.mediation_mode is not None,
            "phone": phone,
            "errors": errors or [],
            "form": form or {},
            "done": request.query_params.get("done"),
            **labels.context(),
        },
        status_code=status_code,
        headers=headers,
    )


@get("/official/disputes/{code:str}", opt=OFFICIALS, include_in_schema=False)
async def official_dispute(request: Request[Any, Any, State], code: Code) -> Template:
    return await _official_detail(request, code)


@get("/official/disputes/{code:str}/files/{file_id:int}", opt=OFFICIALS, include_in_schema=False)
async def official_file(request: Request[Any, Any, State], code: Code, file_id: Id) -> Any:
    return await _evidence(request, code, file_id)


@post(
    "/official/disputes/{code:str}/contact",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=200,
)
async def contact_form(request: Request[Any, Any, State], code: Code) -> Template:
    """The consumer's number in full, shown on this answer only (never stored in the page's
    URL or session); the reveal is audited by the store."""
    return await _reveal(request, code, _official_detail)


async def _official_step(
    request: Request[Any, Any, State], code: str, step: Awaitable[object], done: str, form: Form
) -> Any:
    return await _step(request, code, step, done, form, _official_detail, "/official/disputes")


@post(
    "/official/disputes/{code:str}/accept",
    opt=OFFICIALS,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
)
async def accept_form(request: Request[Any, Any, State], code: Code) -> Any:
    who = require_principal(request)
    step = intake.bureau_accept(code, who=who, credit=_credit(request))
    return await _official_step(request, code, step, "accepted", {})


@post(
    "/official/disputes/{code:str}/refuse",
    opt=OFFICIALS,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
)
async def bureau_refuse_form(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    who = require_principal(request)
    step = intake.bureau_refuse(
        code, ReasonIn(reason=_text(data, "reason")), who=who, credit=_credit(request)
    )
    return await _official_step(request, code, step, "refused", data)


@post(
    "/official/disputes/{code:str}/mediator",
    opt=OFFICIALS,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
)
async def mediator_form(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    who = require_principal(request)
    assignment = MediatorIn(mode=_text(data, "mode"), mediator=_text(data, "mediator"))
    step = intake.assign_mediator(code, assignment, who=who, credit=_credit(request))
    return await _official_step(request, code, step, "assigned", data)


@post(
    "/official/disputes/{code:str}/outcome",
    opt=OFFICIALS,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=303,
)
async def outcome_form(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    who = require_principal(request)
    upheld = {"yes": True, "no": False}.get(_text(data, "upheld"))
    outcome = OutcomeIn(
        outcome=_text(data, "outcome"),
        amount_recovered=_text(data, "amount_recovered") or "0",
        upheld=upheld,
        note=_text(data, "note"),
    )
    step = intake.record_outcome(code, outcome, who=who, credit=_credit(request))
    return await _official_step(request, code, step, "recorded", data)


PAGES: list[ControllerRouterHandler] = [
    merchant_disputes,
    merchant_dispute,
    merchant_file,
    merchant_contact_form,
    offer_form,
    refuse_form,
    official_disputes,
    official_dispute,
    official_file,
    contact_form,
    accept_form,
    bureau_refuse_form,
    mediator_form,
    outcome_form,
]
