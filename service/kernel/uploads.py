"""Files the public and applicants send: recognised by their first bytes (never by name or
declared type), capped in size and number, cleaned of what a camera writes about the person
(EXIF: where and when a photo was taken, the phone that took it) and kept under the data
directory named by the SHA-256 of their content, so that equal files are stored once and no
name a sender chose reaches the disk.

Shared by certificate applications (an applicant's materials) and consumer complaints (a
consumer's evidence): one reading of what a file is, whoever sends it. What we take is PDF,
JPEG and PNG; an SVG or an HTML page named ``.jpg``, an archive or a program is refused,
whatever its name says. Served back, a file always goes as an attachment of the type its
content was checked as, with ``nosniff`` (the routes' part).
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from service.kernel.disk import write_atomically
from service.kernel.errors import FieldError
from service.kernel.i18n import N_, gettext

PDF: Final = "application/pdf"
JPEG: Final = "image/jpeg"
PNG: Final = "image/png"
# The first bytes of each format we take, and the type we serve it back as.
SIGNATURES: Final = (
    (b"%PDF-", PDF),
    (b"\xff\xd8\xff", JPEG),
    (b"\x89PNG\r\n\x1a\n", PNG),
)
TOO_MANY = N_("At most %(n)d files")
EMPTY = N_("%(name)s is empty")
TOO_BIG = N_("%(name)s is larger than %(mb)d MB")
WRONG_TYPE = N_("%(name)s is not a PDF, JPEG or PNG file")
DAMAGED = N_("%(name)s is not a complete image")
_UNSAFE_NAME = re.compile(r"[^\w.\- ()（）\u4e00-\u9fff]+")
_MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    content: bytes


@dataclass(frozen=True, slots=True)
class CheckedFile:
    filename: str  # cleaned, for display only
    media_type: str
    content: bytes
    sha256: str


def row_of(file: CheckedFile, now: datetime) -> dict[str, object]:
    """The columns every table of kept files shares (materials, complaint, repair and
    correction evidence): what to show, what to serve it as, and where the store has it."""
    return {
        "filename": file.filename,
        "media_type": file.media_type,
        "size": len(file.content),
        "sha256": file.sha256,
        "uploaded_at": now,
    }


def sniff(content: bytes) -> str | None:
    """The media type the content's first bytes declare, if it is one we take."""
    for magic, media_type in SIGNATURES:
        if content.startswith(magic):
            return media_type
    return None


def clean_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" .") or "file"
    return cleaned[:200]


def check(
    uploads: Sequence[Upload],
    *,
    field: str = "files",
    max_files: int,
    max_bytes: int,
    strip: bool = False,
) -> tuple[list[CheckedFile], list[FieldError]]:
    """The uploads we keep, and a problem for each one we do not; empty uploads (a file input
    left blank) are skipped. With ``strip``, images lose their metadata before they are hashed
    (``strip_metadata``), and an image too broken to strip is refused."""
    files = [u for u in uploads if u.content or u.filename]
    if len(files) > max_files:
        return [], [FieldError(field, gettext(TOO_MANY) % {"n": max_files})]
    errors: list[FieldError] = []
    checked = []
    for i, u in enumerate(files):
        where = f"{field}[{i}]"
        name = clean_name(u.filename)
        if not u.content:
            errors.append(FieldError(where, gettext(EMPTY) % {"name": name}))
        elif len(u.content) > max_bytes:
            limit = {"name": name, "mb": max_bytes // _MB}
            errors.append(FieldError(where, gettext(TOO_BIG) % limit))
        elif (media_type := sniff(u.content)) is None:
            errors.append(FieldError(where, gettext(WRONG_TYPE) % {"name": name}))
        else:
            content: bytes | None = u.content
            if strip:
                content = strip_metadata(u.content, media_type)
            if content is None:
                errors.append(FieldError(where, gettext(DAMAGED) % {"name": name}))
                continue
            digest = hashlib.sha256(content).hexdigest()
            checked.append(CheckedFile(name, media_type, content, digest))
    return checked, errors


# --- metadata --------------------------------------------------------------------------------

# JPEG segments kept: APP0 (JFIF), APP2 only as an ICC colour profile, APP14 (Adobe: how CMYK
# images decode). Every other APPn (APP1 is EXIF and XMP, APP13 Photoshop/IPTC) and comments
# (COM) go: they describe the photo's taking, not its pixels.
_JPEG_KEEP: Final = frozenset({0xE0, 0xEE})
_JPEG_ICC: Final = b"ICC_PROFILE\x00"
_JPEG_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})
_SOI, _EOI, _SOS, _COM, _APP2 = 0xD8, 0xD9, 0xDA, 0xFE, 0xE2
# PNG chunks dropped: EXIF, the text chunks (author, comments, software) and the time stamp.
_PNG_DROP: Final = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"})
_PNG_MAGIC: Final = b"\x89PNG\r\n\x1a\n"


def strip_metadata(content: bytes, media_type: str) -> bytes | None:
    """The file without what a camera or editor writes about the person (JPEG: EXIF, XMP,
    IPTC, comments; PNG: eXIf, text and time chunks); the pixels are untouched, so the image
    looks the same. None for an image whose structure does not hold together. A PDF is kept
    as sent: it is served only as an attachment."""
    if media_type == JPEG:
        return _strip_jpeg(content)
    if media_type == PNG:
        return _strip_png(content)
    return content


def _strip_jpeg(data: bytes) -> bytes | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [b"\xff\xd8"]
    i, end = 2, len(data)
    while i < end:
        if data[i] != 0xFF:
            return None
        while i < end and data[i] == 0xFF:  # fill bytes before a marker
            i += 1
        if i >= end:
            return None
        marker = data[i]
        i += 1
        if marker == _EOI:
            out.append(b"\xff\xd9")
            return b"".join(out)
        if marker in _JPEG_STANDALONE or marker == _SOI:
            out.append(bytes((0xFF, marker)))
            continue
        if i + 2 > end:
            return None
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2 or i + length > end:
            return None
        segment = data[i : i + length]
        if marker == _SOS:
            # The image data follows to the end (later scans and EOI included): kept whole.
            out.append(b"\xff\xda" + data[i:])
            return b"".join(out)
        keep = (
            marker in _JPEG_KEEP
            or (marker == _APP2 and segment[2:].startswith(_JPEG_ICC))
            or not (0xE0 <= marker <= 0xEF or marker == _COM)
        )
        if keep:
            out.append(bytes((0xFF, marker)) + segment)
        i += length
    return None  # no image data at all


def _strip_png(data: bytes) -> bytes | None:
    if not data.startswith(_PNG_MAGIC):
        return None
    out = [_PNG_MAGIC]
    i, end = len(_PNG_MAGIC), len(data)
    while i + 8 <= end:
        (length,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        stop = i + 12 + length
        if stop > end:
            return None
        if kind not in _PNG_DROP:
            out.append(data[i:stop])
        i = stop
        if kind == b"IEND":
            return b"".join(out)
    return None


# --- the store -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileStore:
    """A content-addressed folder of the data dir: ``<root>/<first two hex>/<sha256>``."""

    root: Path

    def path_of(self, sha256: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{64}", sha256):
            raise ValueError("not a SHA-256 digest")
        return self.root / sha256[:2] / sha256

    def store(self, file: CheckedFile) -> None:
        """Write the file once (by its hash); a write interrupted half-way leaves no file
        under the final name. Readable by the service's user only: these are people's
        papers and photographs."""
        target = self.path_of(file.sha256)
        if target.exists():
            return
        write_atomically(target, file.content, f"the file {file.filename}", mode=0o600)

    def read(self, sha256: str) -> bytes:
        return self.path_of(sha256).read_bytes()
