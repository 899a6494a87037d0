"""Wire shapes of the public complaint record: one merchant's, and the city's open data. The
data dictionary (``/api/v1/complaint-records/dictionary``) names every field below."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from scoring.disclosure.rules import CityFigures, ComplaintRecord, Policy, Rate
from service.kernel.db import MAX_ID
from service.kernel.validation import Text as KernelText


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
    under_correction: int
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
        under_correction=r.under_correction,
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


class CityFiguresOut(msgspec.Struct):
    """The city's published complaints about registered merchants over the window."""

    window_start: date
    window_end: date
    published: int
    excluded: dict[str, int]
    by_category: dict[str, int]
    by_district: dict[str, int]  # district code → count
    by_month: dict[str, int]  # YYYY-MM → count; the first and last months are partial
    quarter: str
    hot: dict[str, int]  # the quarter's most-complained categories
    min_cases: int
    policy_version: str


def city_out(c: CityFigures, p: Policy) -> CityFiguresOut:
    return CityFiguresOut(
        window_start=c.window_start,
        window_end=c.window_end,
        published=c.published,
        excluded=c.excluded,
        by_category=c.by_category,
        by_district=c.by_district,
        by_month=c.by_month,
        quarter=c.quarter,
        hot=c.hot,
        min_cases=p.min_cases,
        policy_version=p.version,
    )


# Refused at the door as the kernel's one text rule says; the policy's limits are checked after.
Text = Annotated[KernelText, msgspec.Meta(max_length=20_000)]


class CorrectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A merchant's request to correct an entry of its record (申请更正)."""

    complaint_id: Annotated[int, msgspec.Meta(ge=1, le=MAX_ID)]
    reason: Text
    evidence: Text


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Annotated[str, msgspec.Meta(description="accepted or refused")]
    note: Text


class CorrectionFileOut(msgspec.Struct):
    """A file of evidence: served by ``GET …/{id}/files/{file_id}`` to whoever may read the
    request, always as an attachment."""

    id: int
    filename: str
    media_type: str
    size: int


class CorrectionOut(msgspec.Struct):
    id: int
    complaint_id: int
    merchant: str  # its USCC
    status: str
    reason: str
    evidence: str
    requested_at: datetime
    due: date
    decided_at: datetime | None
    decision_note: str
    files: list[CorrectionFileOut] = msgspec.field(default_factory=list)
