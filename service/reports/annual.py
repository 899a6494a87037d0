"""The bureau's annual report, computed from the live records: the 12315 intake, counter
visits, Red Shield spot checks, the published satisfaction scores and the certificates.

Four small reads (SQL), then pure polars over them (``figures``), so the JSON, the page, the
PDF and the spreadsheet are one computation. The year is the bureau's: Beijing time. A record
counts in the year it was received; a spot check in the year its round was held; a district's
figures are those of the records its bureau handles (a campaign run by the city bureau counts
for the city, not a district).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import polars as pl

from service.kernel.db import connection
from service.kernel.errors import NotFound
from service.kernel.localtime import LOCAL_TZ, as_utc, year_bounds
from service.kernel.models import Area, AreaKind
from service.kernel.proportion import wilson
from service.reports.schemas import (
    AllChannels,
    AnnualReport,
    CertificateFigures,
    ChannelFigures,
    ConsumerAssociation,
    CreditRepairs,
    DistrictFigures,
    FollowUps,
    MonthFigures,
    OnlineSettlement,
    Satisfaction,
    SpotChecks,
)

CITY_LEVEL = ""  # the district code of what the city bureau handles itself
CITY_LEVEL_NAME = "市本级"
CHANNELS = ("hotline", "web", "wechat", "sms", "qq", "walk_in", "letter", "other", "")
KINDS = ("consultation", "complaint", "report")
CERT_KINDS = ("merchant", "street", "scenic_spot")
CERT_STATUSES = ("active", "suspended", "revoked", "expired")
# The handling bodies of the follow-up breakdown. A complaint the merchant settled itself
# (online dispute resolution, before the regulator accepted it: what
# scoring.credit.complaints.settled_before_the_regulator tells) keeps on its intake record the
# handler its category would have gone to, but that body never handled it: what the consumer
# said at the follow-up is of the merchant's settlement, so the merchant is a body of its own.
# The three partition the records: each follow-up counts under exactly one of them.
MERCHANT_BODY = "merchant"
HANDLERS = ("regulator", "consumer_association", MERCHANT_BODY)
_FEN = Decimal("0.01")
# Below 30 answers a follow-up rate is printed as "too few answers": at n = 30 and a usual
# rate near 90% the 95% Wilson interval is already about 74–97% (±11 points), and one answer
# moves the rate by more than 3 points; fewer would print a precise-looking % that says little.
MIN_ANSWERS = 30


def yuan(fen: int) -> Decimal:
    """Fen as yuan with exactly two decimals."""
    return (Decimal(fen) / 100).quantize(_FEN)


def percent(part: int, whole: int) -> float | None:
    """A share in percent with one decimal, as the bureau prints it (721/746 → 96.6)."""
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1")))


async def _rows(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Run ``sql`` written with PostgreSQL's $n placeholders, each used once and in order, so
    that SQLite's ``?`` takes the same parameters."""
    if connection().capabilities.dialect != "postgres":
        sql = re.sub(r"\$\d+", "?", sql)
    return list(await connection().execute_query_dict(sql, params))


def _utc(value: Any) -> datetime:
    return as_utc(datetime.fromisoformat(value) if isinstance(value, str) else value)


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


_INTAKE_SQL = (
    "SELECT c.kind, COALESCE(c.channel, '') AS channel, c.handled_by, c.received_at,"
    " COALESCE(c.followup, '') AS followup, COALESCE(c.resolution, '') AS resolution,"
    " c.accepted_at IS NOT NULL AS accepted,"
    " c.closed_at IS NOT NULL AS closed, c.amount_disputed_fen, c.amount_recovered_fen,"
    " COALESCE(d.code, '') AS district"
    " FROM complaint c LEFT JOIN area d ON d.id = c.handling_district_id"
    " WHERE c.received_at >= $1 AND c.received_at < $2"
)
# Complaints filed online that ended in the year (a merchant's settlement never reaches the
# intake, so it is read here): their ending and the merchant's district.
_ONLINE_SQL = (
    "SELECT COALESCE(x.resolution, '') AS resolution, COALESCE(a.code, '') AS district"
    " FROM dispute x LEFT JOIN area a ON a.id = x.district_id"
    " WHERE x.closed_at >= $1 AND x.closed_at < $2"
)
# Credit repair applications submitted or decided in the year, by the merchant's district.
_REPAIRS_SQL = (
    "SELECT r.status, r.submitted_at >= $1 AND r.submitted_at < $2 AS submitted,"
    " r.decided_at IS NOT NULL AND r.decided_at >= $3 AND r.decided_at < $4 AS decided,"
    " COALESCE(a.code, '') AS district"
    " FROM credit_repair r LEFT JOIN area a ON a.id = r.district_id"
    " WHERE (r.submitted_at >= $5 AND r.submitted_at < $6)"
    " OR (r.decided_at >= $7 AND r.decided_at < $8)"
)
_VISITS_SQL = (
    "SELECT v.day, v.visits + v.consultations AS people, COALESCE(d.code, '') AS district"
    " FROM counter_visit v LEFT JOIN area d ON d.id = v.district_id"
    " WHERE v.day >= $1 AND v.day <= $2"
)
_SPOT_SQL = (
    "SELECT r.id AS round_id, b.category, b.failed, b.case_opened,"
    " COALESCE(d.code, '') AS district"
    " FROM spot_check_round r JOIN spot_check_campaign c ON c.id = r.campaign_id"
    " JOIN spot_check_batch b ON b.round_id = r.id"
    " LEFT JOIN area d ON d.id = c.district_id"
    " WHERE r.held_on >= $1 AND r.held_on <= $2"
)
# A certificate's district: its merchant's, or its street's or scenic spot's parent.
_CERT_SQL = (
    "SELECT c.id, c.kind, c.status, c.issued_at, c.valid_until,"
    " COALESCE(md.code, ad.code, '') AS district,"
    " (SELECT s.new_status FROM certificate_status_change s WHERE s.certificate_id = c.id"
    "  AND s.at < $1 ORDER BY s.at DESC, s.id DESC LIMIT 1) AS status_then,"
    " (SELECT MIN(s.at) FROM certificate_status_change s WHERE s.certificate_id = c.id"
    "  AND s.new_status = 'revoked') AS revoked_at"
    " FROM certificate c"
    " LEFT JOIN merchant m ON c.kind = 'merchant' AND m.uscc = c.subject_code"
    " LEFT JOIN area md ON md.id = m.district_id"
    " LEFT JOIN area a ON c.kind <> 'merchant' AND a.code = c.subject_code"
    " LEFT JOIN area ad ON ad.id = a.parent_id AND ad.kind = 'district'"
    " WHERE c.issued_at < $2"
)
_RUN_SQL = (
    "SELECT id FROM score_run WHERE published_at IS NOT NULL"
    " AND window_until > $1 AND window_until <= $2"
    " ORDER BY window_until DESC, id DESC LIMIT 1"
)
_SAT_SQL = (
    "SELECT u.kind, u.code, u.score, u.ci_low, u.ci_high, u.n, r.id AS run_id"
    " FROM unit_score u JOIN score_run r ON r.id = u.run_id"
    " WHERE r.id = $1 AND u.kind IN ('city', 'district')"
)


@dataclass(frozen=True, slots=True)
class Frames:
    intake: pl.DataFrame
    visits: pl.DataFrame
    spot: pl.DataFrame
    certificates: pl.DataFrame
    satisfaction: pl.DataFrame
    online: pl.DataFrame
    repairs: pl.DataFrame


async def read_frames(year: int) -> Frames:
    since, until = year_bounds(year)
    intake = await _rows(_INTAKE_SQL, [since, until])
    first, last = date(year, 1, 1), date(year, 12, 31)
    visits = await _rows(_VISITS_SQL, [first, last])
    spot = await _rows(_SPOT_SQL, [first, last])
    certs = await _rows(_CERT_SQL, [until, until])
    # The scores of the year: the last published run whose window ends in it.
    runs = await _rows(_RUN_SQL, [since, until])
    sat = await _rows(_SAT_SQL, [runs[0]["id"]]) if runs else []
    online = await _rows(_ONLINE_SQL, [since, until])
    repairs = await _rows(_REPAIRS_SQL, [since, until] * 4)
    return Frames(
        intake=pl.DataFrame(
            {
                "kind": [r["kind"] for r in intake],
                "channel": [r["channel"] for r in intake],
                "handled_by": [r["handled_by"] for r in intake],
                "followup": [r["followup"] for r in intake],
                "resolution": [r["resolution"] for r in intake],
                "accepted": [bool(r["accepted"]) for r in intake],
                "month": [_utc(r["received_at"]).astimezone(LOCAL_TZ).month for r in intake],
                "closed": [bool(r["closed"]) for r in intake],
                "disputed_fen": [int(r["amount_disputed_fen"]) for r in intake],
                "recovered_fen": [int(r["amount_recovered_fen"]) for r in intake],
                "district": [r["district"] for r in intake],
            },
            schema={
                "kind": pl.String,
                "channel": pl.String,
                "handled_by": pl.String,
                "followup": pl.String,
                "resolution": pl.String,
                "accepted": pl.Boolean,
                "month": pl.Int8,
                "closed": pl.Boolean,
                "disputed_fen": pl.Int64,
                "recovered_fen": pl.Int64,
                "district": pl.String,
            },
        ),
        visits=pl.DataFrame(
            {
                "people": [int(r["people"]) for r in visits],
                "district": [r["district"] for r in visits],
            },
            schema={"people": pl.Int64, "district": pl.String},
        ),
        spot=pl.DataFrame(
            {
                "round_id": [int(r["round_id"]) for r in spot],
                "category": [r["category"] for r in spot],
                "failed": [bool(r["failed"]) for r in spot],
                "case_opened": [bool(r["case_opened"]) for r in spot],
                "district": [r["district"] for r in spot],
            },
            schema={
                "round_id": pl.Int64,
                "category": pl.String,
                "failed": pl.Boolean,
                "case_opened": pl.Boolean,
                "district": pl.String,
            },
        ),
        certificates=pl.DataFrame(
            {
                "kind": [r["kind"] for r in certs],
                "status": [_status_at_end(r, until) for r in certs],
                "issued": [_utc(r["issued_at"]) >= since for r in certs],
                "withdrawn": [
                    r["revoked_at"] is not None and since <= _utc(r["revoked_at"]) < until
                    for r in certs
                ],
                "district": [r["district"] for r in certs],
            },
            schema={
                "kind": pl.String,
                "status": pl.String,
                "issued": pl.Boolean,
                "withdrawn": pl.Boolean,
                "district": pl.String,
            },
        ),
        satisfaction=pl.DataFrame(
            sat,
            schema={
                "kind": pl.String,
                "code": pl.String,
                "score": pl.Float64,
                "ci_low": pl.Float64,
                "ci_high": pl.Float64,
                "n": pl.Int64,
                "run_id": pl.Int64,
            },
        ),
        online=pl.DataFrame(
            {
                "resolution": [r["resolution"] for r in online],
                "district": [r["district"] for r in online],
            },
            schema={"resolution": pl.String, "district": pl.String},
        ),
        repairs=pl.DataFrame(
            {
                "status": [r["status"] for r in repairs],
                # SQLite answers a comparison with 0 or 1.
                "submitted": [bool(r["submitted"]) for r in repairs],
                "decided": [bool(r["decided"]) for r in repairs],
                "district": [r["district"] for r in repairs],
            },
            schema={
                "status": pl.String,
                "submitted": pl.Boolean,
                "decided": pl.Boolean,
                "district": pl.String,
            },
        ),
    )


def _status_at_end(row: dict[str, Any], until: datetime) -> str:
    """A certificate's status as the year ended: its last change before then, and expired if
    it ran out while still active."""
    status = str(row["status_then"] or "active")
    if status == "active" and _utc(row["valid_until"]) < until:
        return "expired"
    return status


def _consumer_association(intake: pl.DataFrame) -> ConsumerAssociation:
    ca = intake.filter(
        (pl.col("kind") == "complaint") & (pl.col("handled_by") == "consumer_association")
    )
    received, closed = ca.height, int(ca["closed"].sum())
    return ConsumerAssociation(
        complaints_received=received,
        complaints_closed=closed,
        closure_rate=percent(closed, received),
        amount_recovered=yuan(int(ca["recovered_fen"].sum())),
    )


def _kind_counts(frame: pl.DataFrame) -> dict[str, int]:
    counts = dict.fromkeys(KINDS, 0)
    for kind, n in frame.group_by("kind").len().iter_rows():
        counts[kind] = int(n)
    return counts


def _all_channels(intake: pl.DataFrame) -> AllChannels:
    counts = _kind_counts(intake)
    return AllChannels(
        consultations=counts["consultation"],
        complaints=counts["complaint"],
        reports=counts["report"],
        total=intake.height,
        amount_disputed=yuan(int(intake["disputed_fen"].sum())),
        amount_recovered=yuan(int(intake["recovered_fen"].sum())),
    )


def _followups(intake: pl.DataFrame) -> FollowUps:
    counts = dict.fromkeys(("satisfied", "basically_satisfied", "dissatisfied", "not_reached"), 0)
    for answer, n in intake.filter(pl.col("followup") != "").group_by("followup").len().iter_rows():
        counts[answer] = int(n)
    answered = counts["satisfied"] + counts["basically_satisfied"] + counts["dissatisfied"]
    pleased = counts["satisfied"] + counts["basically_satisfied"]
    out = FollowUps(
        satisfied=counts["satisfied"],
        basically_satisfied=counts["basically_satisfied"],
        dissatisfied=counts["dissatisfied"],
        not_reached=counts["not_reached"],
        satisfaction_rate=None,
        answered=answered,
    )
    if answered < MIN_ANSWERS:
        return out  # "too few answers": a % of so few would look more certain than it is
    low, high = wilson(pleased, answered)
    out.satisfaction_rate = percent(pleased, answered)
    out.ci_low, out.ci_high = _one_decimal(low * 100), _one_decimal(high * 100)
    out.too_few = False
    return out


def _one_decimal(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.1")))


def handling_body() -> pl.Expr:
    """Who handled an intake record, for the follow-up breakdown: the merchant when it settled
    the complaint before the regulator accepted it, else the record's handler."""
    settled_by_merchant = (pl.col("resolution") == "merchant_odr") & ~pl.col("accepted")
    return (
        pl.when(settled_by_merchant)
        .then(pl.lit(MERCHANT_BODY))
        .otherwise(pl.col("handled_by"))
        .alias("body")
    )


def _followups_by_handler(intake: pl.DataFrame) -> dict[str, FollowUps]:
    bodies = intake.with_columns(handling_body())
    return {h: _followups(bodies.filter(pl.col("body") == h)) for h in HANDLERS}


def _online(online: pl.DataFrame) -> OnlineSettlement:
    settled = online.filter(pl.col("resolution") == "merchant_odr").height
    return OnlineSettlement(
        closed=online.height,
        merchant_odr=settled,
        merchant_odr_share=percent(settled, online.height),
    )


def _repairs(repairs: pl.DataFrame) -> CreditRepairs:
    decided = repairs.filter(pl.col("decided"))
    return CreditRepairs(
        submitted=int(repairs["submitted"].sum()),
        approved=decided.filter(pl.col("status") == "approved").height,
        refused=decided.filter(pl.col("status") == "refused").height,
    )


def _spot_checks(spot: pl.DataFrame) -> SpotChecks:
    return SpotChecks(
        rounds=spot["round_id"].n_unique() if spot.height else 0,
        categories=spot["category"].n_unique() if spot.height else 0,
        batches=spot.height,
        batches_failed=int(spot["failed"].sum()),
        cases_opened=int(spot["case_opened"].sum()),
    )


def _certificates(certs: pl.DataFrame) -> dict[str, CertificateFigures]:
    out = {}
    for kind in CERT_KINDS:
        of = certs.filter(pl.col("kind") == kind)
        by_status = dict.fromkeys(CERT_STATUSES, 0)
        for status, n in of.group_by("status").len().iter_rows():
            by_status[status] = int(n)
        out[kind] = CertificateFigures(
            **by_status,
            issued_in_year=int(of["issued"].sum()),
            withdrawn_in_year=int(of["withdrawn"].sum()),
        )
    return out


def _satisfaction(sat: pl.DataFrame, kind: str, code: str) -> Satisfaction:
    row = sat.filter((pl.col("kind") == kind) & (pl.col("code") == code))
    if row.is_empty():
        return Satisfaction(None, None, None, 0, None)
    r = row.row(0, named=True)
    return Satisfaction(r["score"], r["ci_low"], r["ci_high"], int(r["n"]), r["run_id"])


def _of(frame: pl.DataFrame, district: str) -> pl.DataFrame:
    return frame.filter(pl.col("district") == district)


def figures(
    frames: Frames, year: int, districts: dict[str, str], only: str | None = None
) -> AnnualReport:
    """The report of one year: the whole city, or only district ``only``. ``districts``
    names the districts (code → name) to break the figures down by."""
    f = frames
    if only is not None:
        f = Frames(
            _of(f.intake, only),
            _of(f.visits, only),
            _of(f.spot, only),
            _of(f.certificates, only),
            f.satisfaction,
            _of(f.online, only),
            _of(f.repairs, only),
        )
        districts = {only: districts[only]}
    present = set(f.intake["district"]) | set(f.visits["district"]) | set(f.spot["district"])
    rows = [(code, name) for code, name in sorted(districts.items())]
    if only is None and CITY_LEVEL in present:
        rows.append((CITY_LEVEL, CITY_LEVEL_NAME))
    by_district = [
        DistrictFigures(
            district=code,
            district_name=name,
            consumer_association=_consumer_association(_of(f.intake, code)),
            all_channels=_all_channels(_of(f.intake, code)),
            followups=_followups(_of(f.intake, code)),
            visits_and_consultations=int(_of(f.visits, code)["people"].sum()),
            spot_checks=_spot_checks(_of(f.spot, code)),
            satisfaction=_satisfaction(f.satisfaction, "district", code),
            certificates=_certificates(_of(f.certificates, code)),
            followups_by_handler=_followups_by_handler(_of(f.intake, code)),
            online=_online(_of(f.online, code)),
            repairs=_repairs(_of(f.repairs, code)),
        )
        for code, name in rows
    ]
    channel_rows = []
    for channel in CHANNELS:
        of = f.intake.filter(pl.col("channel") == channel)
        if channel == "" and of.is_empty():
            continue  # "not stated" shows only when some record did not say
        counts = _kind_counts(of)
        channel_rows.append(
            ChannelFigures(
                channel=channel or "unstated",
                consultations=counts["consultation"],
                complaints=counts["complaint"],
                reports=counts["report"],
                total=of.height,
                share=percent(of.height, f.intake.height),
            )
        )
    months = []
    for month in range(1, 13):
        of = f.intake.filter(pl.col("month") == month)
        counts = _kind_counts(of)
        months.append(
            MonthFigures(
                month=f"{year}-{month:02d}",
                consultations=counts["consultation"],
                complaints=counts["complaint"],
                reports=counts["report"],
                total=of.height,
                amount_recovered=yuan(int(of["recovered_fen"].sum())),
            )
        )
    scope_kind, scope_code = ("district", only) if only else ("city", "city")
    return AnnualReport(
        year=year,
        district=only,
        district_name=districts[only] if only else None,
        generated_at=datetime.now(UTC).replace(microsecond=0),
        consumer_association=_consumer_association(f.intake),
        all_channels=_all_channels(f.intake),
        followups=_followups(f.intake),
        visits_and_consultations=int(f.visits["people"].sum()),
        spot_checks=_spot_checks(f.spot),
        satisfaction=_satisfaction(f.satisfaction, scope_kind, scope_code),
        certificates=_certificates(f.certificates),
        by_district=by_district,
        by_channel=channel_rows,
        by_month=months,
        followups_by_handler=_followups_by_handler(f.intake),
        online=_online(f.online),
        repairs=_repairs(f.repairs),
    )


async def annual_report(year: int, district: str | None = None) -> AnnualReport:
    """The report of ``year`` (whole city, or one district by code: unknown is NotFound)."""
    names = dict(await Area.filter(kind=AreaKind.DISTRICT).values_list("code", "name_zh"))
    if district is not None and district not in names:
        raise NotFound(f"No district with code {district}")
    return figures(await read_frames(year), year, names, district)
