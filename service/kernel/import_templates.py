"""Blank files to fill in for each kind of import (``fangxin import template``, and
``GET /api/v1/imports/templates/{kind}.{fmt}``): the Chinese headers a bureau's staff read,
which the importers take as they take the English machine names.

The workbook's first sheet, named for the kind (商户, 投诉举报 ...), holds the header row only:
no example row that a person could forget to delete and import. Its second sheet, 填写说明,
is the data dictionary: each column's Chinese header, machine name, whether it is required,
what goes in it and an example. The CSV is the header row, in UTF-8 with a BOM so that Excel
and WPS open its Chinese correctly (the importer also takes GBK, should they save it so).
"""

from __future__ import annotations

import io
from typing import Final, Literal

import xlsxwriter

from service.kernel.import_headers import KINDS, ImportKind

Format = Literal["xlsx", "csv"]
FORMATS: Final = ("xlsx", "csv")
MEDIA_TYPES: Final = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
}
DICTIONARY_SHEET: Final = "填写说明"
DICTIONARY_HEADER: Final = ("列名", "字段名（英文列名）", "是否必填", "说明", "示例")
NOTES: Final = (
    "第一个工作表的第一行是列名，从第二行起每行一条记录；整份文件全部导入，或有错时全部不导入并逐行说明。",
    "列名可用中文或英文字段名；列的先后次序不限；非必填列可以删去。",
    "CSV 文件可存为 UTF-8（含或不含 BOM）或 GBK/GB18030 编码。",
    "取值（如行业类别 catering、日期 2026-05-12）按本表“说明”列填写。",
)


def filename(kind: ImportKind, fmt: Format) -> str:
    return f"{kind.name}-template.{fmt}"


def template(kind: ImportKind, fmt: Format) -> bytes:
    return template_xlsx(kind) if fmt == "xlsx" else template_csv(kind)


def template_csv(kind: ImportKind) -> bytes:
    return (",".join(c.zh for c in kind.columns) + "\r\n").encode("utf-8-sig")


def template_xlsx(kind: ImportKind) -> bytes:
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    required = book.add_format({"bold": True, "bg_color": "#FCE4D6", "border": 1})
    wrap = book.add_format({"text_wrap": True, "valign": "top"})
    text = book.add_format({"num_format": "@"})  # codes keep their leading zeros

    data = book.add_worksheet(kind.zh)
    for i, column in enumerate(kind.columns):
        data.write_string(0, i, column.zh, required if column.required else bold)
        data.set_column(i, i, max(12, 2 * len(column.zh) + 4), text)
    data.freeze_panes(1, 0)

    sheet = book.add_worksheet(DICTIONARY_SHEET)
    for i, title in enumerate(DICTIONARY_HEADER):
        sheet.write_string(0, i, title, bold)
    for r, column in enumerate(kind.columns, start=1):
        cells = (column.zh, column.name, "是" if column.required else "否", column.note)
        for i, value in enumerate((*cells, column.example)):
            sheet.write_string(r, i, value, wrap)
    below = len(kind.columns) + 2
    for r, note in enumerate(NOTES, start=below):
        sheet.write_string(r, 0, note)
    for i, width in enumerate((20, 22, 10, 60, 24)):
        sheet.set_column(i, i, width)
    book.close()
    return out.getvalue()


def parse_name(name: str) -> tuple[ImportKind, Format] | None:
    """``merchants.xlsx`` -> the kind and the format; None for a name that is neither."""
    kind, dot, fmt = name.rpartition(".")
    if not dot or kind not in KINDS or fmt not in FORMATS:
        return None
    return KINDS[kind], "xlsx" if fmt == "xlsx" else "csv"
