"""Every CSV and XLSX the service hands out passes through here, because officials open them
in a spreadsheet: text anyone could have typed (a survey comment, a reply, an audit subject)
must stay text there, never become a formula (OWASP "CSV injection")."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import anyio
import polars as pl
from litestar import Response
from litestar.params import QueryParameter

from service.kernel import columns
from service.kernel.i18n import N_, current_locale, translations
from service.kernel.localtime import CSV_DATETIME, LOCAL_TZ_NAME, XLSX_DATETIME

if TYPE_CHECKING:
    from xlsxwriter import Workbook

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


# ``?headers=`` (a handler's ``header_row``: ``headers`` is Litestar's own): the locale's
# labels for people (the default), or the snake_case machine names for programs, which stay
# the same across releases and languages.
HeaderStyle = Literal["label", "machine"]
Headers = Annotated[
    HeaderStyle,
    QueryParameter(
        name="headers",
        description="label: column headers in the reader's language (Chinese by default); "
        "machine: the snake_case machine names, stable for programs",
    ),
]

# Excel number formats by unit: money with two decimals, percentages with one, counts with
# thousands separators (the exact values stay in the cells).
_UNIT_FORMATS: Final = {
    columns.YUAN: "#,##0.00",
    columns.PERCENT: "0.0",
    columns.FRACTION: "0.0%",
    columns.POINTS: "0.0",
}
_INTEGER_FORMAT: Final = "#,##0"
_TYPES: Final = {
    "integer": N_("integer"),
    "decimal": N_("decimal"),
    "text": N_("text"),
    "boolean": N_("true or false"),
    "datetime": N_("date and time"),
    "date": N_("date"),
}


def _type_of(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if dtype.is_float() or dtype.is_decimal():
        return "decimal"
    if dtype == pl.Boolean:
        return "boolean"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Date:
        return "date"
    return "text"


@dataclass(frozen=True, slots=True)
class Sheet:
    """One table of an export: its frame, its catalog kind (``service.kernel.columns``) and
    labels the export knows itself (a survey's questions)."""

    frame: pl.DataFrame
    kind: str
    extra: Mapping[str, str] | None = None


def headers_of(sheet: Sheet, headers: HeaderStyle, locale: str) -> list[str]:
    """The header row: every column's label, or its machine name (checked all the same, so
    no column leaves unlabelled)."""
    names = sheet.frame.columns
    found = columns.labels(sheet.kind, names, locale, sheet.extra)
    return names if headers == "machine" else found


def dictionary(sheets: list[Sheet], locale: str) -> pl.DataFrame:
    """The data dictionary: for every column of every sheet its sheet, label, machine name,
    type, unit and description, in ``locale``."""
    _ = translations(locale).gettext
    rows = []
    for sheet in sheets:
        shown = columns.labels(sheet.kind, sheet.frame.columns, locale, sheet.extra)
        for text, (name, dtype) in zip(shown, sheet.frame.schema.items(), strict=True):
            _label, description, unit = columns.resolve(sheet.kind, name, locale, sheet.extra)
            rows.append(
                (
                    columns.sheet_name(sheet.kind, locale),
                    text,
                    name,
                    _(_TYPES[_type_of(dtype)]),
                    unit,
                    description,
                )
            )
    header = [_(h) for h in columns.DICTIONARY_HEADER]
    return pl.DataFrame(rows, schema=dict.fromkeys(header, pl.String), orient="row")


def cell_formats(sheet: Sheet, locale: str, shown: list[str]) -> dict[Any, str]:
    """Excel number formats of a sheet's columns by their unit (integers: thousands
    separators), keyed by the header shown."""
    formats: dict[Any, str] = {}
    for text, (name, dtype) in zip(shown, sheet.frame.schema.items(), strict=True):
        column = columns.CATALOG[sheet.kind].get(name)
        if column is not None and column.unit in _UNIT_FORMATS:
            formats[text] = _UNIT_FORMATS[column.unit]
        elif dtype.is_integer() and name not in _NOT_COUNTS:
            formats[text] = _INTEGER_FORMAT
    return formats


# Integer columns that are numbers of things, not counts: no thousands separators.
_NOT_COUNTS: Final = frozenset({"id", "version", "response_id", "reply_id", "rank", "tie_group"})


def add_sheets(book: Workbook, sheets: list[Sheet], headers: HeaderStyle, locale: str) -> None:
    """Each sheet under its name in ``locale``, then the data dictionary sheet. Spreadsheets
    are read by people, so instants are on the Asia/Shanghai clock, labelled +08:00."""
    for sheet in sheets:
        zoned = _zoned(sheet.frame)
        # Excel has no time zones: Beijing wall-clock date-times, labelled +08:00 by the cell
        # format, so that they still sort and filter as dates.
        frame = sheet.frame.with_columns(
            pl.col(zoned).dt.convert_time_zone(LOCAL_TZ_NAME).dt.replace_time_zone(None)
        )
        shown = headers_of(sheet, headers, locale)
        formats = cell_formats(sheet, locale, shown)
        formats |= {shown[frame.columns.index(z)]: XLSX_DATETIME for z in zoned}
        neutralise(frame).rename(dict(zip(frame.columns, shown, strict=True))).write_excel(
            book, columns.sheet_name(sheet.kind, locale), column_formats=formats
        )
    dictionary(sheets, locale).write_excel(book, columns.sheet_name_of(locale))


def write_xlsx(
    sheets: list[Sheet], target: io.BytesIO | str, headers: HeaderStyle, locale: str
) -> None:
    from xlsxwriter import Workbook

    with Workbook(target, WORKBOOK_OPTIONS) as book:
        add_sheets(book, sheets, headers, locale)


def _zoned(frame: pl.DataFrame) -> list[str]:
    return [
        name
        for name, dtype in frame.schema.items()
        if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None
    ]


def export_bytes(
    frame: pl.DataFrame,
    fmt: str,
    kind: str,
    headers: HeaderStyle = "label",
    locale: str | None = None,
) -> bytes:
    """A frame as CSV, XLSX or Parquet, its columns named by the catalog (``kind``) in the
    request's language unless ``headers`` is ``machine``; an XLSX adds the data dictionary.
    Spreadsheets are read by people, so their instants are on the Asia/Shanghai clock with
    the offset shown; Parquet, read by programs, keeps UTC and the machine names."""
    locale = locale or current_locale()
    buffer = io.BytesIO()
    sheet = Sheet(frame, kind)
    if fmt == "csv":
        buffer.write("\ufeff".encode())  # so that Excel reads the UTF-8 names
        zoned = _zoned(frame)
        shown = headers_of(sheet, headers, locale)
        frame = frame.with_columns(
            pl.col(zoned).dt.convert_time_zone(LOCAL_TZ_NAME).dt.strftime(CSV_DATETIME)
        )
        neutralise(frame.rename(dict(zip(frame.columns, shown, strict=True)))).write_csv(buffer)
    elif fmt == "xlsx":
        write_xlsx([sheet], buffer, headers, locale)
    else:
        headers_of(sheet, "machine", locale)  # every column in the catalog all the same
        frame.write_parquet(buffer)
    return buffer.getvalue()


async def figures_response(
    frame: pl.DataFrame,
    fmt: str,
    name: str,
    catalog: str,
    headers: HeaderStyle = "label",
    **meta: Any,
) -> Response[Any]:
    """JSON for programs, CSV/XLSX for the annual report (columns of ``catalog``)."""
    if fmt == "json":
        return Response({**meta, "items": frame.to_dicts()})
    content = await anyio.to_thread.run_sync(export_bytes, frame, fmt, catalog, headers)
    return Response(
        content,
        media_type=EXPORT_TYPES[fmt],
        headers={"content-disposition": disposition("attachment", f"{name}.{fmt}")},
    )
