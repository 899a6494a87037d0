"""An applicant's files: recognised by their first bytes (never by name or declared type),
capped in size and number, and kept under the data directory named by the SHA-256 of their
content, so that equal files are stored once and no name an applicant chose reaches the disk."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from service.kernel.disk import write_atomically
from service.kernel.errors import FieldError
from service.kernel.i18n import N_, gettext

MAX_BYTES: Final = 5 * 1024 * 1024  # a scanned licence or a few photographed pages
MAX_FILES: Final = 5
# The first bytes of each format we take, and the type we serve it back as.
SIGNATURES: Final = (
    (b"%PDF-", "application/pdf"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)
TOO_MANY = N_("At most %(n)d files")
EMPTY = N_("%(name)s is empty")
TOO_BIG = N_("%(name)s is larger than %(mb)d MB")
WRONG_TYPE = N_("%(name)s is not a PDF, JPEG or PNG file")
_UNSAFE_NAME = re.compile(r"[^\w.\- ()（）\u4e00-\u9fff]+")


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
    uploads: list[Upload], field: str = "files"
) -> tuple[list[CheckedFile], list[FieldError]]:
    """The uploads we keep, and a problem for each one we do not; empty uploads (a file input
    left blank) are skipped."""
    files = [u for u in uploads if u.content or u.filename]
    errors: list[FieldError] = []
    if len(files) > MAX_FILES:
        return [], [FieldError(field, gettext(TOO_MANY) % {"n": MAX_FILES})]
    checked = []
    for i, u in enumerate(files):
        where = f"{field}[{i}]"
        if not u.content:
            errors.append(FieldError(where, gettext(EMPTY) % {"name": clean_name(u.filename)}))
        elif len(u.content) > MAX_BYTES:
            limit = {"name": clean_name(u.filename), "mb": MAX_BYTES // (1024 * 1024)}
            errors.append(FieldError(where, gettext(TOO_BIG) % limit))
        elif (media_type := sniff(u.content)) is None:
            errors.append(FieldError(where, gettext(WRONG_TYPE) % {"name": clean_name(u.filename)}))
        else:
            digest = hashlib.sha256(u.content).hexdigest()
            checked.append(CheckedFile(clean_name(u.filename), media_type, u.content, digest))
    return checked, errors


def directory(data_dir: Path) -> Path:
    return data_dir / "applications"


def path_of(data_dir: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a SHA-256 digest")
    return directory(data_dir) / sha256[:2] / sha256


def store(data_dir: Path, file: CheckedFile) -> None:
    """Write the file once (by its hash); a write interrupted half-way leaves no file under
    the final name."""
    target = path_of(data_dir, file.sha256)
    if target.exists():
        return
    write_atomically(target, file.content, f"the file {file.filename}")


def read(data_dir: Path, sha256: str) -> bytes:
    return path_of(data_dir, sha256).read_bytes()
