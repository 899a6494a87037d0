"""The yearly review (后评价) as a pure decision: the holders, how each fares under today's
policy, and the year's figures in; the proposed list out (有进有出: who stays, who goes and why,
who entered and left during the year, who improved). No I/O, so each outcome is tested on
hand-made inputs (``tests/certificates/yearly_review/test_store.py``); the store
(``certificates.yearly_review.store``) gathers the inputs and keeps the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from certificates.policy import Evaluation, Kind

# A failing criterion (certificates.policy) as the reason code a withdrawal is published
# with, in words the public list can translate.
REASON_CODES: Final = {
    "score": "score_below",
    "n": "too_few_responses",
    "credit_class": "credit_class",
    "serious_listed": "serious_listed",
    "abnormal_listed": "abnormal_listed",
    "major_penalty": "major_penalty",
    "certified_share": "certified_share",
    "closure_rate": "closure_rate",
    "returns_commitment": "no_returns_commitment",
    "committed_share": "committed_share",
}
# A holder the policy no longer judges at all: a merchant deregistered or closed, an area gone.
NOT_OPERATING: Final = "not_operating"


@dataclass(frozen=True, slots=True)
class Holder:
    """A certificate that stands (active or on hold) when the review is built."""

    serial: str
    kind: Kind
    code: str
    name: str
    status: str


@dataclass(frozen=True, slots=True)
class Movement:
    """A certificate issued during the year (entered) or that left it (exited)."""

    serial: str
    kind: Kind
    code: str
    name: str
    at: datetime
    reason: str = ""  # an exit's recorded reason code
    status: str = ""  # an exit's status: revoked or expired


@dataclass(frozen=True, slots=True)
class Outcome:
    holder: Holder
    reasons: tuple[str, ...] = ()  # reason codes; empty for a holder retained
    failing: Mapping[str, object] = field(default_factory=dict)  # criterion → value, required


@dataclass(frozen=True, slots=True)
class Improvement:
    holder: Holder
    before: float  # the previous year's published score
    after: float  # this year's


@dataclass(frozen=True, slots=True)
class Proposal:
    retained: list[Outcome]
    withdrawn: list[Outcome]
    entered: list[Movement]
    exited: list[Movement]
    improved: list[Improvement]


Scores = Mapping[tuple[Kind, str], float | None]


def reasons_for(evaluation: Evaluation) -> tuple[str, ...]:
    """The reason codes of the criteria a subject fails, in the policy's order of criteria."""
    return tuple(dict.fromkeys(REASON_CODES.get(c.key, c.key) for c in evaluation.failing))


def judge(holder: Holder, evaluation: Evaluation | None) -> Outcome:
    """Retained when today's evaluation passes; withdrawn with its reasons otherwise."""
    if evaluation is None:
        return Outcome(holder, (NOT_OPERATING,))
    if evaluation.eligible:
        return Outcome(holder)
    return Outcome(
        holder,
        reasons_for(evaluation),
        {c.key: {"value": c.value, "required": c.requirement} for c in evaluation.failing},
    )


def improvement(
    holder: Holder, this_year: Scores, last_year: Scores, improved_by: float
) -> Improvement | None:
    """The holder's rise, when both years have a published score and it rose by at least
    ``improved_by`` points (a holder first scored this year has nothing to improve on)."""
    key = (holder.kind, holder.code)
    before, after = last_year.get(key), this_year.get(key)
    if before is None or after is None:
        return None
    # Rounded as published (one decimal), so a rise shown as 2.0 counts as 2.0.
    if round(after - before, 1) >= improved_by:
        return Improvement(holder, before, after)
    return None


def propose(
    holders: Sequence[Holder],
    evaluations: Mapping[tuple[Kind, str], Evaluation],
    *,
    entered: Sequence[Movement],
    exited: Sequence[Movement],
    this_year: Scores,
    last_year: Scores,
    improved_by: float,
) -> Proposal:
    """Every holder judged by today's policy; the improved among those retained (a holder
    withdrawn is not praised in the same list). Each list sorted by kind, then code."""
    order = {Kind.MERCHANT: 0, Kind.STREET: 1, Kind.SCENIC_SPOT: 2}

    def key(h: Holder | Movement) -> tuple[int, str, str]:
        return (order[h.kind], h.code, h.serial)

    outcomes = [judge(h, evaluations.get((h.kind, h.code))) for h in sorted(holders, key=key)]
    retained = [o for o in outcomes if not o.reasons]
    improved = [
        i
        for o in retained
        if (i := improvement(o.holder, this_year, last_year, improved_by)) is not None
    ]
    return Proposal(
        retained=retained,
        withdrawn=[o for o in outcomes if o.reasons],
        entered=sorted(entered, key=key),
        exited=sorted(exited, key=key),
        improved=improved,
    )
