"""Backups: ``fangxin backup FILE`` / ``fangxin restore FILE``.

A backup is one tar file holding what is lost with the machine: the database (SQLite through
its online backup API, a consistent copy while the service runs; PostgreSQL through
pg_dump's custom format), and the data dir's own files — the generated signing key
(``signing/``), the generated secret (``secret_key``), the store of signed certificate PDFs
(``pdf/``), applicants' materials (``applications/``), consumers' evidence (``evidence/``),
merchants' evidence for credit repair (``repairs/``),
the key that seals consumers' telephone numbers (``keys/contact.key``) and the bureau's
working-day calendar (``workdays.toml``). ``manifest.json`` says
what it holds, and plainly what it does not: a signing key, secret or file configured outside
the data dir is kept wherever the operator keeps it, and is named there as not in the backup.

The file holds secrets, so it is written readable by its owner only (0600).

``restore`` puts the database back and the files into the data dir, which may be a new,
empty one: certificates signed before the backup then verify with the restored key. A
signing key, contact key or calendar already in the data dir that differs from the backup's
is set aside
(``NAME.before-restore-TIME``), never overwritten: a lost key cannot be made again. Backups
made before they held files (a bare SQLite file or pg_dump archive) still restore the
database alone. The dialect's tool is chosen once, in ``backend_for``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final, Protocol

from service.kernel import progress
from service.kernel.disk import saving
from service.kernel.settings import SECRET_FILE, WORKDAYS_FILE, Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"

ARCHIVE_FORMAT: Final = "fangxin-backup"
ARCHIVE_VERSION: Final = 1
MANIFEST: Final = "manifest.json"
DATA: Final = "data/"  # the data dir's files sit under this prefix in the archive
SIGNING_DIR: Final = "signing"  # certificates.documents.signer_config keeps the key here
PDF_DIR: Final = "pdf"  # Settings.pdf_dir
_PDF_MEMBER: Final = re.compile(r"data/pdf/([0-9a-f]{2})/(\1[0-9a-f]{62})\.pdf")
# Applicants' materials (certificates.applications.materials keeps them here) and consumers'
# evidence (scoring.disputes.store), merchants' evidence for credit repair
# (scoring.credit.repair), named by their SHA-256 too.
MATERIALS_DIR: Final = "applications"
EVIDENCE_DIR: Final = "evidence"
REPAIRS_DIR: Final = "repairs"
_MATERIAL_MEMBER: Final = re.compile(
    r"data/(?:applications|evidence|repairs)/([0-9a-f]{2})/(\1[0-9a-f]{62})"
)
# The key sealing consumers' telephone numbers (scoring.disputes.contact): without it no
# sealed number can be read again.
CONTACT_KEY: Final = "keys/contact.key"
# The key sealing staff members' TOTP secrets (service.kernel.second_factor): without it every
# second factor must be reset.
SECOND_FACTOR_KEY: Final = "keys/second_factor.key"
_CHUNK: Final = 1 << 20
_OWNER_ONLY: Final = 0o600


class BackupError(Exception):
    """A backup or restore that could not be done, with the reason."""


class BackupBackend(Protocol):
    dialect: str
    member: str  # the database's name inside the archive

    def backup(self, target: Path) -> None: ...
    def restore(self, source: Path) -> None: ...


class SQLiteBackup:
    dialect = "sqlite"
    member = "database.sqlite3"

    def __init__(self, path: Path) -> None:
        self.path = path

    def backup(self, target: Path) -> None:
        if not self.path.exists():
            raise BackupError(f"no database at {self.path}")
        tmp = target.with_name(target.name + ".partial")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(self.path)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        tmp.replace(target)  # a half-written backup never carries the final name

    def restore(self, source: Path) -> None:
        _expect_magic(source, SQLITE_MAGIC, "an SQLite backup")
        src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        dst = sqlite3.connect(self.path)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()


class PostgresBackup:
    dialect = "postgres"
    member = "database.pgdump"

    def __init__(self, url: str) -> None:
        # libpq spells the scheme postgresql://; asyncpg accepts both.
        self.url = "postgresql://" + url.split("://", 1)[1]

    def backup(self, target: Path) -> None:
        tmp = target.with_name(target.name + ".partial")
        _run(
            [
                _tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={tmp}",
                f"--dbname={self.url}",
            ]
        )
        tmp.replace(target)

    def restore(self, source: Path) -> None:
        _expect_magic(source, PGDUMP_MAGIC, "a PostgreSQL (pg_dump custom format) backup")
        _run(
            [
                _tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                f"--dbname={self.url}",
                str(source),
            ]
        )


def backend_for(settings: Settings) -> BackupBackend:
    if settings.is_postgres:
        return PostgresBackup(settings.database_url)
    path = settings.sqlite_path
    assert path is not None
    return SQLiteBackup(path)


@dataclass(frozen=True, slots=True)
class DataFile:
    """One of the data dir's own files that a backup carries."""

    what: str  # for people: "signing key", "generated secret"
    relative: str  # its path inside the data dir, with "/"
    secret: bool  # restored readable by its owner only


@dataclass(frozen=True, slots=True)
class Inventory:
    """What of the data dir goes into a backup, and what the service uses that is kept
    elsewhere (named so in the manifest, never silently left out)."""

    files: list[DataFile]
    pdfs: list[str]  # relative paths in the content-addressed store
    elsewhere: list[str]
    # applicants' files and consumers' evidence, by their hash
    materials: list[str] = field(default_factory=list)


def inventory(settings: Settings) -> Inventory:
    """The one place that decides, for each secret and file, whether the data dir holds it."""
    root = settings.data_dir
    files: list[DataFile] = []
    elsewhere: list[str] = []
    signing = root / SIGNING_DIR
    if signing.is_dir():
        for path in sorted(p for p in signing.rglob("*") if p.is_file()):
            files.append(DataFile("signing key", path.relative_to(root).as_posix(), True))
    if settings.signing_p12 is not None:
        elsewhere.append(
            f"signing key: the PKCS#12 file set by FANGXIN_SIGNING_P12 ({settings.signing_p12}) "
            "and its password (FANGXIN_SIGNING_P12_PASSWORD) are kept outside the data dir and "
            "are NOT in this backup; keep them where the operator keeps them"
        )
    if (root / CONTACT_KEY).is_file():
        files.append(DataFile("contact key", CONTACT_KEY, True))
    if (root / SECOND_FACTOR_KEY).is_file():
        files.append(DataFile("second-factor key", SECOND_FACTOR_KEY, True))
    secret = root / SECRET_FILE
    # Generated into the data dir unless FANGXIN_SECRET_KEY is set: the file is the one in
    # use exactly when it holds the key the service runs with.
    if secret.is_file() and secret.read_text(encoding="ascii").strip() == settings.secret_key:
        files.append(DataFile("generated secret", SECRET_FILE, True))
    else:
        elsewhere.append(
            "secret key: set by FANGXIN_SECRET_KEY outside the data dir and NOT in this "
            "backup (a new one logs everybody out, nothing else)"
        )
    if settings.workdays_file is not None:
        if settings.workdays_file == (root / WORKDAYS_FILE).resolve():
            files.append(DataFile("working-day calendar", WORKDAYS_FILE, False))
        else:
            elsewhere.append(
                f"working-day calendar: FANGXIN_WORKDAYS_FILE ({settings.workdays_file}) is "
                "kept outside the data dir and is NOT in this backup"
            )
    for name, configured in (
        ("credit rule table (FANGXIN_CREDIT_RULES)", settings.credit_rules),
        ("certification policy (FANGXIN_CERTIFICATE_POLICY)", settings.certificate_policy),
    ):
        if configured is not None:
            elsewhere.append(
                f"{name}: {configured} is kept outside the data dir, NOT in this backup"
            )
    if settings.webhook_secret is not None:
        elsewhere.append("webhook secret (FANGXIN_WEBHOOK_SECRET): in the environment only")
    store = settings.pdf_dir
    pdfs = []
    if store.is_dir():
        pdfs = sorted(
            p.relative_to(root).as_posix()
            for p in store.glob("??/*.pdf")
            if _PDF_MEMBER.fullmatch(DATA + p.relative_to(root).as_posix())
        )
    materials = sorted(
        p.relative_to(root).as_posix()
        for folder in (MATERIALS_DIR, EVIDENCE_DIR, REPAIRS_DIR)
        if (root / folder).is_dir()
        for p in (root / folder).glob("??/*")
        if _MATERIAL_MEMBER.fullmatch(DATA + p.relative_to(root).as_posix())
    )
    return Inventory(files, pdfs, elsewhere, materials)


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    size: int
    dialect: str
    included: list[str]  # for people: "database (sqlite)", "signing key (signing/...)"
    elsewhere: list[str]  # what the service uses that this backup does not hold
    pdfs: int
    holds_secrets: bool


def backup(settings: Settings, target: Path) -> BackupReport:
    """Write the database and the data dir's own files to ``target`` (mode 0600); a disk
    that fills up meanwhile leaves no partial file and raises ``DiskFull``."""
    with saving(f"the backup {target.name}"):
        return _backup(settings, target)


def _backup(settings: Settings, target: Path) -> BackupReport:
    backend = backend_for(settings)
    target = target.resolve()
    partial = target.with_name(target.name + ".partial")
    with _scratch(target.parent) as scratch:
        database = scratch / backend.member
        # The database first, then the files: a PDF is stored before its certificate records
        # it, so every PDF the copied database names is in the store when it is read after.
        backend.backup(database)
        found = inventory(settings)
        files = [(f, settings.data_dir / f.relative) for f in found.files]
        manifest = {
            "format": ARCHIVE_FORMAT,
            "version": ARCHIVE_VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": {
                "dialect": backend.dialect,
                "member": backend.member,
                "sha256": _sha256(database),
            },
            "files": [
                {"member": DATA + f.relative, "what": f.what, "sha256": _sha256(path)}
                for f, path in files
            ],
            "pdf_store": {"files": len(found.pdfs), "named_by": "sha256 of the content"},
            "material_store": {
                "files": len(found.materials),
                "named_by": "sha256 of the content",
            },
            "kept_elsewhere": found.elsewhere,
            "not_included": [
                "runs/: Parquet copies of each score run's scores, which the database holds",
                "sessions and rate limits: in memory or Redis, gone on restart by design",
            ],
        }
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OWNER_ONLY)
        try:
            with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
                body = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
                _add_bytes(tar, MANIFEST, body)
                _add_file(tar, backend.member, database)
                stored = [*found.pdfs, *found.materials]
                with progress.task("Backing up files", len(files) + len(stored)) as shown:
                    for f, path in files:
                        _add_file(tar, DATA + f.relative, path)
                        shown.advance()
                    for relative in stored:
                        _add_file(tar, DATA + relative, settings.data_dir / relative)
                        shown.advance()
            os.chmod(partial, _OWNER_ONLY)  # in case the umask asked for even less
            partial.replace(target)  # a half-written backup never carries the final name
        finally:
            partial.unlink(missing_ok=True)
    included = [f"database ({backend.dialect})"]
    included += [f"{f.what} ({f.relative})" for f in found.files]
    if found.pdfs:
        included.append(f"{len(found.pdfs)} certificate PDF(s) ({PDF_DIR}/)")
    if found.materials:
        included.append(
            f"{len(found.materials)} applicants', consumers' and merchants' file(s) "
            f"({MATERIALS_DIR}/, {EVIDENCE_DIR}/, {REPAIRS_DIR}/)"
        )
    return BackupReport(
        path=target,
        size=target.stat().st_size,
        dialect=backend.dialect,
        included=included,
        elsewhere=found.elsewhere,
        pdfs=len(found.pdfs),
        holds_secrets=any(f.secret for f in found.files),
    )


@dataclass(frozen=True, slots=True)
class RestoreReport:
    source: Path
    database_only: bool  # a backup made before backups carried the data dir's files
    restored: list[str] = field(default_factory=list)  # files put into the data dir
    set_aside: list[Path] = field(default_factory=list)  # differing files moved out of the way
    pdfs: int = 0
    elsewhere: list[str] = field(default_factory=list)  # from the backup's manifest


def restore(settings: Settings, source: Path) -> RestoreReport:
    """Replace the database with the backup's and put its files into the data dir."""
    backend = backend_for(settings)
    if not tarfile.is_tarfile(source):
        backend.restore(source)  # raises, naming what it expected, if this is not one
        return RestoreReport(source, database_only=True)
    root = settings.data_dir
    with tarfile.open(source, mode="r:") as tar, _scratch(root) as scratch:
        manifest = _manifest(tar, source)
        database = manifest["database"]
        if database.get("dialect") != backend.dialect:
            raise BackupError(
                f"{source} is not a backup for this database: it holds a "
                f"{database.get('dialect')} database, this one is {backend.dialect}"
            )
        wanted = {str(f["member"]): str(f["sha256"]) for f in manifest.get("files", [])}
        wanted[str(database["member"])] = str(database["sha256"])
        # Everything is unpacked into scratch and checked before anything is replaced: a
        # damaged or foreign archive leaves the database and the data dir as they were.
        staged: dict[str, Path] = {}
        pdfs: list[str] = []
        materials: list[str] = []
        members = len(wanted) + _stored(manifest, "pdf_store") + _stored(manifest, "material_store")
        with progress.task("Checking the backup", members) as shown:
            for member in tar:
                if member.name != MANIFEST:
                    _stage(source, tar, member, wanted, scratch, staged, pdfs, materials)
                    shown.advance()
        missing = sorted(set(wanted) - set(staged))
        if missing:
            raise BackupError(f"{source}: {missing[0]} is named in the manifest but missing")
        backend.restore(staged.pop(str(database["member"])))
        report = RestoreReport(
            source,
            database_only=False,
            pdfs=len(pdfs),
            elsewhere=[str(e) for e in manifest.get("kept_elsewhere", [])],
        )
        _place_files(root, staged, set(pdfs), report, set(materials))
    return report


def _stored(manifest: dict[str, Any], store: str) -> int:
    """How many files the manifest says a content store holds (for progress only)."""
    entry = manifest.get(store)
    files = entry.get("files") if isinstance(entry, dict) else None
    return files if isinstance(files, int) else 0


def _stage(
    source: Path,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    wanted: dict[str, str],
    scratch: Path,
    staged: dict[str, Path],
    pdfs: list[str],
    materials: list[str],
) -> None:
    """Unpack one member of a backup into scratch, checked against its manifest."""
    material = _MATERIAL_MEMBER.fullmatch(member.name)
    pdf = _PDF_MEMBER.fullmatch(member.name) or material
    if not member.isreg() or (member.name not in wanted and pdf is None):
        raise BackupError(f"{source}: unexpected member {member.name!r}; not restoring")
    if member.name in staged:
        raise BackupError(f"{source}: {member.name} is in it twice; not restoring")
    path = scratch / f"{len(staged)}.part"
    digest = _extract(tar, member, path)
    expected = pdf.group(2) if pdf else wanted[member.name]
    if digest != expected:
        raise BackupError(f"{source}: {member.name} is damaged (SHA-256 differs)")
    staged[member.name] = path
    if material:
        materials.append(member.name)
    elif pdf:
        pdfs.append(member.name)


def _place_files(
    root: Path,
    staged: dict[str, Path],
    pdfs: set[str],
    report: RestoreReport,
    materials: frozenset[str] | set[str] = frozenset(),
) -> None:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    signing = {
        n[len(DATA) :]: p for n, p in staged.items() if n.startswith(f"{DATA}{SIGNING_DIR}/")
    }
    if signing:
        folder = root / SIGNING_DIR
        if folder.exists() and not _same_files(folder, signing, root):
            aside = root / f"{SIGNING_DIR}.before-restore-{stamp}"
            folder.rename(aside)
            report.set_aside.append(aside)
        folder.mkdir(mode=0o700, exist_ok=True)
    for name, path in staged.items():
        relative = name[len(DATA) :]
        target = root / relative
        if name in pdfs or name in materials:
            if not target.exists():  # content-addressed: one there already is the same file
                target.parent.mkdir(parents=True, exist_ok=True)
                # PDFs are public documents; an applicant's files are for officials only.
                os.chmod(path, 0o644 if name in pdfs else _OWNER_ONLY)
                path.replace(target)
            continue
        kept_aside = (WORKDAYS_FILE, CONTACT_KEY)
        if relative in kept_aside and target.exists() and not _same(target, path):
            aside = root / f"{relative}.before-restore-{stamp}"
            target.rename(aside)
            report.set_aside.append(aside)
        # The secret is replaced outright: a fresh data dir generated its own a moment ago,
        # and a different one only logs people out.
        target.parent.mkdir(
            mode=0o700 if relative == CONTACT_KEY else 0o777, parents=True, exist_ok=True
        )
        secret = relative in (SECRET_FILE, CONTACT_KEY) or relative.startswith(f"{SIGNING_DIR}/")
        os.chmod(path, _OWNER_ONLY if secret else 0o644)
        path.replace(target)
        report.restored.append(relative)


def _same(a: Path, b: Path) -> bool:
    return a.read_bytes() == b.read_bytes()


def _same_files(folder: Path, staged: dict[str, Path], root: Path) -> bool:
    present = {p.relative_to(root).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    return present.keys() == staged.keys() and all(_same(present[k], staged[k]) for k in staged)


def _manifest(tar: tarfile.TarFile, source: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        handle = tar.extractfile(member)
        if handle is None:
            raise KeyError(MANIFEST)
        manifest = json.loads(handle.read())
    except (KeyError, ValueError) as exc:
        raise BackupError(f"{source} is not a Fangxin backup (no readable manifest)") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise BackupError(f"{source} is not a Fangxin backup")
    if manifest.get("version") != ARCHIVE_VERSION:
        raise BackupError(
            f"{source} is a backup of format version {manifest.get('version')}; this version "
            f"of Fangxin restores version {ARCHIVE_VERSION}"
        )
    return manifest


@contextmanager
def _scratch(near: Path) -> Iterator[Path]:
    """A private (0700) folder beside ``near``, on the same file system, removed after."""
    near.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix=".fangxin-backup-", dir=near))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _add_bytes(tar: tarfile.TarFile, name: str, body: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(body)
    info.mode = _OWNER_ONLY
    info.mtime = int(datetime.now(UTC).timestamp())
    tar.addfile(info, io.BytesIO(body))


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tar.gettarinfo(str(path), arcname=name)
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    with path.open("rb") as fh:
        tar.addfile(info, fh)


def _extract(tar: tarfile.TarFile, member: tarfile.TarInfo, path: Path) -> str:
    """Copy a member's bytes to ``path`` (never by its own name), returning their SHA-256."""
    source = tar.extractfile(member)
    if source is None:
        raise BackupError(f"{member.name} cannot be read")
    digest = hashlib.sha256()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _OWNER_ONLY)
    with os.fdopen(fd, "wb") as out:
        _copy(source, out, digest)
    return digest.hexdigest()


def _copy(source: IO[bytes], out: IO[bytes], digest: Any) -> None:
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        out.write(chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _expect_magic(path: Path, magic: bytes, what: str) -> None:
    with path.open("rb") as fh:
        if fh.read(len(magic)) != magic:
            raise BackupError(f"{path} is not {what} for this database")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian package postgresql-client)")
    return found


def _run(cmd: list[str]) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"{Path(cmd[0]).name} failed: {result.stderr.strip()}")
