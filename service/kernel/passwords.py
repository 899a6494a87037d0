"""Passwords people manage themselves (issue 32, item 5).

- **Change.** Every account changes its own password with the current one and the new one
  twice, held to the rule of every password (``accounts.password_problems``). Wrong current
  passwords are counted: after ``max_failures`` within ``CHANGE_WINDOW`` the form refuses
  even the right one for a while, so a session left open is no way to guess the password.
- **Reset.** A merchant or area manager who forgot the password asks an official, who issues
  a one-time code (only accounts within the official's district, as every scope rule: outside
  it the account does not exist). The code is shown once, kept as a hash, expires after the
  policy's hours, is spent by its first good use, by a newer code for the same account or by
  ``RESET_MAX_ATTEMPTS`` wrong guesses; issuing, use and every failure are audited. Guessing
  is also throttled per address (``RESET_ADDRESS_FAILURES`` per ``RESET_WINDOW``).
- **Sessions.** Either way every session of the account ends (its epoch rises); the page
  that changed the password re-issues its own session (service/portal/passwords.py). API
  tokens stay: a token has a role of its own and no account behind it (``ApiToken``), and
  is revoked by ``fangxin token revoke``.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Final

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.accounts import (
    MIN_PASSWORD,
    USERNAME_RE,
    Principal,
    hash_token,
    password_problems,
    set_password,
    verify_password,
)
from service.kernel.audit import Actor
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_
from service.kernel.models import Account, Area, AuditEvent, PasswordReset, Role

# Who may be given a reset code: the accounts an official looks after. Officials and
# administrators who forget theirs ask an administrator (`fangxin user passwd`).
RESETTABLE: Final = (Role.MERCHANT, Role.AREA_MANAGER)
# Letters and digits nobody misreads from paper or over the phone (no 0/O, 1/I/L).
CODE_ALPHABET: Final = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH: Final = 12  # 31^12, about 2^59: beyond guessing in RESET_MAX_ATTEMPTS tries
CODE_GROUP: Final = 4
RESET_MAX_ATTEMPTS: Final = 5  # wrong codes for an account before its code is spent
RESET_ADDRESS_FAILURES: Final = 10  # failed redemptions from one address per window
RESET_WINDOW: Final = timedelta(hours=1)
CHANGE_WINDOW: Final = timedelta(minutes=15)
AUDIT_SCAN: Final = 5000  # recent failures read to count one address's (bounds the read)

# What the forms say, translated by the pages; ``%(n)s`` is MIN_PASSWORD.
WRONG_CURRENT: Final = N_("This is not your current password.")
TOO_MANY: Final = N_("Too many wrong passwords: wait a quarter of an hour and try again.")
TOO_SHORT: Final = N_("Use at least %(n)s characters: a passphrase of several words is easiest.")
TOO_WEAK: Final = N_("Too easy to guess: use a longer passphrase, not a common word or name.")
SAME: Final = N_("Choose a password other than the current one.")
MISMATCH: Final = N_("The two new passwords differ.")
REQUIRED: Final = N_("Required.")
# One answer for every refused code, so that it tells nobody which names exist, which
# codes were ever issued or why this one failed (the audit log says why).
BAD_CODE: Final = N_(
    "This username and code do not match a valid reset code. Codes expire, work once, and "
    "stop working after a few wrong tries: ask the bureau for a new one."
)


def new_code() -> str:
    """A code to read out or hand over: ``ABCD-EFGH-JKMN``."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + CODE_GROUP] for i in range(0, CODE_LENGTH, CODE_GROUP))


def normalise_code(code: str) -> str:
    """What was typed, as issued: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c.isalnum())[:64]


def code_hash(code: str) -> str:
    return hash_token(normalise_code(code))


def _new_password_problems(password: str, confirm: str, username: str) -> list[FieldError]:
    errors: list[FieldError] = []
    if not password:
        errors.append(FieldError("password", REQUIRED))
    elif len(password) < MIN_PASSWORD:
        errors.append(FieldError("password", TOO_SHORT))
    elif password_problems(password, username):
        errors.append(FieldError("password", TOO_WEAK))
    if password and confirm != password:
        errors.append(FieldError("confirm", MISMATCH))
    return errors


# --- change -----------------------------------------------------------------------------


async def change_own(
    principal: Principal,
    current: str,
    password: str,
    confirm: str,
    *,
    max_failures: int,
    now: datetime | None = None,
) -> Account:
    """Change the signed-in account's password; every session of it ends. Refused, with each
    bad field named, when the current password is wrong, the new one weak or not the same
    twice: then nothing changes (a wrong current password is counted, and audited)."""
    now = now or datetime.now(UTC)
    account = await Account.get_or_none(id=principal.account_id or 0, active=True)
    if account is None:
        raise NotFound("No such account")
    subject = f"account:{account.username}"
    failures = await AuditEvent.filter(
        subject=subject, action="account.password_change_failed", at__gte=now - CHANGE_WINDOW
    ).count()
    if failures >= max_failures:
        raise InvalidInput("The password was not changed", [FieldError("current", TOO_MANY)])
    errors = _new_password_problems(password, confirm, account.username)
    if not current:
        errors.insert(0, FieldError("current", REQUIRED))
    elif not verify_password(account.password_hash, current):
        errors.insert(0, FieldError("current", WRONG_CURRENT))
        async with in_transaction() as conn:
            await audit.record(
                conn,
                principal.actor,
                "account.password_change_failed",
                subject,
                {"failures": failures + 1},
            )
    elif password and password == current:
        errors.append(FieldError("password", SAME))
    if errors:
        raise InvalidInput("The password was not changed", errors)
    async with in_transaction() as conn:
        locked = await Account.filter(id=account.id).using_db(conn).select_for_update().first()
        if locked is None:
            raise NotFound("No such account")
        await set_password(conn, locked, password)
        await audit.record(
            conn,
            principal.actor,
            "account.password_changed",
            subject,
            {"sessions_ended": True, "by": "self"},
        )
    return await Account.get(id=account.id)


# --- reset codes ------------------------------------------------------------------------


def resettable(district: Area | None) -> QuerySet[Account]:
    """The accounts an official may give a reset code: merchants' and area managers', of
    the official's district only (a merchant of it, a street or scenic spot in it)."""
    qs = Account.filter(role__in=RESETTABLE)
    if district is None:
        return qs
    return qs.filter(Q(merchant__district_id=district.id) | Q(area__parent_id=district.id))


def live(now: datetime) -> Q:
    """Codes that still work."""
    return Q(used_at=None, revoked_at=None, expires_at__gt=now)


async def issue(
    username: str,
    *,
    district: Area | None,
    actor: Actor,
    hours: int,
    now: datetime | None = None,
) -> tuple[PasswordReset, str]:
    """A new reset code for an account in the official's district; the plain code is
    returned once and never stored. Any earlier code of the account stops working."""
    now = now or datetime.now(UTC)
    # Found first, then locked by id: PostgreSQL locks no row of an outer join's nullable side.
    found = await resettable(district).filter(username=username).first()
    if found is None:
        raise NotFound(f"No merchant or area manager account {username}")
    if not found.active:
        raise Conflict(f"The account {username} is locked: an administrator unlocks it first")
    code = new_code()
    async with in_transaction() as conn:
        account = await Account.filter(id=found.id).using_db(conn).select_for_update().get()
        earlier = (
            await PasswordReset.filter(live(now), account_id=account.id)
            .using_db(conn)
            .update(revoked_at=now)
        )
        reset = await PasswordReset.create(
            using_db=conn,
            account=account,
            code_hash=code_hash(code),
            issued_by=str(actor),
            issued_at=now,
            expires_at=now + timedelta(hours=hours),
        )
        await audit.record(
            conn,
            actor,
            "password_reset.issued",
            f"account:{account.username}",
            {
                "reset": reset.id,
                "expires_at": reset.expires_at.isoformat(),
                "earlier_revoked": earlier,
            },
        )
    return reset, code


async def _address_failures(address: str, now: datetime) -> int:
    rows = (
        await AuditEvent.filter(action="password_reset.failed", at__gte=now - RESET_WINDOW)
        .order_by("-id")
        .limit(AUDIT_SCAN)
        .values_list("details", flat=True)
    )
    return sum(1 for d in rows if isinstance(d, dict) and d.get("address") == address)


async def redeem(
    username: str,
    code: str,
    password: str,
    confirm: str,
    *,
    address: str,
    now: datetime | None = None,
) -> Account:
    """Set a new password with a reset code. The new password is judged first (a weak one
    spends no try); then a wrong, expired, spent or someone else's code is refused with the
    one answer ``BAD_CODE`` and counted, against the account's live code and the address."""
    now = now or datetime.now(UTC)
    errors = _new_password_problems(password, confirm, username)
    if not username:
        errors.insert(0, FieldError("username", REQUIRED))
    if not normalise_code(code):
        errors.insert(0 if username else 1, FieldError("code", REQUIRED))
    if errors:
        raise InvalidInput("The password was not set", errors)
    refused = InvalidInput("The password was not set", [FieldError("code", BAD_CODE)])
    # What the audit log calls the account asked for: a name as accounts have them, or not.
    named = username if USERNAME_RE.fullmatch(username) else "(not a username)"
    if await _address_failures(address, now) >= RESET_ADDRESS_FAILURES:
        async with in_transaction() as conn:
            await audit.record(
                conn,
                Actor("reset", named),
                "password_reset.throttled",
                f"account:{named}",
                {"address": address},
            )
        raise refused
    digest = code_hash(code)
    reason: str | None = None
    # Failures are committed before the error is raised: a rolled-back count would let a
    # guesser try forever.
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        current = (
            await PasswordReset.filter(live(now), account_id=account.id)
            .using_db(conn)
            .select_for_update()
            .first()
            if account is not None and account.active
            else None
        )
        if account is None or not account.active:
            reason = "unknown_account"
        elif current is None or not hmac.compare_digest(current.code_hash, digest):
            reason = await _why(conn, digest, account, now)
            if current is not None:
                current.attempts += 1
                fields = ["attempts"]
                if current.attempts >= RESET_MAX_ATTEMPTS:
                    current.revoked_at = now
                    fields.append("revoked_at")
                await current.save(using_db=conn, update_fields=fields)
        else:
            current.used_at = now
            await current.save(using_db=conn, update_fields=["used_at"])
            await set_password(conn, account, password)
            actor = Actor("reset", account.username)
            subject = f"account:{account.username}"
            await audit.record(
                conn,
                actor,
                "password_reset.used",
                subject,
                {"reset": current.id, "address": address},
            )
            await audit.record(
                conn,
                actor,
                "account.password_changed",
                subject,
                {"sessions_ended": True, "by": "reset_code", "reset": current.id},
            )
        if reason is not None:
            details: dict[str, object] = {"address": address, "reason": reason}
            if current is not None:
                details["attempts"] = current.attempts
                details["code_spent"] = current.revoked_at is not None
            await audit.record(
                conn,
                Actor("reset", named),
                "password_reset.failed",
                f"account:{named}",
                details,
            )
    if reason is not None or account is None:
        raise refused
    return account


async def _why(conn: BaseDBAsyncClient, digest: str, account: Account, now: datetime) -> str:
    """For the audit log: why a code that is not the account's live code was refused."""
    row = await PasswordReset.filter(code_hash=digest).using_db(conn).first()
    if row is None:
        return "wrong_code"
    if row.account_id != account.id:
        return "wrong_account"
    if row.used_at is not None:
        return "used"
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    return "wrong_code"  # not reached: a live code of the account is ``current``
