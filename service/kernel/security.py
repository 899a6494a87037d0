"""Sessions, API tokens, role guards and CSRF.

Browsers sign in with a server-side session and send CSRF tokens with every form; machines
send ``Authorization: Bearer <token>``. A request that carries a bearer token is judged by
the token alone (its cookies are ignored), which is why it needs no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any, Final

import structlog
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, FormMultiDict, MutableScopeHeaders
from litestar.enums import RequestEncodingType, ScopeType
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
from litestar.utils.scope.state import ScopeState

from service.kernel.accounts import Principal, principal_for_session, principal_for_token
from service.kernel.errors import SessionsUnavailable
from service.kernel.i18n import LANGUAGE_SWITCH
from service.kernel.models import Account, Role
from service.kernel.stores import StoreUnavailable

log = structlog.get_logger("fangxin")
SESSION_COOKIE: Final = "fangxin_session"
CSRF_COOKIE: Final = "fangxin_csrf"
SESSION_ACCOUNT_KEY: Final = "aid"
# The account's session epoch when the session was opened (service.kernel.accounts.end_sessions);
# a session without one (opened before epochs existed) is of epoch 0.
SESSION_EPOCH_KEY: Final = "ep"
_ROTATED_ID: Final = "fangxin_rotated_session_id"
# The id of the session that authenticated this request (scope state), what CSRF tokens bind to.
_SESSION_ID: Final = "fangxin_session_id"
# Set (scope state) when this request's session could not be read: the store is down.
SESSIONS_DOWN: Final = "fangxin_sessions_down"
_CSRF_RANDOM_LENGTH: Final = 64  # hex characters of the random part of a CSRF token

# Access rules, attached to every route handler as ``opt=``. A handler without one is a
# configuration error, caught by the authorization-matrix test.
ACCESS: Final = "access"
PUBLIC_ACCESS: Final = "public"
# Marks a rule as the city bureau's alone: an official bound to a district is refused even
# where its role is allowed (city-wide actions such as publishing a run; service/kernel/scope.py).
CITY_WIDE: Final = "city_wide"


def allow(*roles: Role | str) -> dict[str, frozenset[str]]:
    return {ACCESS: frozenset(str(r) for r in roles)}


PUBLIC = allow(PUBLIC_ACCESS)
# Public documents that shared caches may keep (trust files, contexts, verify pages): answered
# to an anonymous client without cookies, so nothing personal rides on a cached copy.
COOKIELESS: Final = "cookieless"
PUBLIC_DOCUMENT: dict[str, object] = {**PUBLIC, COOKIELESS: True}
SIGNED_IN = allow(Role.MERCHANT, Role.OFFICIAL, Role.ADMIN, Role.AREA_MANAGER)  # people
OFFICIALS = allow(Role.OFFICIAL, Role.ADMIN)  # district officials too, within their district
CITY_OFFICIALS = allow(Role.OFFICIAL, Role.ADMIN, CITY_WIDE)
ADMINS = allow(Role.ADMIN)
MERCHANTS = allow(Role.MERCHANT, Role.OFFICIAL, Role.ADMIN)
MERCHANT_ONLY = allow(Role.MERCHANT)  # pages about "my" business: nobody else has one
FEEDS = allow(Role.FEED, Role.OFFICIAL, Role.ADMIN)
AREA_MANAGER_ONLY = allow(Role.AREA_MANAGER)  # pages about the signed-in manager's own area
APPLICANTS = allow(Role.MERCHANT, Role.AREA_MANAGER)  # who applies for a certificate
# Applications: their applicants see their own, officials those in their district.
APPLICATIONS = allow(Role.MERCHANT, Role.AREA_MANAGER, Role.OFFICIAL, Role.ADMIN)


def sets_no_cookies(scope: Scope) -> bool:
    """Whether this response leaves our session and CSRF cookies alone: a public document
    (``PUBLIC_DOCUMENT``) asked for by an anonymous client. Such a copy is the same for
    everyone, so shared caches may keep it only if nothing of this visitor rides on it. A
    language chosen by ``?lang=`` is still set: the visitor asked for it, and the response
    then turns private (service.middleware.private_when_setting_cookies)."""
    if scope.get("auth") is not None:
        return False
    handler = scope.get("route_handler")
    return handler is not None and handler.opt.get(COOKIELESS) is True


def principal_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


def require_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    principal = principal_of(connection)
    if principal is None:
        # Not "sign in first" when the session could not be read: the visitor may well be
        # signed in, and signing in again would fail the same way.
        if connection.scope.get("state", {}).get(SESSIONS_DOWN):
            raise SessionsUnavailable()
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
    if CITY_WIDE in rule and principal.district_id is not None:
        # The route itself is no secret: a refusal by rank, not by data, so 403.
        raise PermissionDeniedException("Only the city bureau may do this")


def bearer_token(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return None


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
            if isinstance(session, dict):
                principal = await _session_principal(session)
            if principal is not None:
                # The session backend loaded the session by this very cookie (the same
                # parser): CSRF tokens are checked against it, not against header text.
                cookie = ASGIConnection[Any, Any, Any, Any](scope).cookies.get(SESSION_COOKIE)
                scope.setdefault("state", {})[_SESSION_ID] = cookie or ""
        scope["user"] = principal
        scope["auth"] = "token" if token else ("session" if principal else None)
        await next_app(scope, receive, send)


async def _session_principal(session: dict[str, Any]) -> Principal | None:
    account_id = session.get(SESSION_ACCOUNT_KEY)
    epoch = session.get(SESSION_EPOCH_KEY, 0)
    if not isinstance(account_id, int) or not isinstance(epoch, int):
        return None
    return await principal_for_session(account_id, epoch)


def session_for(account: Account) -> dict[str, int]:
    """What a new session holds: the account and its current session epoch."""
    return {SESSION_ACCOUNT_KEY: account.id, SESSION_EPOCH_KEY: account.session_epoch}


class FangxinCSRFMiddleware(CSRFMiddleware):
    """CSRF for browsers, decided by how AuthenticationMiddleware authenticated the request
    (``scope["auth"]``), never by what the Cookie header looks like: a planted cookie named
    like ours must not switch the check off.

    - bearer token: no check; the token alone is judged and a cross-site page cannot send one;
    - a signed-in session: always checked, on the API too;
    - anonymous: checked on pages (the login form), not on the API, where an anonymous
      caller can do nothing a forger could not do in its own name (post a survey answer).

    Tokens are double-submit tokens whose HMAC covers the id of the session they were issued
    for, so a token obtained before login, or in another session, fails after login: the
    session id rotates at login and with it the binding. A new cookie is issued whenever the
    binding changes in a response (login, logout) or the browser holds none valid for it,
    except with a public document for an anonymous client (``sets_no_cookies``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        auth = scope.get("auth")
        if auth == "token" or (auth is None and scope["path"].startswith("/api/")):
            await self.app(scope, receive, send)
            return
        request = scope["litestar_app"].request_class(scope=scope, receive=receive)
        binding = _csrf_binding(scope)
        cookie = request.cookies.get(self.config.cookie_name)
        if cookie is not None and not self._bound_to(cookie, binding):
            cookie = None  # issued for another session, or forged: worth nothing here
        state = ScopeState.from_scope(scope)
        issue: str | None = None
        if request.method in self.config.safe_methods:
            # A public document for an anonymous client gets no token at all, rather than
            # one without its cookie (a form there could only fail); the next ordinary
            # page issues the cookie.
            if cookie is not None or not sets_no_cookies(scope):
                token = cookie or self._new_token(binding)
                state.csrf_token = token
                # A language switch by link sets the language cookie and nothing else; the
                # next ordinary page issues the CSRF cookie.
                if cookie is None and not scope.get("state", {}).get(LANGUAGE_SWITCH):
                    issue = token
        else:
            submitted = request.headers.get(self.config.header_name)
            content_type, _ = request.content_type
            if not submitted and content_type in (
                RequestEncodingType.URL_ENCODED,
                RequestEncodingType.MULTI_PART,
            ):
                value = (await request.form()).get("_csrf_token")
                submitted = value if isinstance(value, str) else None
            if not (
                submitted
                and cookie
                and self._bound_to(submitted, binding)
                and hmac.compare_digest(submitted, cookie)
            ):
                await _close_uploads(scope)
                raise PermissionDeniedException("CSRF token verification failed")
            state.csrf_token = submitted
        await self.app(scope, receive, self._issuing_send(send, scope, binding, issue))

    def _new_token(self, binding: str) -> str:
        random = secrets.token_hex(_CSRF_RANDOM_LENGTH // 2)
        return random + self._mac(random, binding)

    def _mac(self, random: str, binding: str) -> str:
        message = f"{binding}\x00{random}".encode()
        return hmac.new(self.config.secret.encode(), message, hashlib.sha256).hexdigest()

    def _bound_to(self, token: str, binding: str) -> bool:
        random, mac = token[:_CSRF_RANDOM_LENGTH], token[_CSRF_RANDOM_LENGTH:]
        if len(random) != _CSRF_RANDOM_LENGTH or not mac:
            return False
        return hmac.compare_digest(mac, self._mac(random, binding))

    def _issuing_send(self, send: Send, scope: Scope, binding: str, issue: str | None) -> Send:
        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                after = _csrf_binding_after(scope, binding)
                token = self._new_token(after) if after != binding else issue
                if token is not None:
                    self._set_cookie(message, token)
            await send(message)

        return send_wrapper

    def _set_cookie(self, message: Message, token: str) -> None:
        cookie = Cookie(
            key=self.config.cookie_name,
            value=token,
            path=self.config.cookie_path,
            secure=self.config.cookie_secure,
            httponly=self.config.cookie_httponly,
            samesite=self.config.cookie_samesite,
            domain=self.config.cookie_domain,
        )
        MutableScopeHeaders.from_message(message).add("set-cookie", cookie.to_header(header=""))


async def _close_uploads(scope: Scope) -> None:
    """Close the files of a form read here: the route, which closes them after its handler
    (litestar.routes.http), is never reached when the token is refused."""
    form = ScopeState.from_scope(scope).form
    if form is not Empty:
        await FormMultiDict.from_form_data(form).close()


def _csrf_binding(scope: Scope) -> str:
    """What this request's CSRF token must be bound to: the authenticating session's id, or
    nothing for an anonymous visitor."""
    if scope.get("auth") != "session":
        return ""
    session_id = scope.get("state", {}).get(_SESSION_ID)
    return session_id if isinstance(session_id, str) else ""


def _csrf_binding_after(scope: Scope, before: str) -> str:
    """The binding once the handler ran: a new session id at login, none after logout."""
    state = scope.get("state", {})
    rotated = state.get(_ROTATED_ID)
    if isinstance(rotated, str):
        return rotated
    if before and scope.get("session") in (None, Empty, {}):
        return ""
    return before


class RotatingSessionBackend(ServerSideSessionBackend):
    """Server-side sessions whose id can be replaced at login (session fixation defence),
    that leave a request anonymous rather than failing it when the store is down."""

    async def load_from_connection(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> dict[str, Any]:
        try:
            return await super().load_from_connection(connection)
        except StoreUnavailable:
            # Public pages go on for everyone, as for an anonymous visitor; pages that need
            # the session answer 503 (require_principal). Only a request with a session
            # cookie reads the store, so visitors without one never meet this.
            connection.state[SESSIONS_DOWN] = True
            return {}

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
        # Not even to forget a stale or signed-out session: that too would be a cookie on
        # a copy that shared caches should keep.
        if sets_no_cookies(connection.scope):
            return
        # A language switch by link (which any site can trigger) writes no session and
        # sets no session cookie; only the language cookie changes.
        if connection.state.get(LANGUAGE_SWITCH) and not connection.state.get(_ROTATED_ID):
            return
        # The session could not be read: it may still exist, so its cookie stays as it is.
        if connection.state.get(SESSIONS_DOWN):
            return
        if not scope_session:
            scope_session = Empty
        try:
            await super().store_in_message(scope_session, message, connection)
        except StoreUnavailable:
            # The store went down during the request: the response goes out without a
            # session cookie (the response has started; it can no longer become a 503).
            log.warning("session not saved: the session store is unavailable")


@dataclass
class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend


async def require_session_store(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """503 now, before a password is checked, if no session could be saved: a sign-in that
    succeeded and then left its session behind would look like a wrong password."""
    try:
        await connection.app.stores.get("sessions").exists("availability-probe")
    except StoreUnavailable as exc:
        raise SessionsUnavailable() from exc


async def rotate_session(connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """Forget the current session id and issue a new one with this response."""
    old = connection.cookies.get(SESSION_COOKIE)
    if old and old != "null":
        store = connection.app.stores.get("sessions")
        try:
            await store.delete(old)
        except StoreUnavailable as exc:
            raise SessionsUnavailable() from exc
    connection.state[_ROTATED_ID] = secrets.token_hex(32)
