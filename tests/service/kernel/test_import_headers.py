"""The import headers' aliases and the encodings a CSV is read in (issue 32)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring.credit import feed_files
from service.kernel import import_headers, import_templates
from service.kernel.import_headers import KINDS, canonical, normalise
from service.kernel.tables import ImportRejected, decode_csv, load_table
from service.register.imports import KINDS as REGISTER_KINDS

# What each importer reads: (columns, required), as its own module declares them.
IMPORTERS = {
    "areas": (REGISTER_KINDS["areas"].columns, REGISTER_KINDS["areas"].required),
    "merchants": (REGISTER_KINDS["merchants"].columns, REGISTER_KINDS["merchants"].required),
    "credit": (
        feed_files.EVENT_COLUMNS,
        ("uscc", "kind", "occurred_at", "source", "external_ref"),
    ),
    "complaints": (
        feed_files.COMPLAINT_COLUMNS,
        ("external_id", "received_at", "status", "category"),
    ),
    "visits": (feed_files.VISIT_COLUMNS, ("external_id", "day")),
    "spot-checks": (
        feed_files.SPOT_CHECK_COLUMNS,
        feed_files.SPOT_CHECK_COLUMNS[:3] + feed_files.SPOT_CHECK_COLUMNS[4:8],
    ),
}


def test_every_import_kind_has_a_header_for_each_column_it_reads() -> None:
    assert set(KINDS) == set(IMPORTERS)
    for name, (columns, required) in IMPORTERS.items():
        assert KINDS[name].names == tuple(columns), name
        assert set(KINDS[name].required) == set(required), name


def test_no_header_names_two_columns_of_a_kind() -> None:
    for kind in KINDS.values():
        seen: dict[str, str] = {}
        for column in kind.columns:
            for header in column.headers:
                key = normalise(header)
                assert seen.setdefault(key, column.name) == column.name, (kind.name, header)


def test_headers_are_matched_loosely_but_only_within_their_kind() -> None:
    assert canonical("merchants", "统一社会信用代码") == "uscc"
    assert canonical("merchants", " 企业 名称 ") == "name"
    assert canonical("merchants", "\ufeffUSCC") == "uscc"
    assert canonical("merchants", "统一社会信用代码*") == "uscc"
    assert canonical("complaints", "争议金额(元)") == "amount_disputed"  # half-width brackets
    assert canonical("areas", "名称") == "name_zh"
    assert canonical("merchants", "名称") == "name"
    assert canonical("merchants", "登记编号") is None
    assert canonical("nothing", "uscc") is None


@pytest.mark.parametrize(
    ("content", "text", "encoding"),
    [
        (b"uscc,name\n", "uscc,name\n", "utf-8"),
        ("名称\n".encode(), "名称\n", "utf-8"),
        ("名称\n".encode("utf-8-sig"), "名称\n", "utf-8-sig"),
        ("名称\n".encode("gbk"), "名称\n", "gb18030"),
        # A character GBK lacks: GB18030's four-byte form.
        ("名称𠀀\n".encode("gb18030"), "名称𠀀\n", "gb18030"),
    ],
)
def test_a_csv_is_decoded_as_utf8_else_gb18030(content: bytes, text: str, encoding: str) -> None:
    assert decode_csv(content) == (text, encoding)


def test_bytes_in_neither_encoding_are_refused_naming_the_first_bad_byte() -> None:
    with pytest.raises(ImportRejected) as caught:
        decode_csv(b"ok\xff\xfe")
    assert caught.value.errors[0].column == "file"
    assert "(byte 0xff at offset 2 is not UTF-8)" in caught.value.errors[0].reason


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_each_template_reads_back_as_its_kinds_columns(
    tmp_path: Path, kind: str, fmt: import_templates.Format
) -> None:
    path = tmp_path / f"t.{fmt}"
    path.write_bytes(import_templates.template(KINDS[kind], fmt))
    columns, _ = IMPORTERS[kind]

    table = load_table(path, columns, (), kind)

    assert table.frame.columns == list(columns)
    assert table.frame.height == 0
    assert table.encoding == ("utf-8-sig" if fmt == "csv" else "xlsx")
    assert import_headers.KINDS[kind].zh
