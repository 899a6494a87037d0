"""Sessions, API tokens, role guards and CSRF.

Browsers sign in with a server-side session and send CSRF tokens with every form; machines
send ``Authorization: Bearer <token>``. A request that carries a bearer token is judged by
the token alone (its cookies are ignored), which is why it needs no CSRF token.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any, Final

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import (
    ImproperlyConfiguredException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.types import ASGIApp, Empty, Message, Receive, Scope, ScopeSession, Send

from service.accounts import Principal, principal_for_session, principal_for_token
from service.models import Role

SESSION_COOKIE: Final = "fangxin_session"
CSRF_COOKIE: Final = "fangxin_csrf"
SESSION_ACCOUNT_KEY: Final = "aid"
_ROTATED_ID: Final = "fangxin_rotated_session_id"

# Access rules, attached to every route handler as ``opt=``. A handler without one is a
# configuration error, caught by the authorization-matrix test.
ACCESS: Final = "access"
PUBLIC_ACCESS: Final = "public"


def allow(*roles: Role | str) -> dict[str, frozenset[str]]:
    return {ACCESS: frozenset(str(r) for r in roles)}


PUBLIC = allow(PUBLIC_ACCESS)
SIGNED_IN = allow(Role.MERCHANT, Role.OFFICIAL, Role.ADMIN)  # people, not machines
OFFICIALS = allow(Role.OFFICIAL, Role.ADMIN)
ADMINS = allow(Role.ADMIN)
MERCHANTS = allow(Role.MERCHANT, Role.OFFICIAL, Role.ADMIN)
MERCHANT_ONLY = allow(Role.MERCHANT)  # pages about "my" business: nobody else has one
FEEDS = allow(Role.FEED, Role.OFFICIAL, Role.ADMIN)


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def require_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = principal_of(connection)
    if principal is None:
        raise NotAuthorizedException("Sign in first")
    return principal


async def role_guard(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """The one guard of the application: compare the caller's role with the route's rule.
    (Async: Litestar would run a plain function on a worker thread.)"""
    if connection.scope.get("method") == "OPTIONS":
        return
    rule = handler.opt.get(ACCESS)
    if rule is None:
        raise ImproperlyConfiguredException(f"Route {handler!s} declares no access rule")
    if PUBLIC_ACCESS in rule:
        return
    principal = require_principal(connection)
    if principal.role.value not in rule:
        raise PermissionDeniedException("Your role may not do this")


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return None


def _has_session_cookie(scope: Scope) -> bool:
    needle = SESSION_COOKIE.encode() + b"="
    for name, value in scope.get("headers", ()):
        if name == b"cookie" and needle in value and needle + b"null" not in value:
            return True
    return False


class AuthenticationMiddleware(ASGIMiddleware):
    """Puts the caller's Principal (or None) into ``scope["user"]``."""

    scopes = (ScopeType.HTTP,)

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        token = bearer_token(scope)
        principal: Principal | None = None
        if token is not None:
            principal = await principal_for_token(token)
            if principal is None:
                raise NotAuthorizedException("Unknown or revoked API token")
        else:
            session = scope.get("session") or {}
            account_id = session.get(SESSION_ACCOUNT_KEY) if isinstance(session, dict) else None
            if isinstance(account_id, int):
                principal = await principal_for_session(account_id)
        scope["user"] = principal
        scope["auth"] = "token" if token else ("session" if principal else None)
        await next_app(scope, receive, send)


class FangxinCSRFMiddleware(CSRFMiddleware):
    """CSRF for browsers. Skipped where no browser credential is in play: a bearer-token
    request, or an API call that carries no session cookie (an anonymous survey post)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP and (
            bearer_token(scope) is not None
            or (scope["path"].startswith("/api/") and not _has_session_cookie(scope))
        ):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id can be replaced at login (session fixation defence)."""

    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        rotated = connection.state.get(_ROTATED_ID)
        if isinstance(rotated, str):
            return rotated
        return super().get_session_id(connection)

    async def store_in_message(
        self,
        scope_session: ScopeSession,
        message: Message,
        connection: ASGIConnection[Any, Any, Any, Any],
    ) -> None:
        # An anonymous visitor with nothing in the session gets no cookie and no stored
        # row: the public pages must not fill the store with empty sessions.
        if not scope_session and not connection.cookies.get(self.config.key):
            return
        if not scope_session:
            scope_session = Empty
        await super().store_in_message(scope_session, message, connection)


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Forget the current session id and issue a new one with this response."""
    old = connection.cookies.get(SESSION_COOKIE)
    if old and old != "null":
        store = connection.app.stores.get("sessions")
        await store.delete(old)
    connection.state[_ROTATED_ID] = secrets.token_hex(32)
