"""HTTP API of complaints filed online: thin handlers over scoring.disputes.store (filing, the
consumer's and the merchant's steps), scoring.disputes.intake (the bureau's steps) and
scoring.disputes.odr.

The consumer has no account: the receipt code names the complaint and the tracking secret
(``X-Tracking-Secret``, or ``?k=`` as in the tracking link) opens it; a wrong secret is a 404
like an unknown code. The merchant reaches its own complaints only, officials their
district's. Evidence is only ever served as an attachment of its checked type, ``nosniff``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, HeaderParameter, JSONBody, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from scoring.credit import store as credit_store
from scoring.credit.rules import Rules
from scoring.disputes import intake, odr, rules, store
from scoring.disputes.models import DisputeFile
from scoring.disputes.schemas import (
    AnswerIn,
    ContactOut,
    DisputeIn,
    DisputeOut,
    DisputePage,
    FiledOut,
    FollowupIn,
    LeaveIn,
    MediatorIn,
    OdrOut,
    OfferIn,
    OutcomeIn,
    ReasonIn,
)
from scoring.disputes.view import Audience, audience_of, listing, out
from service.kernel.db import MAX_ID
from service.kernel.device import client_ip, device_cookie
from service.kernel.errors import NotFound
from service.kernel.models import Merchant
from service.kernel.security import (
    MERCHANT_ONLY,
    MERCHANTS,
    OFFICIALS,
    PUBLIC,
    require_principal,
)
from service.kernel.settings import Settings
from service.kernel.upload_http import PRIVATE, attachment, form_uploads
from service.kernel.uploads import Upload
from service.register.store import Page

Code = Annotated[str, PathParameter(max_length=32, description="the receipt code")]
Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
SecretHeader = Annotated[
    str | None,
    HeaderParameter(name="x-tracking-secret", max_length=64, required=False),
]
SecretQuery = Annotated[
    str | None, QueryParameter(max_length=64, description="the tracking secret, as in the link")
]
_P = rules.policy()
# Every file at its cap, and the form's own fields besides.
UPLOAD_MAX_BYTES = _P.max_files * _P.max_bytes + 256 * 1024
_TRUE = ("1", "true", "on", "yes")


def _settings(request: Request[Any, Any, State]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _credit(request: Request[Any, Any, State]) -> Rules:
    return credit_store.rules_for(_settings(request).credit_rules)


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def uploads_of(form: dict[str, Any]) -> list[Upload]:
    return await form_uploads(form, _P.max_bytes)


def dispute_in(form: dict[str, Any]) -> DisputeIn:
    """A multipart form as the filing it carries (every field text; checked by the store)."""
    return DisputeIn(
        merchant=_text(form, "merchant"),
        category=_text(form, "category"),
        description=_text(form, "description"),
        occurred_on=_text(form, "occurred_on"),
        wants=_text(form, "wants"),
        phone=_text(form, "phone"),
        client_submission_id=_text(form, "client_submission_id"),
        amount=_text(form, "amount"),
        wants_detail=_text(form, "wants_detail"),
        consent_contact=_text(form, "consent_contact").lower() in _TRUE,
        share_contact=_text(form, "share_contact").lower() in _TRUE,
    )


def evidence_response(settings: Settings, f: DisputeFile) -> Response[bytes]:
    return attachment(
        store.evidence_store(settings.data_dir).read(f.sha256), f.media_type, f"evidence-{f.id}"
    )


def filed_out(filed: store.Filed) -> FiledOut:
    d = filed.dispute
    return FiledOut(
        code=d.code,
        secret=filed.secret,
        tracking_path=f"/track/{d.code}?k={filed.secret}",
        status=d.status.value,
        merchant_due=d.merchant_due,
        created=filed.created,
    )


class TrackController(Controller):
    """The consumer's side: follow, answer, withdraw, follow up."""

    path = "/api/v1"
    tags = ["complaints"]

    @get("/track/{code:str}", opt=PUBLIC)
    async def track(
        self, code: Code, secret: SecretHeader = None, k: SecretQuery = None
    ) -> Response[DisputeOut]:
        """The complaint as its consumer follows it: every step and deadline, the merchant's
        offers, the bureau's record once escalated, the follow-up when open."""
        d = await store.tracked(code, secret or k)
        return Response(await out(d, Audience.CONSUMER), headers=PRIVATE)

    @post("/track/{code:str}/accept", opt=PUBLIC, status_code=200)
    async def accept(
        self,
        request: Request[Any, Any, State],
        code: Code,
        secret: SecretHeader = None,
        k: SecretQuery = None,
    ) -> Response[DisputeOut]:
        """Accept the merchant's offer: settled (409 when no offer is open, or its answer
        time has passed)."""
        d = await store.consumer_accept(code, secret or k, credit=_credit(request))
        return Response(await out(d, Audience.CONSUMER), headers=PRIVATE)

    @post("/track/{code:str}/reject", opt=PUBLIC, status_code=200)
    async def reject(
        self,
        request: Request[Any, Any, State],
        code: Code,
        data: JSONBody[AnswerIn],
        secret: SecretHeader = None,
        k: SecretQuery = None,
    ) -> Response[DisputeOut]:
        """Reject the offer (``reason`` optional): back to the merchant while its deadline
        runs, to the bureau after."""
        d = await store.consumer_reject(code, secret or k, data, credit=_credit(request))
        return Response(await out(d, Audience.CONSUMER), headers=PRIVATE)

    @post("/track/{code:str}/withdraw", opt=PUBLIC, status_code=200)
    async def withdraw(
        self,
        request: Request[Any, Any, State],
        code: Code,
        data: JSONBody[AnswerIn],
        secret: SecretHeader = None,
        k: SecretQuery = None,
    ) -> Response[DisputeOut]:
        """Withdraw the complaint, at any time before it ends (``reason`` optional)."""
        d = await store.withdraw(code, secret or k, data, credit=_credit(request))
        return Response(await out(d, Audience.CONSUMER), headers=PRIVATE)

    @post("/track/{code:str}/followup", opt=PUBLIC, status_code=200)
    async def follow_up(
        self,
        code: Code,
        data: JSONBody[FollowupIn],
        secret: SecretHeader = None,
        k: SecretQuery = None,
    ) -> Response[DisputeOut]:
        """The one follow-up (回访) of an ended complaint: ``answer`` satisfied,
        basically_satisfied or dissatisfied, ``comment`` up to 200 characters."""
        d = await store.follow_up(code, secret or k, data)
        return Response(await out(d, Audience.CONSUMER), headers=PRIVATE)

    @get("/track/{code:str}/files/{file_id:int}", opt=PUBLIC)
    async def tracked_file(
        self,
        request: Request[Any, Any, State],
        code: Code,
        file_id: Id,
        secret: SecretHeader = None,
        k: SecretQuery = None,
    ) -> Response[bytes]:
        """One of the consumer's files of evidence, as an attachment."""
        f = await store.file_for(code, file_id, secret=secret or k)
        return evidence_response(_settings(request), f)


class DisputeController(Controller):
    """Filing (anyone), and the merchant's and the officials' side."""

    path = "/api/v1/disputes"
    tags = ["complaints"]

    @post(
        "/",
        opt=PUBLIC,
        status_code=201,
        request_max_body_size=UPLOAD_MAX_BYTES,
        responses={
            200: ResponseSpec(
                FiledOut, description="A retry of an earlier filing: the same receipt"
            )
        },
    )
    async def file_dispute(
        self,
        request: Request[Any, Any, State],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> Response[FiledOut]:
        """File a complaint, no account needed (multipart form): ``merchant`` (USCC),
        ``category``, ``description``, ``occurred_on`` (YYYY-MM-DD), ``amount`` (yuan),
        ``wants`` (refund, exchange, repair, apology, other; ``wants_detail`` for other),
        ``phone`` (a mainland mobile), ``consent_contact`` (required), ``share_contact``,
        ``client_submission_id`` (a UUID; sent again, the same complaint is answered, 200) and
        ``files`` (JPEG, PNG or PDF, at most 5 of 5 MB, recognised by content; EXIF removed).
        The answer holds the receipt code and the tracking secret, shown this once. 422 names
        every bad field; 429 after too many complaints from one address or device."""
        settings = _settings(request)
        device, cookies = device_cookie(request)
        filed = await store.file(
            dispute_in(data),
            await uploads_of(data),
            origin=store.Origin(client_ip(request), device),
            secret_key=settings.secret_key,
            data_dir=settings.data_dir,
            credit=_credit(request),
        )
        return Response(
            filed_out(filed),
            status_code=201 if filed.created else 200,
            cookies=cookies,
            headers=PRIVATE,
        )

    @get("/", opt=MERCHANTS)
    async def list_disputes(
        self,
        request: Request[Any, Any, State],
        status: Annotated[str | None, QueryParameter(max_length=16)] = None,
        page: Annotated[int, QueryParameter(description="1-based page number")] = 1,
        page_size: Annotated[int, QueryParameter(description="at most 500")] = 50,
    ) -> DisputePage:
        """A merchant's own complaints, or an official's district's (all for the city),
        newest first, each with the deadline that runs now."""
        p = Page(page, page_size)
        return await listing(
            require_principal(request), status=status, page=p.page, page_size=p.page_size
        )

    @get("/{code:str}", opt=MERCHANTS)
    async def get_dispute(self, request: Request[Any, Any, State], code: Code) -> DisputeOut:
        """One complaint: its steps, deadlines, offers and the bureau's record; for officials
        also who took each step, the many-complaints flag and the 12315 link."""
        who = require_principal(request)
        return await out(await store.get_for(code, who), audience_of(who))

    @get("/{code:str}/files/{file_id:int}", opt=MERCHANTS)
    async def dispute_file(
        self, request: Request[Any, Any, State], code: Code, file_id: Id
    ) -> Response[bytes]:
        """One of the consumer's files of evidence, as an attachment."""
        f = await store.file_for(code, file_id, who=require_principal(request))
        return evidence_response(_settings(request), f)

    @post("/{code:str}/contact", opt=MERCHANTS, status_code=200)
    async def reveal_contact(
        self, request: Request[Any, Any, State], code: Code
    ) -> Response[ContactOut]:
        """The consumer's telephone number in full, audited: the merchant only while the
        complaint is with it and the consumer agreed to share it (409 otherwise); officials
        of the district while it is kept."""
        phone = await store.reveal_contact(
            code, require_principal(request), _settings(request).data_dir
        )
        return Response(ContactOut(phone), headers=PRIVATE)

    @post("/{code:str}/offer", opt=MERCHANT_ONLY, status_code=200)
    async def offer(
        self, request: Request[Any, Any, State], code: Code, data: JSONBody[OfferIn]
    ) -> DisputeOut:
        """The merchant's offer while the complaint is with it: ``kind`` refund (with
        ``amount`` in yuan), exchange, repair or explanation (with ``note``). 409 once its
        deadline has passed (the complaint then goes to the bureau) or an offer is open."""
        who = require_principal(request)
        d = await store.merchant_offer(code, data, who=who, credit=_credit(request))
        return await out(d, Audience.MERCHANT)

    @post("/{code:str}/refuse", opt=MERCHANT_ONLY, status_code=200)
    async def refuse(
        self, request: Request[Any, Any, State], code: Code, data: JSONBody[ReasonIn]
    ) -> DisputeOut:
        """The merchant refuses, with its ``reason``: the complaint goes to the bureau."""
        who = require_principal(request)
        d = await store.merchant_refuse(code, data, who=who, credit=_credit(request))
        return await out(d, Audience.MERCHANT)

    @post("/{code:str}/bureau/accept", opt=OFFICIALS, status_code=200)
    async def bureau_accept(self, request: Request[Any, Any, State], code: Code) -> DisputeOut:
        """Accept an escalated complaint (受理): the mediation clock starts."""
        who = require_principal(request)
        d = await intake.bureau_accept(code, who=who, credit=_credit(request))
        return await out(d, Audience.OFFICIAL)

    @post("/{code:str}/bureau/refuse", opt=OFFICIALS, status_code=200)
    async def bureau_refuse(
        self, request: Request[Any, Any, State], code: Code, data: JSONBody[ReasonIn]
    ) -> DisputeOut:
        """Refuse an escalated complaint (不予受理) with the ``reason`` the parties read."""
        who = require_principal(request)
        d = await intake.bureau_refuse(code, data, who=who, credit=_credit(request))
        return await out(d, Audience.OFFICIAL)

    @post("/{code:str}/bureau/mediator", opt=OFFICIALS, status_code=200)
    async def assign_mediator(
        self, request: Request[Any, Any, State], code: Code, data: JSONBody[MediatorIn]
    ) -> DisputeOut:
        """Mediate an accepted complaint: ``mode`` bureau, people_mediation, court_mediation,
        volunteer or lawyer (the last two with the ``mediator``'s name)."""
        who = require_principal(request)
        d = await intake.assign_mediator(code, data, who=who, credit=_credit(request))
        return await out(d, Audience.OFFICIAL)

    @post("/{code:str}/bureau/outcome", opt=OFFICIALS, status_code=200)
    async def record_outcome(
        self, request: Request[Any, Any, State], code: Code, data: JSONBody[OutcomeIn]
    ) -> DisputeOut:
        """How mediation ended: ``outcome`` agreement (with ``amount_recovered``) or
        no_agreement; ``upheld`` moves the merchant's credit."""
        who = require_principal(request)
        d = await intake.record_outcome(code, data, who=who, credit=_credit(request))
        return await out(d, Audience.OFFICIAL)


class OdrController(Controller):
    """Merchants' participation in online dispute resolution."""

    path = "/api/v1"
    tags = ["complaints"]

    @get("/merchants/{uscc:str}/odr", opt=PUBLIC)
    async def odr_status(self, uscc: Annotated[str, PathParameter(max_length=32)]) -> OdrOut:
        """Whether the merchant takes part in online dispute resolution, since when, and its
        history of joining and leaving."""
        return await odr.status(uscc)

    @post("/odr/join", opt=MERCHANT_ONLY, status_code=200)
    async def join(self, request: Request[Any, Any, State]) -> OdrOut:
        """The signed-in merchant joins: complaints against it come to it first (409 if it
        takes part already)."""
        who = require_principal(request)
        await odr.join(_own(who.merchant_id), actor=who.actor)
        return await odr.status(await _uscc(who.merchant_id))

    @post("/odr/leave", opt=MERCHANT_ONLY, status_code=200)
    async def leave(self, request: Request[Any, Any, State], data: JSONBody[LeaveIn]) -> OdrOut:
        """The signed-in merchant leaves, with an optional ``reason``; complaints already
        with it stay with it."""
        who = require_principal(request)
        await odr.leave(_own(who.merchant_id), data.reason, actor=who.actor)
        return await odr.status(await _uscc(who.merchant_id))


def _own(merchant_id: int | None) -> int:
    if merchant_id is None:
        raise NotFound("This account has no merchant")
    return merchant_id


async def _uscc(merchant_id: int | None) -> str:
    merchant = await Merchant.get(id=_own(merchant_id))
    return merchant.uscc


ROUTES: list[ControllerRouterHandler] = [TrackController, DisputeController, OdrController]
