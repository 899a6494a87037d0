"""HTTP API of credit repair (信用修复): a merchant reads what it may repair and applies; officials
(a district's: its district only) read the applications and decide them. Everything goes
through scoring.credit.repair."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from litestar.response import Response

from scoring.credit import repair
from scoring.credit.models import CreditRepairFile, RepairStatus
from scoring.credit.routes import rules_of
from scoring.credit.schemas import RepairableOut, RepairDecisionIn, RepairOut
from service.kernel.errors import FieldError, InvalidInput
from service.kernel.security import MERCHANT_ONLY, MERCHANTS, OFFICIALS, require_principal
from service.kernel.settings import Settings
from service.kernel.upload_http import attachment, form_uploads
from service.kernel.uploads import Upload

Id = Annotated[int, PathParameter(ge=1, le=2**31 - 1)]
UploadBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
# Every file at its cap, and the form's own fields besides.
UPLOAD_MAX_BYTES: Final = repair.MAX_FILES * repair.MAX_BYTES + 256 * 1024
_TRUE: Final = ("1", "true", "on", "yes")


def text_of(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def uploads_of(form: dict[str, Any]) -> list[Upload]:
    return await form_uploads(form, repair.MAX_BYTES)


def form_of(form: dict[str, Any]) -> repair.RepairForm:
    """A multipart form as the application it carries; a non-number event names its field."""
    raw = text_of(form, "event").strip()
    event_id: int | None = None
    if raw:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 10:
            raise InvalidInput("The application is not valid", [FieldError("event", "unknown")])
        event_id = int(raw)
    return repair.RepairForm(
        event_id=event_id,
        correction=text_of(form, "correction"),
        signatory=text_of(form, "signatory"),
        pledge=text_of(form, "pledge").lower() in _TRUE,
    )


def file_response(settings: Settings, f: CreditRepairFile) -> Response[bytes]:
    content = repair.files_store(settings.data_dir).read(f.sha256)
    return attachment(content, f.media_type, f"repair-evidence-{f.id}")


class CreditRepairController(Controller):
    path = "/api/v1/credit-repairs"
    tags = ["credit"]

    @get("/", opt=MERCHANTS)
    async def list_repairs(
        self,
        request: Request[Any, Any, State],
        status: Annotated[RepairStatus | None, QueryParameter()] = None,
    ) -> list[RepairOut]:
        """A merchant's own applications; an official's (a district's: its district's),
        nearest deadline first."""
        now = datetime.now(UTC)
        rows = await repair.listing(require_principal(request), status=status)
        return [await repair.out(r, now) for r in rows]

    @get("/repairable", opt=MERCHANT_ONLY)
    async def repairable(self, request: Request[Any, Any, State]) -> list[RepairableOut]:
        """The merchant's penalties and listings in force, each with the day it may be
        repaired from (the rule table's periods) and whether it may be applied for today."""
        merchant = await repair.own_merchant(require_principal(request))
        now = datetime.now(UTC)
        found = await repair.repairables(merchant, rules_of(request), now)
        return [repair.repairable_out(r, now) for r in found]

    @post("/", opt=MERCHANT_ONLY, status_code=201, request_max_body_size=UPLOAD_MAX_BYTES)
    async def apply(self, request: Request[Any, Any, State], data: UploadBody) -> RepairOut:
        """Apply (multipart: ``event``, ``correction``, ``signatory``, ``pledge`` ticked,
        ``files``). 422 naming each bad field; 409 while an application for the event is
        open."""
        settings: Settings = request.app.state.settings
        created = await repair.submit(
            require_principal(request),
            form_of(data),
            await uploads_of(data),
            rules=rules_of(request),
            data_dir=settings.data_dir,
        )
        return await repair.out(created)

    @get("/{repair_id:int}", opt=MERCHANTS)
    async def one(self, request: Request[Any, Any, State], repair_id: Id) -> RepairOut:
        return await repair.out(await repair.get_for(repair_id, require_principal(request)))

    @get("/{repair_id:int}/files/{file_id:int}", opt=MERCHANTS)
    async def evidence(
        self, request: Request[Any, Any, State], repair_id: Id, file_id: Id
    ) -> Response[bytes]:
        settings: Settings = request.app.state.settings
        f = await repair.file_for(repair_id, file_id, require_principal(request))
        return file_response(settings, f)

    @post("/{repair_id:int}/decision", opt=OFFICIALS, status_code=200)
    async def decide(
        self, request: Request[Any, Any, State], repair_id: Id, data: JSONBody[RepairDecisionIn]
    ) -> RepairOut:
        """Approve (the record stops counting; credit rescored at once) or refuse, with the
        reason; 409 when already decided."""
        decided = await repair.decide(
            repair_id,
            require_principal(request),
            approve=repair.parse_decision(data.decision),
            reason=data.reason,
            rules=rules_of(request),
        )
        return await repair.out(decided.repair)


ROUTES = [CreditRepairController]
