"""An applicant's files: the kernel's uploads (service.kernel.uploads) at the applications'
limits, kept in their own content-addressed folder of the data dir."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from service.kernel import uploads
from service.kernel.errors import FieldError

# Re-exported: the applications' callers and tests know them from here.
from service.kernel.uploads import EMPTY as EMPTY
from service.kernel.uploads import TOO_BIG as TOO_BIG
from service.kernel.uploads import TOO_MANY as TOO_MANY
from service.kernel.uploads import WRONG_TYPE as WRONG_TYPE
from service.kernel.uploads import CheckedFile as CheckedFile
from service.kernel.uploads import Upload as Upload
from service.kernel.uploads import clean_name as clean_name
from service.kernel.uploads import sniff as sniff

MAX_BYTES: Final = 5 * 1024 * 1024  # a scanned licence or a few photographed pages
MAX_FILES: Final = 5


def check(files: list[Upload], field: str = "files") -> tuple[list[CheckedFile], list[FieldError]]:
    """The uploads we keep, and a problem for each one we do not; empty uploads (a file input
    left blank) are skipped."""
    return uploads.check(files, field=field, max_files=MAX_FILES, max_bytes=MAX_BYTES)


def directory(data_dir: Path) -> Path:
    return data_dir / "applications"


def _store(data_dir: Path) -> uploads.FileStore:
    return uploads.FileStore(directory(data_dir))


def path_of(data_dir: Path, sha256: str) -> Path:
    return _store(data_dir).path_of(sha256)


def store(data_dir: Path, file: CheckedFile) -> None:
    _store(data_dir).store(file)


def read(data_dir: Path, sha256: str) -> bytes:
    return _store(data_dir).read(sha256)
