"""Single sign-on pages: off to the provider, and back (service.kernel.oidc does the protocol).

The state, nonce and PKCE verifier are kept in the visitor's server-side session and taken
out of it by the first callback that names them: a replayed callback finds nothing and is
refused, as is one from another browser (whose session holds no such state).
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Final

from litestar import Request, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from service.kernel import oidc
from service.kernel.i18n import _
from service.kernel.oidc import OidcRefused, Pending
from service.kernel.privacy import salted_hash
from service.kernel.security import PUBLIC, require_session_store
from service.kernel.settings import OidcSettings, Settings
from service.portal.login import safe_next
from service.portal.second_factor import after_first_factor

SESSION_KEY: Final = "oidc_pending"
PENDING_FOR: Final = 600.0  # seconds a visitor has at the provider


def _configured(request: Request[object, object, State]) -> tuple[Settings, OidcSettings]:
    settings: Settings = request.app.state.settings
    if settings.oidc is None:
        raise NotFoundException("Single sign-on is not set up")
    return settings, settings.oidc


def _address(request: Request[object, object, State], settings: Settings) -> str | None:
    host = request.client.host if request.client else None
    return salted_hash(settings.secret_key, "login", host) if host else None


def _refused(message: str, status: int = 401) -> Template:
    return Template(
        template_name="login.html",
        context={"next": "/", "error": message, "username": ""},
        status_code=status,
    )


@get("/login/oidc", opt=PUBLIC, include_in_schema=False)
async def oidc_start(
    request: Request[object, object, State],
    next_: Annotated[str | None, QueryParameter(name="next", max_length=500)] = None,
) -> Redirect | Template:
    settings, provider = _configured(request)
    await require_session_store(request)
    try:
        url, pending = await oidc.begin(provider, settings.base_url, safe_next(next_))
    except OidcRefused as exc:
        await oidc.refused(provider, exc.reason, _address(request, settings))
        return _refused(_(exc.detail), 503)
    request.session[SESSION_KEY] = pending.as_dict()
    return Redirect(path=url, status_code=303)


@get(oidc.CALLBACK_PATH, opt=PUBLIC, include_in_schema=False)
async def oidc_callback(
    request: Request[object, object, State],
    code: Annotated[str | None, QueryParameter(max_length=2000)] = None,
    state_: Annotated[str | None, QueryParameter(name="state", max_length=500)] = None,
    error: Annotated[str | None, QueryParameter(max_length=200)] = None,
) -> Redirect | Template:
    settings, provider = _configured(request)
    await require_session_store(request)
    address = _address(request, settings)
    # Taken out whatever follows: one callback per state, never two.
    pending = Pending.from_dict(request.session.pop(SESSION_KEY, None))
    try:
        if pending is None or not state_ or not hmac.compare_digest(pending.state, state_):
            raise OidcRefused(oidc.REFUSED, "unknown, spent or foreign state")
        if time.time() - pending.started > PENDING_FOR:
            raise OidcRefused(oidc.REFUSED, "state expired")
        if error or not code:
            raise OidcRefused(oidc.REFUSED, f"provider answered {error or 'no code'}")
        claims = await oidc.finish(provider, settings.base_url, pending, code)
        account = await oidc.sign_in(provider, claims, address=address)
    except OidcRefused as exc:
        await oidc.refused(provider, exc.reason, address)
        return _refused(_(exc.detail))
    return await after_first_factor(
        request,
        account,
        pending.next,
        via="oidc",
        second_factor_done=oidc.mfa_asserted(provider, claims),
    )


PAGES: list[ControllerRouterHandler] = [oidc_start, oidc_callback]
