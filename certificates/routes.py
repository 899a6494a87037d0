"""HTTP API of certificates: officials issue; anyone reads a certificate's status, then or now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import MediaType, RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, JSONBody, PathParameter, QueryParameter

from certificates import documents, issuance, replies, sweep, verification
from certificates.documents import signer_config
from certificates.models import Certificate, Reply, Status
from certificates.policy import policy_for
from certificates.schemas import (
    CertificateOut,
    DecisionIn,
    IssueIn,
    PdfCheck,
    ReplyDecisionIn,
    ReplyIn,
    ReplyOut,
    StatusEntry,
    StatusList,
    Subject,
)
from scoring.credit import store as credit_store
from service.kernel import scope
from service.kernel.conditional import cached_json, cached_responses
from service.kernel.db import MAX_ID
from service.kernel.exports import disposition
from service.kernel.models import Merchant, Role
from service.kernel.security import (
    MERCHANT_ONLY,
    OFFICIALS,
    PUBLIC,
    principal_of,
    require_principal,
)
from service.kernel.settings import Settings
from service.kernel.validation import require_in_range

Serial = Annotated[str, PathParameter(max_length=32)]
PDF_MAX_BYTES = 5 * 1024 * 1024  # a certificate is ~260 KB
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # what an empty status list reflects


async def _may_see_inactive(request: Request[Any, Any, Any], cert: Certificate) -> bool:
    """Officials see every certificate of their district (the city's: all); a merchant its
    own, whatever their status. A district's official is the public elsewhere, as on every
    other route that acts on a certificate."""
    principal = principal_of(request)
    if principal is None:
        return False
    if principal.role in (Role.OFFICIAL, Role.ADMIN):
        return await scope.holds(
            await scope.district_of(principal), cert.kind.value, cert.subject_code
        )
    if principal.role == Role.MERCHANT and principal.merchant_id is not None:
        own = await Merchant.get_or_none(id=principal.merchant_id)
        return own is not None and own.uscc == cert.subject_code
    return False


def certificate_out(cert: Certificate, state: issuance.StatusAt) -> CertificateOut:
    return CertificateOut(
        serial=cert.serial,
        kind=cert.kind,
        subject=Subject(cert.kind, cert.subject_code, cert.subject_name),
        status=state.status,
        reason=state.reason,
        status_changed_at=state.changed_at,
        issued_at=cert.issued_at,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
        pdf_sha256=cert.pdf_sha256,
        policy_version=cert.policy_version,
        is_demo=cert.is_demo,
    )


@dataclass
class PdfUpload:
    """The form of ``POST /api/v1/certificates/verify``: the PDF in the field ``file``."""

    file: UploadFile


class CertificateController(Controller):
    path = "/api/v1/certificates"
    tags = ["certificates"]

    @post("/", opt=OFFICIALS, status_code=201)
    async def issue(
        self, request: Request[Any, Any, State], data: JSONBody[IssueIn]
    ) -> CertificateOut:
        """Issue a certificate to an eligible subject; an ineligible one is refused (422)
        with each criterion it fails."""
        settings: Settings = request.app.state.settings
        (cert,) = await documents.issue_signed(
            [issuance.Request(data.kind, data.subject)],
            settings=settings,
            actor=require_principal(request).actor,
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
            district=await scope.of(request),
        )
        return certificate_out(cert, await issuance.status_at(cert))

    @post("/{serial:str}/{action:str}", opt=OFFICIALS, status_code=200)
    async def decide(
        self,
        request: Request[Any, Any, State],
        serial: Serial,
        action: Annotated[Literal["revoke", "suspend", "reinstate"], PathParameter()],
        data: JSONBody[DecisionIn],
    ) -> CertificateOut:
        """An official revokes (final), suspends or reinstates a certificate, with a reason
        code and a note; audited, and shown on the certificate."""
        cert = await sweep.decide(
            serial,
            action,
            data.reason,
            data.note,
            actor=require_principal(request).actor,
            district=await scope.of(request),
        )
        return certificate_out(cert, await issuance.status_at(cert))

    @get("/{serial:str}/pdf", opt=PUBLIC, cache_control=None)
    async def pdf(self, request: Request[Any, Any, State], serial: Serial) -> Response[bytes]:
        """The signed PDF: the public may download an active certificate, a merchant its
        own, officials any."""
        settings: Settings = request.app.state.settings
        cert = await issuance.get_certificate(serial)
        state = await issuance.status_at(cert)
        if state.status != Status.ACTIVE and not await _may_see_inactive(request, cert):
            raise PermissionDeniedException(
                f"{serial} is {state.status.value}: its PDF is not handed out"
            )
        content = await documents.pdf_of(cert, settings, policy_for(settings.certificate_policy))
        return Response(
            content,
            media_type="application/pdf",
            headers={
                "content-disposition": disposition("inline", f"{serial}.pdf"),
                "cache-control": "no-store",
            },
        )

    @post("/verify", opt=PUBLIC, status_code=200, request_max_body_size=PDF_MAX_BYTES)
    async def verify_pdf(
        self,
        request: Request[Any, Any, State],
        data: Annotated[PdfUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> PdfCheck:
        """Check an uploaded certificate PDF. ``verdict`` is ``genuine`` (our key, the
        signature intact and covering the whole file, matching our register), ``altered``
        (ours, but changed or extended after signing: ``signed_serial`` names the certificate
        the signed part was; not to be trusted), ``not_ours``, ``unsigned`` or ``not_a_pdf``.
        ``serial`` and the live ``status`` are given only for a genuine file."""
        settings: Settings = request.app.state.settings
        content = await data.file.read()
        return await verification.check_pdf(
            content, signer_config(settings, policy_for(settings.certificate_policy))
        )

    @post("/{serial:str}/replies", opt=MERCHANT_ONLY, status_code=201)
    async def reply(
        self, request: Request[Any, Any, State], serial: Serial, data: JSONBody[ReplyIn]
    ) -> ReplyOut:
        """The holder replies (appeals) within 21 days of a revocation or suspension; the
        reply is published on the verify page as the holder's. Only the holder's merchant
        account may reply: officials and administrators get 403."""
        r = await replies.submit(serial, data.text, by=require_principal(request))
        return _reply_out(r, serial)

    @post("/replies/{reply_id:int}/decision", opt=OFFICIALS, status_code=200)
    async def decide_reply(
        self,
        request: Request[Any, Any, State],
        reply_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
        data: JSONBody[ReplyDecisionIn],
    ) -> ReplyOut:
        """An official upholds (the certificate stands again) or dismisses a reply, saying why."""
        r = await replies.decide(reply_id, data.decision, data.note, by=require_principal(request))
        cert = await Certificate.get(id=r.certificate_id)
        return _reply_out(r, cert.serial)

    @get(
        "/status-list",
        opt=PUBLIC,
        cache_control=None,
        media_type=MediaType.JSON,
        responses=cached_responses(StatusList, "Every certificate's status"),
    )
    async def status_list(self, request: Request[Any, Any, State]) -> Response[bytes]:
        """Every certificate's serial and status, for other systems to mirror; answers 304 to
        a matching If-None-Match."""
        entries = []
        for cert in await Certificate.all().order_by("serial"):
            state = await issuance.status_at(cert)
            entries.append(StatusEntry(cert.serial, state.status, state.reason, state.changed_at))
        # The moment the list reflects, not the moment it was asked for: the same list is the
        # same bytes, so its tag holds. An expiry by date shows in changed_at with no write.
        reflects = max((e.changed_at for e in entries), default=EPOCH)
        return cached_json(request, StatusList(reflects, entries))

    @get(
        "/{serial:str}",
        opt=PUBLIC,
        media_type=MediaType.JSON,
        responses=cached_responses(CertificateOut, "The certificate and its status"),
    )
    async def get_certificate(
        self,
        request: Request[Any, Any, State],
        serial: Serial,
        at: Annotated[datetime | None, QueryParameter()] = None,
    ) -> Response[bytes]:
        """A certificate and its status now, or at the moment ``at`` (e.g.
        ``2026-05-01T00:00:00Z``): what a verifier would have been told then."""
        require_in_range(at=at)
        cert = await issuance.get_certificate(serial)
        if at is not None and at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        return cached_json(request, certificate_out(cert, await issuance.status_at(cert, at)))


def _reply_out(r: Reply, serial: str) -> ReplyOut:
    return ReplyOut(
        r.id,
        serial,
        r.text,
        r.submitted_at,
        r.decision.value if r.decision else None,
        r.decision_note,
        r.decided_at,
    )


ROUTES = [CertificateController]
