"""Tables a person hands us (CSV or XLSX exports of a register or a feed): read as text
columns, each row checked field by field, every problem named by row and column, so a file is
taken whole or refused whole with all its problems listed. Headers may be Chinese or English
(``import_headers``); a CSV may be UTF-8, UTF-8 with a BOM or GB18030/GBK, and what it was read
as is named to the person who sent it."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, get_type_hints

import msgspec
import polars as pl

from service.kernel import import_headers, progress
from service.kernel.validation import plain_problem


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # as a spreadsheet shows it: the header is row 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


class ImportRejected(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s); nothing was imported")
        self.errors = errors


# What a CSV's bytes were read as: the answer names it, so a person whose file came out
# garbled sees which encoding we took it for.
UTF8: Final = "utf-8"
UTF8_BOM: Final = "utf-8-sig"  # UTF-8 with a byte order mark, as Excel's "CSV UTF-8" saves
GB18030: Final = "gb18030"  # GBK and GB2312 are subsets: Excel or WPS on a Chinese Windows
XLSX: Final = "xlsx"  # a workbook: no encoding to guess
ENCODING_NAMES: Final = {
    UTF8: "UTF-8",
    UTF8_BOM: "UTF-8 with BOM",
    GB18030: "GB18030/GBK",
    XLSX: "an XLSX workbook",
}
NEITHER = (
    "is neither UTF-8 nor GB18030/GBK text ({why}); save it from Excel or WPS as "
    "CSV UTF-8 or as an .xlsx workbook"
)


@dataclass(frozen=True, slots=True)
class Table:
    frame: pl.DataFrame  # text columns named by machine name, in the kind's order
    encoding: str  # UTF8, UTF8_BOM, GB18030 or XLSX


def decode_csv(content: bytes) -> tuple[str, str]:
    """The text of a CSV file and the encoding it was read as: UTF-8 (with or without a BOM),
    else GB18030 (which GBK files are), each decoded strictly, so a file is never read with
    characters replaced. Text with NUL characters (UTF-16 without a BOM, a binary file) is
    neither. Raises ``ImportRejected`` naming the file."""
    try:
        content.decode(UTF8_BOM)
    except UnicodeDecodeError as exc:
        not_utf8 = f"byte 0x{content[exc.start]:02x} at offset {exc.start} is not UTF-8"
    else:
        not_utf8 = ""
    for encoding in (UTF8_BOM, GB18030):
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            at = text.index("\x00")
            why = f"a NUL character at character {at + 1}: UTF-16 or not text at all"
            raise ImportRejected([RowError(0, "file", NEITHER.format(why=why))])
        if encoding == UTF8_BOM and not content.startswith(codecs.BOM_UTF8):
            encoding = UTF8
        return text, encoding
    raise ImportRejected([RowError(0, "file", NEITHER.format(why=not_utf8))])


def load_table(
    path: Path, columns: Iterable[str], required: Iterable[str], kind: str | None = None
) -> Table:
    """Read CSV or XLSX as text columns; missing optional columns become empty. A header is
    the column's machine name or, for a ``kind`` of ``import_headers``, any of its Chinese
    or English names. A CSV may be UTF-8, UTF-8 with a BOM or GB18030/GBK."""
    columns = tuple(columns)
    suffix = path.suffix.lower()
    encoding = XLSX
    try:
        if suffix == ".csv":
            text, encoding = decode_csv(path.read_bytes())
            df = pl.read_csv(io.BytesIO(text.encode(UTF8)), infer_schema=False)
        elif suffix in (".xlsx", ".xlsm"):
            df = pl.read_excel(path, infer_schema_length=0)
            df = df.with_columns(pl.all().cast(pl.String))
        else:
            df = None
    except ImportRejected:
        raise
    except Exception as exc:
        # Ragged rows, a damaged workbook: say so instead of a traceback.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportRejected([RowError(0, "file", f"cannot be read: {reason}")]) from exc
    if df is None:
        raise ImportRejected(
            [RowError(0, "file", f"unsupported file type {suffix or '?'} (use .csv or .xlsx)")]
        )
    df = df.rename(_header_names(df.columns, columns, kind))
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ImportRejected([RowError(1, c, "column is missing") for c in missing])
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise ImportRejected([RowError(1, c, "unknown column") for c in extra])
    for c in columns:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    frame = df.select([pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns])
    return Table(frame, encoding)


def _header_names(headers: list[str], columns: tuple[str, ...], kind: str | None) -> dict[str, str]:
    """Each header's machine name (an unknown header keeps its own, stripped, for the error);
    two headers naming one column are refused."""
    lookup = import_headers.KINDS[kind].lookup() if kind else {}
    names: dict[str, str] = {}
    taken: dict[str, str] = {}
    errors = []
    for h in headers:
        key = import_headers.normalise(h)
        name = key if key in columns else lookup.get(key, h.strip().lower())
        if name in taken:
            errors.append(RowError(1, name, f"given twice: {taken[name]!r} and {h!r}"))
        taken[name] = h
        names[h] = name
    if errors:
        raise ImportRejected(errors)
    return names


def row_structs(
    df: pl.DataFrame, struct: type[msgspec.Struct], defaults: Mapping[str, Any]
) -> tuple[list[tuple[int, Any]], list[RowError]]:
    parsed: list[tuple[int, Any]] = []
    errors: list[RowError] = []
    with progress.task("Checking rows", df.height) as shown:
        for i, raw in enumerate(df.iter_rows(named=True)):
            _check_row(struct, defaults, i + 2, raw, parsed, errors)
            shown.advance()
    return parsed, errors


def _check_row(
    struct: type[msgspec.Struct],
    defaults: Mapping[str, Any],
    rownum: int,
    raw: dict[str, Any],
    parsed: list[tuple[int, Any]],
    errors: list[RowError],
) -> None:
    row = {k: v for k, v in raw.items() if v is not None}
    for k, v in defaults.items():
        row.setdefault(k, v)
    row_errors = []
    for name in struct.__struct_fields__:
        try:
            msgspec.convert(
                {name: row[name]} if name in row else {}, _single(struct, name), strict=False
            )
        except msgspec.ValidationError as exc:
            row_errors.append(RowError(rownum, name, _reason(exc)))
    if row_errors:
        errors.extend(row_errors)
        return
    parsed.append((rownum, msgspec.convert(row, struct, strict=False)))


_single_cache: dict[tuple[type, str], type] = {}


def _single(struct: type[msgspec.Struct], name: str) -> type:
    """A one-field struct, so every field of a row is checked, not just the first bad one."""
    key = (struct, name)
    if key not in _single_cache:
        hint = get_type_hints(struct)[name]
        idx = struct.__struct_fields__.index(name)
        first_default = len(struct.__struct_fields__) - len(struct.__struct_defaults__)
        spec: tuple[str, Any] | tuple[str, Any, Any] = (
            (name, hint, struct.__struct_defaults__[idx - first_default])
            if idx >= first_default
            else (name, hint)
        )
        _single_cache[key] = msgspec.defstruct(f"{struct.__name__}_{name}", [spec])
    return _single_cache[key]


def _reason(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    return plain_problem(text.split(" - at ")[0] if " - at " in text else text)
