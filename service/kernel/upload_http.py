"""The HTTP edge of people's files (service.kernel.uploads holds the rules): reading a
multipart form's files without reading a huge one whole, and serving one back so that no
browser ever shows it inline or takes it for something else. Shared by application
materials, complaint evidence, repair evidence and correction evidence alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Response

from service.kernel.uploads import Upload

# A person's papers and photographs: never kept by a cache, never named to the next site.
PRIVATE: Final = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
MultipartBody = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]


async def form_uploads(
    form: Mapping[str, Any], max_bytes: int, field: str = "files"
) -> list[Upload]:
    """The files of a multipart form's ``field`` (one arrives bare, several as a list), each
    read one byte past the cap: enough to refuse it, never the whole of a huge file."""
    raw = form.get(field)
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    return [
        Upload(item.filename or "", await item.read(max_bytes + 1))
        for item in items
        if isinstance(item, UploadFile)
    ]


def attachment(content: bytes, media_type: str, filename: str) -> Response[bytes]:
    """A stored file: an attachment of the type its content was checked as (``filename`` is
    ours, never the sender's), never shown inline, never sniffed into something else, never
    cached."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "x-content-type-options": "nosniff",
            "content-security-policy": "default-src 'none'; sandbox",
            **PRIVATE,
        },
    )
