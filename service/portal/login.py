"""Sign-in pages of the shared core: login, logout and the account page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from service.kernel import accounts
from service.kernel.errors import LoginFailed
from service.kernel.i18n import _
from service.kernel.privacy import salted_hash
from service.kernel.security import (
    PUBLIC,
    SIGNED_IN,
    principal_of,
    require_session_store,
)
from service.kernel.settings import Settings
from service.portal.second_factor import after_first_factor

SEARCH_PAGE_SIZE = 20


def safe_next(value: str | None) -> str:
    """Only same-site paths: a login link must not become an open redirect."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@get("/login", opt=PUBLIC, include_in_schema=False)
async def login_form(
    request: Request[object, object, State],
    next_: Annotated[str | None, QueryParameter(name="next", max_length=500)] = None,
) -> Template:
    return Template(
        template_name="login.html",
        context={"next": safe_next(next_), "error": None, "username": ""},
    )


@post("/login", opt=PUBLIC, include_in_schema=False, status_code=303)
async def login(
    request: Request[object, object, State],
    data: URLEncodedBody[dict[str, str]],
) -> Template | Redirect:
    settings: Settings = request.app.state.settings
    username = (data.get("username") or "").strip()[:64]
    target = safe_next(data.get("next"))
    await require_session_store(request)
    try:
        account = await accounts.authenticate(
            username,
            data.get("password") or "",
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
            # Throttled per address, kept only as a keyed hash like every address we see.
            address=salted_hash(settings.secret_key, "login", request.client.host)
            if request.client
            else None,
        )
    except LoginFailed as exc:
        return Template(
            template_name="login.html",
            context={"next": target, "error": _(exc.detail), "username": username},
            status_code=401,
        )
    # Signed in now, or held for the second factor (service.portal.second_factor).
    return await after_first_factor(request, account, target, via="password")


@post("/logout", opt=SIGNED_IN, include_in_schema=False, status_code=303)
async def logout(request: Request[object, object, State]) -> Redirect:
    request.clear_session()
    return Redirect(path="/", status_code=303)


@get("/account", opt=SIGNED_IN, include_in_schema=False)
async def account_page(request: Request[object, object, State]) -> Template:
    return Template(template_name="account.html", context={"who": principal_of(request)})


PAGES: list[ControllerRouterHandler] = [login_form, login, logout, account_page]
