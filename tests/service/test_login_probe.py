"""Findings of the login probe: one answer for every refusal, throttling by account and
address, and passwords that resist guessing."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from service.kernel import accounts
from service.kernel.errors import InvalidInput, LoginFailed
from service.kernel.models import Account, Role
from service.kernel.settings import Settings
from tests.helpers import PASSWORD, TEST_ACTOR, csrf, make_account, make_token

LOCKOUT = timedelta(minutes=15)
T0 = datetime(2026, 3, 15, 9, 0, tzinfo=UTC)


async def _try(name: str, password: str, address: str, at: datetime) -> bool:
    try:
        await accounts.authenticate(
            name, password, max_failures=5, lockout=LOCKOUT, address=address, now=at
        )
    except LoginFailed:
        return False
    return True


async def test_unknown_wrong_and_locked_get_the_same_answer(client: httpx.AsyncClient) -> None:
    await make_account("ofc-a", Role.OFFICIAL)
    await make_account("ofc-b", Role.OFFICIAL)
    await Account.filter(username="ofc-b").update(
        locked_until=datetime.now(UTC) + timedelta(hours=1)
    )
    token = await csrf(client)
    answers = []
    for name, password in (
        ("ofc-x", "nope-nope-nope"),
        ("ofc-a", "nope-nope-nope"),
        ("ofc-b", PASSWORD),
    ):
        r = await client.post(
            "/login", data={"username": name, "password": password, "_csrf_token": token}
        )
        # The form echoes the name typed; everything else must be identical.
        answers.append((r.status_code, r.text.replace(name, "NAME")))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 401 and "用户名或密码错误" in answers[0][1]


async def test_unknown_and_wrong_cost_one_verify_each(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    accounts.equaliser_hash()
    calls: list[str] = []
    real = accounts._verify

    def counting(hashed: str, password: str) -> bool:
        calls.append(hashed)
        return real(hashed, password)

    monkeypatch.setattr(accounts, "_verify", counting)
    took: dict[str, float] = {}
    for name in ("ghost", "ofc"):
        started = time.perf_counter()
        for i in range(3):
            assert not await _try(name, "nope-nope-nope", f"10.0.0.{i}", datetime.now(UTC))
        took[name] = time.perf_counter() - started
    assert len(calls) == 6  # one argon2 verify per attempt, known name or not
    assert 1 / 3 < took["ghost"] / took["ofc"] < 3


async def test_failures_from_one_address_do_not_stop_another(db: Settings) -> None:
    await make_account("admin1", Role.ADMIN)
    for i in range(10):
        assert not await _try("admin1", "nope-nope-nope", "203.0.113.9", T0 + timedelta(seconds=i))
    account = await Account.get(username="admin1")
    assert account.locked_until is None
    # The right password from the holder's own address works at once …
    assert await _try("admin1", PASSWORD, "198.51.100.7", T0 + timedelta(seconds=10))
    # … while the guessing address waits, doubling: even the right password is refused there.
    assert not await _try("admin1", PASSWORD, "203.0.113.9", T0 + timedelta(seconds=10))
    assert await _try("admin1", PASSWORD, "203.0.113.9", T0 + timedelta(minutes=16))


async def test_the_back_off_grows(db: Settings) -> None:
    await make_account("ofc", Role.OFFICIAL)
    at = T0
    for _ in range(5):
        assert not await _try("ofc", "nope-nope-nope", "203.0.113.9", at)
    # The fifth failure costs 1 s; the sixth 2 s; the seventh 4 s.
    assert not await _try("ofc", "nope-nope-nope", "203.0.113.9", at + timedelta(seconds=1))
    assert not await _try("ofc", PASSWORD, "203.0.113.9", at + timedelta(seconds=2))  # waiting
    assert not await _try("ofc", "nope-nope-nope", "203.0.113.9", at + timedelta(seconds=3))
    assert not await _try("ofc", PASSWORD, "203.0.113.9", at + timedelta(seconds=6))  # waiting
    assert await _try("ofc", PASSWORD, "203.0.113.9", at + timedelta(seconds=8))


async def test_a_spread_out_attack_locks_the_account_but_not_its_usual_address(
    db: Settings,
) -> None:
    await make_account("ofc", Role.OFFICIAL)
    assert await _try("ofc", PASSWORD, "198.51.100.7", T0)
    for i in range(4):
        assert not await _try("ofc", "nope-nope-nope", f"203.0.113.{i}", T0 + timedelta(minutes=1))
    assert (await Account.get(username="ofc")).locked_until is None  # a few addresses: no lock
    for i in range(4, 10):
        assert not await _try("ofc", "nope-nope-nope", f"203.0.113.{i}", T0 + timedelta(minutes=2))
    assert (await Account.get(username="ofc")).locked_until is not None
    assert not await _try("ofc", PASSWORD, "192.0.2.1", T0 + timedelta(minutes=3))
    assert await _try("ofc", PASSWORD, "198.51.100.7", T0 + timedelta(minutes=3))


@pytest.mark.parametrize("weak", ["short-1", "password1234", "qwertyuiop123", "ofc-ofc-ofc-ofc"])
async def test_weak_passwords_are_refused(db: Settings, weak: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        await accounts.create_account("ofc", weak, Role.OFFICIAL, actor=TEST_ACTOR)
    assert [e.field for e in caught.value.errors] == ["password"]
    await make_account("ofc", Role.OFFICIAL)
    with pytest.raises(InvalidInput):
        await accounts.change_password("ofc", weak, actor=TEST_ACTOR)
    assert await accounts.change_password("ofc", "Lantern river 47 quietly", actor=TEST_ACTOR)


async def test_the_admin_api_refuses_a_weak_password(client: httpx.AsyncClient) -> None:
    admin = {"authorization": f"Bearer {await make_token(Role.ADMIN)}"}
    body = {"username": "newofc", "password": "password1234", "role": "official"}
    r = await client.post("/api/v1/accounts", json=body, headers=admin)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "password"
    body["password"] = "Lantern river 47 quietly"
    r = await client.post("/api/v1/accounts", json=body, headers=admin)
    assert r.status_code in (200, 201), r.text


def test_generated_demo_passwords_pass() -> None:
    import secrets

    assert all(not accounts.password_problems(secrets.token_urlsafe(12), "demo") for _ in range(50))
    assert not accounts.password_problems(PASSWORD)
