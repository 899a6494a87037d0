"""The certification policy and its evaluation: pure functions from a subject's facts to each
criterion's value, requirement and result, so an official (or the subject) can see why.

The policy is a versioned TOML file (``certificates/policy.toml``; a city may configure its
own). Evaluation takes plain facts gathered elsewhere (``certificates.eligibility``) and does
no I/O, so every threshold edge is tested on hand-built cases.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

DEFAULT_POLICY = Path(__file__).with_name("policy.toml")


class Kind(StrEnum):
    MERCHANT = "merchant"
    STREET = "street"
    SCENIC_SPOT = "scenic_spot"


@dataclass(frozen=True, slots=True)
class MerchantRules:
    title_zh: str
    title_en: str
    min_score: float
    min_n: int
    credit_classes: tuple[str, ...]
    veto_serious_listed: bool
    veto_abnormal_listed: bool
    veto_major_penalty_days: int
    revoke_below_credit: float
    # A returns commitment (线下无理由退货) of at least this many days in force; 0: not asked.
    require_returns_days: int = 0


@dataclass(frozen=True, slots=True)
class AreaRules:
    title_zh: str
    title_en: str
    min_score: float
    min_n: int
    min_certified_share: float
    max_serious_listed: int
    min_closure_rate: float
    # Of its active merchants, with a returns commitment in force; 0: not asked.
    min_committed_share: float = 0.0


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    issuer_zh: str
    issuer_en: str
    serial_prefix: str
    validity_years: int
    grace_days: int
    merchant: MerchantRules
    areas: dict[Kind, AreaRules]
    # The yearly review (后评价): a holder whose published score rose by at least this much
    # over the previous year's is listed as improved. A city policy without [review]: 2.0.
    improved_by: float = 2.0
    # Days an approved application stays in public notice (公示) before it may be issued.
    notice_days: int = 7

    @classmethod
    def load(cls, path: Path = DEFAULT_POLICY) -> Policy:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        m = raw["merchant"]
        merchant = MerchantRules(
            title_zh=str(m["title_zh"]),
            title_en=str(m["title_en"]),
            min_score=float(m["min_score"]),
            min_n=int(m["min_n"]),
            credit_classes=tuple(str(c) for c in m["credit_classes"]),
            veto_serious_listed=bool(m["veto_serious_listed"]),
            veto_abnormal_listed=bool(m["veto_abnormal_listed"]),
            veto_major_penalty_days=int(m["veto_major_penalty_days"]),
            revoke_below_credit=float(m["revoke_below_credit"]),
            require_returns_days=int(m.get("require_returns_days", 0)),
        )
        areas = {
            kind: AreaRules(
                title_zh=str(a["title_zh"]),
                title_en=str(a["title_en"]),
                min_score=float(a["min_score"]),
                min_n=int(a["min_n"]),
                min_certified_share=float(a["min_certified_share"]),
                max_serious_listed=int(a["max_serious_listed"]),
                min_closure_rate=float(a["min_closure_rate"]),
                min_committed_share=float(a.get("min_committed_share", 0.0)),
            )
            for kind in (Kind.STREET, Kind.SCENIC_SPOT)
            for a in (raw[kind.value],)
        }
        return cls(
            version=str(raw["version"]),
            issuer_zh=str(raw["issuer_zh"]),
            issuer_en=str(raw["issuer_en"]),
            serial_prefix=str(raw["serial_prefix"]),
            validity_years=int(raw["validity_years"]),
            grace_days=int(raw["grace_days"]),
            merchant=merchant,
            areas=areas,
            improved_by=float(raw.get("review", {}).get("improved_by", 2.0)),
            notice_days=int(raw.get("notice", {}).get("days", 7)),
        )

    def title(self, kind: Kind) -> tuple[str, str]:
        rules = self.merchant if kind == Kind.MERCHANT else self.areas[kind]
        return rules.title_zh, rules.title_en


@lru_cache(maxsize=4)
def policy_for(path: Path | None) -> Policy:
    return Policy.load(path or DEFAULT_POLICY)


Value = float | int | str | bool | None


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str  # what is checked, e.g. "score", "credit_class", "certified_share"
    value: Value  # what the subject has (None: no figure, e.g. no published score)
    requirement: str  # what the policy asks, written for people: "≥ 80", "A, B", "no"
    passed: bool


@dataclass(frozen=True, slots=True)
class Evaluation:
    kind: Kind
    code: str
    name: str
    criteria: tuple[Criterion, ...]

    @property
    def eligible(self) -> bool:
        return all(c.passed for c in self.criteria)

    @property
    def failing(self) -> tuple[Criterion, ...]:
        return tuple(c for c in self.criteria if not c.passed)


@dataclass(frozen=True, slots=True)
class MerchantFacts:
    uscc: str
    name: str
    score: float | None  # published satisfaction score (None: not shown, too few responses)
    n: int
    credit_score: float
    credit_class: str
    serious_listed: bool
    abnormal_listed: bool
    last_major_penalty: datetime | None
    # The longest returns period it commits to now (days); None: no returns commitment.
    returns_days: int | None = None


@dataclass(frozen=True, slots=True)
class AreaFacts:
    kind: Kind
    code: str
    name: str
    score: float | None
    n: int
    active_merchants: int
    certified_merchants: int  # holding an active merchant certificate
    serious_listed: int
    complaints: int  # about its merchants, last twelve months
    complaints_closed: int
    committed_merchants: int = 0  # active, with a returns commitment in force


def _at_least(key: str, value: float | int | None, minimum: float | int) -> Criterion:
    return Criterion(key, value, f"≥ {minimum:g}", value is not None and value >= minimum)


def evaluate_merchant(f: MerchantFacts, rules: MerchantRules, now: datetime) -> Evaluation:
    criteria = [
        _at_least("score", f.score, rules.min_score),
        _at_least("n", f.n, rules.min_n),
        Criterion(
            "credit_class",
            f.credit_class,
            ", ".join(rules.credit_classes),
            f.credit_class in rules.credit_classes,
        ),
    ]
    if rules.veto_serious_listed:
        criteria.append(Criterion("serious_listed", f.serious_listed, "no", not f.serious_listed))
    if rules.veto_abnormal_listed:
        criteria.append(
            Criterion("abnormal_listed", f.abnormal_listed, "no", not f.abnormal_listed)
        )
    if rules.veto_major_penalty_days:
        since = now - timedelta(days=rules.veto_major_penalty_days)
        recent = f.last_major_penalty is not None and f.last_major_penalty > since
        criteria.append(
            Criterion(
                "major_penalty",
                f.last_major_penalty.date().isoformat() if f.last_major_penalty else None,
                f"none in {rules.veto_major_penalty_days} days",
                not recent,
            )
        )
    if rules.require_returns_days:
        criteria.append(
            Criterion(
                "returns_commitment",
                f.returns_days,
                f"≥ {rules.require_returns_days} days",
                f.returns_days is not None and f.returns_days >= rules.require_returns_days,
            )
        )
    return Evaluation(Kind.MERCHANT, f.uscc, f.name, tuple(criteria))


def evaluate_area(f: AreaFacts, rules: AreaRules) -> Evaluation:
    share = f.certified_merchants / f.active_merchants if f.active_merchants else None
    # No complaints in the period means nothing was left unresolved.
    closure = f.complaints_closed / f.complaints if f.complaints else 1.0
    criteria = [
        _at_least("score", f.score, rules.min_score),
        _at_least("n", f.n, rules.min_n),
        Criterion(
            "certified_share",
            None if share is None else round(share, 4),
            f"≥ {rules.min_certified_share:.0%}",
            share is not None and share >= rules.min_certified_share,
        ),
        Criterion(
            "serious_listed",
            f.serious_listed,
            f"≤ {rules.max_serious_listed}",
            f.serious_listed <= rules.max_serious_listed,
        ),
        Criterion(
            "closure_rate",
            round(closure, 4),
            f"≥ {rules.min_closure_rate:.0%}",
            closure >= rules.min_closure_rate,
        ),
    ]
    if rules.min_committed_share:
        committed = f.committed_merchants / f.active_merchants if f.active_merchants else None
        criteria.append(
            Criterion(
                "committed_share",
                None if committed is None else round(committed, 4),
                f"≥ {rules.min_committed_share:.0%}",
                committed is not None and committed >= rules.min_committed_share,
            )
        )
    return Evaluation(f.kind, f.code, f.name, tuple(criteria))


def revocation_reason(
    rules: MerchantRules, credit_score: float, credit_class: str, serious_listed: bool
) -> str | None:
    """Why a merchant's certificate must go at once, or None: the reason code recorded."""
    if serious_listed:
        return "serious_violation_list"
    if credit_class == "D":
        return "credit_class_d"
    if credit_score < rules.revoke_below_credit:
        return "credit_below_threshold"
    return None
