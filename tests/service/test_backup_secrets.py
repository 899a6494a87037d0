"""A backup carries what is lost with the machine besides the database: the signing key, the
generated secret, the PDF store, the bureau's calendar; restored onto a new, empty data dir,
a certificate signed before the backup still verifies as genuine. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import stat
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certificates import documents, verification
from certificates.policy import Kind
from certificates.schemas import Verdict
from scoring.disputes import contact
from service.backup import MANIFEST, BackupError, backup, restore
from service.kernel import db as dbm
from service.kernel.models import Merchant
from service.kernel.settings import SECRET_FILE, Settings, load_settings
from tests.certificates.test_cascade import POLICY, _certificate
from tests.conftest import PG_ADMIN_URL, _pg_admin, dialect
from tests.surveys.conftest import make_city

SERIAL = "ZMD-2026-M-000021-J"


@pytest.fixture
def elsewhere(tmp_path: Path) -> Iterator[Settings]:
    """Settings for a new machine: an empty data dir and an empty database of the dialect."""
    home = tmp_path / "new-machine"
    env = {"FANGXIN_DATA_DIR": str(home), "FANGXIN_ENV": "test"}
    name = None
    if dialect() == "postgres":
        name = f"fangxin_restored_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        env["FANGXIN_DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    try:
        yield load_settings(env)
    finally:
        if name:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _own_data_dir(db: Settings, home: Path) -> Settings:
    """The test database with a data dir of its own, holding its generated secret."""
    home.mkdir()
    (home / SECRET_FILE).write_text(db.secret_key, encoding="ascii")
    return replace(db, data_dir=home)


async def _signed_certificate(settings: Settings) -> tuple[str, bytes]:
    """A certificate with its PDF signed by a key generated into the data dir."""
    city = await make_city()
    cert = await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, datetime.now(UTC))
    pdf = await documents.pdf_of(cert, settings, POLICY)
    assert cert.pdf_sha256
    return cert.pdf_sha256, pdf


async def _check(settings: Settings, pdf: bytes) -> Verdict:
    """The upload check, run on ``settings``' database and issuing key."""
    result = await verification.check_pdf(pdf, documents.signer_config(settings, POLICY))
    return result.verdict


async def test_a_restore_onto_a_new_machine_verifies_certificates_signed_before(
    db: Settings, elsewhere: Settings, tmp_path: Path
) -> None:
    old = _own_data_dir(db, tmp_path / "old-machine")
    sha256, pdf = await _signed_certificate(old)
    (old.data_dir / "workdays.toml").write_text("# the bureau's calendar\n", encoding="utf-8")
    old = replace(old, workdays_file=old.data_dir / "workdays.toml")
    target = tmp_path / "fangxin.backup"

    made = backup(old, target)

    assert stat.S_IMODE(target.stat().st_mode) == 0o600  # it holds the keys
    assert made.holds_secrets and made.pdfs == 1 and made.elsewhere == []
    assert "generated secret (secret_key)" in made.included
    assert "signing key (signing/issuer-key.pem)" in made.included
    # The new machine: its data dir has only the secret it generated on start-up.
    assert [p.name for p in elsewhere.data_dir.iterdir()] == [SECRET_FILE]
    assert elsewhere.secret_key != old.secret_key
    await dbm.close_db()
    try:
        done = restore(elsewhere, target)
        new = elsewhere.data_dir
        assert (new / SECRET_FILE).read_text(encoding="ascii") == old.secret_key
        for name in ("issuer-key.pem", "issuer-cert.pem"):
            restored = new / "signing" / name
            assert restored.read_bytes() == (old.data_dir / "signing" / name).read_bytes()
        assert stat.S_IMODE((new / "signing" / "issuer-key.pem").stat().st_mode) == 0o600
        assert stat.S_IMODE((new / SECRET_FILE).stat().st_mode) == 0o600
        assert (new / "workdays.toml").read_text(encoding="utf-8") == "# the bureau's calendar\n"
        assert (done.database_only, done.pdfs, done.set_aside) == (False, 1, [])
        stored = documents._path(elsewhere, sha256)
        assert stored.read_bytes() == pdf

        await dbm.init_db(elsewhere)
        try:
            assert await Merchant.all().count() == 2  # the database came along
            assert await _check(elsewhere, stored.read_bytes()) == Verdict.GENUINE
            # Without the restored key the same file is not ours: the key made the difference.
            keyless = replace(elsewhere, data_dir=tmp_path / "no-key")
            assert await _check(keyless, pdf) == Verdict.NOT_OURS
        finally:
            await dbm.close_db()
    finally:
        await dbm.init_db(db)


async def test_secrets_configured_elsewhere_are_named_in_the_manifest_and_left_out(
    db: Settings, tmp_path: Path
) -> None:
    old = _own_data_dir(db, tmp_path / "old-machine")
    p12 = tmp_path / "city.p12"
    p12.write_bytes(b"kept in the bureau's safe")
    configured = replace(old, signing_p12=p12, secret_key="s" * 48)
    (old.data_dir / SECRET_FILE).unlink()  # with FANGXIN_SECRET_KEY no file is generated
    target = tmp_path / "fangxin.backup"

    made = backup(configured, target)

    with tarfile.open(target) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
    assert not made.holds_secrets
    assert not any(n.startswith("data/") for n in names)  # no key, no secret, no PDFs yet
    kept = "\n".join(manifest["kept_elsewhere"])
    assert f"FANGXIN_SIGNING_P12 ({p12})" in kept and "NOT in this backup" in kept
    assert "FANGXIN_SECRET_KEY" in kept
    assert made.elsewhere == manifest["kept_elsewhere"]
    assert p12.read_bytes() not in target.read_bytes()


def _archive_with(target: Path, manifest: dict[str, object], members: dict[str, bytes]) -> None:
    with tarfile.open(target, "w") as tar:
        for name, body in {MANIFEST: json.dumps(manifest).encode(), **members}.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))


async def test_a_damaged_or_foreign_archive_changes_nothing(
    db: Settings, elsewhere: Settings, tmp_path: Path
) -> None:
    old = _own_data_dir(db, tmp_path / "old-machine")
    await _signed_certificate(old)
    good = tmp_path / "fangxin.backup"
    backup(old, good)
    with tarfile.open(good) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        members = {
            m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.name != MANIFEST
        }
    key = "data/signing/issuer-key.pem"
    cases = {
        "damaged": {**members, key: members[key] + b"x"},
        "unexpected member": {**members, "data/../../escape": b"x"},
    }
    before = sorted(p.name for p in elsewhere.data_dir.iterdir())
    await dbm.close_db()
    try:
        for reason, contents in cases.items():
            bad = tmp_path / f"{reason}.backup"
            _archive_with(bad, manifest, contents)
            with pytest.raises(BackupError, match=reason):
                restore(elsewhere, bad)
            assert sorted(p.name for p in elsewhere.data_dir.iterdir()) == before, reason
        assert not (tmp_path / "escape").exists()
    finally:
        await dbm.init_db(db)


async def test_a_different_signing_key_already_there_is_set_aside_not_overwritten(
    db: Settings, elsewhere: Settings, tmp_path: Path
) -> None:
    old = _own_data_dir(db, tmp_path / "old-machine")
    await _signed_certificate(old)
    target = tmp_path / "fangxin.backup"
    backup(old, target)
    theirs = elsewhere.data_dir / "signing"
    theirs.mkdir()
    (theirs / "issuer-key.pem").write_bytes(b"another key")
    await dbm.close_db()
    try:
        done = restore(elsewhere, target)
    finally:
        await dbm.init_db(db)
    (aside,) = done.set_aside
    assert aside.name.startswith("signing.before-restore-")
    assert (aside / "issuer-key.pem").read_bytes() == b"another key"
    restored = (theirs / "issuer-key.pem").read_bytes()
    assert restored == (old.data_dir / "signing" / "issuer-key.pem").read_bytes()


async def test_the_contact_key_comes_back_and_a_different_one_is_set_aside(
    db: Settings, elsewhere: Settings, tmp_path: Path
) -> None:
    old = _own_data_dir(db, tmp_path / "old-machine")
    sealed = contact.contact_key(old.data_dir).seal("13812341234", "TS-2026-AAAAAA")
    target = tmp_path / "fangxin.backup"
    made = backup(old, target)
    assert "contact key (keys/contact.key)" in made.included
    # The new machine made a key of its own before the restore (a complaint filed there).
    theirs = contact.contact_key(elsewhere.data_dir)
    await dbm.close_db()
    try:
        done = restore(elsewhere, target)
    finally:
        await dbm.init_db(db)
    (aside,) = done.set_aside
    assert aside.name.startswith("contact.key.before-restore-")
    assert aside.read_bytes() == theirs.key
    restored = contact.key_path(elsewhere.data_dir)
    assert stat.S_IMODE(restored.stat().st_mode) == 0o600
    assert contact.contact_key(elsewhere.data_dir).open(sealed, "TS-2026-AAAAAA") == "13812341234"
