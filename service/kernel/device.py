"""The device rule the public doors share (a survey answer, a complaint): a random device id
in a signed cookie (or, for API clients without a cookie jar, the same signed value in a
header), issued by this server. Only ids it issued count: a made-up one per request would
make every request a new device. Only keyed hashes of the id are ever stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any, Final

from litestar import Request
from litestar.datastructures import Cookie

from service.kernel.settings import Settings

DEVICE_COOKIE: Final = "fangxin_device"
# The same signed value as the cookie, for API clients that keep no cookie jar.
DEVICE_HEADER: Final = "x-device-id"
DEVICE_MAX_AGE: Final = 400 * 24 * 3600


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def sign(secret: str, purpose: str, value: str) -> str:
    mac = hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256)
    return f"{value}.{mac.hexdigest()[:32]}"


def unsign(secret: str, purpose: str, signed: str | None) -> str | None:
    if not signed or "." not in signed:
        return None
    value = signed.rsplit(".", 1)[0]
    return value if hmac.compare_digest(sign(secret, purpose, value), signed) else None


def signed_device(secret: str, device: str) -> str:
    return sign(secret, "device", device)


def device_of(request: Request[Any, Any, Any]) -> str | None:
    """The device id from the signed cookie or header, if this server issued it."""
    secret = _settings(request).secret_key
    return unsign(secret, "device", request.cookies.get(DEVICE_COOKIE)) or unsign(
        secret, "device", request.headers.get(DEVICE_HEADER)
    )


def device_cookie(request: Request[Any, Any, Any]) -> tuple[str, list[Cookie]]:
    """The visitor's device id, and the cookie that sets it when it is new."""
    existing = device_of(request)
    if existing:
        return existing, []
    device = secrets.token_urlsafe(16)
    settings = _settings(request)
    cookie = Cookie(
        key=DEVICE_COOKIE,
        value=signed_device(settings.secret_key, device),
        max_age=DEVICE_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=settings.production,
        path="/",
    )
    return device, [cookie]


def client_ip(request: Request[Any, Any, Any]) -> str | None:
    """The client's address (a trusted proxy's forwarded one, service.middleware)."""
    return request.client.host if request.client else None
