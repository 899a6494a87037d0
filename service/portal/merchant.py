"""The merchant's own page: its published score beside its street's, its credit and the
records behind it, its complaints, its certificates (download, reply to a revocation or
suspension) and its QR poster. Everything is read from the signed-in account's merchant:
no route here takes a merchant's identifier, so none can be pointed at another's."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from certificates import replies
from certificates.commitments import pages as commitment_pages
from certificates.commitments import store as commitments
from certificates.labels import REASON_LABELS, STATUS_LABELS
from certificates.models import Certificate, Reply, StatusChange
from certificates.policy import Kind, policy_for
from scoring.credit import repair
from scoring.credit import view as credit_view
from scoring.credit.models import Complaint
from scoring.credit.repair_pages import KIND_LABELS as REPAIR_KIND_LABELS
from scoring.credit.routes import rules_of
from scoring.disputes import odr
from scoring.disputes.party_pages import odr_context
from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from service.kernel.errors import FangxinError, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.models import Merchant
from service.kernel.security import MERCHANT_ONLY, require_principal
from service.kernel.settings import Settings

COMPLAINTS_SHOWN = 50
COMMIT_REQUIRED = N_("Tick the commitment to take part")


@dataclass(frozen=True, slots=True)
class Standing:
    """A certificate as its holder sees it: the latest change and whether it can answer it."""

    cert: Certificate
    change: StatusChange | None
    reply: Reply | None
    reply_until: datetime | None  # set while a reply may still be sent


def compare(own: UnitScore | None, area: UnitScore | None) -> str | None:
    """Where the merchant stands against its street or scenic spot, without reading noise as a
    difference: above or below only when the street's score lies outside the merchant's 95%
    interval."""
    if own is None or area is None or own.insufficient_data or area.score is None:
        return None
    if own.ci_low is None or own.ci_high is None:
        return None
    if own.ci_low > area.score:
        return "above"
    if own.ci_high < area.score:
        return "below"
    return "level"


async def standings(uscc: str, now: datetime) -> list[Standing]:
    certs = await Certificate.filter(kind=Kind.MERCHANT, subject_code=uscc).order_by(
        "-issued_at", "-id"
    )
    out = []
    for cert in certs:
        change = await StatusChange.filter(certificate_id=cert.id).order_by("-at", "-id").first()
        reply = await Reply.filter(change_id=change.id).first() if change else None
        until = None
        if change and change.new_status in replies.ANSWERABLE and reply is None:
            deadline = change.at + timedelta(days=replies.REPLY_DAYS)
            until = deadline if deadline > now else None
        out.append(Standing(cert, change, reply, until))
    return out


async def _merchant_of(request: Request[Any, Any, State]) -> Merchant:
    who = require_principal(request)
    merchant = (
        await Merchant.filter(id=who.merchant_id)
        .select_related("district", "street", "scenic_spot")
        .first()
        if who.merchant_id
        else None
    )
    if merchant is None:
        raise NotFound("This account is not bound to a merchant")
    return merchant


async def _page(
    request: Request[Any, Any, State],
    *,
    error: str | None = None,
    status_code: int = 200,
    commitment_form: commitment_pages.FormState | None = None,
    odr_errors: list[str] | None = None,
) -> Template:
    settings: Settings = request.app.state.settings
    merchant = await _merchant_of(request)
    now = datetime.now(UTC)
    run = await runs.current_run()
    area = merchant.street or merchant.scenic_spot
    own = area_unit = None
    if run is not None:
        own = await UnitScore.get_or_none(run_id=run.id, kind="merchant", code=merchant.uscc)
        if area is not None:
            area_unit = await UnitScore.get_or_none(
                run_id=run.id, kind=area.kind.value, code=area.code
            )
    area_cert = (
        await Certificate.filter(subject_code=area.code).order_by("-issued_at", "-id").first()
        if area is not None
        else None
    )
    policy = policy_for(settings.certificate_policy)
    return Template(
        "portal/merchant.html",
        context={
            "merchant": merchant,
            "area": area,
            "run": run,
            "own": own,
            "area_unit": area_unit,
            "comparison": compare(own, area_unit),
            "credit": await credit_view.merchant_credit(merchant.uscc, rules_of(request)),
            "repairables": [
                repair.repairable_out(r, now)
                for r in await repair.repairables(merchant, rules_of(request), now)
            ]
            if rules_of(request).repair
            else [],
            "repair_kind_labels": REPAIR_KIND_LABELS,
            "complaints": await Complaint.filter(merchant_id=merchant.id)
            .order_by("-received_at", "-id")
            .limit(COMPLAINTS_SHOWN),
            "complaint_count": await Complaint.filter(merchant_id=merchant.id).count(),
            "standings": await standings(merchant.uscc, now),
            "area_cert": area_cert,
            "titles": {k.value: policy.title(k) for k in Kind},
            "statuses": STATUS_LABELS,
            "reasons": REASON_LABELS,
            "error": error,
            "action": "/merchant/commitments",
            "odr_errors": odr_errors or [],
            **await odr_context(merchant),
            **commitment_pages.context(
                await commitments.of_merchant(merchant.uscc), commitment_form
            ),
        },
        status_code=status_code,
    )


@get("/merchant", opt=MERCHANT_ONLY, include_in_schema=False)
async def merchant_page(request: Request[Any, Any, State]) -> Template:
    return await _page(request)


@post(
    "/merchant/certificates/{serial:str}/reply",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    status_code=303,
)
async def reply_form(
    request: Request[Any, Any, State],
    serial: Annotated[str, PathParameter(max_length=40)],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    """The holder's reply to a revocation or suspension; a refused reply re-renders the page
    with the reason, nothing stored."""
    try:
        await replies.submit(serial, str(data.get("text") or ""), by=require_principal(request))
    except NotFound:
        raise  # another merchant's serial: a 404, never the page with its details
    except FangxinError as exc:
        message = "; ".join(e.message for e in exc.errors) or exc.detail
        return await _page(request, error=message, status_code=422)
    return Redirect(f"/merchant?replied={serial}#certificates", status_code=303)


@post("/merchant/commitments", opt=MERCHANT_ONLY, include_in_schema=False, status_code=303)
async def commitment_form(
    request: Request[Any, Any, State],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    """The merchant declares one of its commitments; a refused one re-renders the page with
    each field's reason, nothing stored."""
    merchant = await _merchant_of(request)
    form = await commitment_pages.declare_from_form(
        merchant.uscc, data, request=request, declared_as="merchant", district=None
    )
    if form is not None:
        return await _page(request, commitment_form=form, status_code=422)
    return Redirect("/merchant?committed=1#commitments", status_code=303)


@post(
    "/merchant/commitments/{commitment_id:int}/end",
    opt=MERCHANT_ONLY,
    include_in_schema=False,
    status_code=303,
)
async def end_commitment(
    request: Request[Any, Any, State],
    commitment_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
) -> Redirect:
    """The merchant ends one of its own commitments (another's is missing)."""
    merchant = await _merchant_of(request)
    await commitments.end(
        merchant.uscc, commitment_id, actor=require_principal(request).actor, district=None
    )
    return Redirect("/merchant?ended=1#commitments", status_code=303)


@post("/merchant/odr/join", opt=MERCHANT_ONLY, include_in_schema=False, status_code=303)
async def odr_join_form(
    request: Request[Any, Any, State],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    """The merchant joins online dispute resolution, the commitment ticked; refused, the page
    re-renders with the reason."""
    merchant = await _merchant_of(request)
    if data.get("commit") != "on":
        errors = [f"commit: {gettext(COMMIT_REQUIRED)}"]
        return await _page(request, odr_errors=errors, status_code=422)
    return await _odr_step(request, odr.join(merchant.id, actor=require_principal(request).actor))


@post("/merchant/odr/leave", opt=MERCHANT_ONLY, include_in_schema=False, status_code=303)
async def odr_leave_form(
    request: Request[Any, Any, State],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Template | Redirect:
    """The merchant leaves, with its reason (complaints already with it stay with it)."""
    merchant = await _merchant_of(request)
    reason = data.get("reason")
    step = odr.leave(
        merchant.id,
        reason if isinstance(reason, str) else "",
        actor=require_principal(request).actor,
    )
    return await _odr_step(request, step)


async def _odr_step(request: Request[Any, Any, State], step: Awaitable[Any]) -> Template | Redirect:
    try:
        await step
    except FangxinError as exc:
        errors = [f"{e.field}: {e.message}" for e in exc.errors] or [exc.detail]
        return await _page(request, odr_errors=errors, status_code=exc.status)
    return Redirect("/merchant?odr=1#odr", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    merchant_page,
    reply_form,
    commitment_form,
    end_commitment,
    odr_join_form,
    odr_leave_form,
]
