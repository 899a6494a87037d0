"""The certification policy at every threshold edge, on hand-built facts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from certificates.policy import (
    AreaFacts,
    Kind,
    MerchantFacts,
    Policy,
    evaluate_area,
    evaluate_merchant,
    revocation_reason,
)

POLICY = Policy.load()
NOW = datetime(2026, 11, 28, tzinfo=UTC)
GOOD = MerchantFacts(
    uscc="9144030071526726XG",
    name="老王烩面馆",
    score=80.0,  # exactly the minimum
    n=30,  # exactly the minimum
    credit_score=75.0,
    credit_class="B",
    serious_listed=False,
    abnormal_listed=False,
    last_major_penalty=None,
    returns_days=7,  # exactly the minimum
)
AREA = AreaFacts(
    kind=Kind.STREET,
    code="411702-ST01",
    name="解放路步行街",
    score=85.0,
    n=100,
    active_merchants=10,
    certified_merchants=8,  # 80% exactly
    serious_listed=0,
    complaints=20,
    complaints_closed=19,  # 95% exactly
    committed_merchants=8,  # 80% exactly
)


def failing(facts: MerchantFacts) -> list[str]:
    return [c.key for c in evaluate_merchant(facts, POLICY.merchant, NOW).failing]


def test_a_merchant_exactly_at_every_threshold_qualifies() -> None:
    result = evaluate_merchant(GOOD, POLICY.merchant, NOW)
    assert result.eligible
    assert [c.key for c in result.criteria] == [
        "score",
        "n",
        "credit_class",
        "serious_listed",
        "abnormal_listed",
        "major_penalty",
        "returns_commitment",
    ]
    assert result.criteria[0].requirement == "≥ 80"


@pytest.mark.parametrize(
    ("change", "fails"),
    [
        ({"score": 79.99}, ["score"]),
        ({"score": None}, ["score"]),  # too few responses for a shown score
        ({"n": 29}, ["n"]),
        ({"credit_class": "C"}, ["credit_class"]),
        ({"serious_listed": True, "credit_class": "D"}, ["credit_class", "serious_listed"]),
        ({"abnormal_listed": True}, ["abnormal_listed"]),
        ({"last_major_penalty": NOW - timedelta(days=729)}, ["major_penalty"]),
        ({"returns_days": None}, ["returns_commitment"]),
    ],
)
def test_one_step_past_a_threshold_fails_on_that_criterion(
    change: dict[str, object], fails: list[str]
) -> None:
    assert failing(replace(GOOD, **change)) == fails  # type: ignore[arg-type]


def test_a_major_penalty_older_than_two_years_no_longer_vetoes() -> None:
    assert failing(replace(GOOD, last_major_penalty=NOW - timedelta(days=731))) == []


def test_an_area_exactly_at_every_threshold_qualifies_and_each_edge_fails() -> None:
    rules = POLICY.areas[Kind.STREET]
    assert evaluate_area(AREA, rules).eligible
    cases = {
        "score": replace(AREA, score=84.9),
        "n": replace(AREA, n=99),
        "certified_share": replace(AREA, certified_merchants=7),
        "serious_listed": replace(AREA, serious_listed=1),
        "closure_rate": replace(AREA, complaints_closed=18),
        "committed_share": replace(AREA, committed_merchants=7),
    }
    for key, facts in cases.items():
        assert [c.key for c in evaluate_area(facts, rules).failing] == [key]
    # No merchants: no share to speak of; no complaints: nothing left unresolved.
    empty = evaluate_area(
        replace(AREA, active_merchants=0, certified_merchants=0, committed_merchants=0), rules
    )
    assert [c.key for c in empty.failing] == ["certified_share", "committed_share"]
    quiet = evaluate_area(replace(AREA, complaints=0, complaints_closed=0), rules)
    assert quiet.eligible and quiet.criteria[-2].key == "closure_rate"
    assert quiet.criteria[-2].value == 1.0


def test_credit_that_drops_revokes_with_a_reason_code() -> None:
    rules = POLICY.merchant
    assert revocation_reason(rules, 75.0, "B", False) is None
    assert revocation_reason(rules, 74.9, "C", False) == "credit_below_threshold"
    assert revocation_reason(rules, 90.0, "D", False) == "credit_class_d"  # a regulator's D
    assert revocation_reason(rules, 95.0, "D", True) == "serious_violation_list"


def test_the_policy_names_each_certificate() -> None:
    assert POLICY.title(Kind.MERCHANT) == ("放心消费承诺单位", "Trusted-consumption merchant")
    assert POLICY.title(Kind.STREET)[0] == "放心消费示范街区"
    assert POLICY.title(Kind.SCENIC_SPOT)[0] == "放心消费旅游景点"
    assert (POLICY.validity_years, POLICY.grace_days, POLICY.serial_prefix) == (2, 30, "ZMD")
