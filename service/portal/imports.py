"""The imports page of the city bureau's officials and admins: a blank template of each kind
to download (Chinese headers, a data dictionary sheet), and a form to import a filled one,
as ``POST /api/v1/imports/{kind}`` and ``fangxin import`` do. The answer names what the file
was read as (UTF-8, UTF-8 with BOM, GB18030/GBK, a workbook); a refused file re-renders the
page with each problem, nothing imported."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Final

import anyio
from litestar import MediaType, Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from service import plugins
from service.imports_api import IMPORT_MAX_BYTES, SUFFIXES
from service.kernel.i18n import N_, gettext
from service.kernel.import_headers import KINDS
from service.kernel.plugins import FileImported
from service.kernel.security import CITY_OFFICIALS, require_principal
from service.kernel.settings import Settings
from service.kernel.tables import ImportRejected
from service.kernel.uploads import clean_name

PAGE: Final = "/official/imports"
UploadBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
KIND_LABELS: Final = {
    "areas": N_("Areas"),
    "merchants": N_("Merchants"),
    "credit": N_("Credit events"),
    "complaints": N_("12315 intake records"),
    "visits": N_("Counter visit tallies"),
    "spot-checks": N_("Spot checks"),
}
ENCODING_LABELS: Final = {
    "utf-8": N_("UTF-8"),
    "utf-8-sig": N_("UTF-8 with BOM"),
    "gb18030": N_("GB18030/GBK"),
    "xlsx": N_("an XLSX workbook"),
}
COUNT_LABELS: Final = {
    "rows": N_("rows"),
    "received": N_("rows"),
    "created": N_("created"),
    "stored": N_("stored"),
    "updated": N_("updated"),
    "unchanged": N_("unchanged"),
    "merchants_changed": N_("merchants whose credit changed"),
    "linked": N_("linked to complaints filed online"),
}


def _page(
    *,
    file: str = "",
    done: FileImported | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Template:
    return Template(
        "portal/imports.html",
        context={
            "kinds": [(k, gettext(KIND_LABELS.get(k, k))) for k in KINDS],
            "file": file,
            "done": done,
            "encoding": gettext(ENCODING_LABELS[done.encoding]) if done else "",
            "counts": [
                (gettext(COUNT_LABELS.get(k, k)), v)
                for k, v in (done.counts if done else {}).items()
            ],
            "errors": errors or [],
        },
        status_code=status_code,
    )


@get(PAGE, opt=CITY_OFFICIALS, include_in_schema=False)
async def imports_page() -> Template:
    """Templates to download and the import form."""
    return _page()


@post(
    PAGE,
    opt=CITY_OFFICIALS,
    include_in_schema=False,
    media_type=MediaType.HTML,
    status_code=200,
    request_max_body_size=IMPORT_MAX_BYTES,
)
async def import_form(request: Request[Any, Any, State], data: UploadBody) -> Any:
    importer = plugins.file_importers().get(str(data.get("kind", "")))
    upload = data.get("file")
    if importer is None:
        return _page(errors=[gettext("Choose what the file holds.")], status_code=422)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _page(errors=[gettext("Choose a CSV or XLSX file.")], status_code=422)
    name = clean_name(upload.filename)
    if not name.lower().endswith(SUFFIXES):
        problem = gettext("%(file)s is not a .csv or .xlsx file.") % {"file": name}
        return _page(file=name, errors=[problem], status_code=422)
    settings: Settings = request.app.state.settings
    dry_run = str(data.get("dry_run", "")) in ("1", "on", "true")
    content = await upload.read()
    with tempfile.TemporaryDirectory(prefix="fangxin-import-") as folder:
        path = Path(folder) / name
        await anyio.Path(path).write_bytes(content)
        try:
            done = await importer(path, settings, require_principal(request).actor, dry_run)
        except ImportRejected as exc:
            problems = [f"{name}: {e.reason}" if e.row == 0 else str(e) for e in exc.errors]
            return _page(file=name, errors=problems, status_code=422)
    return _page(file=name, done=done)


PAGES: list[ControllerRouterHandler] = [imports_page, import_form]
