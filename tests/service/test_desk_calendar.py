"""The officials' desk warns while this year or the next has no official working-day calendar,
and is quiet once the bureau's file enters the State Council's notice for both."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
import pytest

from scoring.credit import workdays
from service.kernel.localtime import LOCAL_TZ
from service.kernel.models import Role
from tests.helpers import login, make_account

HTML = {"accept": "text/html"}
WARNING = "工作日历尚未录入官方节假日安排"


def _notice(year: int) -> str:
    return (
        f"[{year}]\nofficial = true\n"
        f'source = "国务院办公厅关于{year}年部分节假日安排的通知（测试用）"\n'
        f"holidays = [{date(year, 1, 1).isoformat()}]\nmakeup_workdays = []\n"
    )


@pytest.fixture(autouse=True)
def _shipped_calendar_afterwards() -> Iterator[None]:
    yield
    workdays.configure(None)


async def test_the_desk_warns_about_unofficial_years_until_they_are_entered(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    this_year = datetime.now(UTC).astimezone(LOCAL_TZ).year
    await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303
    # Each year's calendar is worked out once per process: start from what the bureau has.
    workdays.configure(None)
    gaps = [c.year for c in workdays.unofficial_years((this_year, this_year + 1))]
    assert gaps, "the shipped calendar should leave a year to warn about"

    desk = await client.get("/official", headers=HTML)
    assert desk.status_code == 200
    assert WARNING in desk.text
    for year in gaps:
        assert f"{year} 年的投诉处理时限按临时日历计算" in desk.text

    bureau = tmp_path / "workdays.toml"
    bureau.write_text(_notice(this_year) + "\n" + _notice(this_year + 1), encoding="utf-8")
    workdays.configure(bureau)

    quiet = await client.get("/official", headers=HTML)
    assert quiet.status_code == 200
    assert WARNING not in quiet.text
