"""HTTP API of the spreadsheet imports: the blank template of each kind, and a file imported
as ``fangxin import KIND FILE`` imports it (all rows or none), for the city bureau's officials
and admins.

A file's headers may be Chinese or English and a CSV may be UTF-8, UTF-8 with a BOM or
GB18030/GBK (``service.kernel.tables``); the answer names what it was read as. A file refused
is a 422 naming the file, or each bad cell as ``rows[N].column`` (N as the spreadsheet numbers
its rows: the header is row 1).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Final

import anyio
import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from service import plugins
from service.kernel import import_templates
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.exports import disposition
from service.kernel.import_headers import KINDS
from service.kernel.security import CITY_OFFICIALS, require_principal
from service.kernel.settings import Settings
from service.kernel.tables import ENCODING_NAMES, ImportRejected
from service.kernel.uploads import clean_name

# A register of 600,000 merchants as CSV is some 80 MB.
IMPORT_MAX_BYTES: Final = 128 * 1024 * 1024
SUFFIXES: Final = (".csv", ".xlsx", ".xlsm")
UploadBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
TemplateName = Annotated[
    str,
    PathParameter(
        max_length=40,
        description="the kind and the format: "
        + ", ".join(f"{k}.xlsx" for k in KINDS)
        + " (or .csv)",
    ),
]


class ImportAnswer(msgspec.Struct):
    kind: str
    file: str
    encoding: str  # utf-8, utf-8-sig, gb18030 or xlsx
    encoding_name: str  # the same for a person: "GB18030/GBK"
    dry_run: bool
    counts: dict[str, int]


def rejected(filename: str, exc: ImportRejected) -> InvalidInput:
    errors = [
        FieldError("file" if e.row == 0 else f"rows[{e.row}].{e.column}", e.reason)
        for e in exc.errors
    ]
    return InvalidInput(f"{filename}: {exc}", errors)


class ImportController(Controller):
    path = "/api/v1/imports"
    tags = ["imports"]

    @get("/templates/{name:str}", opt=CITY_OFFICIALS)
    async def template(self, name: TemplateName) -> Response[bytes]:
        """A blank file to fill in for a kind of import: Chinese headers, and in the workbook
        a data dictionary sheet (填写说明) saying what each column takes."""
        parsed = import_templates.parse_name(name)
        if parsed is None:
            raise NotFound(f"No template {name}")
        kind, fmt = parsed
        content = await anyio.to_thread.run_sync(import_templates.template, kind, fmt)
        return Response(
            content,
            media_type=import_templates.MEDIA_TYPES[fmt],
            headers={
                "content-disposition": disposition(
                    "attachment", import_templates.filename(kind, fmt)
                )
            },
        )

    @post(
        "/{kind:str}",
        opt=CITY_OFFICIALS,
        status_code=200,
        request_max_body_size=IMPORT_MAX_BYTES,
    )
    async def import_file(
        self,
        request: Request[object, object, State],
        kind: Annotated[str, PathParameter(max_length=40)],
        data: UploadBody,
        dry_run: Annotated[bool, QueryParameter(description="check only")] = False,
    ) -> ImportAnswer:
        """A CSV or XLSX file (the form field ``file``) imported as ``fangxin import`` does:
        all rows or none. Headers in Chinese or English; a CSV in UTF-8, UTF-8 with a BOM or
        GB18030/GBK, the one it was read as named in ``encoding``."""
        importer = plugins.file_importers().get(kind)
        if importer is None:
            raise NotFound(f"No import of {kind}")
        upload = data.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("No file", [FieldError("file", "a CSV or XLSX file is required")])
        name = clean_name(upload.filename or "")
        if not name.lower().endswith(SUFFIXES):
            raise InvalidInput(
                f"{name}: not a CSV or XLSX file",
                [FieldError("file", f"{name} is not a .csv or .xlsx file")],
            )
        settings: Settings = request.app.state.settings
        actor = require_principal(request).actor
        content = await upload.read()
        with tempfile.TemporaryDirectory(prefix="fangxin-import-") as folder:
            path = Path(folder) / name
            await anyio.Path(path).write_bytes(content)
            try:
                done = await importer(path, settings, actor, dry_run)
            except ImportRejected as exc:
                raise rejected(name, exc) from exc
        return ImportAnswer(
            kind, name, done.encoding, ENCODING_NAMES[done.encoding], dry_run, dict(done.counts)
        )


ROUTES: list[ControllerRouterHandler] = [ImportController]
