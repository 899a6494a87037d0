"""The ``fangxin`` console script, run as an operator runs it, on an SQLite database of its own."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from service.register.uscc import generate

FANGXIN = Path(sys.executable).parent / "fangxin"
DB_FILE = "fangxin.sqlite3"
AREAS = [
    ("code", "kind", "name_zh", "name_en", "parent"),
    ("411700", "city", "驻马店市", "Zhumadian", ""),
    ("411702", "district", "驿城区", "Yicheng District", "411700"),
    ("411702-001", "street", "解放路", "Jiefang Road", "411702"),
]
MERCHANT_HEADER = ("uscc", "name", "category", "address", "district", "street", "status")


@dataclass(frozen=True, slots=True)
class Fangxin:
    """``fangxin`` with FANGXIN_DATA_DIR pointing at a directory of its own."""

    home: Path

    @property
    def database(self) -> Path:
        return self.home / DB_FILE

    def __call__(
        self, *args: str, stdin: str = "", env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
        environ.update({"FANGXIN_DATA_DIR": str(self.home), "FANGXIN_ENV": "test"})
        environ.update(env or {})
        return subprocess.run(
            [str(FANGXIN), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=environ,
            cwd=self.home,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str, stdin: str = "") -> str:
        result = self(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.database)) as conn:
            rows: list[tuple[Any, ...]] = conn.execute(sql, params).fetchall()
        return rows

    def execute(self, sql: str) -> None:
        with closing(sqlite3.connect(self.database)) as conn, conn:
            conn.execute(sql)

    def count(self, table: str) -> int:
        count: int = self.query(f'SELECT count(*) FROM "{table}"')[0][0]
        return count

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in rowid order."""
        tables = [
            name
            for (name,) in self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: self.query(f'SELECT * FROM "{t}" ORDER BY rowid') for t in tables}


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database, copied for each test (migrating is the slow part)."""
    fx = Fangxin(tmp_path_factory.mktemp("template"))
    fx.ok("migrate")
    assert not fx.database.with_name(DB_FILE + "-wal").exists()
    return fx.database


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory: pytest.TempPathFactory, migrated_template: Path) -> Path:
    """A data dir holding the demo city (its database, signing key, secret and PDFs), copied
    for each test that needs one."""
    home = tmp_path_factory.mktemp("demo")
    shutil.copyfile(migrated_template, home / DB_FILE)
    fx = Fangxin(home)
    assert "Demo city loaded" in fx.ok("demo")
    assert not fx.database.with_name(DB_FILE + "-wal").exists()
    return home


@pytest.fixture
def fresh(tmp_path: Path) -> Fangxin:
    return Fangxin(tmp_path)


@pytest.fixture
def fx(tmp_path: Path, migrated_template: Path) -> Fangxin:
    shutil.copyfile(migrated_template, tmp_path / DB_FILE)
    return Fangxin(tmp_path)


@pytest.fixture
def demo_fx(tmp_path: Path, demo_template: Path) -> Fangxin:
    shutil.copytree(demo_template, tmp_path, dirs_exist_ok=True)
    return Fangxin(tmp_path)


def _write_csv(path: Path, rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _merchant_rows(n: int) -> list[tuple[str, ...]]:
    rng = random.Random(1)
    return [
        (generate(rng, "411702"), f"商户{i}", "retail", "", "411702", "411702-001", "active")
        for i in range(n)
    ]


def test_migrate_applies_the_schema_once_then_reports_up_to_date(fresh: Fangxin) -> None:
    first = fresh.ok("migrate")
    second = fresh.ok("migrate")

    assert "Applied: models.0001_initial" in first
    assert second.strip() == "Database is up to date."
    assert fresh.count("merchant") == 0


def test_an_unsupported_database_url_exits_2_naming_the_variable(fresh: Fangxin) -> None:
    result = fresh("migrate", env={"FANGXIN_DATABASE_URL": "mysql://x"})

    assert result.returncode == 2
    assert "FANGXIN_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr
    assert not fresh.database.exists()


def test_user_add_reads_the_password_from_stdin(fx: Fangxin) -> None:
    out = fx.ok(
        "user", "add", "alice", "--role", "official", "--password-stdin", stdin="s3cret-pass-1\n"
    )

    assert "alice" in out
    rows = fx.query("SELECT username, role, password_hash FROM account")
    assert len(rows) == 1
    username, role, password_hash = rows[0]
    assert (username, role) == ("alice", "official")
    assert password_hash.startswith("$argon2")
    assert "s3cret-pass-1" not in password_hash


def _areas(fx: Fangxin) -> None:
    stamp = "'2026-01-01 00:00:00+00:00'"
    for row in (
        "1, '411700', 'city', '驻马店市', 'Zhumadian', NULL",
        "2, '411702', 'district', '驿城区', 'Yicheng', 1",
        "3, '411702-ST01', 'street', '解放路', 'Jiefang Road', 2",
    ):
        fx.execute(
            "INSERT INTO area (id, code, kind, name_zh, name_en, parent_id, is_demo,"
            f" created_at, updated_at) VALUES ({row}, 0, {stamp}, {stamp})"
        )


def test_user_add_binds_an_official_to_a_district(fx: Fangxin) -> None:
    _areas(fx)
    password = "s3cret-pass-1\n"
    out = fx.ok(
        "user", "add", "li.na", "--role", "official", "--district", "411702", "--password-stdin",
        stdin=password,
    )  # fmt: skip
    assert "district 411702" in out
    assert fx.query("SELECT district_id FROM account WHERE username = 'li.na'") == [(2,)]
    (details,) = fx.query("SELECT details FROM audit_event WHERE action = 'account.created'")[0]
    assert json.loads(details)["district"] == "411702"


def test_user_add_binds_an_area_manager_to_its_street(fx: Fangxin) -> None:
    _areas(fx)
    out = fx.ok(
        "user", "add", "jiefang", "--role", "area_manager", "--area", "411702-ST01",
        "--password-stdin", stdin="s3cret-pass-1\n",
    )  # fmt: skip
    assert "area 411702-ST01" in out
    assert fx.query("SELECT role, area_id FROM account WHERE username = 'jiefang'") == [
        ("area_manager", 3)
    ]
    for args, reason in (
        (("--role", "area_manager"), "an area manager account needs --area CODE"),
        (("--role", "area_manager", "--area", "411702"), "no street or scenic spot"),
        (("--role", "official", "--area", "411702-ST01"), "only area manager accounts"),
    ):
        result = fx("user", "add", "other", *args, "--password-stdin", stdin="s3cret-pass-1\n")
        assert result.returncode == 1 and reason in result.stderr, result.stderr
    assert fx.count("account") == 1


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (("--role", "official", "--district", "NOPE"), "district: no district with code NOPE"),
        (("--role", "official", "--district", "411702-ST01"), "no district with code 411702-ST01"),
        (("--role", "official", "--district", "411700"), "no district with code 411700"),
        (("--role", "admin", "--district", "411702"), "only official accounts are bound"),
    ],
)
def test_user_add_refuses_a_district_that_is_none_or_for_another_role(
    fx: Fangxin, args: tuple[str, ...], reason: str
) -> None:
    _areas(fx)
    result = fx("user", "add", "li.na", *args, "--password-stdin", stdin="s3cret-pass-1\n")
    assert result.returncode == 1
    assert reason in result.stderr
    assert fx.count("account") == 0


def test_user_add_refuses_a_short_password_with_the_reason(fx: Fangxin) -> None:
    result = fx("user", "add", "alice", "--role", "official", "--password-stdin", stdin="short\n")

    assert result.returncode == 1
    assert "password: must be at least 12 characters" in result.stderr
    assert fx.count("account") == 0


def test_user_passwd_holds_the_new_password_to_the_rule_and_lifts_a_lock(fx: Fangxin) -> None:
    stdin = "correct-horse-battery\n"
    added = fx("user", "add", "alice", "--role", "official", "--password-stdin", stdin=stdin)
    assert added.returncode == 0, added.stderr
    fx.execute("UPDATE account SET locked_until = '2999-01-01 00:00:00+00:00'")
    before = fx.query("SELECT password_hash FROM account")

    weak = fx("user", "passwd", "alice", "--password-stdin", stdin="password1234\n")
    assert weak.returncode == 1 and "password: too easy to guess" in weak.stderr
    assert fx.query("SELECT password_hash FROM account") == before

    strong = fx("user", "passwd", "alice", "--password-stdin", stdin="Lantern river 47 quietly\n")
    assert strong.returncode == 0, strong.stderr
    assert fx.query("SELECT password_hash <> ?, locked_until FROM account", before[0]) == [
        (1, None)
    ]
    changed = "SELECT count(*) FROM audit_event WHERE action = 'account.password_changed'"
    assert fx.query(changed) == [(1,)]
    assert fx("user", "passwd", "nobody", "--password-stdin", stdin=stdin).returncode == 1


def test_token_add_prints_the_token_once_and_stores_only_its_hash(fx: Fangxin) -> None:
    result = fx("token", "add", "feed1", "--role", "feed")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    token = lines[0]
    assert token.startswith("fx_")
    assert len(token) > 40
    assert token not in result.stderr
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert fx.query("SELECT name, role, token_hash FROM api_token") == [("feed1", "feed", digest)]
    stored = [value for rows in fx.dump().values() for row in rows for value in row]
    assert not any(isinstance(v, str) and token in v for v in stored)


def test_import_of_a_bad_file_exits_1_naming_row_and_column(fx: Fangxin) -> None:
    fx.ok("import", "areas", str(_write_csv(fx.home / "areas.csv", AREAS)))
    good = _merchant_rows(3)
    bad = ("914117007676543210", "坏码商店", "retail", "", "411702", "", "active")
    bad_csv = _write_csv(fx.home / "bad.csv", [MERCHANT_HEADER, good[0], good[1], bad, good[2]])

    result = fx("import", "merchants", str(bad_csv))

    assert result.returncode == 1
    assert "row 4, column uscc" in result.stderr
    assert "expected K" in result.stderr
    assert fx.count("merchant") == 0


def test_import_dry_run_imports_nothing(fx: Fangxin) -> None:
    areas_csv = _write_csv(fx.home / "areas.csv", AREAS)

    dry = fx.ok("import", "areas", str(areas_csv), "--dry-run")

    assert "3 would be created" in dry
    assert fx.count("area") == 0
    assert fx.count("audit_event") == 0
    real = fx.ok("import", "areas", str(areas_csv))
    assert "3 were created" in real
    assert fx.count("area") == 3


# Anything a terminal would act on: colours, cursor moves, carriage returns (a line feed is
# the one control character a log line may hold).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def test_a_gbk_import_with_chinese_headers_names_its_encoding_and_its_counts_plainly(
    fx: Fangxin,
) -> None:
    fx.ok("import", "areas", str(_write_csv(fx.home / "areas.csv", AREAS)))
    header = "统一社会信用代码,企业名称,行业类别,经营地址,所属区县,所属街道,经营状态"
    lines = [header, *(",".join(r) for r in _merchant_rows(3))]
    source = fx.home / "商户.csv"
    source.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))

    result = fx("import", "merchants", str(source))

    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        "商户.csv: read as GB18030/GBK (gb18030).\n"
        "3 merchants rows: 3 were created, 0 were updated, 0 unchanged.\n"
    )
    assert not CONTROL.search(result.stdout + result.stderr)
    assert fx.count("merchant") == 3


def test_import_template_writes_a_workbook_or_a_csv_to_fill_in(fx: Fangxin) -> None:
    target = fx.home / "商户模板.xlsx"

    said = fx.ok("import", "template", "merchants", "--format", "xlsx", "-o", str(target))

    assert said == f"Template for merchants written to {target}.\n"
    sheets = pl.read_excel(target, sheet_id=0, infer_schema_length=0)
    assert list(sheets) == ["商户", "填写说明"]
    assert sheets["商户"].columns[:2] == ["统一社会信用代码", "名称"]
    fx.ok("import", "template", "visits", "--format", "csv")
    written = (fx.home / "visits-template.csv").read_bytes()
    assert written.decode("utf-8-sig") == (
        "登记编号,日期,来访人次,咨询人次,处理单位,所属区县,来源\r\n"
    )


def test_demo_loads_once_then_says_the_database_already_holds_data(fx: Fangxin) -> None:
    first = fx.ok("demo")
    merchants = fx.count("merchant")
    second = fx.ok("demo")

    assert "Demo city loaded" in first
    assert merchants >= 1000
    for username in ("demo-admin", "demo-official", "demo-district", "demo-merchant", "demo-area"):
        assert username in first
    assert "already holds data" in second
    assert fx.count("merchant") == merchants
    assert fx.count("account") == 5


def test_audit_verify_passes_after_the_demo_and_names_a_tampered_event(
    demo_fx: Fangxin,
) -> None:
    events = demo_fx.count("audit_event")

    intact = demo_fx.ok("audit", "verify")
    assert f"{events} events verified" in intact

    demo_fx.execute("""UPDATE audit_event SET details='{"x":1}' WHERE id=2""")
    broken = demo_fx("audit", "verify")
    assert broken.returncode == 1
    assert "event 2" in broken.stderr
    assert "1 events before it verified" in broken.stderr


def test_backup_then_restore_brings_the_database_back(demo_fx: Fangxin) -> None:
    at_backup = demo_fx.dump()
    backup_file = demo_fx.home / "fangxin.backup"

    made = demo_fx.ok("backup", str(backup_file))
    # It holds the signing key and the secret: the operator is told, and so is the file system.
    assert "readable by its owner only" in made and "It holds secrets" in made
    assert "signing key (signing/issuer-key.pem)" in made and "secret_key" in made
    assert backup_file.stat().st_mode & 0o777 == 0o600
    demo_fx.execute("DELETE FROM audit_event WHERE id > 3")
    demo_fx.execute("UPDATE merchant SET name = 'changed' WHERE id <= 10")
    assert demo_fx.dump() != at_backup
    restored = demo_fx.ok("restore", "--yes", str(backup_file))

    assert "restored" in restored
    assert demo_fx.dump() == at_backup
    demo_fx.ok("audit", "verify")


def test_restore_refuses_a_file_that_is_not_a_backup(demo_fx: Fangxin) -> None:
    at_start = demo_fx.dump()
    junk = _write_csv(demo_fx.home / "areas.csv", AREAS)

    result = demo_fx("restore", "--yes", str(junk))

    assert result.returncode == 1
    assert "is not an SQLite backup" in result.stderr
    assert demo_fx.dump() == at_start


def test_the_demo_certifies_then_evaluate_issue_and_sweep_report(demo_fx: Fangxin) -> None:
    # The demo issued its eligible merchants and areas but one street, revoked one merchant
    # after a fine (via the listener), suspended one after mystery shopping, and listed a
    # merchant of a certified scenic spot as a serious violator: revoked, and the spot on hold.
    assert demo_fx.query(
        "SELECT kind, status, count(*) FROM certificate GROUP BY kind, status"
    ) == [
        ("merchant", "active", demo_fx.count("certificate") - 6),
        ("merchant", "expired", 1),  # of two years ago; its holder was certified again
        ("merchant", "revoked", 2),
        ("merchant", "suspended", 1),
        ("scenic_spot", "active", 1),
        ("scenic_spot", "suspended", 1),
    ]
    evaluated = demo_fx.ok("certificates", "evaluate", "--kind", "street")
    assert "not eligible" in evaluated and "Policy 2026.1." in evaluated
    # The street left for an official to certify.
    assert "street 411728-ST01 遂平县建设路商业街: eligible" in evaluated
    # Every eligible merchant already holds one: nothing left to issue.
    issued = demo_fx.ok("certificates", "issue", "--kind", "merchant", "--all-eligible")
    assert "0 certificate(s) issued." in issued
    swept = demo_fx.ok("certificates", "sweep")
    assert swept.startswith("Swept: 0 expired")
