"""The consumer's web pages of complaints filed online, no account and no JavaScript needed:
the complaint form of a merchant (/complain/{uscc}), the receipt shown once after filing,
and the tracking page (/track/{code}?k=SECRET) with the consumer's answers as plain forms.

Thin handlers over scoring.disputes.store, as the API's. The tracking secret travels in the
link (``?k=``, as the consumer keeps it) and in a hidden field of each form; the access log
records the path only, never the query. A bad form re-renders with each bad field named
(422) and nothing stored; a wrong code or secret is the same friendly 404."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Final
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, PathParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from scoring.disputes import labels, odr, store
from scoring.disputes.routes import (
    UPLOAD_MAX_BYTES,
    Code,
    Id,
    _credit,
    _settings,
    dispute_in,
    evidence_response,
    uploads_of,
)
from scoring.disputes.schemas import AnswerIn, FollowupIn
from scoring.disputes.view import Audience, out
from service.kernel.device import client_ip, device_cookie
from service.kernel.errors import FangxinError, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.models import Merchant, MerchantStatus
from service.kernel.security import PUBLIC
from service.kernel.upload_http import PRIVATE

FormBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
UploadBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
Uscc = Annotated[str, PathParameter(max_length=32)]

# The form's fields as the error summary names them (each links to its input).
FIELD_LABELS: Final = {
    "merchant": N_("Merchant"),
    "category": N_("What kind of problem"),
    "description": N_("What happened"),
    "occurred_on": N_("When it happened"),
    "amount": N_("Amount involved (yuan)"),
    "wants": N_("What you want"),
    "wants_detail": N_("Details"),
    "files": N_("Evidence"),
    "phone": N_("Your mobile number"),
    "consent_contact": N_("Your consent"),
    "client_submission_id": N_("Form"),
}
NEEDS_CONFIRM = N_("Tick the box to confirm you withdraw the complaint")
FILES_AGAIN = N_("For your safety, files are not kept when a form is refused: choose them again.")
FORM_FIELDS: Final = (
    "category",
    "description",
    "occurred_on",
    "amount",
    "wants",
    "wants_detail",
    "phone",
)


def _labels() -> dict[str, Any]:
    return {**labels.context(), "field_labels": FIELD_LABELS}


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def tracking_link(code: str, secret: str) -> str:
    return f"/track/{quote(code)}?k={quote(secret)}"


async def _merchant(uscc: str) -> Merchant:
    """The active merchant a complaint may name, or the friendly 404."""
    merchant = await Merchant.get_or_none(
        uscc=uscc.strip().upper()[:18], status=MerchantStatus.ACTIVE
    )
    if merchant is None:
        raise NotFound(gettext(store.NO_MERCHANT))
    return merchant


async def _form_page(
    merchant: Merchant,
    *,
    values: dict[str, str] | None = None,
    error: FangxinError | None = None,
    had_files: bool = False,
) -> Template:
    values = values or {}
    field_errors: dict[str, list[str]] = {}
    if error is not None:
        for e in error.errors:
            field_errors.setdefault(e.field, []).append(e.message)
    return Template(
        "disputes/complain.html",
        context={
            "m": merchant,
            "participating": (await odr.status(merchant.uscc)).participating,
            "values": values,
            # A fresh key for a fresh form; a refused one keeps its key (one complaint still).
            "key": values.get("client_submission_id") or _new_key(),
            "field_errors": field_errors,
            "error": error,
            "files_again": gettext(FILES_AGAIN) if error is not None and had_files else "",
            **_labels(),
        },
        status_code=error.status if error is not None else 200,
        headers=PRIVATE,
    )


def _new_key() -> str:
    return str(uuid.uuid4())  # random (os.urandom): a token per rendered form


@get("/complain/{uscc:str}", opt=PUBLIC, include_in_schema=False)
async def complain_form(uscc: Uscc) -> Template:
    """The complaint form of one merchant: its name and whether it settles first."""
    return await _form_page(await _merchant(uscc))


@post(
    "/complain/{uscc:str}",
    opt=PUBLIC,
    include_in_schema=False,
    request_max_body_size=UPLOAD_MAX_BYTES,
    status_code=200,
)
async def complain(
    request: Request[Any, Any, State], uscc: Uscc, data: UploadBody
) -> Template | Response[Any]:
    """File the complaint; the receipt (code and secret) is shown on the answer, once."""
    merchant = await _merchant(uscc)
    settings = _settings(request)
    data = {**data, "merchant": merchant.uscc}
    files = await uploads_of(data)
    device, cookies = device_cookie(request)
    try:
        filed = await store.file(
            dispute_in(data),
            files,
            origin=store.Origin(client_ip(request), device),
            secret_key=settings.secret_key,
            data_dir=settings.data_dir,
            credit=_credit(request),
        )
    except FangxinError as exc:
        values = {name: _text(data, name) for name in (*FORM_FIELDS, "client_submission_id")}
        for box in ("consent_contact", "share_contact"):
            values[box] = "on" if _text(data, box) else ""
        page = await _form_page(
            merchant, values=values, error=exc, had_files=any(f.content for f in files)
        )
        page.cookies.extend(cookies)
        return page
    d = filed.dispute
    return Template(
        "disputes/receipt.html",
        context={
            "m": merchant,
            "code": d.code,
            "secret": filed.secret,
            "link": tracking_link(d.code, filed.secret),
            "merchant_due": d.merchant_due,
            "status": d.status.value,
            "again": not filed.created,
            **_labels(),
        },
        headers=PRIVATE,
        cookies=cookies,
    )


# --- tracking --------------------------------------------------------------------------------


async def _track_page(
    code: str, secret: str, *, error: FangxinError | None = None, form: str = "", done: str = ""
) -> Template:
    d = await store.tracked(code, secret)
    messages = [e.message for e in error.errors] or [error.detail] if error is not None else []
    return Template(
        "disputes/track.html",
        context={
            "d": await out(d, Audience.CONSUMER),
            "secret": secret,
            "link": tracking_link(d.code, secret),
            "errors": messages,
            "failed_form": form,
            "done": done,
            **_labels(),
        },
        status_code=error.status if error is not None else 200,
        headers=PRIVATE,
    )


@get("/track/{code:str}", opt=PUBLIC, include_in_schema=False)
async def track(request: Request[Any, Any, State], code: Code) -> Template:
    """Every step and deadline of one complaint, and the consumer's answers."""
    done = request.query_params.get("done", "")
    return await _track_page(code, request.query_params.get("k", ""), done=done[:16])


async def _answer(code: str, data: dict[str, Any], form: str, action: Any) -> Any:
    """Carry out one of the consumer's forms: 303 back to the tracking page, or the page again
    with the refusal (a wrong secret is the 404 as ever)."""
    secret = _text(data, "k")
    try:
        await action(secret)
    except NotFound:
        raise
    except FangxinError as exc:
        return await _track_page(code, secret, error=exc, form=form)
    return Redirect(f"{tracking_link(code, secret)}&done={form}#status", status_code=303)


@post("/track/{code:str}/accept", opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
async def accept(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    """Accept the merchant's offer."""
    credit = _credit(request)
    return await _answer(
        code, data, "accept", lambda k: store.consumer_accept(code, k, credit=credit)
    )


@post("/track/{code:str}/reject", opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
async def reject(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    """Reject the merchant's offer, with a reason."""
    credit = _credit(request)
    answer = AnswerIn(reason=_text(data, "reason"))
    return await _answer(
        code, data, "reject", lambda k: store.consumer_reject(code, k, answer, credit=credit)
    )


@post("/track/{code:str}/withdraw", opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
async def withdraw(request: Request[Any, Any, State], code: Code, data: FormBody) -> Any:
    """Withdraw the complaint, confirmed by a tick."""
    credit = _credit(request)
    answer = AnswerIn(reason=_text(data, "reason"))

    async def act(k: str) -> Any:
        await store.tracked(code, k)  # a wrong secret is the 404 before anything else
        if not _text(data, "confirm"):
            msg = gettext(NEEDS_CONFIRM)
            raise InvalidInput(msg, [FieldError("confirm", msg)])
        return await store.withdraw(code, k, answer, credit=credit)

    return await _answer(code, data, "withdraw", act)


@post("/track/{code:str}/followup", opt=PUBLIC, include_in_schema=False, media_type=MediaType.HTML)
async def follow_up(code: Code, data: FormBody) -> Any:
    """The one follow-up of an ended complaint."""
    answer = FollowupIn(answer=_text(data, "answer"), comment=_text(data, "comment"))
    return await _answer(code, data, "followup", lambda k: store.follow_up(code, k, answer))


@get("/track/{code:str}/files/{file_id:int}", opt=PUBLIC, include_in_schema=False)
async def tracked_file(
    request: Request[Any, Any, State], code: Code, file_id: Id
) -> Response[bytes]:
    """One of the consumer's files of evidence, as an attachment."""
    f = await store.file_for(code, file_id, secret=request.query_params.get("k", ""))
    return evidence_response(_settings(request), f)


PAGES: list[ControllerRouterHandler] = [
    complain_form,
    complain,
    track,
    accept,
    reject,
    withdraw,
    follow_up,
    tracked_file,
]
