"""Cross-cutting HTTP concerns: request ids, locale, security headers, access log, HEAD,
the client address behind a trusted reverse proxy."""

from __future__ import annotations

import ipaddress
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import parse_qs

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import HttpMethod, ScopeType
from litestar.exceptions import MethodNotAllowedException
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPScope, Message, Receive, Scope, Send
from litestar.utils import normalize_path
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from service.kernel import i18n
from service.kernel.conditional import PRIVATE_CACHE_CONTROL
from service.kernel.i18n import LANGUAGE_SWITCH

if TYPE_CHECKING:
    from litestar._asgi.asgi_router import ASGIRouter

REQUEST_ID_HEADER: Final = "x-request-id"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")
# Pages of ours load nothing from anywhere else.
CSP: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The API reference (Redoc, served by us) needs inline bootstrapping and a blob: worker.
CSP_API_REFERENCE: Final = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
access_log = structlog.get_logger("fangxin.access")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


def _locale_for(scope: Scope) -> tuple[str, bool]:
    """The locale to render in, and whether the user chose it in this request (?lang=)."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    chosen = i18n.normalise(next(iter(query.get("lang") or []), None))
    if chosen:
        return chosen, True
    cookie_header = _header(scope, b"cookie")
    if cookie_header:
        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(cookie_header)
        except Exception:
            jar = SimpleCookie()
        if i18n.LOCALE_COOKIE in jar:
            found = i18n.normalise(jar[i18n.LOCALE_COOKIE].value)
            if found:
                return found, False
    return i18n.DEFAULT_LOCALE, False


class RequestContextMiddleware(ASGIMiddleware):
    """Request id (logged and echoed), locale, security headers and one access-log line."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, *, production: bool) -> None:
        self.production = production

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        given = _header(scope, REQUEST_ID_HEADER.encode())
        request_id = given if given and _VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        locale, chosen = _locale_for(scope)
        i18n.set_locale(locale)
        scope.setdefault("state", {})["request_id"] = request_id
        scope["state"][LANGUAGE_SWITCH] = chosen
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        path = scope["path"]

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if chosen:
                    MutableScopeHeaders.from_message(message).add(
                        "set-cookie",
                        f"{i18n.LOCALE_COOKIE}={locale}; Path=/; Max-Age=31536000; SameSite=Lax"
                        + ("; Secure" if self.production else ""),
                    )
            await send(message)

        try:
            await next_app(scope, receive, send_wrapper)
        finally:
            access_log.info(
                "request",
                method=scope.get("method"),
                path=path,
                status=status,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.unbind_contextvars("request_id")


def security_headers(production: bool) -> Callable[[Message, Scope], Awaitable[None]]:
    """A before-send hook: it sees every response, including the 404s and 405s that the
    router answers before any middleware runs. Headers are prepared once, as bytes: this
    runs on every response."""
    common = [
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    ]
    if production:
        common.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
    csp = (b"content-security-policy", CSP.encode())
    csp_reference = (b"content-security-policy", CSP_API_REFERENCE.encode())
    request_id_name = REQUEST_ID_HEADER.encode()

    async def add_headers(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = list(message.get("headers") or [])
        present = {name.lower() for name, _ in headers}
        if request_id_name not in present:
            request_id = scope.get("state", {}).get("request_id") or uuid.uuid4().hex
            headers.append((request_id_name, request_id.encode()))
        api_reference = scope.get("path", "").rstrip("/") == "/schema"
        wanted = [csp_reference if api_reference else csp, *common]
        headers.extend(pair for pair in wanted if pair[0] not in present)
        message["headers"] = headers

    return add_headers


class HeadAsGet:
    """HEAD answered wherever GET is (RFC 9110 §9.3.2: the same status and headers, no body).

    Litestar routes GET alone, so HEAD would be a 405: mirrors and link checkers probe our
    public reads with HEAD. This wraps the app's ASGI handler, outside the router, so one rule
    covers every route; a route with a HEAD of its own (the static files) keeps it."""

    def __init__(self, app: ASGIApp, router: ASGIRouter) -> None:
        self.app = app
        self.router = router

    def _has_no_head(self, scope: Scope) -> bool:
        path = scope["path"]
        if root_path := scope.get("root_path", ""):
            path = path.split(root_path, maxsplit=1)[-1]
        try:
            self.router.handle_routing(path=normalize_path(path), method=HttpMethod.HEAD)
        except MethodNotAllowedException:
            return True
        except Exception:  # an unknown path: the router answers it, as it would any other
            return False
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["method"] != HttpMethod.HEAD:
            await self.app(scope, receive, send)
            return
        if self._has_no_head(scope):
            # A copy: the server's own scope must still say HEAD (it frames the response).
            scope = cast("HTTPScope", {**scope, "method": "GET"})

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                # content-length stays that of the GET's body, as HEAD promises.
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, headers_only)


async def private_when_setting_cookies(message: Message, scope: Scope) -> None:
    """A before-send hook: a response that sets a cookie (a session refreshed, a CSRF token,
    a chosen language) must not be kept by a shared cache and handed to someone else, so a
    ``public`` Cache-Control becomes ``private``; the browser's own cache still keeps it."""
    if message["type"] != "http.response.start":
        return
    headers = list(message.get("headers") or [])
    if not any(name.lower() == b"set-cookie" for name, _ in headers):
        return
    message["headers"] = [
        (name, _privately(value) if name.lower() == b"cache-control" else value)
        for name, value in headers
    ]


async def private_when_signed_in(message: Message, scope: Scope) -> None:
    """A before-send hook: what a signed-in person (or a token's holder) is shown is theirs
    alone, and may hold what a shared machine's next user must not find in the browser's
    cache: every such response is ``private, no-store``, whatever the handler said. The
    static files are the same for everyone and keep their own caching."""
    if message["type"] != "http.response.start" or scope.get("auth") is None:
        return
    if scope.get("path", "").startswith("/static/"):
        return
    existing = [v for n, v in message.get("headers") or [] if n.lower() == b"cache-control"]
    if any(b"no-store" in v.lower() and b"public" not in v.lower() for v in existing):
        return  # already kept by nobody (the metrics say "no-store")
    headers = [
        (name, value)
        for name, value in message.get("headers") or []
        if name.lower() != b"cache-control"
    ]
    headers.append((b"cache-control", PRIVATE_CACHE_CONTROL.encode()))
    message["headers"] = headers


def _privately(cache_control: bytes) -> bytes:
    directives = [d.strip() for d in cache_control.split(b",")]
    return b", ".join(b"private" if d.lower() == b"public" else d for d in directives)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# One element's parameter of a Forwarded header (RFC 7239 §4): token=token / quoted-string,
# then the separator that ends it.
_FORWARDED_PAIR = re.compile(
    r"""\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,"\s]*)\s*([;,]|$)"""
)
_FORWARDED_PROTOS = frozenset({"http", "https"})


def behind_proxies(app: ASGIApp, trusted: Sequence[Network]) -> ASGIApp:
    """``app`` seeing the client a trusted proxy names as ``scope["client"]`` (and its
    scheme), so rate limits, screening and login throttling count people, not the proxy.

    X-Forwarded-For (and X-Forwarded-Proto) is uvicorn's own middleware; the Forwarded
    header (RFC 7239), which it does not read, ours, inside it. When a proxy sends both,
    X-Forwarded-For wins: it is what proxies set by default, so a Forwarded header that a
    client made up and a proxy passed along unread is not believed over it."""
    inner = ForwardedHeaderMiddleware(app, trusted)
    # Casts: uvicorn and Litestar spell the same ASGI callables with types of their own.
    return cast("ASGIApp", ProxyHeadersMiddleware(cast("Any", inner), [str(n) for n in trusted]))


class ForwardedHeaderMiddleware:
    """The client of a request whose direct peer is a trusted proxy, read from its
    ``Forwarded`` header: the right-most ``for=`` that is not itself a trusted proxy."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _trusts(self, host: str | None) -> bool:
        address = _ip(host)
        return address is not None and any(address in net for net in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in (ScopeType.HTTP, ScopeType.WEBSOCKET):
            peer = scope.get("client")
            if peer and self._trusts(peer[0]):
                values = [v.decode("latin-1") for k, v in scope["headers"] if k == b"forwarded"]
                found = self._client(", ".join(values)) if values else None
                if found:
                    host, proto = found
                    scope["client"] = (host, 0)
                    if proto in _FORWARDED_PROTOS:
                        ws = scope["type"] == ScopeType.WEBSOCKET
                        scope["scheme"] = proto.replace("http", "ws") if ws else proto
        await self.app(scope, receive, send)

    def _client(self, header: str) -> tuple[str, str | None] | None:
        elements = parse_forwarded(header)
        if not elements:
            return None
        for element in reversed(elements):
            host = _node_host(element.get("for"))
            if host is None:
                # "unknown", an obfuscated name or no for=: nobody to count, keep the peer.
                return None
            if not self._trusts(host):
                return host, element.get("proto", "").lower() or None
        # Every hop a proxy of ours: the request came from one of them.
        first = elements[0]
        host = _node_host(first.get("for"))
        return (host, first.get("proto", "").lower() or None) if host else None


def parse_forwarded(header: str) -> list[dict[str, str]]:
    """The elements of a Forwarded header, left to right, each as lower-case parameter
    names to unquoted values; empty when the header is malformed (then nothing is believed)."""
    elements: list[dict[str, str]] = []
    current: dict[str, str] = {}
    pos, end = 0, len(header)
    while pos < end:
        match = _FORWARDED_PAIR.match(header, pos)
        if match is None or match.end() == pos:
            return []
        name, value, separator = match.groups()
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        current[name.lower()] = value
        pos = match.end()
        if separator != ";":
            elements.append(current)
            current = {}
    if current:  # a last element ended by a stray ";"
        elements.append(current)
    return elements


def _node_host(node: str | None) -> str | None:
    """The address in a ``for=`` node (``192.0.2.1``, ``192.0.2.1:4711``,
    ``[2001:db8::1]:4711``), or None for ``unknown``, obfuscated names and garbage."""
    if not node:
        return None
    if node.startswith("["):
        host = node[1 : node.find("]")] if "]" in node else ""
    elif node.count(":") == 1:
        host = node.split(":", 1)[0]
    else:
        host = node
    address = _ip(host)
    return str(address) if address is not None else None


def _ip(host: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not host:
        return None
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
