"""Wire shapes of the public complaint record: one merchant's, and the city's open data. The
data dictionary (``/api/v1/complaint-records/dictionary``) names every field below."""

from __future__ import annotations

from datetime import date

import msgspec

from scoring.disclosure.rules import ComplaintRecord, Rate


class RateOut(msgspec.Struct):
    """k of n; below the minimum of cases percent and its interval are null."""

    k: int
    n: int
    percent: float | None
    ci_low: float | None
    ci_high: float | None


class ComplaintRecordOut(msgspec.Struct):
    uscc: str
    name: str
    window_start: date
    window_end: date
    published: int
    mediated: int
    terminated: int
    merchant_settled: int
    still_open: int
    by_category: dict[str, int]
    excluded: dict[str, int]
    mediation_success: RateOut
    merchant_first: RateOut
    ratings: int | None
    per_100_ratings: float | None
    last_update: date | None
    min_cases: int
    policy_version: str
    district: str | None = None


class ComplaintRecordPage(msgspec.Struct):
    items: list[ComplaintRecordOut]
    total: int
    page: int
    page_size: int


def _rate(r: Rate) -> RateOut:
    return RateOut(r.k, r.n, r.percent, r.ci_low, r.ci_high)


def record_out(
    uscc: str, name: str, r: ComplaintRecord, district: str | None = None
) -> ComplaintRecordOut:
    return ComplaintRecordOut(
        uscc=uscc,
        name=name,
        window_start=r.window_start,
        window_end=r.window_end,
        published=r.published,
        mediated=r.mediated,
        terminated=r.terminated,
        merchant_settled=r.merchant_settled,
        still_open=r.still_open,
        by_category=r.by_category,
        excluded=r.excluded,
        mediation_success=_rate(r.mediation_success),
        merchant_first=_rate(r.merchant_first),
        ratings=r.ratings,
        per_100_ratings=r.per_100_ratings,
        last_update=r.last_update,
        min_cases=r.min_cases,
        policy_version=r.policy_version,
        district=district,
    )
