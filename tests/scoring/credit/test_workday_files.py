"""The bureau's working-day calendar file: it fills the years the calendar library lacks, an
official entry wins over everything, and a file that cannot be used is refused naming the
entry. The desk's warning about unofficial years is in tests/service/test_desk_calendar.py."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from scoring.credit import workdays
from scoring.credit.workdays import (
    CalendarFileError,
    add_working_days,
    calendar_covers,
    complaint_deadlines,
    is_workday,
    unofficial_years,
)
from tests.scoring.credit.test_workdays import bj

# A made-up notice for 2027, shaped like the State Council's: Spring Festival Fri 02-05 to
# Sat 02-13 off, Sat 02-20 worked. Not the real one (we do not have it): it only has to
# differ from the provisional entry we ship, so that the test sees which one counts.
NOTICE_2027 = """\
[2027]
official = true
source = "国务院办公厅关于2027年部分节假日安排的通知（测试用）"
holidays = [2027-01-01, 2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09,
            2027-02-10, 2027-02-11, 2027-02-12, 2027-02-13]
makeup_workdays = [2027-02-20]
"""


@pytest.fixture(autouse=True)
def _shipped_calendar_afterwards() -> Iterator[None]:
    yield
    workdays.configure(None)  # other tests count on the shipped calendar


def _bureau(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workdays.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_bureaus_official_entry_fills_a_year_the_library_lacks(tmp_path: Path) -> None:
    workdays.configure(None)
    assert not calendar_covers(date(2027, 3, 1))
    assert [c.year for c in unofficial_years((2026, 2027))] == [2027]
    # Shipped, provisional: Tue 02-09 is an ordinary working day.
    assert is_workday(date(2027, 2, 9))

    workdays.configure(_bureau(tmp_path, NOTICE_2027))

    assert calendar_covers(date(2027, 3, 1))
    assert unofficial_years((2026, 2027)) == []
    calendar = workdays.year_calendar(2027)
    assert calendar.official and calendar.source.startswith("国务院办公厅关于2027年")
    assert not is_workday(date(2027, 2, 9))  # in the notice's Spring Festival
    assert is_workday(date(2027, 2, 20))  # its make-up Saturday
    assert not is_workday(date(2027, 2, 21))  # an ordinary Sunday
    # Received Thu 2027-02-04: Fri 05..Sat 13 off, then Mon 15 (1) … Fri 19 (5), Sat 20 (6),
    # Mon 22 (7).
    assert add_working_days(date(2027, 2, 4), 7) == date(2027, 2, 22)
    due = complaint_deadlines(bj(2027, 2, 4), accepted_at=None)
    assert due.accept_due == date(2027, 2, 22)


def test_an_official_entry_corrects_a_year_the_library_has(tmp_path: Path) -> None:
    assert not is_workday(date(2026, 10, 1))
    workdays.configure(
        _bureau(
            tmp_path,
            '[2026]\nofficial = true\nsource = "更正（测试用）"\n'
            "holidays = [2026-01-01]\nmakeup_workdays = []\n",
        )
    )
    assert is_workday(date(2026, 10, 1))
    assert workdays.year_calendar(2026).source == "更正（测试用）"


def test_a_provisional_entry_never_replaces_the_librarys_year(tmp_path: Path) -> None:
    workdays.configure(
        _bureau(
            tmp_path,
            '[2026]\nofficial = false\nsource = "猜测"\n'
            "holidays = [2026-01-01]\nmakeup_workdays = []\n",
        )
    )
    assert not is_workday(date(2026, 10, 1))  # National Day, as the library has it
    assert workdays.year_calendar(2026).official


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[2027]\nofficial = true\n", "[2027]: missing 'source'"),
        (
            NOTICE_2027.replace("2027-02-13]", "2028-02-13]"),
            "[2027] holidays[9]: 2028-02-13 is not in 2027",
        ),
        (
            NOTICE_2027.replace("[2027-02-20]", "[2027-02-22]"),
            "[2027] makeup_workdays[0]: 2027-02-22 is a Monday",
        ),
        (NOTICE_2027.replace("2027-01-01,", '"2027-01-01",'), "[2027] holidays[0]"),
        (NOTICE_2027.replace("official = true", "official = 1"), "[2027] official"),
        ("[next]\n", "[next]: not a year"),
        ("[2027\n", "not valid TOML"),
    ],
)
def test_a_file_that_cannot_be_used_is_refused_naming_the_entry(
    tmp_path: Path, text: str, names: str
) -> None:
    path = _bureau(tmp_path, text)
    before = workdays.year_calendar(2027)

    with pytest.raises(CalendarFileError) as caught:
        workdays.configure(path)

    assert str(path) in str(caught.value) and names in str(caught.value)
    assert workdays.year_calendar(2027) == before  # the calendar in use is unchanged


def test_a_bad_calendar_file_stops_the_cli_naming_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from service.cli import main

    path = _bureau(tmp_path, "[2027]\nofficial = true\n")
    result = CliRunner().invoke(
        main,
        ["credit", "recompute"],
        env={"FANGXIN_DATA_DIR": str(tmp_path / "data"), "FANGXIN_WORKDAYS_FILE": str(path)},
    )
    assert result.exit_code == 2
    assert f"configuration error: {path}: [2027]: missing 'source'" in result.output
