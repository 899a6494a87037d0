"""Working-day deadlines, checked against dates counted by hand on the 2026 official calendar.

The holiday and make-up dates below were read from chinese_calendar 1.11.0 before the
expectations were written:
- Spring Festival 2026: Sat 02-14 is a make-up workday, 02-15..02-23 are off, Sat 02-28 is a
  make-up workday.
- Qingming 04-04..04-06 and Labour Day 05-01..05-05 are off, Sat 05-09 is a make-up workday.
- Mid-Autumn + National Day 2026: Sun 09-20 is a make-up workday, Fri 09-25..Sun 09-27 are off,
  10-01..10-07 are off, Sat 10-10 is a make-up workday.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.credit import workdays
from scoring.credit.workdays import (
    ACCEPT_LIMIT,
    LOCAL_TZ,
    MEDIATION_LIMIT,
    Deadlines,
    add_working_days,
    calendar_covers,
    complaint_deadlines,
    is_workday,
    local_date,
    overdue_since,
    working_days_between,
)


def bj(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime:
    """A Beijing-time moment."""
    return datetime(year, month, day, hour, minute, tzinfo=LOCAL_TZ)


def test_limits() -> None:
    assert (ACCEPT_LIMIT, MEDIATION_LIMIT) == (7, 45)


def test_plain_week_skips_the_weekend() -> None:
    # Wed 03-04 → Thu 5 (1), Fri 6 (2), Mon 9..Fri 13 (3..7).
    assert add_working_days(date(2026, 3, 4), 7) == date(2026, 3, 13)
    assert add_working_days(date(2026, 3, 4), 1) == date(2026, 3, 5)
    # Received on a Saturday: Mon 03-09 is the first working day after it.
    assert add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)
    assert add_working_days(date(2026, 3, 4), 0) == date(2026, 3, 4)
    assert working_days_between(date(2026, 3, 4), date(2026, 3, 13)) == 7
    assert working_days_between(date(2026, 3, 13), date(2026, 3, 4)) == 0
    assert working_days_between(date(2026, 3, 4), date(2026, 3, 4)) == 0


def test_spring_festival_2026() -> None:
    assert is_workday(date(2026, 2, 14))  # Saturday, make-up workday
    assert not is_workday(date(2026, 2, 16))  # Monday, holiday
    assert not is_workday(date(2026, 2, 23))  # Monday, last holiday
    assert is_workday(date(2026, 2, 28))  # Saturday, make-up workday
    # Fri 02-13 → Sat 14 (1, make-up), 15..23 off, Tue 24..Fri 27 (2..5), Sat 28 (6, make-up),
    # Sun 03-01 off, Mon 03-02 (7). Monday–Friday would have said Tue 02-24.
    assert add_working_days(date(2026, 2, 13), 7) == date(2026, 3, 2)
    assert add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert add_working_days(date(2026, 2, 14), 1) == date(2026, 2, 24)
    assert working_days_between(date(2026, 2, 13), date(2026, 2, 23)) == 1


def test_national_day_2026() -> None:
    assert is_workday(date(2026, 9, 20))  # Sunday, make-up workday
    assert not is_workday(date(2026, 9, 25))  # Friday, Mid-Autumn
    assert not is_workday(date(2026, 10, 1))
    assert not is_workday(date(2026, 10, 7))
    assert is_workday(date(2026, 10, 10))  # Saturday, make-up workday
    # Wed 09-30 → 10-01..07 off, Thu 8 (1), Fri 9 (2), Sat 10 (3, make-up), Sun 11 off,
    # Mon 12..Thu 15 (4..7).
    assert add_working_days(date(2026, 9, 30), 7) == date(2026, 10, 15)
    # Thu 09-24 → Fri 25..Sun 27 off, Mon 28..Wed 30 (1..3), 10-01..07 off, Thu 8 (4), Fri 9 (5),
    # Sat 10 (6), Mon 12 (7).
    assert add_working_days(date(2026, 9, 24), 7) == date(2026, 10, 12)
    # Fri 09-18 → Sat 19 off, Sun 20 (1, make-up), Mon 21 (2), Tue 22 (3).
    assert add_working_days(date(2026, 9, 18), 3) == date(2026, 9, 22)
    assert working_days_between(date(2026, 9, 24), date(2026, 10, 12)) == 7


def test_mediation_limit_across_qingming_and_labour_day() -> None:
    # Tue 03-10 → March 11..31: 15; April (4..6 off): 1..3, 7..10, 13..17, 20..24, 27..30 → 36;
    # May (1..5 off): 6..8 → 39, Sat 9 (40, make-up), Mon 11..Fri 15 → 45.
    assert add_working_days(date(2026, 3, 10), MEDIATION_LIMIT) == date(2026, 5, 15)


def test_outside_the_official_calendar(caplog: pytest.LogCaptureFixture) -> None:
    assert calendar_covers(date(2004, 1, 1))
    assert calendar_covers(date(2026, 12, 31))
    # A year's calendar is worked out once and warns on its first use; start afresh so the
    # warnings are seen whatever ran before.
    workdays.configure(None)
    with caplog.at_level(logging.WARNING, logger="scoring.credit.workdays"):
        assert not calendar_covers(date(2027, 6, 1))
        assert not calendar_covers(date(2028, 6, 1))
        assert not calendar_covers(date(2003, 6, 1))
    shipped, statutory, weekdays = (r.getMessage() for r in caplog.records)
    assert shipped.startswith("no official holiday calendar for 2027: counting the provisional")
    assert str(workdays.SHIPPED_CALENDAR) in shipped
    assert statutory.startswith("no official holiday calendar for 2028: counting only the")
    assert "make-up workdays and compensatory days off are unknown" in statutory
    assert weekdays == (
        "no official holiday calendar for 2003: counting Monday–Friday as working days"
    )
    # From 2025 the statutory holidays count where no notice is known: New Year's Day is off.
    assert not is_workday(date(2027, 1, 1))  # Friday, New Year's Day
    assert not is_workday(date(2027, 1, 2))  # Saturday
    assert is_workday(date(2027, 1, 4))  # Monday
    assert is_workday(date(2028, 1, 3))  # Monday: 1 January 2028 is a Saturday, no day added
    assert is_workday(date(2003, 10, 1))  # Wednesday: no calendar before the library's years
    # Fri 2027-01-01 → Mon 4..Fri 8 (1..5), Mon 11 (6), Tue 12 (7).
    assert add_working_days(date(2027, 1, 1), 7) == date(2027, 1, 12)
    # Wed 2026-12-30 → Thu 31 (1, official), Fri 2027-01-01 off, Mon 4 (2), Tue 5 (3).
    assert add_working_days(date(2026, 12, 30), 3) == date(2027, 1, 5)
    assert working_days_between(date(2026, 12, 30), date(2027, 1, 5)) == 3


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31)),
    n=st.integers(min_value=0, max_value=60),
)
def test_between_inverts_add(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert working_days_between(start, end) == n
    if n >= 1:
        # The n-th working day, not a later one: it is a workday and the day before has n - 1.
        assert is_workday(end)
        assert working_days_between(start, end - timedelta(days=1)) == n - 1


def test_negative_n_raises() -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        add_working_days(date(2026, 3, 4), -1)


def test_datetime_instead_of_date_raises() -> None:
    with pytest.raises(TypeError, match="local_date"):
        is_workday(bj(2026, 3, 4))
    with pytest.raises(TypeError, match="local_date"):
        add_working_days(bj(2026, 3, 4), 1)


def test_local_date() -> None:
    assert local_date(datetime(2026, 3, 2, 17, 30, tzinfo=UTC)) == date(2026, 3, 3)
    assert local_date(datetime(2026, 3, 2, 15, 59, tzinfo=UTC)) == date(2026, 3, 2)
    assert local_date(bj(2026, 3, 2, 23, 59)) == date(2026, 3, 2)


def test_naive_datetime_raises() -> None:
    with pytest.raises(ValueError, match="naive"):
        local_date(datetime(2026, 3, 2, 10, 0))  # noqa: DTZ001 - the naive input under test
    with pytest.raises(ValueError, match="naive"):
        complaint_deadlines(datetime(2026, 3, 2, 10, 0), None)  # noqa: DTZ001


def test_complaint_deadlines_use_the_local_date() -> None:
    # 2026-03-02T17:30Z is Tue 03-03 01:30 in Beijing: Wed 4..Fri 6 (1..3), Mon 9..Thu 12 (4..7).
    # Counting from the UTC date (Mon 03-02) would give Wed 03-11.
    received = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    assert complaint_deadlines(received, None) == Deadlines(
        accept_due=date(2026, 3, 12), mediation_due=None
    )
    accepted = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 10:00 Beijing
    assert complaint_deadlines(received, accepted) == Deadlines(
        accept_due=date(2026, 3, 12), mediation_due=date(2026, 5, 15)
    )


# Received Mon 2026-03-09 → accept_due: Tue 10..Fri 13 (1..4), Mon 16..Wed 18 (5..7) = 03-18.
# Accepted Tue 03-10 → mediation_due 2026-05-15 (counted in the mediation test above).
RECEIVED = bj(2026, 3, 9)
ACCEPT_DUE = date(2026, 3, 18)
ACCEPTED = bj(2026, 3, 10)
MEDIATION_DUE = date(2026, 5, 15)
LATER = bj(2026, 12, 1)


def test_fixture_dates() -> None:
    assert complaint_deadlines(RECEIVED, ACCEPTED) == Deadlines(ACCEPT_DUE, MEDIATION_DUE)


def test_in_time_is_not_overdue() -> None:
    assert overdue_since(RECEIVED, ACCEPTED, bj(2026, 5, 15, 23, 59), False, LATER) is None
    # Accepted on the last day, still running and within its limit.
    assert overdue_since(RECEIVED, bj(2026, 3, 18, 23, 0), None, False, bj(2026, 4, 1)) is None


def test_not_accepted_by_the_due_date() -> None:
    assert overdue_since(RECEIVED, None, None, False, LATER) == date(2026, 3, 19)
    # 16:30Z on 03-18 is already 00:30 on 03-19 in Beijing.
    as_of = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)
    assert overdue_since(RECEIVED, None, None, False, as_of) == date(2026, 3, 19)


def test_as_of_before_the_overdue_date() -> None:
    # 15:59Z on 03-18 is 23:59 on the due date in Beijing: not overdue yet.
    as_of = datetime(2026, 3, 18, 15, 59, tzinfo=UTC)
    assert overdue_since(RECEIVED, None, None, False, as_of) is None
    assert overdue_since(RECEIVED, ACCEPTED, None, False, bj(2026, 5, 15, 23, 59)) is None


def test_accepted_late() -> None:
    late = bj(2026, 3, 19, 9, 0)
    assert overdue_since(RECEIVED, late, None, False, LATER) == date(2026, 3, 19)
    # The acceptance breach comes first even when mediation then runs late too.
    assert overdue_since(RECEIVED, late, bj(2026, 11, 1), False, LATER) == date(2026, 3, 19)


def test_rejected_or_closed_without_acceptance() -> None:
    assert overdue_since(RECEIVED, None, bj(2026, 3, 18, 18, 0), True, LATER) is None
    assert overdue_since(RECEIVED, None, bj(2026, 3, 20), True, LATER) == date(2026, 3, 19)
    # Closed without acceptance or rejection (e.g. withdrawn) answers the acceptance stage too.
    assert overdue_since(RECEIVED, None, bj(2026, 3, 12), False, LATER) is None
    assert overdue_since(RECEIVED, None, bj(2026, 3, 25), False, LATER) == date(2026, 3, 19)


def test_rejected_without_a_date_raises() -> None:
    with pytest.raises(ValueError, match="closed_at"):
        overdue_since(RECEIVED, None, None, True, LATER)


def test_mediation_past_45_working_days() -> None:
    assert overdue_since(RECEIVED, ACCEPTED, None, False, LATER) == date(2026, 5, 16)
    assert overdue_since(RECEIVED, ACCEPTED, None, False, bj(2026, 5, 16, 0, 1)) == date(
        2026, 5, 16
    )
    # Closed late stays overdue on the record.
    assert overdue_since(RECEIVED, ACCEPTED, bj(2026, 5, 18), False, LATER) == date(2026, 5, 16)


def test_received_late_evening_utc_uses_the_local_date() -> None:
    # Received 2026-03-03 01:30 Beijing → accept_due Thu 03-12 (see above), overdue from 03-13.
    received = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)
    # Accepted on 03-12 local: in time by the local date, a day late by the UTC receipt date.
    accepted = bj(2026, 3, 12, 15, 0)
    assert overdue_since(received, accepted, None, False, bj(2026, 3, 20)) is None
    assert overdue_since(received, None, None, False, bj(2026, 3, 12, 23, 59)) is None
    assert overdue_since(received, None, None, False, bj(2026, 3, 13, 0, 0)) == date(2026, 3, 13)
