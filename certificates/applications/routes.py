"""HTTP API of applications, notices and objections: thin handlers over
certificates.applications.store and certificates.applications.objections."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from certificates.applications import materials, objections
from certificates.applications import store as applications
from certificates.applications.schemas import (
    AnswerIn,
    ApplicationDecisionIn,
    ApplicationOut,
    ApplicationPage,
    InspectionIn,
    NoticeOut,
    ObjectionIn,
    ObjectionOut,
)
from certificates.policy import policy_for
from scoring.credit import store as credit_store
from service.kernel.db import MAX_ID
from service.kernel.security import APPLICANTS, APPLICATIONS, OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings
from service.kernel.upload_http import attachment, form_uploads
from service.register.store import Page

Id = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
# Every file at its cap, and the statement and the form's own bytes besides.
UPLOAD_MAX_BYTES = materials.MAX_FILES * materials.MAX_BYTES + 256 * 1024


def client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None


async def uploads_of(form: dict[str, Any]) -> list[materials.Upload]:
    return await form_uploads(form, materials.MAX_BYTES)


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class ApplicationController(Controller):
    path = "/api/v1/applications"
    tags = ["applications"]

    @post("/", opt=APPLICANTS, status_code=201, request_max_body_size=UPLOAD_MAX_BYTES)
    async def submit(
        self,
        request: Request[Any, Any, State],
        data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ApplicationOut:
        """Apply for a certificate (multipart form): ``statement`` (text), ``files`` (PDF,
        JPEG or PNG, at most 5 of 5 MB, recognised by content), and optionally ``kind`` and
        ``subject``, which must name the account's own merchant or managed area."""
        settings: Settings = request.app.state.settings
        who = require_principal(request)
        application = await applications.submit(
            who,
            kind=_text(data, "kind") or None,
            subject=_text(data, "subject") or None,
            statement=_text(data, "statement"),
            uploads=await uploads_of(data),
            data_dir=settings.data_dir,
        )
        return await applications.out(application, who)

    @get("/", opt=APPLICATIONS)
    async def list_applications(
        self,
        request: Request[Any, Any, State],
        status: Annotated[str | None, QueryParameter(max_length=16)] = None,
        page: Annotated[int, QueryParameter(description="1-based page number")] = 1,
        page_size: Annotated[int, QueryParameter(description="at most 500")] = 50,
    ) -> ApplicationPage:
        """Officials: the applications (a district's official, its district's); an applicant:
        its own. Newest first."""
        p = Page(page, page_size)
        return await applications.listing(
            require_principal(request), status=status, page=p.page, page_size=p.page_size
        )

    @get("/{application_id:int}", opt=APPLICATIONS)
    async def get_application(
        self, request: Request[Any, Any, State], application_id: Id
    ) -> ApplicationOut:
        """Where an application stands: status, timeline, inspections, decision, notice
        dates, objections and answers."""
        who = require_principal(request)
        return await applications.out(await applications.get_for(application_id, who), who)

    @get("/{application_id:int}/materials/{material_id:int}", opt=APPLICATIONS)
    async def material(
        self, request: Request[Any, Any, State], application_id: Id, material_id: Id
    ) -> Response[bytes]:
        """One of the files sent, as an attachment of the type its content was checked as."""
        settings: Settings = request.app.state.settings
        m = await applications.material_for(application_id, material_id, require_principal(request))
        return attachment(
            materials.read(settings.data_dir, m.sha256), m.media_type, f"material-{m.id}"
        )

    @post("/{application_id:int}/inspections", opt=OFFICIALS, status_code=201)
    async def inspect(
        self, request: Request[Any, Any, State], application_id: Id, data: JSONBody[InspectionIn]
    ) -> ApplicationOut:
        """Record a materials check, inspection or mystery-shopping visit (暗访) with every
        checklist item and a result; the first puts the application under review."""
        who = require_principal(request)
        await applications.record_inspection(application_id, data, who=who)
        return await applications.out(await applications.get_for(application_id, who), who)

    @post("/{application_id:int}/decision", opt=OFFICIALS, status_code=200)
    async def decide(
        self,
        request: Request[Any, Any, State],
        application_id: Id,
        data: JSONBody[ApplicationDecisionIn],
    ) -> ApplicationOut:
        """Approve (the public notice starts, for the policy's days; needs a passed latest
        inspection, else 409) or refuse, with a reason."""
        settings: Settings = request.app.state.settings
        who = require_principal(request)
        application = await applications.decide(
            application_id, data, who=who, policy=policy_for(settings.certificate_policy)
        )
        return await applications.out(application, who)

    @post("/{application_id:int}/issue", opt=OFFICIALS, status_code=200)
    async def issue(self, request: Request[Any, Any, State], application_id: Id) -> ApplicationOut:
        """Issue the certificate once the notice ended with every objection answered and none
        upheld (409 before), through the same issuance as ``POST /api/v1/certificates``."""
        settings: Settings = request.app.state.settings
        who = require_principal(request)
        application = await applications.issue(
            application_id,
            who=who,
            settings=settings,
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        )
        return await applications.out(application, who)


class NoticeController(Controller):
    path = "/api/v1/notices"
    tags = ["notices"]

    @get("/", opt=PUBLIC)
    async def list_notices(self) -> list[NoticeOut]:
        """Public notices (公示) open now, then those ended in the last 30 days, with their
        objections and the officials' answers."""
        return await objections.notices()

    @get("/{application_id:int}", opt=PUBLIC)
    async def get_notice(self, application_id: Id) -> NoticeOut:
        """One public notice."""
        return await objections.notice(application_id)

    @post("/{application_id:int}/objections", opt=PUBLIC, status_code=201)
    async def object_to(
        self, request: Request[Any, Any, State], application_id: Id, data: JSONBody[ObjectionIn]
    ) -> ObjectionOut:
        """Object to an open notice, without an account: ``text`` (10–1000 characters, at
        most one link) and an optional ``contact`` shown to officials only. At most 3 an hour
        from one address (429)."""
        settings: Settings = request.app.state.settings
        objection = await objections.lodge(
            application_id, data, address=client_address(request), secret=settings.secret_key
        )
        return applications.objection_out(objection)


@post(
    "/api/v1/objections/{objection_id:int}/answer", opt=OFFICIALS, status_code=200, tags=["notices"]
)
async def answer_objection(
    request: Request[Any, Any, State], objection_id: Id, data: JSONBody[AnswerIn]
) -> ObjectionOut:
    """Uphold (the application is blocked) or dismiss an objection, with the reply the public
    page shows."""
    objection = await objections.answer(objection_id, data, who=require_principal(request))
    return applications.objection_out(objection, with_contact=True)


ROUTES: list[ControllerRouterHandler] = [ApplicationController, NoticeController, answer_objection]
