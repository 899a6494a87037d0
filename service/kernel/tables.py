"""Tables a person hands us (CSV or XLSX exports of a register or a feed): read as text
columns, each row checked field by field, every problem named by row and column, so a file is
taken whole or refused whole with all its problems listed."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

import msgspec
import polars as pl

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


def read_table(path: Path, columns: Iterable[str], required: Iterable[str]) -> pl.DataFrame:
    """Read CSV or XLSX as text columns; missing optional columns become empty."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            df = pl.read_csv(path, infer_schema=False, encoding="utf8")
        elif suffix in (".xlsx", ".xlsm"):
            df = pl.read_excel(path, infer_schema_length=0)
            df = df.with_columns(pl.all().cast(pl.String))
        else:
            df = None
    except Exception as exc:
        # Not UTF-8, ragged rows, a damaged workbook: say so instead of a traceback.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportRejected([RowError(0, "file", f"cannot be read: {reason}")]) from exc
    if df is None:
        raise ImportRejected(
            [RowError(0, "file", f"unsupported file type {suffix or '?'} (use .csv or .xlsx)")]
        )
    df = df.rename({c: c.strip().lower() for c in df.columns})
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ImportRejected([RowError(1, c, "column is missing") for c in missing])
    extra = [c for c in df.columns if c not in columns]
    if extra:
        raise ImportRejected([RowError(1, c, "unknown column") for c in extra])
    for c in columns:
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias(c))
    return df.select([pl.col(c).str.strip_chars().replace("", None).alias(c) for c in columns])


def row_structs(
    df: pl.DataFrame, struct: type[msgspec.Struct], defaults: Mapping[str, Any]
) -> tuple[list[tuple[int, Any]], list[RowError]]:
    parsed: list[tuple[int, Any]] = []
    errors: list[RowError] = []
    for i, raw in enumerate(df.iter_rows(named=True)):
        rownum = i + 2
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
            continue
        parsed.append((rownum, msgspec.convert(row, struct, strict=False)))
    return parsed, errors


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
