"""Officials' view of the responses: filtered pages, figures, and streamed exports.

Exports walk the table in id order in fixed-size batches (keyset paging), so a 500,000-row
export holds one batch in memory at a time, whatever the format.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import anyio
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from tortoise.expressions import Subquery

from service.kernel import columns, scope
from service.kernel.disk import saving
from service.kernel.errors import NotFound
from service.kernel.exports import (
    WORKBOOK_OPTIONS,
    HeaderStyle,
    Sheet,
    dictionary,
    headers_of,
    neutralise,
)
from service.kernel.localtime import XLSX_DATETIME, as_utc, export_text, spreadsheet_datetime
from service.kernel.models import Area
from surveys.models import Answer, FlagStatus, Response, ResponseFlag, Survey
from surveys.schemas import DayCount, ResponseOut, SurveyStats, TargetCount

EXPORT_BATCH = 5000
BASE_COLUMNS = (
    "id",
    "version",
    "target_kind",
    "target_code",
    "submitted_at",
    "duration_ms",
    "channel",
    "invited",
    "excluded",
    "flags",
)


@dataclass(frozen=True, slots=True)
class ResponseFilter:
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    excluded: bool | None = None
    # A district's official sees the responses about its district's targets only.
    within: Area | None = None


def _about(within: Area | None) -> Any:
    return scope.targets(within, code="target_code", kind="target_kind")


async def survey_by_slug(slug: str) -> Survey:
    survey = await Survey.get_or_none(slug=slug)
    if survey is None:
        raise NotFound(f"No survey {slug!r}")
    return survey


def _query(survey: Survey, f: ResponseFilter) -> Any:
    qs = Response.filter(survey_id=survey.id).filter(_about(f.within))
    if f.target:
        qs = qs.filter(target_code=f.target)
    if f.since:
        qs = qs.filter(submitted_at__gte=as_utc(f.since))
    if f.until:
        qs = qs.filter(submitted_at__lt=as_utc(f.until))
    if f.excluded is not None:
        qs = qs.filter(excluded=f.excluded)
    return qs


async def _hydrate(rows: Sequence[dict[str, Any]]) -> list[ResponseOut]:
    ids = [r["id"] for r in rows]
    answers: dict[int, dict[str, Any]] = {i: {} for i in ids}
    flags: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for a in (
            await Answer.filter(response_id__in=ids)
            .order_by("id")
            .values("response_id", "question_key", "value_num", "value_text")
        ):
            bucket = answers[a["response_id"]]
            value = a["value_num"] if a["value_num"] is not None else a["value_text"]
            if a["question_key"] in bucket:  # a multi-choice answer: several rows
                prior = bucket[a["question_key"]]
                bucket[a["question_key"]] = (
                    [*prior, value] if isinstance(prior, list) else [prior, value]
                )
            else:
                bucket[a["question_key"]] = value
        for fl in await ResponseFlag.filter(
            response_id__in=ids, status__in=[FlagStatus.RAISED, FlagStatus.CONFIRMED]
        ).values("response_id", "kind"):
            flags[fl["response_id"]].append(fl["kind"])
    return [
        ResponseOut(
            id=r["id"],
            version=r["version"],
            target_kind=r["target_kind"],
            target_code=r["target_code"],
            submitted_at=r["submitted_at"],
            duration_ms=r["duration_ms"],
            channel=r["channel"],
            invited=r["invited"],
            excluded=r["excluded"],
            flags=sorted(flags[r["id"]]),
            answers=answers[r["id"]],
        )
        for r in rows
    ]


# The response's own columns: the export's, less the flags (read from their own table).
_FIELDS = BASE_COLUMNS[:-1]


async def list_responses(
    slug: str, f: ResponseFilter, offset: int, limit: int
) -> tuple[list[ResponseOut], int]:
    survey = await survey_by_slug(slug)
    qs = _query(survey, f)
    total = await qs.count()
    rows = await qs.order_by("id").offset(offset).limit(limit).values(*_FIELDS)
    return await _hydrate(rows), total


async def batches(slug: str, f: ResponseFilter) -> AsyncIterator[list[ResponseOut]]:
    survey = await survey_by_slug(slug)
    last = 0
    while True:
        rows = (
            await _query(survey, f)
            .filter(id__gt=last)
            .order_by("id")
            .limit(EXPORT_BATCH)
            .values(*_FIELDS)
        )
        if not rows:
            return
        last = rows[-1]["id"]
        yield await _hydrate(rows)


async def question_keys(slug: str) -> list[str]:
    """Every question key of every version, in first-seen order: the export's columns."""
    return list(await question_texts(slug, "en"))


async def question_texts(slug: str, locale: str) -> dict[str, str]:
    """Every question key of every version, in first-seen order, with its text in
    ``locale`` (the latest version's): the export's answer columns and their headers."""
    from surveys.models import SurveyVersion

    survey = await survey_by_slug(slug)
    texts: dict[str, str] = {}
    field = "text_zh" if locale == "zh_CN" else "text_en"
    for v in await SurveyVersion.filter(survey_id=survey.id).order_by("version"):
        for q in v.definition["questions"]:  # type: ignore[attr-defined]
            texts[q["key"]] = q.get(field) or q["key"]
    return texts


@dataclass(frozen=True, slots=True)
class ExportHeaders:
    """The header row of a responses export: the catalog's labels in ``locale`` and each
    question's text (``headers="machine"``: the machine names and question keys)."""

    keys: list[str]
    row: list[str]
    dictionary: pl.DataFrame


async def export_headers(slug: str, headers: HeaderStyle, locale: str) -> ExportHeaders:
    texts = await question_texts(slug, locale)
    keys = list(texts)
    schema: dict[str, pl.DataType] = {
        **dict.fromkeys(BASE_COLUMNS, pl.String()),
        "id": pl.Int64(),
        "version": pl.Int32(),
        "submitted_at": pl.Datetime("us", "UTC"),
        "duration_ms": pl.Int64(),
        "invited": pl.Boolean(),
        "excluded": pl.Boolean(),
        **dict.fromkeys(keys, pl.String()),
    }
    sheet = Sheet(pl.DataFrame(schema=schema), "responses", texts)
    return ExportHeaders(keys, headers_of(sheet, headers, locale), dictionary([sheet], locale))


def _flat(r: ResponseOut, keys: Sequence[str]) -> list[Any]:
    row: list[Any] = [
        r.id,
        r.version,
        r.target_kind.value,
        r.target_code,
        export_text(r.submitted_at),  # Beijing time with its offset, as every export shows it
        r.duration_ms,
        r.channel,
        r.invited,
        r.excluded,
        ";".join(r.flags),
    ]
    for k in keys:
        v = r.answers.get(k)
        row.append(";".join(map(str, v)) if isinstance(v, list) else v)
    return row


def _batch_frame(batch: Sequence[ResponseOut], keys: Sequence[str]) -> pl.DataFrame:
    """One batch as a frame, through the shared neutraliser of every export: the answers
    are what anonymous respondents typed. Answer columns keep their type (a rating stays a
    number); a column mixing types becomes text."""
    columns = [*BASE_COLUMNS, *keys]
    rows = [_flat(r, keys) for r in batch]
    data = {name: [row[i] for row in rows] for i, name in enumerate(columns)}
    for name in keys:
        values = data[name]
        if len({type(v) for v in values if v is not None}) > 1:
            data[name] = [None if v is None else str(v) for v in values]
    return neutralise(pl.DataFrame(data, strict=False))


async def export_csv(
    slug: str, f: ResponseFilter, headers: HeaderStyle = "label", locale: str = "zh_CN"
) -> AsyncIterator[bytes]:
    shown = await export_headers(slug, headers, locale)
    keys = shown.keys
    buf = io.StringIO()
    writer = csv.writer(buf)
    # A BOM so that Excel opens the UTF-8 (Chinese) text correctly.
    writer.writerow(shown.row)
    yield ("\ufeff" + buf.getvalue()).encode()
    async for batch in batches(slug, f):
        yield _batch_frame(batch, keys).write_csv(include_header=False).encode()


async def export_file(
    slug: str,
    f: ResponseFilter,
    fmt: str,
    headers: HeaderStyle = "label",
    locale: str = "zh_CN",
) -> Path:
    """Write an XLSX or Parquet export to a temporary file batch by batch (the caller
    streams and deletes it); an XLSX's headers in ``locale``, with its data dictionary."""
    shown = await export_headers(slug, headers, locale)
    keys = shown.keys
    fd, name = tempfile.mkstemp(prefix="fangxin-export-", suffix=f".{fmt}")
    os.close(fd)
    path = Path(name)
    try:
        with saving("the export"):
            if fmt == "xlsx":
                await _write_xlsx(path, slug, f, shown, locale)
            else:
                await _write_parquet(path, slug, f, keys)
    except Exception:
        await anyio.Path(path).unlink(missing_ok=True)  # no half-written export left behind
        raise
    return path


async def _write_xlsx(
    path: Path, slug: str, f: ResponseFilter, shown: ExportHeaders, locale: str
) -> None:
    import xlsxwriter

    # Hand-built rather than polars' write_excel: constant_memory flushes each row to disk
    # as it is written, and polars' table needs every row at once. Safe all the same: the
    # options keep text as text, and each batch passes the shared neutraliser.
    book = xlsxwriter.Workbook(
        str(path),
        # Datetimes are written with this format: submitted_at as a Beijing date-time cell.
        {**WORKBOOK_OPTIONS, "constant_memory": True, "default_date_format": XLSX_DATETIME},
    )
    keys = shown.keys
    sheet = book.add_worksheet(columns.sheet_name("responses", locale))
    sheet.write_row(0, 0, shown.row)
    row_no = 1
    at = BASE_COLUMNS.index("submitted_at")
    async for batch in batches(slug, f):
        for r, row in zip(batch, _batch_frame(batch, keys).iter_rows(), strict=True):
            cells = list(row)
            cells[at] = spreadsheet_datetime(r.submitted_at)
            sheet.write_row(row_no, 0, cells)
            row_no += 1
    words = book.add_worksheet(columns.sheet_name_of(locale))
    words.write_row(0, 0, shown.dictionary.columns)
    for i, entry in enumerate(shown.dictionary.iter_rows(), start=1):
        words.write_row(i, 0, entry)
    await anyio.to_thread.run_sync(book.close)


async def _write_parquet(path: Path, slug: str, f: ResponseFilter, keys: list[str]) -> None:
    fields = [
        pa.field("id", pa.int64()),
        pa.field("version", pa.int32()),
        pa.field("target_kind", pa.string()),
        pa.field("target_code", pa.string()),
        pa.field("submitted_at", pa.timestamp("us", tz="UTC")),
        pa.field("duration_ms", pa.int64()),
        pa.field("channel", pa.string()),
        pa.field("invited", pa.bool_()),
        pa.field("excluded", pa.bool_()),
        pa.field("flags", pa.string()),
        *[pa.field(k, pa.string()) for k in keys],
    ]
    schema = pa.schema(fields)
    with pq.ParquetWriter(str(path), schema, compression="zstd") as writer:
        async for batch in batches(slug, f):
            columns: dict[str, list[Any]] = {fl.name: [] for fl in fields}
            for r in batch:
                flat = _flat(r, keys)
                flat[4] = r.submitted_at
                for name, value in zip(columns, flat, strict=True):
                    columns[name].append(
                        value if name in BASE_COLUMNS or value is None else str(value)
                    )
            writer.write_table(pa.Table.from_pydict(columns, schema=schema))


async def stats(slug: str, within: Area | None = None) -> SurveyStats:
    """Counts over the survey's responses (``within`` a district: those about its targets)."""
    survey = await survey_by_slug(slug)
    base = Response.filter(survey_id=survey.id).filter(_about(within))
    total = await base.count()
    excluded = await base.filter(excluded=True).count()
    flag_counts: dict[str, int] = {}
    for fl in await ResponseFlag.filter(
        response_id__in=Subquery(base.values("id")),
        status__in=[FlagStatus.RAISED, FlagStatus.CONFIRMED],
    ).values_list("kind", flat=True):
        flag_counts[str(fl)] = flag_counts.get(str(fl), 0) + 1
    per_target: dict[str, list[int]] = {}
    per_day: dict[date, int] = {}
    async for chunk in _chunks(survey.id, within):
        for code, was_excluded, at in chunk:
            t = per_target.setdefault(code, [0, 0])
            t[0] += 1
            t[1] += 1 if was_excluded else 0
            day = at.date()
            per_day[day] = per_day.get(day, 0) + 1
    return SurveyStats(
        survey=slug,
        responses=total,
        excluded=excluded,
        exclusion_rate=round(excluded / total, 4) if total else 0.0,
        flags=dict(sorted(flag_counts.items())),
        per_target=[TargetCount(c, n, x) for c, (n, x) in sorted(per_target.items())],
        per_day=[DayCount(d.isoformat(), n) for d, n in sorted(per_day.items())],
    )


async def _chunks(
    survey_id: int, within: Area | None
) -> AsyncIterator[list[tuple[str, bool, datetime]]]:
    last = 0
    while True:
        rows = (
            await Response.filter(survey_id=survey_id, id__gt=last)
            .filter(_about(within))
            .order_by("id")
            .limit(20_000)
            .values_list("id", "target_code", "excluded", "submitted_at")
        )
        if not rows:
            return
        last = rows[-1][0]
        yield [(r[1], bool(r[2]), r[3]) for r in rows]
