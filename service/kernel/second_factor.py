"""The second factor of staff sign-in: a TOTP authenticator (RFC 6238, 6 digits, 30 s) and
ten single-use recovery codes.

- The TOTP secret is sealed at rest (service.kernel.sealing, ``keys/second_factor.key``,
  bound to the account), so a copy of the database alone yields no codes.
- A code is accepted once: the time step it belongs to is remembered and no code of that
  step or an earlier one is accepted again (a code seen over a shoulder is worth nothing).
- Recovery codes are 80 random bits shown once; only their SHA-256 is kept, each is spent
  by the first sign-in that uses it.
- Wrong codes are counted per account: after ``max_failures`` in a row every code, right or
  wrong, is refused for ``lockout`` (the password throttle's settings). A six-digit code
  can then be guessed at about five tries per quarter hour.
- Policy: ``FANGXIN_SECOND_FACTOR_REQUIRED`` names the roles (official, admin) that must use
  one; anyone signed in may enrol of their own accord, and is then asked at every sign-in.

Enrolment, confirmation, every wrong code, blocks, recovery-code use and resets are audited.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

import pyotp
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import Conflict, FangxinError, NotFound
from service.kernel.i18n import N_
from service.kernel.models import Account, RecoveryCode, SecondFactor
from service.kernel.sealing import KEY_DIR, SealingKey, read_key
from service.kernel.settings import Settings

KEY_FILE: Final = f"{KEY_DIR}/second_factor.key"
ISSUER_NAME: Final = "Fangxin"
DIGITS: Final = 6
PERIOD: Final = 30
# Codes of the step before and after are accepted too: phones' clocks drift.
DRIFT_STEPS: Final = 1
RECOVERY_CODES: Final = 10
_RECOVERY_ALPHABET: Final = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_RECOVERY_LENGTH: Final = 16  # 16 characters of 31: 79 bits

WRONG_CODE = N_("That code is not right. Check the time on your phone and try the newest code.")
BLOCKED = N_("Too many wrong codes. Wait a quarter of an hour, then try again.")


class Step(StrEnum):
    """What a sign-in still needs after the first factor."""

    VERIFY = "verify"  # a code from the enrolled authenticator (or a recovery code)
    ENROL = "enrol"  # required by policy, not yet enrolled: enrol before anything else


class CodeRefused(FangxinError):
    status = 401
    title = "Code refused"


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str
    uri: str  # otpauth:// for the QR code


def key(data_dir: Path) -> SealingKey:
    return SealingKey(read_key(data_dir / KEY_FILE))


def _bound(account_id: int) -> str:
    return f"second-factor:account:{account_id}"


def required(settings: Settings, role: str) -> bool:
    return role in settings.second_factor_required


async def confirmed_for(account_id: int) -> SecondFactor | None:
    return await SecondFactor.get_or_none(account_id=account_id, confirmed_at__not_isnull=True)


async def step_for(settings: Settings, account: Account) -> Step | None:
    """What this account must still do to sign in: nothing, verify a code, or enrol."""
    if await confirmed_for(account.id) is not None:
        return Step.VERIFY
    if required(settings, account.role.value):
        return Step.ENROL
    return None


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=username, issuer_name=ISSUER_NAME
    )


async def begin_enrolment(settings: Settings, account: Account) -> Enrolment:
    """A new secret for this account, kept sealed and unconfirmed until a code from it is
    typed; an unconfirmed one before it is replaced. An account with a confirmed
    authenticator must have it reset first (by an administrator)."""
    secret = pyotp.random_base32()
    sealed = key(settings.data_dir).seal(secret, _bound(account.id))
    async with in_transaction() as conn:
        row = await SecondFactor.filter(account_id=account.id).using_db(conn).first()
        if row is not None and row.confirmed_at is not None:
            raise Conflict("A second factor is already set up; an administrator can reset it")
        if row is None:
            await SecondFactor.create(using_db=conn, account_id=account.id, secret_sealed=sealed)
        else:
            row.secret_sealed = sealed
            row.last_step = 0
            await row.save(using_db=conn, update_fields=["secret_sealed", "last_step"])
        await audit.record(
            conn,
            Actor("account", account.username),
            "second_factor.enrolment_started",
            f"account:{account.username}",
            {},
        )
    return Enrolment(secret, provisioning_uri(secret, account.username))


async def pending_enrolment(settings: Settings, account: Account) -> Enrolment | None:
    """The unconfirmed secret being enrolled, to show its QR code again after a wrong code."""
    row = await SecondFactor.get_or_none(account_id=account.id, confirmed_at=None)
    if row is None:
        return None
    secret = key(settings.data_dir).open(row.secret_sealed, _bound(account.id))
    return Enrolment(secret, provisioning_uri(secret, account.username))


async def confirm_enrolment(
    settings: Settings, account: Account, code: str, *, now: datetime | None = None
) -> list[str]:
    """Confirm the pending authenticator with one of its codes; returns the recovery codes,
    which are shown this once and never again."""
    now = now or datetime.now(UTC)
    async with in_transaction() as conn:
        row = (
            await SecondFactor.filter(account_id=account.id, confirmed_at=None)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if row is None:
            raise NotFound("No second factor is being set up")
        ok = await _check_totp(conn, settings, account, row, code, now)
        if ok:
            row.confirmed_at = now
            await row.save(using_db=conn, update_fields=["confirmed_at"])
            codes = await _new_recovery_codes(conn, account)
            await audit.record(
                conn,
                Actor("account", account.username),
                "second_factor.enrolled",
                f"account:{account.username}",
                {"recovery_codes": len(codes)},
            )
    if not ok:
        raise CodeRefused(_refusal(row, now))
    return codes


async def verify(
    settings: Settings, account: Account, code: str, *, now: datetime | None = None
) -> str:
    """Check a sign-in's second factor: a TOTP code, or else a recovery code (spent here).
    Returns which one was used; raises CodeRefused."""
    now = now or datetime.now(UTC)
    cleaned = code.strip().replace(" ", "")
    async with in_transaction() as conn:
        row = (
            await SecondFactor.filter(account_id=account.id, confirmed_at__not_isnull=True)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if row is None:
            raise NotFound("No second factor is set up")
        used = ""
        if _blocked(row, now):
            await _record_failure(conn, settings, account, row, now, blocked=True)
        elif cleaned.isdigit():
            used = "totp" if await _check_totp(conn, settings, account, row, cleaned, now) else ""
        elif await _spend_recovery_code(conn, account, cleaned.lower(), now):
            used = "recovery_code"
            row.failures = 0
            await row.save(using_db=conn, update_fields=["failures"])
        else:
            await _record_failure(conn, settings, account, row, now)
        if used:
            await audit.record(
                conn,
                Actor("account", account.username),
                "second_factor.verified",
                f"account:{account.username}",
                {"with": used},
            )
    if not used:
        raise CodeRefused(_refusal(row, now))
    return used


async def reset(username: str, *, actor: Actor) -> bool:
    """Remove an account's authenticator and recovery codes (a lost phone): its holder enrols
    again at the next sign-in where policy requires it. Every session of the account ends.
    Returns whether there was anything to remove."""
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        if account is None:
            raise NotFound(f"No account {username}")
        removed = await SecondFactor.filter(account_id=account.id).using_db(conn).delete()
        codes = await RecoveryCode.filter(account_id=account.id).using_db(conn).delete()
        # Imported here: accounts is the older module and needs nothing of this one.
        from service.kernel.accounts import end_sessions

        await end_sessions(conn, account)
        await audit.record(
            conn,
            actor,
            "second_factor.reset",
            f"account:{username}",
            {"authenticator": bool(removed), "recovery_codes": codes, "sessions_ended": True},
        )
    return bool(removed)


async def recovery_codes_left(account_id: int) -> int:
    return await RecoveryCode.filter(account_id=account_id, used_at=None).count()


def hash_recovery_code(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").lower().encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_LENGTH, 4))


async def _new_recovery_codes(conn: BaseDBAsyncClient, account: Account) -> list[str]:
    await RecoveryCode.filter(account_id=account.id).using_db(conn).delete()
    codes = [_new_code() for _ in range(RECOVERY_CODES)]
    await RecoveryCode.bulk_create(
        [RecoveryCode(account_id=account.id, code_hash=hash_recovery_code(c)) for c in codes],
        using_db=conn,
    )
    return codes


async def _spend_recovery_code(
    conn: BaseDBAsyncClient, account: Account, code: str, now: datetime
) -> bool:
    if not code:
        return False
    # A conditional update: of two sign-ins racing with one code, one spends it.
    spent = (
        await RecoveryCode.filter(
            account_id=account.id, code_hash=hash_recovery_code(code), used_at=None
        )
        .using_db(conn)
        .update(used_at=now)
    )
    if not spent:
        return False
    left = await RecoveryCode.filter(account_id=account.id, used_at=None).using_db(conn).count()
    await audit.record(
        conn,
        Actor("account", account.username),
        "second_factor.recovery_code_used",
        f"account:{account.username}",
        {"left": left},
    )
    return True


def _blocked(row: SecondFactor, now: datetime) -> bool:
    return row.blocked_until is not None and row.blocked_until > now


def _refusal(row: SecondFactor, now: datetime) -> str:
    return BLOCKED if _blocked(row, now) else WRONG_CODE


async def _check_totp(
    conn: BaseDBAsyncClient,
    settings: Settings,
    account: Account,
    row: SecondFactor,
    code: str,
    now: datetime,
) -> bool:
    """Whether ``code`` is a fresh code of this authenticator; counts a failure if not."""
    if _blocked(row, now):
        await _record_failure(conn, settings, account, row, now, blocked=True)
        return False
    secret = key(settings.data_dir).open(row.secret_sealed, _bound(account.id))
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    current = int(now.timestamp()) // PERIOD
    matched = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code.strip()):
            matched = step
    if matched is None or matched <= row.last_step:
        await _record_failure(conn, settings, account, row, now, replayed=matched is not None)
        return False
    row.last_step = matched
    row.failures = 0
    row.blocked_until = None
    await row.save(using_db=conn, update_fields=["last_step", "failures", "blocked_until"])
    return True


async def _record_failure(
    conn: BaseDBAsyncClient,
    settings: Settings,
    account: Account,
    row: SecondFactor,
    now: datetime,
    *,
    blocked: bool = False,
    replayed: bool = False,
) -> None:
    details: dict[str, object] = {"at": now.isoformat()}
    if blocked:
        details["blocked_until"] = row.blocked_until.isoformat() if row.blocked_until else None
        action = "second_factor.refused_blocked"
    else:
        row.failures += 1
        details["failures"] = row.failures
        if replayed:
            details["replayed"] = True
        fields = ["failures"]
        if row.failures >= settings.login_max_failures:
            row.blocked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            row.failures = 0
            details["blocked_until"] = row.blocked_until.isoformat()
            fields.append("blocked_until")
        await row.save(using_db=conn, update_fields=fields)
        action = "second_factor.failed"
    await audit.record(
        conn, Actor("login", account.username), action, f"account:{account.username}", details
    )
