"""The complaint's rules, pure: its states and which may follow which, its deadlines on the
working-day calendar, the policy's numbers, receipt codes and who handles it once escalated.

submitted ─┬─ (merchant in ODR) ─► with_merchant ─► offered ─► settled (merchant_odr)
           │                            ▲    │   rejected  │
           │                            └────┼─────────────┤ (the merchant's deadline runs)
           │                                 │             ├──► escalated (rejected after the
           │                                 │             │    deadline, or left unanswered)
           │                                 └─────────────┴──► escalated (refused, deadline)
           └─ (merchant not in ODR) ─► escalated ─► closed (the bureau's handling ended)
any state before the end ──► withdrawn

Dates are Asia/Shanghai dates; a due date counts to the end of that day.
"""

from __future__ import annotations

import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any, Final

from scoring.credit import workdays
from scoring.credit.models import Handler, Resolution
from service.kernel.errors import FieldError
from service.kernel.i18n import N_, gettext

POLICY_FILE: Final = Path(__file__).parent / "policy.toml"


class DisputeStatus(StrEnum):
    SUBMITTED = "submitted"
    WITH_MERCHANT = "with_merchant"
    OFFERED = "offered"
    SETTLED = "settled"  # the consumer accepted the merchant's offer
    ESCALATED = "escalated"  # with the bureau: an intake record (scoring.credit Complaint)
    CLOSED = "closed"  # the bureau's handling ended: closed, terminated or refused
    WITHDRAWN = "withdrawn"


S = DisputeStatus
NEXT: Final[Mapping[DisputeStatus | None, frozenset[DisputeStatus]]] = {
    None: frozenset({S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.WITH_MERCHANT, S.ESCALATED, S.WITHDRAWN}),
    S.WITH_MERCHANT: frozenset({S.OFFERED, S.ESCALATED, S.WITHDRAWN}),
    # Rejected while the merchant's deadline runs: back to the merchant for a better offer.
    S.OFFERED: frozenset({S.SETTLED, S.WITH_MERCHANT, S.ESCALATED, S.WITHDRAWN}),
    S.ESCALATED: frozenset({S.CLOSED, S.WITHDRAWN}),
    S.SETTLED: frozenset(),
    S.CLOSED: frozenset(),
    S.WITHDRAWN: frozenset(),
}
FINAL: Final = frozenset({S.SETTLED, S.CLOSED, S.WITHDRAWN})
# Ends that invite a follow-up: a withdrawn complaint was not handled, so there is nothing
# to be satisfied with.
FOLLOWED_UP: Final = frozenset({S.SETTLED, S.CLOSED})


def may_move(old: DisputeStatus | None, new: DisputeStatus) -> bool:
    return new in NEXT[old]


class Category(StrEnum):
    """What the complaint is about: the intake's categories (scoring.credit)."""

    QUALITY = "quality"
    PRICE = "price"
    SERVICE = "service"
    CONTRACT = "contract"
    FALSE_ADVERTISING = "false_advertising"
    SAFETY = "safety"
    OTHER = "other"


class Want(StrEnum):
    """What the consumer asks for."""

    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    APOLOGY = "apology"
    OTHER = "other"


class OfferKind(StrEnum):
    REFUND = "refund"  # of an amount
    EXCHANGE = "exchange"
    REPAIR = "repair"
    EXPLANATION = "explanation"


class OfferAnswer(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class EscalationReason(StrEnum):
    NOT_PARTICIPATING = "not_participating"  # the merchant takes no part in ODR
    REFUSED = "refused"  # the merchant refused, with reasons
    REJECTED = "rejected"  # the consumer rejected an offer once the merchant's time was up
    DEADLINE = "deadline"  # the merchant did not settle in time
    UNANSWERED = "unanswered"  # the consumer did not answer the offer in time


class Step(StrEnum):
    """One line of a complaint's timeline."""

    FILED = "filed"
    SENT_TO_MERCHANT = "sent_to_merchant"
    OFFERED = "offered"
    REFUSED = "refused"
    ACCEPTED = "accepted"  # the consumer accepted the offer
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ESCALATED = "escalated"
    BUREAU_ACCEPTED = "bureau_accepted"
    BUREAU_REFUSED = "bureau_refused"
    MEDIATOR_ASSIGNED = "mediator_assigned"
    OUTCOME = "outcome"
    FOLLOWED_UP = "followed_up"
    CONTACT_PURGED = "contact_purged"
    LINKED_12315 = "linked_12315"  # the same complaint came through the 12315 feed


class MediationMode(StrEnum):
    """Who mediates an accepted complaint, and the intake resolution it ends with."""

    BUREAU = "bureau"  # the bureau's own mediation (行政调解)
    PEOPLE = "people_mediation"  # 人民调解
    COURT = "court_mediation"  # 诉调对接
    VOLUNTEER = "volunteer"  # a named volunteer mediator
    LAWYER = "lawyer"  # a named lawyer mediator


RESOLUTION_OF: Final[Mapping[MediationMode, Resolution]] = {
    MediationMode.BUREAU: Resolution.MEDIATED,
    MediationMode.PEOPLE: Resolution.PEOPLE_MEDIATION,
    MediationMode.COURT: Resolution.COURT_MEDIATION,
    MediationMode.VOLUNTEER: Resolution.MEDIATED,
    MediationMode.LAWYER: Resolution.MEDIATED,
}


class Outcome(StrEnum):
    AGREEMENT = "agreement"  # mediation reached an agreement: the record is closed
    NO_AGREEMENT = "no_agreement"  # mediation ended without one: terminated


# --- the policy ------------------------------------------------------------------------------


class PolicyError(ValueError):
    """A policy file that cannot be used, naming the key."""


@dataclass(frozen=True, slots=True)
class Policy:
    version: str
    merchant_days: int
    consumer_days: int
    remind_days: int
    retention_days: int
    followup_days: int
    comment_max: int
    max_files: int
    max_bytes: int
    description_max: int
    wants_detail_max: int
    reason_max: int
    mediator_max: int
    per_address: int
    per_device: int
    rate_window: timedelta
    duplicate_window: timedelta
    many_complaints: int
    many_merchants: int
    many_window: timedelta
    consumer_association: frozenset[str]

    @classmethod
    def load(cls, path: Path = POLICY_FILE) -> Policy:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))

        def number(table: str, key: str, low: int = 0) -> int:
            value = raw.get(table, {}).get(key)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise PolicyError(f"{path}: [{table}] {key} must be a whole number >= {low}")
            return value

        handling = raw.get("handling", {}).get("consumer_association", [])
        unknown = set(handling) - {c.value for c in Category}
        if unknown:
            raise PolicyError(f"{path}: [handling] unknown categories {sorted(unknown)}")
        return cls(
            version=str(raw.get("version", "")),
            merchant_days=number("odr", "merchant_days", 1),
            consumer_days=number("odr", "consumer_days", 1),
            remind_days=number("odr", "remind_days"),
            retention_days=number("contact", "retention_days", 1),
            followup_days=number("followup", "window_days", 1),
            comment_max=number("followup", "comment_max", 1),
            max_files=number("evidence", "max_files"),
            max_bytes=number("evidence", "max_mb", 1) * 1024 * 1024,
            description_max=number("text", "description_max", 1),
            wants_detail_max=number("text", "wants_detail_max", 1),
            reason_max=number("text", "reason_max", 1),
            mediator_max=number("text", "mediator_max", 1),
            per_address=number("abuse", "per_address", 1),
            per_device=number("abuse", "per_device", 1),
            rate_window=timedelta(hours=number("abuse", "rate_window_hours", 1)),
            duplicate_window=timedelta(hours=number("abuse", "duplicate_hours")),
            many_complaints=number("abuse", "many_complaints", 2),
            many_merchants=number("abuse", "many_merchants", 1),
            many_window=timedelta(days=number("abuse", "many_days", 1)),
            consumer_association=frozenset(handling),
        )


@cache
def policy() -> Policy:
    """The shipped policy, read once."""
    return Policy.load()


# --- deadlines -------------------------------------------------------------------------------


def merchant_due(filed_at: datetime, p: Policy) -> date:
    """The last day a participating merchant may answer: ``merchant_days`` working days after
    the day of filing (the day itself never counts)."""
    return workdays.add_working_days(workdays.local_date(filed_at), p.merchant_days)


def answer_due(offered_at: datetime, p: Policy) -> date:
    """The last day the consumer may answer an offer."""
    return workdays.add_working_days(workdays.local_date(offered_at), p.consumer_days)


def is_past(due: date, now: datetime) -> bool:
    """Whether the due date is over: it counts to the end of its local day."""
    return workdays.local_date(now) > due


def reminder_due(due: date, now: datetime, p: Policy) -> bool:
    """Whether the merchant should be reminded now: ``remind_days`` working days or fewer
    left, the due date not yet past."""
    today = workdays.local_date(now)
    return today <= due and workdays.working_days_between(today, due) <= p.remind_days


def purge_after(closed_at: datetime, p: Policy) -> datetime:
    """When a closed complaint's contact is purged."""
    return closed_at + timedelta(days=p.retention_days)


def followup_open(
    status: DisputeStatus, closed_at: datetime | None, now: datetime, p: Policy
) -> bool:
    return (
        status in FOLLOWED_UP
        and closed_at is not None
        and now <= closed_at + timedelta(days=p.followup_days)
    )


def handler_for(category: str, p: Policy) -> Handler:
    """Who handles an escalated complaint of this category."""
    if category in p.consumer_association:
        return Handler.CONSUMER_ASSOCIATION
    return Handler.REGULATOR


def is_many(complaints: int, merchants: int, p: Policy) -> bool:
    """The professional-claimant flag (职业索赔): shown to officials, never a refusal."""
    return complaints >= p.many_complaints and merchants >= p.many_merchants


# --- money ---------------------------------------------------------------------------------

_MONEY_TEXT: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
MAX_FEN: Final = 10**12  # ten billion yuan: a consumer's complaint above it is a typo
_NOT_MONEY = N_("Give an amount in yuan, e.g. 128.50")
_NEGATIVE = N_("The amount must not be negative")
_FEN = N_("At most two decimals (fen)")
_TOO_MUCH = N_("The amount is implausibly large")


def fen_field(errors: list[FieldError], field: str, value: float | str) -> int:
    """An amount in yuan (a number, or its text as a form sends it) as fen; 0 and a
    FieldError added when it is not one. Blank text is 0."""
    text = str(value).strip().replace(",", "") if not isinstance(value, bool) else "x"
    # ASCII digits only: Decimal() also reads "٣", "1_0" and "1e3" (the kernel's parse_int rule).
    if isinstance(value, str) and text and not _MONEY_TEXT.fullmatch(text):
        text = "x"
    try:
        exact = Decimal(text or "0")
    except InvalidOperation:
        exact = Decimal("NaN")
    message = None
    if not exact.is_finite():
        message = _NOT_MONEY
    elif exact < 0:
        message = _NEGATIVE
    elif (exact * 100) != (exact * 100).to_integral_value():
        message = _FEN
    elif exact * 100 > MAX_FEN:
        message = _TOO_MUCH
    if message is not None:
        errors.append(FieldError(field, gettext(message)))
        return 0
    return int(exact * 100)


# --- receipt codes ---------------------------------------------------------------------------

# No 0/O, 1/I/L: a code read out over the phone or copied by hand stays one code.
CODE_ALPHABET: Final = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH: Final = 6
CODE_PREFIX: Final = "TS"


def receipt_code(year: int, choose: Any = secrets.choice) -> str:
    """``TS-2026-7K4M9Q``: the year of filing and six unambiguous characters (31⁶ ≈ 887
    million a year; a clash is retried by the caller against the unique key)."""
    tail = "".join(choose(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{CODE_PREFIX}-{year}-{tail}"


def looks_like_code(text: str) -> bool:
    parts = text.split("-")
    return (
        len(parts) == 3
        and parts[0] == CODE_PREFIX
        and len(parts[1]) == 4
        and parts[1].isascii()
        and parts[1].isdigit()
        and len(parts[2]) == CODE_LENGTH
        and all(c in CODE_ALPHABET for c in parts[2])
    )
