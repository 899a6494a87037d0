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
from tortoise.transactions import in_transaction

from service import audit
from service.audit import Actor
from service.errors import FieldError, InvalidInput, LoginFailed, NotFound
from service.i18n import N_
from service.models import Account, ApiToken, Merchant, Role

_hasher = PasswordHasher()


@cache
def equaliser_hash() -> str:
    """Verifying against this keeps a login for an unknown name as slow as for a known one.
    Made at first use, not import, so CLI jobs do not pay for it; the server makes it at start,
    so no first login is slower than the rest."""
    return _hasher.hash("fangxin-timing-equaliser")


USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
WRONG_CREDENTIALS = N_("Wrong username or password")
LOCKED = N_("Account locked after repeated failures; try again later")
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

    @property
    def actor(self) -> Actor:
        return Actor("account" if self.account_id else "token", self.name)


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
    actor: Actor,
    is_demo: bool = False,
) -> Account:
    errors: list[FieldError] = []
    if not USERNAME_RE.match(username):
        errors.append(
            FieldError("username", "3–64 letters, digits, '.', '_' or '-', starting alphanumeric")
        )
    if len(password) < MIN_PASSWORD:
        errors.append(FieldError("password", f"must be at least {MIN_PASSWORD} characters"))
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
            is_demo=is_demo,
        )
        await audit.record(
            conn,
            actor,
            "account.created",
            f"account:{username}",
            {"role": role.value, "merchant": merchant_uscc},
        )
    return account


async def authenticate(
    username: str,
    password: str,
    *,
    max_failures: int,
    lockout: timedelta,
    now: datetime | None = None,
) -> Account:
    """Check a password login. Every failure on a real account is counted and audited; the
    ``max_failures``-th in a row locks the account for ``lockout``."""
    now = now or datetime.now(UTC)
    # Failures are committed before the error is raised: a rolled-back counter would
    # let an attacker guess forever.
    failure: str | None = None
    async with in_transaction() as conn:
        account = await Account.filter(username=username).using_db(conn).select_for_update().first()
        if account is None or not account.active:
            _verify(equaliser_hash(), password)
            failure = WRONG_CREDENTIALS
        elif account.locked_until is not None and account.locked_until > now:
            await audit.record(
                conn,
                Actor("login", username),
                "login.refused_locked",
                f"account:{account.username}",
                {"locked_until": account.locked_until.isoformat()},
            )
            failure = LOCKED
        elif not _verify(account.password_hash, password):
            failure = await _count_failure(conn, account, max_failures, now + lockout)
        else:
            await _record_success(conn, account, password, now)
    if failure is not None or account is None:
        raise LoginFailed(failure or WRONG_CREDENTIALS)
    return account


async def _count_failure(
    conn: BaseDBAsyncClient, account: Account, max_failures: int, lock_until: datetime
) -> str:
    account.failed_logins += 1
    details: dict[str, object] = {"failed_logins": account.failed_logins}
    action = "login.failed"
    if account.failed_logins >= max_failures:
        account.locked_until = lock_until
        account.failed_logins = 0
        action = "login.locked"
        details["locked_until"] = lock_until.isoformat()
    await account.save(using_db=conn, update_fields=["failed_logins", "locked_until"])
    await audit.record(
        conn, Actor("login", account.username), action, f"account:{account.username}", details
    )
    return LOCKED if action == "login.locked" else WRONG_CREDENTIALS


async def _record_success(
    conn: BaseDBAsyncClient, account: Account, password: str, now: datetime
) -> None:
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    fields = ["failed_logins", "locked_until", "last_login_at"]
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = hash_password(password)
        fields.append("password_hash")
    await account.save(using_db=conn, update_fields=fields)
    await audit.record(
        conn,
        Actor("account", account.username),
        "login.succeeded",
        f"account:{account.username}",
        {},
    )


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
    )


async def principal_for_session(account_id: int) -> Principal | None:
    account = await Account.get_or_none(id=account_id, active=True)
    return principal_for_account(account) if account else None


async def create_token(name: str, role: Role, *, actor: Actor) -> tuple[ApiToken, str]:
    """Create a token; the plain token is returned once and never stored."""
    if role == Role.MERCHANT:
        raise InvalidInput(
            "Merchants sign in with an account, not a token",
            [FieldError("role", "must be feed, official or admin")],
        )
    if not name.strip() or len(name) > 100:
        raise InvalidInput("Bad token name", [FieldError("name", "1–100 characters")])
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
