"""A merchant's public complaint record (投诉公示), pure: which complaints are published, which
are not and why (不予公示, each under a reason code), and the figures, honestly — every rate
with its n and a 95% Wilson interval, no rate at all below the policy's minimum of cases, and
a figure per 100 published ratings beside the raw count, so a busy supermarket is not ranked
below a stall that sold twice.

What is published is a complaint (an intake record of kind complaint) received in the window
that was handled: accepted, or ended — settled first by the merchant (先行和解,
``merchant_odr``: never accepted, because the merchant settled before the regulator had to)
or closed — unless an exclusion below applies. Its figures:

- published: how many; by category;
- mediated: mediation reached an agreement (closed as mediated, people's or court mediation);
- merchant_settled: the merchant settled it first;
- still_open: accepted, not yet ended;
- mediation success rate: mediated / (mediated + terminated), the complaints whose mediation
  came to an end — one still open has no outcome yet, one the merchant settled was never
  mediated;
- merchant-first rate: merchant_settled / published — an accepted complaint can no longer be
  settled first, so every published one has its outcome here.

Nothing about a consumer is read: no name, contact or address enters this module.
"""

from __future__ import annotations

import calendar
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Final

from scoring.credit.models import ComplaintStatus, IntakeKind, Resolution
from scoring.credit.workdays import local_date
from service.kernel.proportion import wilson

POLICY_FILE: Final = Path(__file__).with_name("policy.toml")
MEDIATED: Final = frozenset(
    {Resolution.MEDIATED, Resolution.PEOPLE_MEDIATION, Resolution.COURT_MEDIATION}
)


OPEN: Final = frozenset({ComplaintStatus.ACCEPTED, ComplaintStatus.MEDIATING})


class Exclusion(StrEnum):
    """Why a complaint is not published (不予公示)."""

    CORRECTED = "corrected"  # officials accepted the merchant's request to correct it
    WITHDRAWN = "withdrawn"  # the consumer withdrew it (撤诉)
    NOT_ACCEPTED = "not_accepted"  # refused (不予受理)
    AWAITING_ACCEPTANCE = "awaiting_acceptance"  # not yet decided: it may still be refused
    PROFESSIONAL_CLAIM = "professional_claim"  # 职业索赔 pattern flagged at filing
    PERSONAL_DATA = "personal_data"  # about a consumer's personal data
    EXCLUDED_BY_RULES = "excluded_by_rules"  # a category the rules keep out


class PolicyError(ValueError):
    """A disclosure policy that cannot be used, naming the key."""


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    window_months: int
    min_cases: int
    per_ratings: int
    professional_claims: bool
    # category → the reason code it is excluded under
    excluded_categories: Mapping[str, Exclusion]
    decide_days: int = 15  # working days officials have to decide a correction
    reason_max: int = 1000
    evidence_max: int = 2000
    files_max: int = 5
    file_max_mb: int = 10

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> Policy:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))

        def number(table: str, key: str) -> int:
            value = raw.get(table, {}).get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise PolicyError(f"{path}: [{table}] {key} must be a whole number >= 1")
            return value

        exclusions = raw.get("exclusions", {})
        flag = exclusions.get("professional_claims", True)
        if not isinstance(flag, bool):
            raise PolicyError(f"{path}: [exclusions] professional_claims must be true or false")
        categories: dict[str, Exclusion] = {}
        for code, names in exclusions.get("categories", {}).items():
            if code not in (Exclusion.PERSONAL_DATA, Exclusion.EXCLUDED_BY_RULES):
                raise PolicyError(f"{path}: [exclusions.categories] unknown reason {code!r}")
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise PolicyError(f"{path}: [exclusions.categories] {code} is a list of names")
            for name in names:
                if name in categories:
                    raise PolicyError(f"{path}: category {name!r} under two reasons")
                categories[name] = Exclusion(code)
        return cls(
            version=str(raw.get("version", "")),
            window_months=number("window", "months"),
            min_cases=number("rates", "min_cases"),
            per_ratings=number("rates", "per_ratings"),
            professional_claims=flag,
            excluded_categories=categories,
            decide_days=number("corrections", "decide_days"),
            reason_max=number("corrections", "reason_max"),
            evidence_max=number("corrections", "evidence_max"),
            files_max=number("corrections", "files_max"),
            file_max_mb=number("corrections", "file_max_mb"),
        )


@cache
def policy() -> Policy:
    """The shipped policy, read once."""
    return Policy.load()


@dataclass(frozen=True, slots=True)
class Case:
    """What disclosure reads of one intake record (nothing personal)."""

    kind: IntakeKind
    received_at: datetime
    accepted_at: datetime | None
    status: ComplaintStatus
    resolution: Resolution | None
    category: str
    updated_at: datetime
    flagged: bool = False  # filed online from a contact flagged for the 职业索赔 pattern
    district: str = ""  # the code of the merchant's district, for the city's views
    # The merchant's request to correct it (申请更正): pending, accepted, or None (none, or
    # refused: a refused request leaves the entry as it was).
    correction: str | None = None


@dataclass(frozen=True, slots=True)
class Rate:
    """k of n, as a percent with its 95% Wilson interval — or, below the minimum of cases,
    only k and n (``percent`` and the bounds None)."""

    k: int
    n: int
    percent: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def shown(self) -> bool:
        return self.percent is not None


@dataclass(frozen=True, slots=True)
class ComplaintRecord:
    window_start: date  # Asia/Shanghai dates, both included
    window_end: date
    published: int
    mediated: int
    terminated: int  # mediation ended without agreement
    merchant_settled: int
    still_open: int
    under_correction: int  # published, with a correction pending (更正中)
    by_category: dict[str, int]  # published, most first (ties by name)
    excluded: dict[str, int]  # reason code → count, every code present
    mediation_success: Rate
    merchant_first: Rate
    ratings: int | None  # published ratings the per-100 figure is over; None: no score
    per_100_ratings: float | None
    last_update: date | None  # the latest change of any record the window holds
    min_cases: int
    policy_version: str


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier (the month's last day when it has no such day)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window(now: datetime, p: Policy) -> tuple[date, date]:
    """The window's first and last local day: today and the days after the same day
    ``window_months`` earlier (12 months to 8 Dec 2026: 9 Dec 2025 – 8 Dec 2026)."""
    today = local_date(now)
    return months_before(today, p.window_months) + timedelta(days=1), today


def exclusion(case: Case, p: Policy) -> Exclusion | None:
    """Why this complaint is not published, or None if it is. One reason each, the first
    that applies in this order: an accepted correction (the entry was wrong), then what the
    consumer or the regulator did."""
    if case.correction == "accepted":
        return Exclusion.CORRECTED
    if case.resolution == Resolution.WITHDRAWN:
        return Exclusion.WITHDRAWN
    if case.status == ComplaintStatus.REJECTED or case.resolution == Resolution.REFUSED:
        return Exclusion.NOT_ACCEPTED
    # Received, neither accepted nor refused yet. A record that ended without an acceptance
    # date (settled first by the merchant, or closed by a handler that keeps none) was handled.
    if case.status == ComplaintStatus.RECEIVED:
        return Exclusion.AWAITING_ACCEPTANCE
    if case.flagged and p.professional_claims:
        return Exclusion.PROFESSIONAL_CLAIM
    return p.excluded_categories.get(case.category)


def one_decimal(value: float) -> float:
    return float(Decimal(repr(value)).quantize(Decimal("0.1")))


def rate(k: int, n: int, minimum: int) -> Rate:
    if n < minimum or n == 0:
        return Rate(k, n, None, None, None)
    low, high = wilson(k, n)
    return Rate(k, n, one_decimal(100 * k / n), one_decimal(100 * low), one_decimal(100 * high))


def complaint_record(
    cases: Iterable[Case], now: datetime, p: Policy, ratings: int | None = None
) -> ComplaintRecord:
    """The record as of ``now`` from the merchant's intake records (any kind, any date: only
    complaints received in the window count). ``ratings``: the ratings behind its published
    score, for the per-100 figure (None or 0: no such figure)."""
    start, end = window(now, p)
    in_window = [
        c
        for c in cases
        if c.kind == IntakeKind.COMPLAINT and start <= local_date(c.received_at) <= end
    ]
    excluded = dict.fromkeys((e.value for e in Exclusion), 0)
    published: list[Case] = []
    for c in in_window:
        reason = exclusion(c, p)
        if reason is None:
            published.append(c)
        else:
            excluded[reason.value] += 1
    mediated = sum(
        1 for c in published if c.status == ComplaintStatus.CLOSED and c.resolution in MEDIATED
    )
    terminated = sum(
        1
        for c in published
        if c.status == ComplaintStatus.TERMINATED or c.resolution == Resolution.TERMINATED
    )
    settled = sum(1 for c in published if c.resolution == Resolution.MERCHANT_ODR)
    still_open = sum(1 for c in published if c.status in OPEN)
    counts = Counter(c.category for c in published)
    per_100 = None
    if ratings:
        per_100 = one_decimal(len(published) * p.per_ratings / ratings)
    return ComplaintRecord(
        window_start=start,
        window_end=end,
        published=len(published),
        mediated=mediated,
        terminated=terminated,
        merchant_settled=settled,
        still_open=still_open,
        under_correction=sum(1 for c in published if c.correction == "pending"),
        by_category=dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
        excluded=excluded,
        mediation_success=rate(mediated, mediated + terminated, p.min_cases),
        merchant_first=rate(settled, len(published), p.min_cases),
        ratings=ratings or None,
        per_100_ratings=per_100,
        last_update=max((local_date(c.updated_at) for c in in_window), default=None),
        min_cases=p.min_cases,
        policy_version=p.version,
    )


HOT_SHOWN: Final = 5  # the most-complained categories of the quarter (热点) shown


@dataclass(frozen=True, slots=True)
class CityFigures:
    """The city's published complaints over the window: by category, by the merchant's
    district and by month of receipt (every month the window touches, zeros too; the first
    and the last are partial), and the categories most complained about this quarter."""

    window_start: date
    window_end: date
    published: int
    excluded: dict[str, int]
    by_category: dict[str, int]  # most first, ties by name
    by_district: dict[str, int]  # most first, ties by code
    by_month: dict[str, int]  # "2026-01" → count, in order
    quarter: str  # "2026-Q4": the current quarter (Asia/Shanghai)
    hot: dict[str, int]  # this quarter's top categories, most first


def _ranked(counts: Counter[str], top: int | None = None) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top])


def _months(start: date, end: date) -> list[str]:
    out = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def city_figures(cases: Iterable[Case], now: datetime, p: Policy) -> CityFigures:
    """The city's views from every merchant's intake records (the same exclusions as each
    merchant's record: the city's figures are the sum of what its merchants' pages show)."""
    start, end = window(now, p)
    excluded = dict.fromkeys((e.value for e in Exclusion), 0)
    published: list[tuple[Case, date]] = []
    for c in cases:
        received = local_date(c.received_at)
        if c.kind != IntakeKind.COMPLAINT or not start <= received <= end:
            continue
        reason = exclusion(c, p)
        if reason is None:
            published.append((c, received))
        else:
            excluded[reason.value] += 1
    months = dict.fromkeys(_months(start, end), 0)
    for _, received in published:
        months[f"{received.year:04d}-{received.month:02d}"] += 1
    quarter = (end.month - 1) // 3
    quarter_start = date(end.year, 3 * quarter + 1, 1)
    return CityFigures(
        window_start=start,
        window_end=end,
        published=len(published),
        excluded=excluded,
        by_category=_ranked(Counter(c.category for c, _ in published)),
        by_district=_ranked(Counter(c.district for c, _ in published)),
        by_month=months,
        quarter=f"{end.year}-Q{quarter + 1}",
        hot=_ranked(Counter(c.category for c, r in published if r >= quarter_start), HOT_SHOWN),
    )
