"""Accounts and API tokens: creation, password login with lockout, token lookup."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction
from zxcvbn import zxcvbn  # type: ignore[import-untyped]  # ships no type hints

from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import FieldError, InvalidInput, LoginFailed, NotFound
from service.kernel.i18n import N_
from service.kernel.models import Account, ApiToken, Area, AreaKind, AuditEvent, Merchant, Role
from service.kernel.validation import check_text

_hasher = PasswordHasher()


@cache
def equaliser_hash() -> str:
    """Verifying against this keeps a login for an unknown name as slow as for a known one.
    Made at first use, not import, so CLI jobs do not pay for it; the server makes it at start,
    so no first login is slower than the rest."""
    return _hasher.hash("fangxin-timing-equaliser")


USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,63}")
MIN_PASSWORD = 12
# zxcvbn's 3: "safely unguessable", about 10^10 guesses — beyond an online attack and a
# slow offline one against argon2.
MIN_STRENGTH = 3
# One answer for every refusal, so that it cannot tell which names exist or are locked;
# the second sentence is for the real user who is being throttled.
WRONG_CREDENTIALS = N_(
    "Wrong username or password. After repeated failures, signing in pauses for a while."
)
UNKNOWN_ADDRESS = "unknown"
HISTORY_ROWS = 500  # recent login events read per attempt: enough for every window below
FAILURE_MEMORY = timedelta(days=1)  # an address's failures older than this are forgotten
LOCK_WINDOW = timedelta(hours=1)
LOCK_ADDRESSES = 10  # failures from this many addresses within LOCK_WINDOW lock the account
KNOWN_FOR = timedelta(days=30)  # an address signed in from this recently passes a lock
TOKEN_PREFIX = "fx_"  # noqa: S105 - a prefix, not a secret
# A token is used on every request; recording each use would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: an account signed in by session, or a machine with a token."""

    role: Role
    name: str
    account_id: int | None = None
    token_id: int | None = None
    merchant_id: int | None = None
    # The district an official is confined to (service/kernel/scope.py); None: the whole city.
    district_id: int | None = None
    # The street or scenic spot an area manager manages.
    area_id: int | None = None

    @property
    def actor(self) -> Actor:
        return Actor("account" if self.account_id else "token", self.name)


def password_problems(password: str, username: str = "") -> list[FieldError]:
    """Why a password is too weak to guard an account, if it is: at least MIN_PASSWORD
    characters and zxcvbn's score MIN_STRENGTH, which rejects common passwords, keyboard
    walks and the account's own name. Every account is held to it: a merchant's account
    can reply in the merchant's name."""
    if len(password) < MIN_PASSWORD:
        return [FieldError("password", f"must be at least {MIN_PASSWORD} characters")]
    # zxcvbn's cost grows fast with length; past 100 characters length alone is strength.
    result = zxcvbn(password[:100], user_inputs=[username, "fangxin", "zhumadian"])
    if int(result["score"]) < MIN_STRENGTH:
        warning = str(result["feedback"].get("warning") or "")
        hint = f": {warning}" if warning else ""
        return [FieldError("password", f"too easy to guess{hint}; use a longer passphrase")]
    return []


async def change_password(
    username: str, password: str, *, actor: Actor, details: dict[str, object] | None = None
) -> Account:
    """Set a new password, held to the same rule as a new account's. ``details``: what the
    audit event says besides (how the change was made)."""
    problems = password_problems(password, username)
    if problems:
        raise InvalidInput("The password cannot be set", problems)
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).first()
        if account is None:
            raise NotFound(f"No account {username}")
        await set_password(conn, account, password)
        await audit.record(
            conn,
            actor,
            "account.password_changed",
            f"account:{username}",
            {"sessions_ended": True, **(details or {})},
        )
    return account


async def set_password(conn: BaseDBAsyncClient, account: Account, password: str) -> None:
    """Store a new password (already judged strong enough) and end every session of the
    account: whoever held one under the old password (perhaps the reason for the change)
    holds it no longer. API tokens are no account's (a token has a role of its own and no
    account behind it): they stay."""
    account.password_hash = hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    await account.save(
        using_db=conn, update_fields=["password_hash", "failed_logins", "locked_until"]
    )
    await end_sessions(conn, account)


async def end_sessions(conn: BaseDBAsyncClient, account: Account) -> None:
    """End every session of this account, on every worker, whatever holds them: the
    sessions remember the epoch they were opened in (``principal_for_session``)."""
    await Account.filter(id=account.id).using_db(conn).update(session_epoch=F("session_epoch") + 1)


async def set_active(username: str, active: bool, *, actor: Actor) -> Account:
    """Lock an account (no sign-in, every session ended) or unlock it. A session ended by
    the lock stays ended after the unlock: the holder signs in again."""
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        if account is None:
            raise NotFound(f"No account {username}")
        if account.active != active:
            account.active = active
            await account.save(using_db=conn, update_fields=["active"])
            if not active:
                await end_sessions(conn, account)
            action = "account.unlocked" if active else "account.locked"
            await audit.record(conn, actor, action, f"account:{username}", {})
    return account


async def change_role(
    username: str,
    role: Role,
    *,
    merchant_uscc: str | None = None,
    district_code: str | None = None,
    area_code: str | None = None,
    actor: Actor,
) -> Account:
    """Give an account another role (and what that role is bound to), taking the old one
    away: every session of the account ends, so nothing opened under the old role goes on.
    The same rules as for a new account's role."""
    merchant, district, area, errors = await _bindings(
        role, merchant_uscc, district_code, area_code
    )
    if errors:
        raise InvalidInput("The role cannot be changed", errors)
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        if account is None:
            raise NotFound(f"No account {username}")
        before = account.role
        account.role = role
        account.merchant_id = merchant.id if merchant else None
        account.district_id = district.id if district else None
        account.area_id = area.id if area else None
        await account.save(
            using_db=conn, update_fields=["role", "merchant_id", "district_id", "area_id"]
        )
        await end_sessions(conn, account)
        details: dict[str, object] = {
            "from": before.value,
            "to": role.value,
            "merchant": merchant_uscc,
            "district": district_code or None,
            "area": area_code or None,
            "sessions_ended": True,
        }
        await audit.record(conn, actor, "account.role_changed", f"account:{username}", details)
    return account


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_account(
    username: str,
    password: str,
    role: Role,
    *,
    merchant_uscc: str | None = None,
    district_code: str | None = None,
    area_code: str | None = None,
    actor: Actor,
    is_demo: bool = False,
) -> Account:
    errors: list[FieldError] = []
    if not USERNAME_RE.fullmatch(username):
        errors.append(
            FieldError("username", "3–64 letters, digits, '.', '_' or '-', starting alphanumeric")
        )
    errors.extend(password_problems(password, username))
    merchant, district, area, binding_errors = await _bindings(
        role, merchant_uscc, district_code, area_code
    )
    errors.extend(binding_errors)
    if await Account.exists(username=username):
        errors.append(FieldError("username", "already taken"))
    if errors:
        raise InvalidInput("The account cannot be created", errors)
    async with in_transaction() as conn:
        account = await Account.create(
            using_db=conn,
            username=username,
            password_hash=hash_password(password),
            role=role,
            merchant=merchant,
            district=district,
            area=area,
            is_demo=is_demo,
        )
        details: dict[str, object] = {
            "role": role.value,
            "merchant": merchant_uscc,
            "district": district_code or None,
        }
        if area is not None:
            details["area"] = area.code
        await audit.record(conn, actor, "account.created", f"account:{username}", details)
    return account


async def _bindings(
    role: Role, merchant_uscc: str | None, district_code: str | None, area_code: str | None
) -> tuple[Merchant | None, Area | None, Area | None, list[FieldError]]:
    """What an account of this role is bound to — a merchant, a district, an area — or why
    it cannot be."""
    errors: list[FieldError] = []
    merchant: Merchant | None = None
    if role == Role.MERCHANT:
        if not merchant_uscc:
            errors.append(FieldError("merchant", "a merchant account needs --merchant USCC"))
        else:
            merchant = await Merchant.get_or_none(uscc=merchant_uscc)
            if merchant is None:
                errors.append(FieldError("merchant", f"no merchant with USCC {merchant_uscc}"))
    elif merchant_uscc:
        errors.append(FieldError("merchant", "only merchant accounts are bound to a merchant"))
    district, district_errors = await _district_for(role, district_code)
    errors.extend(district_errors)
    area, area_errors = await _area_for(role, area_code)
    errors.extend(area_errors)
    return merchant, district, area, errors


async def _district_for(
    role: Role, code: str | None, conn: BaseDBAsyncClient | None = None
) -> tuple[Area | None, list[FieldError]]:
    """The district an account of this role is bound to: only an official may be, and only
    to an area of kind district (a street's official would be a district's in disguise)."""
    if not code:
        return None, []
    if role != Role.OFFICIAL:
        return None, [FieldError("district", "only official accounts are bound to a district")]
    area = await Area.filter(code=code).using_db(conn).first()
    if area is None or area.kind != AreaKind.DISTRICT:
        return None, [FieldError("district", f"no district with code {code}")]
    return area, []


async def _area_for(role: Role, code: str | None) -> tuple[Area | None, list[FieldError]]:
    """The street or scenic spot an area manager's account manages: it needs one, and no
    other role has one."""
    if role != Role.AREA_MANAGER:
        if code:
            return None, [FieldError("area", "only area manager accounts are bound to an area")]
        return None, []
    if not code:
        return None, [FieldError("area", "an area manager account needs --area CODE")]
    area = await Area.get_or_none(code=code)
    if area is None or area.kind not in (AreaKind.STREET, AreaKind.SCENIC_SPOT):
        return None, [FieldError("area", f"no street or scenic spot with code {code}")]
    return area, []


async def set_district(username: str, district_code: str | None, *, actor: Actor) -> Account:
    """Bind an official to a district, move it to another, or (None) give it the whole city
    again; audited, since it widens or narrows what the account may see."""
    async with in_transaction() as conn:
        # No join here: PostgreSQL locks no row of an outer join's nullable side.
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        if account is None:
            raise NotFound(f"No account {username}")
        district, errors = await _district_for(account.role, district_code, conn)
        if errors:
            raise InvalidInput("The district cannot be set", errors)
        old = await Area.filter(id=account.district_id or 0).using_db(conn).first()
        before = old.code if old else None
        after = district.code if district else None
        if before != after:
            account.district_id = district.id if district else None
            await account.save(using_db=conn, update_fields=["district_id"])
            await audit.record(
                conn,
                actor,
                "account.district_changed",
                f"account:{username}",
                {"from": before, "to": after},
            )
    return account


async def authenticate(
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout: timedelta,
    address: str | None = None,
    now: datetime | None = None,
) -> Account:
    """Check a password login.

    Every refusal — unknown name, wrong password, throttled or locked — raises the same
    ``LoginFailed`` after one argon2 verify, so neither the answer nor its timing tells an
    attacker which names exist. Throttling is per (account, address): after
    ``max_failures`` failures from one address, that address waits 1 s, 2 s, 4 s … (at most
    ``lockout``) between tries, and a correct password from elsewhere still works. The
    whole account is locked for ``lockout`` only when failures come from
    ``LOCK_ADDRESSES`` addresses within ``LOCK_WINDOW`` — a spread-out attack — and even
    then addresses the holder recently signed in from are let through.
    """
    now = now or datetime.now(UTC)
    where = address or UNKNOWN_ADDRESS
    # Failures are committed before the error is raised: a rolled-back counter would
    # let an attacker guess forever.
    refused = True
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        if account is None or not account.active:
            _verify(equaliser_hash(), password)
        else:
            history = await _history(conn, account.username)
            locked = account.locked_until is not None and account.locked_until > now
            wait = _wait(history, where, max_failures, lockout, now)
            if (locked and where not in history.known) or wait is not None:
                # Verified all the same, so that a refusal takes as long as any other.
                _verify(equaliser_hash(), password)
                details: dict[str, object] = {"address": where, "at": now.isoformat()}
                if wait is not None:
                    details["wait_until"] = wait.isoformat()
                if locked and account.locked_until is not None:
                    details["locked_until"] = account.locked_until.isoformat()
                action = "login.refused_locked" if wait is None else "login.throttled"
                await audit.record(
                    conn, Actor("login", username), action, f"account:{username}", details
                )
            elif not _verify(account.password_hash, password):
                await _count_failure(conn, account, history, where, lockout, now)
            else:
                await _record_success(conn, account, password, where, now)
                refused = False
    if refused or account is None:
        raise LoginFailed(WRONG_CREDENTIALS)
    return account


@dataclass(frozen=True, slots=True)
class _Attempt:
    action: str
    address: str
    at: datetime


@dataclass(frozen=True, slots=True)
class _History:
    """Recent login events of one account, newest first, read from the audit log (which
    records every attempt anyway, so the throttle needs no store of its own)."""

    attempts: list[_Attempt]
    known: frozenset[str]  # addresses with a successful sign-in in KNOWN_FOR


async def _history(conn: BaseDBAsyncClient, username: str) -> _History:
    rows = (
        await AuditEvent.filter(
            subject=f"account:{username}", action__in=("login.failed", "login.succeeded")
        )
        .using_db(conn)
        .order_by("-id")
        .limit(HISTORY_ROWS)
        .values("action", "at", "details")
    )
    attempts = []
    for row in rows:
        details = row["details"] if isinstance(row["details"], dict) else {}
        # Events before addresses were recorded count as from an unknown address; the
        # event's logical time (``at`` in details) lets tests run at a chosen clock.
        stamp = details.get("at")
        at = datetime.fromisoformat(stamp) if isinstance(stamp, str) else row["at"]
        address = details.get("address")
        attempts.append(
            _Attempt(row["action"], address if isinstance(address, str) else UNKNOWN_ADDRESS, at)
        )
    newest = attempts[0].at if attempts else None
    known = frozenset(
        a.address
        for a in attempts
        if a.action == "login.succeeded"
        and a.address != UNKNOWN_ADDRESS
        and newest is not None
        and newest - a.at <= KNOWN_FOR
    )
    return _History(attempts, known)


def _failures_from(history: _History, address: str, now: datetime) -> list[_Attempt]:
    """This address's failures since its last success (within FAILURE_MEMORY), newest first."""
    found = []
    for a in history.attempts:
        if a.address != address or now - a.at > FAILURE_MEMORY:
            continue
        if a.action == "login.succeeded":
            break
        found.append(a)
    return found


def _wait(
    history: _History, address: str, max_failures: int, lockout: timedelta, now: datetime
) -> datetime | None:
    """Until when this address must wait before its next try, if it must."""
    failures = _failures_from(history, address, now)
    if len(failures) < max_failures:
        return None
    doublings = min(len(failures) - max_failures, 30)
    until = failures[0].at + min(lockout, timedelta(seconds=2**doublings))
    return until if until > now else None


async def _count_failure(
    conn: BaseDBAsyncClient,
    account: Account,
    history: _History,
    address: str,
    lockout: timedelta,
    now: datetime,
) -> None:
    account.failed_logins += 1
    details: dict[str, object] = {
        "failed_logins": account.failed_logins,
        "address": address,
        "at": now.isoformat(),
    }
    spread = {
        a.address
        for a in history.attempts
        if a.action == "login.failed" and now - a.at <= LOCK_WINDOW
    } | {address}
    fields = ["failed_logins"]
    if len(spread) >= LOCK_ADDRESSES and (
        account.locked_until is None or account.locked_until <= now
    ):
        account.locked_until = now + lockout
        fields.append("locked_until")
        details["locked_until"] = account.locked_until.isoformat()
        details["addresses"] = len(spread)
    await account.save(using_db=conn, update_fields=fields)
    await audit.record(
        conn,
        Actor("login", account.username),
        "login.failed",
        f"account:{account.username}",
        details,
    )
    if "locked_until" in fields:
        await audit.record(
            conn,
            Actor("login", account.username),
            "login.locked",
            f"account:{account.username}",
            details,
        )


async def _record_success(
    conn: BaseDBAsyncClient, account: Account, password: str, address: str, now: datetime
) -> None:
    account.failed_logins = 0
    account.last_login_at = now
    fields = ["failed_logins", "last_login_at"]
    if account.locked_until is not None and account.locked_until <= now:
        account.locked_until = None
        fields.append("locked_until")
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
        fields.append("password_hash")
    await account.save(using_db=conn, update_fields=fields)
    await audit.record(
        conn,
        Actor("account", account.username),
        "login.succeeded",
        f"account:{account.username}",
        {"address": address, "at": now.isoformat()},
    )


def verify_password(hashed: str, password: str) -> bool:
    """Whether ``password`` is the one ``hashed`` was made from."""
    return _verify(hashed, password)


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_for_account(account: Account) -> Principal:
    return Principal(
        role=account.role,
        name=account.username,
        account_id=account.id,
        merchant_id=account.merchant_id,
        district_id=account.district_id,
        area_id=account.area_id,
    )


async def principal_for_session(account_id: int, epoch: int) -> Principal | None:
    """Who a session belongs to, if the account is active and the session was opened in
    its current epoch (``end_sessions``): one indexed read, as before the epoch."""
    account = await Account.get_or_none(id=account_id, active=True, session_epoch=epoch)
    return principal_for_account(account) if account else None


async def create_token(name: str, role: Role, *, actor: Actor) -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored."""
    if role in (Role.MERCHANT, Role.AREA_MANAGER):
        # Both are bound to what they act for (a merchant, an area); a token is bound to none.
        raise InvalidInput(
            "Merchants and area managers sign in with an account, not a token",
            [FieldError("role", "must be feed, official or admin")],
        )
    errors: list[FieldError] = []
    name = check_text(errors, "name", name, 100)
    if errors:
        raise InvalidInput("Bad token name", errors)
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    async with in_transaction() as conn:
        token = await ApiToken.create(
            using_db=conn, name=name, role=role, token_hash=hash_token(plain)
        )
        await audit.record(
            conn, actor, "token.created", f"token:{token.id}", {"name": name, "role": role.value}
        )
    return token, plain


async def revoke_token(token_id: int, *, actor: Actor) -> ApiToken:
    async with in_transaction() as conn:
        token = await ApiToken.filter(id=token_id).using_db(conn).first()
        if token is None:
            raise NotFound(f"No token {token_id}")
        if token.revoked_at is None:
            token.revoked_at = datetime.now(UTC)
            await token.save(using_db=conn, update_fields=["revoked_at"])
            await audit.record(
                conn, actor, "token.revoked", f"token:{token.id}", {"name": token.name}
            )
    return token


async def principal_for_token(plain: str) -> Principal | None:
    token = await ApiToken.get_or_none(token_hash=hash_token(plain), revoked_at=None)
    if token is None:
        return None
    now = datetime.now(UTC)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        await ApiToken.filter(id=token.id).update(last_used_at=now)
    return Principal(role=token.role, name=token.name, token_id=token.id)
