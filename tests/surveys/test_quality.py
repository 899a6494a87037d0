"""Screening rules on hand-built responses, bulk recomputation, and officials' decisions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx

from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from surveys import quality
from surveys.models import FlagKind, FlagStatus, Response, ResponseFlag, Survey, TargetKind
from surveys.quality import (
    Screened,
    find_bursts,
    find_duplicates,
    find_surges,
    is_speeder,
    is_straightliner,
)
from tests.helpers import make_token
from tests.surveys.conftest import make_city

T0 = datetime(2026, 3, 15, 10, 0, tzinfo=UTC)


def row(
    rid: int,
    minutes: float,
    *,
    device: str | None = None,
    ip: str | None = None,
    target: str = "M1",
) -> Screened:
    return Screened(rid, 1, target, T0 + timedelta(minutes=minutes), 40_000, device, ip)


def test_straightliner_needs_five_items_all_equal() -> None:
    assert is_straightliner([100.0] * 5)
    assert not is_straightliner([100.0] * 4)
    assert not is_straightliner([100.0, 100.0, 75.0, 100.0, 100.0])


def test_speeder_is_below_a_third_of_the_median_once_there_are_a_hundred() -> None:
    assert is_speeder(14_999, 45_000, 100)
    assert not is_speeder(15_000, 45_000, 100)
    assert not is_speeder(1_000, 45_000, 99)
    assert not is_speeder(None, 45_000, 500)


def test_bursts_are_five_in_ten_minutes_from_one_address_for_one_target() -> None:
    rows = [row(i, i * 2, ip="A") for i in range(1, 6)]  # minutes 2..10: span 8 min
    rows += [row(10 + i, i * 5, ip="B") for i in range(5)]  # span 20 min: no burst
    rows += [row(20 + i, i, ip="A", target="M2") for i in range(4)]  # only four
    assert find_bursts(rows) == {1, 2, 3, 4, 5}


def test_a_surge_is_twenty_in_an_hour_on_a_target_that_usually_gets_few() -> None:
    # From twenty addresses, no cookie: each response alone looks like anybody's.
    rows = [row(i, i * 3, ip=f"A{i}") for i in range(20)]  # minutes 0..57
    rows += [row(100 + i, i * 3.2, ip=f"B{i}", target="M2") for i in range(20)]  # 0..60.8
    rows += [row(200 + i, i, ip=f"C{i}", target="M3") for i in range(19)]  # only nineteen
    assert find_surges(rows) == set(range(20))


def test_a_surge_is_ten_times_the_targets_own_usual_rate() -> None:
    # One response every 12 minutes through the 28 days before: the 3,350 of them that fall
    # in the 671 hours before the last hour are 4.99 an hour, so a surge needs 49.9 in an
    # hour: 49 stay a busy hour, 50 are a surge.
    usual = [row(i, -60 * 24 * 28 + 12 * i, target="busy") for i in range(3_355)]
    busy = [row(10_000 + i, i, target="busy") for i in range(49)]
    assert find_surges(usual + busy) == set()
    surge = [row(20_000 + i, i, target="busy") for i in range(50)]
    assert find_surges(usual + surge) == {20_000 + i for i in range(50)}
    # What came more than 28 days before does not count as usual.
    old = [row(i, -60 * 24 * 56 + 12 * i, target="busy") for i in range(3_355)]
    assert find_surges(old + busy) == {10_000 + i for i in range(49)}


def test_duplicate_device_is_a_second_answer_within_the_period() -> None:
    rows = [
        row(1, 0, device="D"),
        row(2, 60 * 24 * 10, device="D"),
        row(3, 60 * 24 * 45, device="D"),
        row(4, 5, device="E", target="M2"),
    ]
    assert find_duplicates(rows, timedelta(days=30)) == {2}


async def _response(
    survey: Survey,
    target: str,
    at: datetime,
    duration: int,
    device: str | None = None,
    ip: str | None = None,
) -> Response:
    return await Response.create(
        survey_id=survey.id,
        version=1,
        target_kind=TargetKind.MERCHANT,
        target_code=target,
        client_submission_id=uuid.uuid4(),
        submitted_at=at,
        duration_ms=duration,
        device_hash=device,
        ip_hash=ip,
    )


async def test_bulk_screening_finds_speeders_and_duplicates_and_keeps_decisions(
    db: Settings,
) -> None:
    city = await make_city()
    survey = await Survey.get(slug="merchant")
    normal = [
        await _response(survey, city.merchant, T0 + timedelta(hours=i), 45_000 + i)
        for i in range(100)
    ]
    fast = await _response(survey, city.merchant, T0 + timedelta(days=5), 9_000)
    first = await _response(survey, city.other_merchant, T0, 40_000, device="D1")
    second = await _response(
        survey, city.other_merchant, T0 + timedelta(days=3), 40_000, device="D1"
    )
    report = await quality.recompute_flags("merchant")
    assert report.responses == 103
    assert report.raised["speeder"] == 1 and report.raised["duplicate_device"] == 1
    assert {(f.response_id, f.kind) for f in await ResponseFlag.all()} == {
        (fast.id, FlagKind.SPEEDER),
        (second.id, FlagKind.DUPLICATE_DEVICE),
    }
    assert {r.id for r in await Response.filter(excluded=True)} == {fast.id, second.id}
    assert not (await Response.get(id=first.id)).excluded
    assert normal[0].id not in {r.id for r in await Response.filter(excluded=True)}

    # An official clears one flag; screening again does not raise it anew.
    from service.kernel.audit import Actor

    await quality.decide_flag(
        fast.id,
        FlagKind.SPEEDER,
        FlagStatus.CLEARED,
        "read the answers: plausible",
        actor=Actor("account", "ofc"),
    )
    assert not (await Response.get(id=fast.id)).excluded
    await quality.recompute_flags("merchant")
    flag = await ResponseFlag.get(response_id=fast.id)
    assert flag.status == FlagStatus.CLEARED
    assert not (await Response.get(id=fast.id)).excluded


async def test_officials_confirm_or_clear_flags_with_a_reason_audited(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    survey = await Survey.get(slug="merchant")
    r = await _response(survey, city.merchant, T0, 1_000)
    await ResponseFlag.create(response_id=r.id, kind=FlagKind.SPEEDER)
    await Response.filter(id=r.id).update(excluded=True)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    url = f"/api/v1/surveys/responses/{r.id}/flags/speeder"
    missing_reason = await client.post(url, json={"decision": "cleared", "reason": " "})
    assert missing_reason.status_code == 422
    ok = await client.post(url, json={"decision": "cleared", "reason": "checked by phone"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "cleared"
    assert not (await Response.get(id=r.id)).excluded
    again = await client.post(url, json={"decision": "cleared", "reason": "twice"})
    assert again.status_code == 409
    confirm = await client.post(url, json={"decision": "confirmed", "reason": "on reflection"})
    assert confirm.status_code == 200
    assert (await Response.get(id=r.id)).excluded
    events = await AuditEvent.filter(subject=f"response:{r.id}").order_by("id")
    assert [e.action for e in events] == ["response_flag.cleared", "response_flag.confirmed"]
    assert events[0].details["reason"] == "checked by phone"
    bad = await client.post(
        f"/api/v1/surveys/responses/{r.id}/flags/psychic",
        json={"decision": "cleared", "reason": "x"},
    )
    assert bad.status_code in (400, 422)
