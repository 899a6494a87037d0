"""``fangxin import``: areas and merchants from CSV or XLSX, all rows or none."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from service.kernel.audit import Actor
from service.kernel.models import (
    Area,
    AreaKind,
    AuditEvent,
    Merchant,
    MerchantCategory,
    MerchantStatus,
)
from service.kernel.settings import Settings
from service.kernel.tables import ImportRejected
from service.register.imports import ImportResult, import_areas, import_merchants
from service.register.uscc import generate

ACTOR = Actor("cli", "test")
AREA_HEADER = ("code", "kind", "name_zh", "name_en", "parent")
MERCHANT_HEADER = (
    "uscc",
    "name",
    "category",
    "address",
    "district",
    "street",
    "scenic_spot",
    "status",
)
# A well-formed code whose check character should be K, not 0.
BAD_CHECK_USCC = "914117007676543210"

AREAS: list[tuple[str, ...]] = [
    ("411700", "city", "驻马店市", "Zhumadian", ""),
    ("411702", "district", "驿城区", "Yicheng District", "411700"),
    ("411721", "district", "西平县", "Xiping County", "411700"),
    ("411702-001", "street", "解放路", "Jiefang Road", "411702"),
    ("411702-S01", "scenic_spot", "嵖岈山", "Chaya Mountain", "411702"),
]


def _usccs(n: int) -> list[str]:
    rng = random.Random(1)
    return [generate(rng, "411702") for _ in range(n)]


def _merchants() -> list[tuple[str, ...]]:
    a, b, c = _usccs(3)
    return [
        (a, "老王烩面", "catering", "解放路 12 号", "411702", "411702-001", "", "active"),
        (b, "山门客栈", "lodging", "", "411702", "", "411702-S01", "closed"),
        (c, "百姓大药房", "pharmacy_health", "风光路 3 号", "411702", "", "", "active"),
    ]


def _write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _write_xlsx(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    columns = {name: [row[i] or None for row in rows] for i, name in enumerate(header)}
    pl.DataFrame(columns, schema=dict.fromkeys(header, pl.String)).write_excel(path)
    return path


async def _import_areas(tmp_path: Path) -> ImportResult:
    return await import_areas(_write_csv(tmp_path / "areas.csv", AREA_HEADER, AREAS), actor=ACTOR)


async def _area_rows() -> list[tuple[str, AreaKind, str, str, str | None, bool]]:
    rows = (
        await Area.all()
        .order_by("code")
        .values_list("code", "kind", "name_zh", "name_en", "parent__code", "is_demo")
    )
    return [(c, AreaKind(k), zh, en, p, bool(d)) for c, k, zh, en, p, d in rows]


async def _merchant_rows() -> list[tuple[object, ...]]:
    rows = (
        await Merchant.all()
        .order_by("uscc")
        .values_list(
            "uscc",
            "name",
            "category",
            "address",
            "district__code",
            "street__code",
            "scenic_spot__code",
            "status",
            "is_demo",
        )
    )
    return [
        (u, n, MerchantCategory(c), a, d, s, sp, MerchantStatus(st), bool(demo))
        for u, n, c, a, d, s, sp, st, demo in rows
    ]


def _expected_merchant_rows() -> list[tuple[object, ...]]:
    return sorted(
        (
            u,
            n,
            MerchantCategory(c),
            a,
            d,
            s or None,
            sp or None,
            MerchantStatus(st),
            False,
        )
        for u, n, c, a, d, s, sp, st in _merchants()
    )


EXPECTED_AREAS = [
    ("411700", AreaKind.CITY, "驻马店市", "Zhumadian", None, False),
    ("411702", AreaKind.DISTRICT, "驿城区", "Yicheng District", "411700", False),
    ("411702-001", AreaKind.STREET, "解放路", "Jiefang Road", "411702", False),
    ("411702-S01", AreaKind.SCENIC_SPOT, "嵖岈山", "Chaya Mountain", "411702", False),
    ("411721", AreaKind.DISTRICT, "西平县", "Xiping County", "411700", False),
]


async def test_areas_then_merchants_csv_import_creates_every_row(
    db: Settings, tmp_path: Path
) -> None:
    areas = await _import_areas(tmp_path)
    assert areas == ImportResult("areas", 5, 5, 0, 0, dry_run=False, encoding="utf-8")
    assert await _area_rows() == EXPECTED_AREAS

    merchants_csv = _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, _merchants())
    merchants = await import_merchants(merchants_csv, actor=ACTOR)
    assert merchants == ImportResult("merchants", 3, 3, 0, 0, dry_run=False, encoding="utf-8")
    assert await _merchant_rows() == _expected_merchant_rows()

    events = await AuditEvent.all().order_by("id").values_list("actor", "action", "subject")
    assert events == [
        ("cli:test", "registry.import", "areas"),
        ("cli:test", "registry.import", "merchants"),
    ]


async def test_reimporting_the_same_files_changes_nothing_and_writes_no_audit_event(
    db: Settings, tmp_path: Path
) -> None:
    areas_csv = _write_csv(tmp_path / "areas.csv", AREA_HEADER, AREAS)
    merchants_csv = _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, _merchants())
    await import_areas(areas_csv, actor=ACTOR)
    await import_merchants(merchants_csv, actor=ACTOR)
    events_before = await AuditEvent.all().count()
    merchants_before = await Merchant.all().order_by("uscc").values()

    again_areas = await import_areas(areas_csv, actor=ACTOR)
    again_merchants = await import_merchants(merchants_csv, actor=ACTOR)

    assert again_areas == ImportResult("areas", 5, 0, 0, 5, dry_run=False, encoding="utf-8")
    assert again_merchants == ImportResult("merchants", 3, 0, 0, 3, dry_run=False, encoding="utf-8")
    assert await AuditEvent.all().count() == events_before
    assert await Merchant.all().order_by("uscc").values() == merchants_before
    assert await _area_rows() == EXPECTED_AREAS


async def test_one_bad_uscc_rejects_the_whole_file_naming_row_column_and_expected_check(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    events_before = await AuditEvent.all().count()
    good = _merchants()
    bad = (BAD_CHECK_USCC, "坏码商店", "retail", "", "411702", "", "", "active")
    rows = [good[0], good[1], bad, good[2]]

    with pytest.raises(ImportRejected) as caught:
        await import_merchants(
            _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, rows), actor=ACTOR
        )

    errors = caught.value.errors
    assert [(e.row, e.column) for e in errors] == [(4, "uscc")]
    assert "expected K" in errors[0].reason
    assert "nothing was imported" in str(caught.value)
    assert await Merchant.all().count() == 0
    assert await AuditEvent.all().count() == events_before


async def test_every_bad_row_of_a_file_is_reported(db: Settings, tmp_path: Path) -> None:
    await _import_areas(tmp_path)
    a, b, c, d = _usccs(4)
    rows = [
        (a, "好商户", "retail", "", "411702", "411702-001", "", "active"),
        (b, "无区商户", "retail", "", "411799", "", "", "active"),
        (c, "面包店", "bakery", "", "411702", "", "", "active"),
        (d, "错街商户", "retail", "", "411721", "411702-001", "", "active"),
    ]

    with pytest.raises(ImportRejected) as caught:
        await import_merchants(
            _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, rows), actor=ACTOR
        )

    by_place = {(e.row, e.column): e.reason for e in caught.value.errors}
    assert set(by_place) == {(3, "district"), (4, "category"), (5, "street")}
    assert "411799" in by_place[(3, "district")]
    assert "bakery" in by_place[(4, "category")]
    assert "not in district 411721" in by_place[(5, "street")]
    assert await Merchant.all().count() == 0


async def test_dry_run_reports_counts_but_stores_nothing(db: Settings, tmp_path: Path) -> None:
    areas_csv = _write_csv(tmp_path / "areas.csv", AREA_HEADER, AREAS)
    merchants_csv = _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, _merchants())

    dry_areas = await import_areas(areas_csv, actor=ACTOR, dry_run=True)
    assert dry_areas == ImportResult("areas", 5, 5, 0, 0, dry_run=True, encoding="utf-8")
    assert await Area.all().count() == 0
    assert await AuditEvent.all().count() == 0

    await import_areas(areas_csv, actor=ACTOR)
    events_before = await AuditEvent.all().count()
    dry_merchants = await import_merchants(merchants_csv, actor=ACTOR, dry_run=True)
    assert dry_merchants == ImportResult("merchants", 3, 3, 0, 0, dry_run=True, encoding="utf-8")
    assert await Merchant.all().count() == 0
    assert await AuditEvent.all().count() == events_before


async def test_a_changed_name_on_reimport_counts_as_one_update(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    rows = _merchants()
    await import_merchants(
        _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, rows), actor=ACTOR
    )
    events_before = await AuditEvent.all().count()
    renamed = [rows[0], (rows[1][0], "山门精品客栈", *rows[1][2:]), rows[2]]

    result = await import_merchants(
        _write_csv(tmp_path / "merchants-v2.csv", MERCHANT_HEADER, renamed), actor=ACTOR
    )

    assert result == ImportResult("merchants", 3, 0, 1, 2, dry_run=False, encoding="utf-8")
    names = dict(await Merchant.all().values_list("uscc", "name"))
    assert names == {rows[0][0]: rows[0][1], rows[1][0]: "山门精品客栈", rows[2][0]: rows[2][1]}
    last = await AuditEvent.all().order_by("-id").first()
    assert last is not None
    assert await AuditEvent.all().count() == events_before + 1
    assert last.details == {
        "source": "merchants-v2.csv",
        "created": 0,
        "updated": 1,
        "unchanged": 2,
    }


async def test_xlsx_import_stores_the_same_rows_as_csv(db: Settings, tmp_path: Path) -> None:
    areas = await import_areas(
        _write_xlsx(tmp_path / "areas.xlsx", AREA_HEADER, AREAS), actor=ACTOR
    )
    merchants = await import_merchants(
        _write_xlsx(tmp_path / "merchants.xlsx", MERCHANT_HEADER, _merchants()), actor=ACTOR
    )

    assert areas == ImportResult("areas", 5, 5, 0, 0, dry_run=False, encoding="xlsx")
    assert merchants == ImportResult("merchants", 3, 3, 0, 0, dry_run=False, encoding="xlsx")
    assert await _area_rows() == EXPECTED_AREAS
    assert await _merchant_rows() == _expected_merchant_rows()
    # The same data as CSV finds nothing to change.
    csv_areas = await _import_areas(tmp_path)
    csv_merchants = await import_merchants(
        _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, _merchants()), actor=ACTOR
    )
    assert (csv_areas.unchanged, csv_merchants.unchanged) == (5, 3)


async def test_xlsx_bad_row_is_reported_by_its_spreadsheet_row_number(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    good = _merchants()
    bad = (BAD_CHECK_USCC, "坏码商店", "retail", "", "411702", "", "", "active")

    with pytest.raises(ImportRejected) as caught:
        await import_merchants(
            _write_xlsx(tmp_path / "m.xlsx", MERCHANT_HEADER, [good[0], good[1], bad]),
            actor=ACTOR,
        )

    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "uscc")]
    assert await Merchant.all().count() == 0


async def test_missing_required_column_is_reported_and_nothing_is_imported(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    header = [c for c in MERCHANT_HEADER if c != "category"]
    rows = [
        tuple(v for c, v in zip(MERCHANT_HEADER, r, strict=True) if c != "category")
        for r in _merchants()
    ]

    with pytest.raises(ImportRejected) as caught:
        await import_merchants(_write_csv(tmp_path / "m.csv", header, rows), actor=ACTOR)

    assert [(e.row, e.column, e.reason) for e in caught.value.errors] == [
        (1, "category", "column is missing")
    ]
    assert await Merchant.all().count() == 0


async def test_missing_area_column_is_reported(db: Settings, tmp_path: Path) -> None:
    header = ("code", "name_zh", "name_en", "parent")
    rows = [(code, zh, en, parent) for code, _kind, zh, en, parent in AREAS]

    with pytest.raises(ImportRejected) as caught:
        await import_areas(_write_csv(tmp_path / "a.csv", header, rows), actor=ACTOR)

    assert [(e.row, e.column) for e in caught.value.errors] == [(1, "kind")]
    assert await Area.all().count() == 0


async def test_a_parent_defined_later_in_the_same_file_is_accepted(
    db: Settings, tmp_path: Path
) -> None:
    rows = list(reversed(AREAS))

    result = await import_areas(_write_csv(tmp_path / "a.csv", AREA_HEADER, rows), actor=ACTOR)

    assert result == ImportResult("areas", 5, 5, 0, 0, dry_run=False, encoding="utf-8")
    assert await _area_rows() == EXPECTED_AREAS


async def test_an_area_whose_parent_is_nowhere_is_rejected(db: Settings, tmp_path: Path) -> None:
    rows = [*AREAS, ("411799-001", "street", "无名路", "Nowhere Road", "411799")]

    with pytest.raises(ImportRejected) as caught:
        await import_areas(_write_csv(tmp_path / "a.csv", AREA_HEADER, rows), actor=ACTOR)

    assert [(e.row, e.column) for e in caught.value.errors] == [(7, "parent")]
    assert "411799" in caught.value.errors[0].reason
    assert await Area.all().count() == 0


async def test_a_gbk_csv_with_english_headers_is_read_as_gb18030(
    db: Settings, tmp_path: Path
) -> None:
    # Excel on a Chinese-locale Windows saves "CSV (comma delimited)" in GBK: once refused,
    # now read (issue 32).
    source = tmp_path / "areas.csv"
    lines = [",".join(AREA_HEADER), *(",".join(row) for row in AREAS)]
    source.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))

    result = await import_areas(source, actor=ACTOR)

    assert result == ImportResult("areas", 5, 5, 0, 0, dry_run=False, encoding="gb18030")
    assert await _area_rows() == EXPECTED_AREAS


async def test_a_row_with_more_fields_than_the_header_is_rejected_with_a_reason(
    db: Settings, tmp_path: Path
) -> None:
    rows = [*AREAS[:2], (*AREAS[2], "surplus"), *AREAS[3:]]

    with pytest.raises(ImportRejected) as caught:
        await import_areas(_write_csv(tmp_path / "a.csv", AREA_HEADER, rows), actor=ACTOR)

    assert [e.column for e in caught.value.errors] == ["file"]
    assert caught.value.errors[0].reason
    assert await Area.all().count() == 0


async def test_moving_a_street_away_from_its_merchants_district_is_rejected(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    merchants_csv = _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, _merchants())
    await import_merchants(merchants_csv, actor=ACTOR)
    moved = [(*row[:4], "411721") if row[0] == "411702-001" else row for row in AREAS]
    moved_csv = _write_csv(tmp_path / "moved.csv", AREA_HEADER, moved)
    with pytest.raises(ImportRejected) as info:
        await import_areas(moved_csv, actor=ACTOR)
    [error] = info.value.errors
    assert (error.row, error.column) == (5, "parent")
    assert "move them first" in error.reason
    assert await _area_rows() == EXPECTED_AREAS


# --- Chinese headers and the encodings Excel and WPS save (issue 32) -------------------------

ZH_AREA_HEADER = ("区域代码", "区域类型", "中文名称", "英文名称", "上级区域代码")
# Headers as a bureau's own register has them: aliases, a full-width bracket, spaces.
ZH_MERCHANT_HEADER = (
    "统一社会信用代码",
    "企业名称",
    "行业类别",
    " 经营地址 ",
    "所属区县",
    "街道代码",
    "所属景区",
    "经营状态",
)


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [",".join(header), *(",".join(r) for r in rows)]
    return "\r\n".join(lines) + "\r\n"


def _write_bytes(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


@pytest.mark.parametrize(
    ("codec", "named"), [("gbk", "gb18030"), ("gb18030", "gb18030"), ("utf-8-sig", "utf-8-sig")]
)
async def test_a_csv_with_chinese_headers_in_gbk_or_with_a_bom_imports_like_the_english_one(
    db: Settings, tmp_path: Path, codec: str, named: str
) -> None:
    areas_file = tmp_path / "区域.csv"
    _write_bytes(areas_file, _csv_text(ZH_AREA_HEADER, AREAS).encode(codec))
    merchants_file = tmp_path / "商户.csv"
    _write_bytes(merchants_file, _csv_text(ZH_MERCHANT_HEADER, _merchants()).encode(codec))

    areas = await import_areas(areas_file, actor=ACTOR)
    merchants = await import_merchants(merchants_file, actor=ACTOR)

    assert areas == ImportResult("areas", 5, 5, 0, 0, dry_run=False, encoding=named)
    assert merchants == ImportResult("merchants", 3, 3, 0, 0, dry_run=False, encoding=named)
    assert await _area_rows() == EXPECTED_AREAS
    assert await _merchant_rows() == _expected_merchant_rows()
    # The English UTF-8 file of the same rows changes nothing.
    english = await import_merchants(
        _write_csv(tmp_path / "merchants.csv", MERCHANT_HEADER, _merchants()), actor=ACTOR
    )
    assert english == ImportResult("merchants", 3, 0, 0, 3, dry_run=False, encoding="utf-8")


async def test_an_xlsx_with_chinese_headers_and_sheet_name_imports_like_the_english_csv(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    path = tmp_path / "商户名录.xlsx"
    rows = _merchants()
    columns = {h: [r[i] or None for r in rows] for i, h in enumerate(ZH_MERCHANT_HEADER)}
    frame = pl.DataFrame(columns, schema=dict.fromkeys(ZH_MERCHANT_HEADER, pl.String))
    frame.write_excel(path, worksheet="商户")

    merchants = await import_merchants(path, actor=ACTOR)

    assert merchants == ImportResult("merchants", 3, 3, 0, 0, dry_run=False, encoding="xlsx")
    assert await _merchant_rows() == _expected_merchant_rows()


async def test_a_column_given_in_chinese_and_in_english_is_refused(
    db: Settings, tmp_path: Path
) -> None:
    await _import_areas(tmp_path)
    header = (*MERCHANT_HEADER, "名称")
    rows = [(*r, r[1]) for r in _merchants()]

    with pytest.raises(ImportRejected) as caught:
        await import_merchants(_write_csv(tmp_path / "m.csv", header, rows), actor=ACTOR)

    assert [(e.row, e.column, e.reason) for e in caught.value.errors] == [
        (1, "name", "given twice: 'name' and '名称'")
    ]


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"uscc,name\n\x80\xff\n", "byte 0x80 at offset 10 is not UTF-8"),
        (
            # 统 is U+7EDF: DF 7E in UTF-16LE, neither UTF-8 nor GB18030.
            _csv_text(ZH_MERCHANT_HEADER, [("x",) * 8]).encode("utf-16-le"),
            "byte 0xdf at offset 0 is not UTF-8",
        ),
        (
            _csv_text(MERCHANT_HEADER, [("x",) * 8]).encode("utf-16-le"),
            "a NUL character at character 2: UTF-16 or not text at all",
        ),
    ],
)
async def test_a_csv_in_neither_utf8_nor_gb18030_is_refused_naming_the_file(
    db: Settings, tmp_path: Path, content: bytes, why: str
) -> None:
    with pytest.raises(ImportRejected) as caught:
        await import_merchants(_write_bytes(tmp_path / "m.csv", content), actor=ACTOR)

    assert [(e.row, e.column, e.reason) for e in caught.value.errors] == [
        (
            0,
            "file",
            f"is neither UTF-8 nor GB18030/GBK text ({why}); save it from Excel or WPS as "
            "CSV UTF-8 or as an .xlsx workbook",
        )
    ]
    assert await Merchant.all().count() == 0
