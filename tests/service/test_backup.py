"""``fangxin backup`` / ``fangxin restore``: SQLite's backup API or pg_dump/pg_restore, in an
archive with the data dir's own files (tests/service/test_backup_secrets.py checks those)."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import tarfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import Tortoise

from certificates.models import (
    Certificate,
    Reply,
    ReviewItem,
    Section,
    Status,
    StatusChange,
    YearlyReview,
)
from certificates.policy import Kind
from scoring.credit import repair
from scoring.credit import store as credit_store
from scoring.credit.models import Complaint, CreditEvent
from scoring.credit.schemas import CreditEventIn
from scoring.disputes import odr, store
from scoring.disputes.schemas import DisputeIn, FollowupIn, OfferIn
from scoring.satisfaction import runs
from service import jobs
from service.backup import MANIFEST, PGDUMP_MAGIC, BackupError, backup, restore
from service.demo import load_demo
from service.kernel import audit, outbox, passwords
from service.kernel import db as dbm
from service.kernel.accounts import Principal, create_token
from service.kernel.audit import Actor
from service.kernel.models import Account, Area, AreaKind, AuditEvent, Merchant, Role
from service.kernel.settings import Settings
from service.kernel.uploads import Upload
from service.portal.advisories import store as advisories
from service.portal.advisories.schemas import AdvisoryIn
from surveys.invites import create_invites
from tests.helpers import SMALL_INTAKE
from tests.scoring.disputes.conftest import photo

ACTOR = Actor("cli", "test")

Snapshot = dict[str, list[dict[str, Any]]]


async def _snapshot() -> Snapshot:
    """Every row of every table, in primary-key order."""
    apps = Tortoise.apps
    assert apps is not None
    snapshot: Snapshot = {}
    for model in apps.get_models_iterable():
        pk = model._meta.pk_attr
        rows = await model.all().order_by(pk).values()
        snapshot[model._meta.db_table] = rows
    return snapshot


async def _fill(settings: Settings) -> None:
    report = await load_demo(settings, actor=ACTOR, responses=500, intake=SMALL_INTAKE)
    assert report.loaded
    await create_token("feed-12315", Role.FEED, actor=ACTOR)
    await create_invites("merchant", 3, actor=ACTOR)
    await runs.run_now(runs.parse_params({}), settings, actor=ACTOR)
    # 500 responses certify nobody: one certificate by hand, so its tables hold rows too.
    now = datetime.now(UTC)
    cert = await Certificate.create(
        serial="ZMD-2026-M-000001-O",
        kind=Kind.MERCHANT,
        subject_code="x",
        subject_name="店",
        policy_version="test",
        issued_by="test",
        issued_at=now,
        valid_from=now,
        valid_until=now,
        status_changed_at=now,
    )
    change = await StatusChange.create(
        certificate=cert, at=now, new_status=Status.ACTIVE, reason="issued", actor="test"
    )
    await Reply.create(
        certificate=cert, change=change, text="回应", submitted_by="test", submitted_at=now
    )
    await outbox.enqueue(dbm.connection(), "certificate.issued", {"serial": cert.serial})
    assert await jobs.claim("backup", now, "test-worker")  # the job history is data too
    street = await Area.filter(kind=AreaKind.STREET).first()
    assert street is not None
    await advisories.publish(
        AdvisoryIn("预付卡提示", "谨慎办理大额预付卡。", "prepaid", areas=[street.code]),
        actor=ACTOR,
        district=None,
    )
    await _a_settled_complaint(settings, now)
    # A password reset code an official gave a merchant (only its hash is kept).
    shop = await Account.filter(role=Role.MERCHANT).order_by("id").first()
    assert shop is not None
    await passwords.issue(shop.username, district=None, actor=ACTOR, hours=24)
    await _an_approved_repair(settings, now)
    # The demo leaves one request to correct a complaint record pending (申请更正).
    # The demo's reviews found no holders among 500 responses: one line by hand.
    review = await YearlyReview.all().order_by("year").first()
    assert review is not None
    await ReviewItem.create(
        review=review,
        section=Section.ENTERED,
        serial=cert.serial,
        kind=Kind.MERCHANT,
        code="x",
        name="店",
        at=now,
    )


async def _a_settled_complaint(settings: Settings, now: datetime) -> None:
    """A complaint with a photo, settled by a merchant in ODR and followed up."""
    rules = credit_store.rules_for(None)
    merchant = await Merchant.filter(status="active").order_by("id").first()
    assert merchant is not None
    await odr.join(merchant.id, actor=ACTOR, now=now)
    filed = await store.file(
        DisputeIn(
            merchant=merchant.uscc,
            category="quality",
            description="买到的商品有质量问题",
            occurred_on=now.date().isoformat(),
            wants="refund",
            phone="13812341234",
            client_submission_id=str(uuid.uuid4()),
            amount="20",
            consent_contact=True,
        ),
        [Upload("photo.jpg", photo())],
        origin=store.Origin("10.0.0.1", None),
        secret_key=settings.secret_key,
        data_dir=settings.data_dir,
        credit=rules,
        now=now,
    )
    shop = Principal(role=Role.MERCHANT, name="shop", merchant_id=merchant.id)
    code = filed.dispute.code
    await store.merchant_offer(code, OfferIn("refund", "20"), who=shop, credit=rules, now=now)
    await store.consumer_accept(code, filed.secret, credit=rules, now=now)
    await store.follow_up(code, filed.secret, FollowupIn("satisfied"), now=now)


async def _an_approved_repair(settings: Settings, now: datetime) -> None:
    """A penalty repaired (信用修复) with its evidence file: rows in both repair tables."""
    rules = credit_store.rules_for(None)
    merchant = await Merchant.filter(status="active").order_by("-id").first()
    assert merchant is not None
    when = now - timedelta(days=400)
    item = CreditEventIn(merchant.uscc, "penalty_minor", when.isoformat(), "backup", "p1")
    await credit_store.ingest_events([item], actor=ACTOR, rules=rules, now=now)
    event = await CreditEvent.get(source="backup", external_ref="p1")
    applied = await repair.submit(
        Principal(role=Role.MERCHANT, name="shop", merchant_id=merchant.id),
        repair.RepairForm(event.id, "已整改", "王小明", pledge=True),
        [Upload("report.pdf", b"%PDF-1.4\n% fixed\n")],
        rules=rules,
        data_dir=settings.data_dir,
        now=now,
    )
    city = Principal(role=Role.OFFICIAL, name="city")
    await repair.decide(applied.id, city, approve=True, reason="整改到位", rules=rules, now=now)


async def _change_everything() -> None:
    bound = await Account.filter(merchant_id__not_isnull=True).values_list("merchant_id", flat=True)
    # Merchants with complaints or credit records cannot be deleted (their history stays).
    kept = {
        *await Complaint.all().values_list("merchant_id", flat=True),
        *await CreditEvent.all().values_list("merchant_id", flat=True),
    }
    doomed = (
        await Merchant.exclude(id__in=[*bound, *kept])
        .order_by("id")
        .limit(50)
        .values_list("id", flat=True)
    )
    await Merchant.filter(id__in=list(doomed)).delete()
    await Merchant.filter(id=bound[0]).update(name="改过的名字")
    city = await Area.get(kind=AreaKind.CITY)
    await Area.create(
        code="411799", kind=AreaKind.DISTRICT, name_zh="新区", name_en="New District", parent=city
    )
    await Account.filter(username="demo-admin").update(failed_logins=3)
    await audit.record(dbm.connection(), ACTOR, "test.changed", "everything", {"n": 1})


async def _restore_closed(settings: Settings, source: Path) -> None:
    """Restore as an operator would: with nothing else holding the database."""
    await dbm.close_db()
    try:
        restore(settings, source)
    finally:
        await dbm.init_db(settings)


async def test_restore_brings_back_exactly_the_rows_of_the_backup(
    db: Settings, tmp_path: Path
) -> None:
    await _fill(db)
    at_backup = await _snapshot()
    assert all(at_backup.values()), "every table should hold rows for a meaningful check"
    target = tmp_path / "fangxin.backup"

    backup(db, target)
    # An applicant's file lost with the machine comes back with the rows naming it.
    from certificates.applications import materials
    from certificates.applications.models import Material

    material = await Material.all().order_by("id").first()
    assert material is not None
    stored = materials.path_of(db.data_dir, material.sha256)
    content = stored.read_bytes()
    stored.unlink()
    await _change_everything()
    changed = await _snapshot()
    assert changed != at_backup
    await _restore_closed(db, target)

    restored = await _snapshot()
    assert restored.keys() == at_backup.keys()
    for table, rows in at_backup.items():
        assert restored[table] == rows, table
    assert stored.read_bytes() == content
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600  # for officials, not the world


async def test_a_restored_database_accepts_new_rows_and_keeps_its_audit_chain(
    db: Settings, tmp_path: Path
) -> None:
    await _fill(db)
    target = tmp_path / "fangxin.backup"
    backup(db, target)
    await _change_everything()
    await _restore_closed(db, target)

    # Sequences were restored too: new rows do not collide with restored ids.
    city = await Area.get(kind=AreaKind.CITY)
    area = await Area.create(
        code="411799", kind=AreaKind.DISTRICT, name_zh="新区", name_en="New District", parent=city
    )
    previous = await Area.exclude(id=area.id).order_by("-id").first()
    assert previous is not None
    assert area.id > previous.id
    await audit.record(dbm.connection(), ACTOR, "test.after_restore", "area:411799", {})
    report = await audit.verify_chain()
    assert report.ok, report
    assert report.checked == await AuditEvent.all().count()


async def test_backup_file_carries_the_dialects_format(db: Settings, tmp_path: Path) -> None:
    await _fill(db)
    target = tmp_path / "fangxin.backup"

    backup(db, target)

    # A tar of the manifest, the database in its dialect's own format, and the data dir's files.
    with tarfile.open(target) as tar:
        manifest = json.loads(tar.extractfile(MANIFEST).read())  # type: ignore[union-attr]
        member = manifest["database"]["member"]
        database = tar.extractfile(member).read()  # type: ignore[union-attr]
    magic = PGDUMP_MAGIC if db.is_postgres else b"SQLite format 3\x00"
    assert database.startswith(magic)
    assert manifest["database"]["dialect"] == ("postgres" if db.is_postgres else "sqlite")
    assert manifest["material_store"]["files"] >= 2  # the application's letter, a photo
    # The key sealing consumers' telephone numbers travels with them.
    assert "data/keys/contact.key" in {f["member"] for f in manifest["files"]}
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert not (tmp_path / "fangxin.backup.partial").exists()
    assert os.listdir(tmp_path) == ["fangxin.backup"]  # no scratch left behind


def _foreign_backup(settings: Settings, path: Path) -> Path:
    """A backup file of the other dialect."""
    if settings.is_postgres:
        conn = sqlite3.connect(path)
        try:
            conn.execute("CREATE TABLE merchant (id INTEGER PRIMARY KEY)")
            conn.commit()
        finally:
            conn.close()
    else:
        path.write_bytes(PGDUMP_MAGIC + b"\x01\x0e\x04\x08" + b"\x00" * 64)
    return path


async def _assert_restore_refused(settings: Settings, source: Path) -> None:
    before = await _snapshot()
    await dbm.close_db()
    try:
        with pytest.raises(BackupError, match="is not"):
            restore(settings, source)
    finally:
        await dbm.init_db(settings)
    assert await _snapshot() == before


async def test_restoring_a_backup_of_the_other_dialect_is_refused(
    db: Settings, tmp_path: Path
) -> None:
    await _fill(db)
    await _assert_restore_refused(db, _foreign_backup(db, tmp_path / "other.backup"))


async def test_restoring_a_text_file_is_refused(db: Settings, tmp_path: Path) -> None:
    await _fill(db)
    source = tmp_path / "merchants.csv"
    source.write_text("uscc,name\n91411700MA0000000X,x\n", encoding="utf-8")
    await _assert_restore_refused(db, source)


async def test_restoring_an_empty_file_is_refused(db: Settings, tmp_path: Path) -> None:
    await _fill(db)
    source = tmp_path / "empty.backup"
    source.write_bytes(b"")
    await _assert_restore_refused(db, source)
