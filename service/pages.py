"""Public and sign-in pages of the shared core: the city home page, login and logout."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from service import accounts, registry
from service.errors import LoginFailed
from service.i18n import _
from service.models import Area, AreaKind, Merchant, MerchantStatus
from service.registry import MerchantFilter, Page
from service.security import (
    PUBLIC,
    SESSION_ACCOUNT_KEY,
    SIGNED_IN,
    principal_of,
    rotate_session,
)
from service.settings import Settings

SEARCH_PAGE_SIZE = 20


def safe_next(value: str | None) -> str:
    """Only same-site paths: a login link must not become an open redirect."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@get("/", opt=PUBLIC, include_in_schema=False)
async def home(
    request: Request[object, object, State],
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    page: Annotated[int, QueryParameter(ge=1, le=10_000)] = 1,
) -> Template:
    city = await Area.filter(kind=AreaKind.CITY).order_by("code").first()
    areas = (
        await Area.filter(kind__in=[AreaKind.STREET, AreaKind.SCENIC_SPOT])
        .order_by("kind", "code")
        .select_related("parent")
    )
    districts = await Area.filter(kind=AreaKind.DISTRICT).order_by("code")
    merchant_count = await Merchant.filter(status=MerchantStatus.ACTIVE).count()
    results: list[Any] = []
    total = 0
    query = (q or "").strip()
    if query:
        results, total = await registry.list_merchants(
            Page(page, SEARCH_PAGE_SIZE), MerchantFilter(q=query)
        )
    return Template(
        template_name="home.html",
        context={
            "city": city,
            "districts": districts,
            "streets": [a for a in areas if a.kind == AreaKind.STREET],
            "scenic_spots": [a for a in areas if a.kind == AreaKind.SCENIC_SPOT],
            "merchant_count": merchant_count,
            "q": query,
            "results": results,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // SEARCH_PAGE_SIZE)),
            "district_names": {d.code: d for d in districts},
        },
    )


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
    try:
        account = await accounts.authenticate(
            username,
            data.get("password") or "",
            max_failures=settings.login_max_failures,
            lockout=timedelta(minutes=settings.login_lockout_minutes),
        )
    except LoginFailed as exc:
        return Template(
            template_name="login.html",
            context={"next": target, "error": _(exc.detail), "username": username},
            status_code=401,
        )
    await rotate_session(request)
    request.set_session({SESSION_ACCOUNT_KEY: account.id})
    return Redirect(path=target, status_code=303)


@post("/logout", opt=SIGNED_IN, include_in_schema=False, status_code=303)
async def logout(request: Request[object, object, State]) -> Redirect:
    request.clear_session()
    return Redirect(path="/", status_code=303)


@get("/account", opt=SIGNED_IN, include_in_schema=False)
async def account_page(request: Request[object, object, State]) -> Template:
    return Template(template_name="account.html", context={"who": principal_of(request)})


PAGES: list[ControllerRouterHandler] = [home, login_form, login, logout, account_page]
