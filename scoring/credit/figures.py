"""The figures officials report: complaints per period and district (received, closed, closure
rate, overdue, money in dispute and recovered) and merchant credit classes per street and
scenic spot. Pure polars over two small reads; the same frames feed the API, the page and the
CSV/XLSX exports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import polars as pl

from scoring.credit.rules import CLASSES, Rules
from scoring.credit.store import start_state
from scoring.credit.workdays import LOCAL_TZ
from service.kernel.db import connection
from service.kernel.localtime import as_utc

Period = Literal["year", "quarter", "month"]
PERIODS: tuple[Period, ...] = ("year", "quarter", "month")
CITY_TOTAL = "全市"  # the district column of the whole-city row

COMPLAINT_COLUMNS = (
    "period",
    "district",
    "district_name",
    "received",
    "closed",
    "closure_rate",
    "overdue",
    "upheld",
    "amount_disputed",
    "amount_recovered",
)


@dataclass(frozen=True, slots=True)
class ComplaintQuery:
    period: Period = "year"
    district: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def _rows(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return list(await connection().execute_query_dict(sql, params))


def _placeholder(n: int) -> str:
    return f"${n}" if connection().capabilities.dialect == "postgres" else "?"


# Complaints only (not consultations or reports), by the district that handles them.
_COMPLAINTS_SQL = (
    "SELECT c.received_at, c.status, c.closed_at IS NOT NULL AS closed,"
    " c.overdue_since IS NOT NULL AS overdue, c.upheld, c.amount_disputed_fen,"
    " c.amount_recovered_fen, COALESCE(d.code, '') AS district,"
    " COALESCE(d.name_zh, '市本级') AS district_name"
    " FROM complaint c LEFT JOIN area d ON d.id = c.handling_district_id"
    " WHERE c.kind = 'complaint'"
)
# Each merchant's complaints of the window counted once, in one pass over the complaints: a
# count per merchant row would read the window once for every merchant.
_CLASS_SQL = (
    "SELECT m.id, s.code AS street, s.name_zh AS street_name, sp.code AS spot,"
    " sp.name_zh AS spot_name, d.code AS district, cs.risk_class,"
    " cs.abnormal_listed, cs.serious_listed,"
    " COALESCE(cc.complaints, 0) AS complaints, COALESCE(cc.upheld, 0) AS upheld"
    " FROM merchant m JOIN area d ON d.id = m.district_id"
    " LEFT JOIN area s ON s.id = m.street_id LEFT JOIN area sp ON sp.id = m.scenic_spot_id"
    " LEFT JOIN credit_standing cs ON cs.merchant_id = m.id"
    " LEFT JOIN (SELECT merchant_id, COUNT(*) AS complaints,"
    "  SUM(CASE WHEN upheld THEN 1 ELSE 0 END) AS upheld FROM complaint"
    "  WHERE merchant_id IS NOT NULL AND kind = 'complaint' AND received_at >= :since"
    "  GROUP BY merchant_id) cc ON cc.merchant_id = m.id"
    " WHERE m.status = 'active'"
)


async def complaint_frame(q: ComplaintQuery) -> pl.DataFrame:
    where: list[str] = []
    params: list[Any] = []
    if q.district:
        params.append(q.district)
        where.append(f"d.code = {_placeholder(len(params))}")
    # Compared as UTC (SQLite compares the stored UTC text).
    if q.since:
        params.append(_utc(q.since))
        where.append(f"c.received_at >= {_placeholder(len(params))}")
    if q.until:
        params.append(_utc(q.until))
        where.append(f"c.received_at < {_placeholder(len(params))}")
    clause = "".join(f" AND {w}" for w in where)
    rows = await _rows(_COMPLAINTS_SQL + clause, params)
    return pl.DataFrame(
        {
            "received_at": [_utc(r["received_at"]) for r in rows],
            "closed": [bool(r["closed"]) for r in rows],
            "overdue": [bool(r["overdue"]) for r in rows],
            "upheld": [bool(r["upheld"]) for r in rows],
            "amount_disputed_fen": [int(r["amount_disputed_fen"]) for r in rows],
            "amount_recovered_fen": [int(r["amount_recovered_fen"]) for r in rows],
            "district": [r["district"] for r in rows],
            "district_name": [r["district_name"] for r in rows],
        },
        schema={
            "received_at": pl.Datetime("us", "UTC"),
            "closed": pl.Boolean,
            "overdue": pl.Boolean,
            "upheld": pl.Boolean,
            "amount_disputed_fen": pl.Int64,
            "amount_recovered_fen": pl.Int64,
            "district": pl.String,
            "district_name": pl.String,
        },
    )


def _utc(value: Any) -> datetime:
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _period_label(period: Period) -> pl.Expr:
    local = pl.col("received_at").dt.convert_time_zone(str(LOCAL_TZ))
    year = local.dt.year().cast(pl.String)
    if period == "year":
        return year
    if period == "quarter":
        return pl.concat_str(year, pl.lit("-Q"), local.dt.quarter().cast(pl.String))
    return pl.concat_str(year, pl.lit("-"), local.dt.month().cast(pl.String).str.zfill(2))


def complaint_figures(frame: pl.DataFrame, period: Period) -> pl.DataFrame:
    """Per period and district, then the whole city per period; newest period first."""
    labelled = frame.with_columns(_period_label(period).alias("period"))
    sums = [
        pl.len().alias("received"),
        pl.col("closed").sum().alias("closed"),
        pl.col("overdue").sum().alias("overdue"),
        pl.col("upheld").sum().alias("upheld"),
        pl.col("amount_disputed_fen").sum().alias("disputed_fen"),
        pl.col("amount_recovered_fen").sum().alias("recovered_fen"),
    ]
    by_district = labelled.group_by("period", "district", "district_name").agg(sums)
    city = (
        labelled.group_by("period")
        .agg(sums)
        .with_columns(
            pl.lit(CITY_TOTAL).alias("district"), pl.lit(CITY_TOTAL).alias("district_name")
        )
    )
    both = pl.concat([by_district, city.select(by_district.columns)])
    return (
        both.with_columns(
            (pl.col("closed") / pl.col("received")).round(4).alias("closure_rate"),
            (pl.col("disputed_fen") / 100).round(2).alias("amount_disputed"),
            (pl.col("recovered_fen") / 100).round(2).alias("amount_recovered"),
            (pl.col("district") == CITY_TOTAL).alias("_total"),
        )
        .sort(["period", "_total", "district"], descending=[True, False, False])
        .select(COMPLAINT_COLUMNS)
        .cast({"received": pl.Int64, "closed": pl.Int64, "overdue": pl.Int64, "upheld": pl.Int64})
    )


async def complaints_report(q: ComplaintQuery) -> pl.DataFrame:
    """Per period and district; the total row sums what the query covered (the city, or the
    one district asked for: what the desk reads)."""
    return complaint_figures(await complaint_frame(q), q.period)


def shown(figures: pl.DataFrame, district: str | None) -> pl.DataFrame:
    """The figures as a table shows them: for one district, no total row, which would only
    repeat its figures under the name of the whole city."""
    return figures.filter(pl.col("district") != CITY_TOTAL) if district else figures


CLASS_COLUMNS = (
    "kind",
    "code",
    "name",
    "district",
    "merchants",
    "A",
    "B",
    "C",
    "D",
    "share_cd",
    "abnormal_listed",
    "serious_listed",
    "complaints_12m",
    "upheld_12m",
)


async def class_frame(now: datetime) -> pl.DataFrame:
    """Active merchants with their area, class (the start for those with no events yet) and
    their complaints of the last twelve months."""
    since = now - timedelta(days=365)
    if connection().capabilities.dialect == "postgres":
        rows = await _rows(_CLASS_SQL.replace(":since", "$1"), [since])
    else:
        rows = await _rows(_CLASS_SQL.replace(":since", "?"), [since])
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.Int64,
            "street": pl.String,
            "street_name": pl.String,
            "spot": pl.String,
            "spot_name": pl.String,
            "district": pl.String,
            "risk_class": pl.String,
            "abnormal_listed": pl.Boolean,
            "serious_listed": pl.Boolean,
            "complaints": pl.Int64,
            "upheld": pl.Int64,
        },
        orient="row",
    )


_COUNTS = (
    *CLASSES,
    "merchants",
    "abnormal_listed",
    "serious_listed",
    "complaints_12m",
    "upheld_12m",
)


def class_distribution(frame: pl.DataFrame, rules: Rules) -> pl.DataFrame:
    """Per street and scenic spot: merchants by class, the share in C or D, listings and
    complaints; most troubled first."""
    start = start_state(rules).risk_class
    merchants = frame.with_columns(
        pl.col("risk_class").fill_null(start),
        pl.col("abnormal_listed", "serious_listed").fill_null(False),
    )
    parts = []
    for kind, code, name in (
        ("street", "street", "street_name"),
        ("scenic_spot", "spot", "spot_name"),
    ):
        parts.append(
            merchants.filter(pl.col(code).is_not_null())
            .group_by(pl.col(code).alias("code"), pl.col(name).alias("name"), "district")
            .agg(
                pl.len().alias("merchants"),
                *[(pl.col("risk_class") == c).sum().alias(c) for c in CLASSES],
                pl.col("abnormal_listed").sum().alias("abnormal_listed"),
                pl.col("serious_listed").sum().alias("serious_listed"),
                pl.col("complaints").sum().alias("complaints_12m"),
                pl.col("upheld").sum().alias("upheld_12m"),
            )
            .with_columns(pl.lit(kind).alias("kind"))
        )
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(CLASS_COLUMNS, pl.String))
    out = pl.concat(parts).with_columns(
        ((pl.col("C") + pl.col("D")) / pl.col("merchants")).round(4).alias("share_cd")
    )
    return (
        out.sort(["share_cd", "kind", "code"], descending=[True, False, False])
        .select(CLASS_COLUMNS)
        .cast(dict.fromkeys(_COUNTS, pl.Int64))
    )


async def classes_report(
    rules: Rules, kind: str | None = None, now: datetime | None = None
) -> pl.DataFrame:
    out = class_distribution(await class_frame(now or datetime.now(UTC)), rules)
    return out.filter(pl.col("kind") == kind) if kind else out
