"""Every CSV and XLSX the service hands out passes through here, because officials open them
in a spreadsheet: text anyone could have typed (a survey comment, a reply, an audit subject)
must stay text there, never become a formula (OWASP "CSV injection")."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

import anyio
import polars as pl
from litestar import Response

from service.kernel.localtime import CSV_DATETIME, LOCAL_TZ_NAME, XLSX_DATETIME

EXPORT_TYPES: Final = {
    "csv": "text/csv",  # Litestar adds "; charset=utf-8" to every text/* type itself
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}

# What a spreadsheet reads as the start of a formula (tab and CR: some strip them first).
_TRIGGER: Final = r"^[=+\-@\t\r]"
# A plain number written as text ("-3", "+1.5e2") computes nothing: left as the number it is.
# ASCII digits only (the regex crate's \d is Unicode); its $ is the end of the text.
_NUMBER: Final = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"

# strings_to_* off: xlsxwriter would otherwise turn text into formulas, numbers or links.
WORKBOOK_OPTIONS: Final = {
    "strings_to_formulas": False,
    "strings_to_numbers": False,
    "strings_to_urls": False,
    "nan_inf_to_errors": True,
}


# What a file name in a header keeps: a name built from a stored code or serial must never
# carry a quote or a line break into the header (an invalid header drops the connection).
_NOT_IN_FILENAME: Final = re.compile(r"[^A-Za-z0-9._-]")


def disposition(kind: Literal["inline", "attachment"], filename: str) -> str:
    """A Content-Disposition value for ``filename``, any other character made ``_``."""
    return f'{kind}; filename="{_NOT_IN_FILENAME.sub("_", filename)}"'


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with a single quote before every string cell a spreadsheet would evaluate;
    columns of other types (numbers, dates) untouched."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_TRIGGER) & ~pl.col(name).str.contains(_NUMBER))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name in text
    )


def write_xlsx(
    frame: pl.DataFrame,
    target: io.BytesIO | str,
    worksheet: str = "data",
    column_formats: Mapping[Any, str] | None = None,
) -> None:
    from xlsxwriter import Workbook

    with Workbook(target, WORKBOOK_OPTIONS) as book:
        neutralise(frame).write_excel(book, worksheet, column_formats=column_formats)


def _zoned(frame: pl.DataFrame) -> list[str]:
    return [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]


def export_bytes(frame: pl.DataFrame, fmt: str) -> bytes:
    """A frame as CSV, XLSX or Parquet. Spreadsheets are read by people, so their instants are
    on the Asia/Shanghai clock with the offset shown; Parquet, read by programs, keeps UTC."""
    buffer = io.BytesIO()
    zoned = _zoned(frame)
    if fmt == "csv":
        buffer.write("\ufeff".encode())  # so that Excel reads the UTF-8 names
        frame = frame.with_columns(
            pl.col(zoned).dt.convert_time_zone(LOCAL_TZ_NAME).dt.strftime(CSV_DATETIME)
        )
        neutralise(frame).write_csv(buffer)
    elif fmt == "xlsx":
        # Excel has no time zones: Beijing wall-clock date-times, labelled +08:00 by the cell
        # format, so that they still sort and filter as dates.
        frame = frame.with_columns(
            pl.col(zoned).dt.convert_time_zone(LOCAL_TZ_NAME).dt.replace_time_zone(None)
        )
        write_xlsx(frame, buffer, column_formats=dict.fromkeys(zoned, XLSX_DATETIME))
    else:
        frame.write_parquet(buffer)
    return buffer.getvalue()


async def figures_response(frame: pl.DataFrame, fmt: str, name: str, **meta: Any) -> Response[Any]:
    """JSON for programs, CSV/XLSX for the annual report."""
    if fmt == "json":
        return Response({**meta, "items": frame.to_dicts()})
    content = await anyio.to_thread.run_sync(export_bytes, frame, fmt)
    return Response(
        content,
        media_type=EXPORT_TYPES[fmt],
        headers={"content-disposition": disposition("attachment", f"{name}.{fmt}")},
    )
