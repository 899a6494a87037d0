"""The complaint's rules, worked out by hand on the 2026 calendar: National Day (1–7 October
off) and its make-up Saturday (10 October worked)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scoring.credit.models import Handler
from scoring.disputes import rules
from scoring.disputes.rules import DisputeStatus as S
from service.kernel.errors import FieldError
from service.kernel.localtime import LOCAL_TZ

P = rules.policy()
BEIJING = LOCAL_TZ


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=BEIJING)


def test_the_shipped_policy_has_the_numbers_of_the_rules() -> None:
    assert P.merchant_days == 10  # the 12315 ODR: 10 working days
    assert P.retention_days == 180
    assert P.followup_days == 30
    assert P.max_files == 5 and P.max_bytes == 5 * 1024 * 1024


def test_the_merchant_has_ten_working_days_across_national_day() -> None:
    # Filed Tuesday 29 September: 30 Sep (1), then the holiday, 8, 9, Saturday 10 (a make-up
    # workday), 12, 13, 14, 15, 16 October (9) and Monday 19 October (10).
    assert rules.merchant_due(at("2026-09-29"), P) == date(2026, 10, 19)
    # Ten calendar days would have said 9 October: the holiday is not the merchant's time.
    assert at("2026-09-29").date() + timedelta(days=10) == date(2026, 10, 9)


def test_the_day_of_filing_is_the_beijing_day() -> None:
    # 23:30 UTC on the 29th is 07:30 on the 30th in Beijing: counting starts a day later.
    late = datetime(2026, 9, 29, 23, 30, tzinfo=UTC)
    assert rules.merchant_due(late, P) == date(2026, 10, 20)


def test_a_due_date_lasts_to_the_end_of_its_day() -> None:
    due = date(2026, 10, 19)
    assert not rules.is_past(due, at("2026-10-19", 23))
    assert rules.is_past(due, at("2026-10-20", 0))


def test_the_consumer_answers_an_offer_within_five_working_days() -> None:
    # Offered Friday 16 October: 19, 20, 21, 22, 23 October.
    assert rules.answer_due(at("2026-10-16"), P) == date(2026, 10, 23)


def test_the_reminder_comes_two_working_days_before_the_deadline() -> None:
    due = date(2026, 10, 19)
    assert not rules.reminder_due(due, at("2026-10-14"), P)  # 15, 16, 19: three left
    assert rules.reminder_due(due, at("2026-10-15"), P)  # 16, 19: two left
    assert rules.reminder_due(due, at("2026-10-17"), P)  # a Saturday: 19 is one left
    assert rules.reminder_due(due, at("2026-10-19"), P)  # the last day
    assert not rules.reminder_due(due, at("2026-10-20"), P)  # past: escalated, not reminded


def test_each_state_leads_only_where_the_rules_say() -> None:
    assert rules.may_move(None, S.SUBMITTED)
    assert rules.may_move(S.SUBMITTED, S.WITH_MERCHANT)
    assert rules.may_move(S.SUBMITTED, S.ESCALATED)  # a merchant outside ODR
    assert rules.may_move(S.WITH_MERCHANT, S.OFFERED)
    assert rules.may_move(S.WITH_MERCHANT, S.ESCALATED)  # refused, or the deadline passed
    assert rules.may_move(S.OFFERED, S.SETTLED)
    assert rules.may_move(S.OFFERED, S.ESCALATED)
    assert rules.may_move(S.ESCALATED, S.CLOSED)
    for open_state in (S.SUBMITTED, S.WITH_MERCHANT, S.OFFERED, S.ESCALATED):
        assert rules.may_move(open_state, S.WITHDRAWN)
    for final in rules.FINAL:
        assert rules.NEXT[final] == frozenset()
    assert not rules.may_move(S.WITH_MERCHANT, S.SETTLED)  # settling needs an offer
    assert not rules.may_move(S.ESCALATED, S.OFFERED)  # the merchant's turn is over
    assert not rules.may_move(S.SETTLED, S.WITHDRAWN)


def test_follow_up_is_open_for_thirty_days_after_a_handled_end() -> None:
    closed = at("2026-10-20")
    assert rules.followup_open(S.SETTLED, closed, closed + timedelta(days=30), P)
    assert not rules.followup_open(S.SETTLED, closed, closed + timedelta(days=30, seconds=1), P)
    assert rules.followup_open(S.CLOSED, closed, closed, P)
    assert not rules.followup_open(S.WITHDRAWN, closed, closed, P)
    assert not rules.followup_open(S.ESCALATED, None, closed, P)


def test_contacts_are_purged_180_days_after_closing() -> None:
    closed = at("2026-10-20")
    assert rules.purge_after(closed, P) == closed + timedelta(days=180)


def test_the_category_decides_who_handles_an_escalated_complaint() -> None:
    assert rules.handler_for("service", P) == Handler.CONSUMER_ASSOCIATION
    assert rules.handler_for("contract", P) == Handler.CONSUMER_ASSOCIATION
    assert rules.handler_for("quality", P) == Handler.REGULATOR
    assert rules.handler_for("false_advertising", P) == Handler.REGULATOR


def test_many_complaints_against_many_merchants_is_a_flag() -> None:
    assert rules.is_many(5, 3, P)
    assert not rules.is_many(5, 2, P)  # one consumer's running quarrel with two shops
    assert not rules.is_many(4, 4, P)


def test_receipt_codes_are_short_and_unambiguous() -> None:
    rng = random.Random(1)
    codes = {rules.receipt_code(2026, rng.choice) for _ in range(1000)}
    assert len(codes) == 1000
    for code in codes:
        assert rules.looks_like_code(code)
        assert code.startswith("TS-2026-") and len(code) == 14
        assert not set(code[8:]) & set("01ILO")
    assert not rules.looks_like_code("TS-2026-0OIL1A")
    assert not rules.looks_like_code("12315-2026-000001")


def test_a_policy_file_with_a_bad_number_is_refused_by_name(tmp_path: Path) -> None:
    text = rules.POLICY_FILE.read_text(encoding="utf-8").replace(
        "merchant_days = 10", "merchant_days = -1"
    )
    bad = tmp_path / "policy.toml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(rules.PolicyError, match=r"\[odr\] merchant_days"):
        rules.Policy.load(bad)


def test_an_amount_is_read_in_ascii_digits_only() -> None:
    # Decimal() reads each of these as a number; a person typing them meant none.
    for text in ("٣", "1_0", "1e3", "²", "①", "--3", "12.5.0", "Infinity", "NaN"):
        errors: list[FieldError] = []
        assert rules.fen_field(errors, "amount", text) == 0, text
        assert [e.field for e in errors] == ["amount"], text
    ok: list[FieldError] = []
    assert rules.fen_field(ok, "amount", "1,280.50") == 128_050 and ok == []
