"""The administrators' accounts page: who may sign in, with which role, and — for officials —
over which district; a form to create an account and one to bind an official to a district
or give it the whole city again. The same service functions as the API and the CLI."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import PathParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from service.kernel import accounts
from service.kernel.models import Account, Area, AreaKind, Role
from service.kernel.notices import error_notice, error_redirect, redirect_after
from service.kernel.security import ADMINS, require_principal

PAGE = "/official/accounts"
ROLES = (Role.OFFICIAL, Role.ADMIN, Role.MERCHANT, Role.AREA_MANAGER)  # people; feeds: tokens


@get(PAGE, opt=ADMINS, include_in_schema=False)
async def accounts_page(request: Request[Any, Any, State]) -> Template:
    """Every account with its role, merchant or district."""
    return Template(
        "portal/accounts.html",
        context={
            "rows": await Account.all()
            .order_by("username")
            .select_related("merchant", "district", "area"),
            "districts": await Area.filter(kind=AreaKind.DISTRICT).order_by("code"),
            "places": await Area.filter(kind__in=(AreaKind.STREET, AreaKind.SCENIC_SPOT)).order_by(
                "code"
            ),
            "roles": [r.value for r in ROLES],
            "error": error_notice(request),
            "done": request.query_params.get("done") in ("created", "district"),
        },
    )


@post(PAGE, opt=ADMINS, include_in_schema=False, status_code=303)
async def create_account_form(
    request: Request[Any, Any, State], data: URLEncodedBody[dict[str, str]]
) -> Redirect:
    try:
        role = Role(data.get("role", ""))
    except ValueError:
        return error_redirect(request, PAGE, "not_created", ["role: choose a role"])
    created = accounts.create_account(
        data.get("username", "").strip(),
        data.get("password", ""),
        role,
        merchant_uscc=data.get("merchant", "").strip() or None,
        district_code=data.get("district") or None,
        area_code=data.get("area") or None,
        actor=require_principal(request).actor,
    )
    return await redirect_after(
        request, created, done=f"{PAGE}?done=created", back=PAGE, code="not_created"
    )


@post(f"{PAGE}/{{username:str}}/district", opt=ADMINS, include_in_schema=False, status_code=303)
async def set_district_form(
    request: Request[Any, Any, State],
    username: Annotated[str, PathParameter(max_length=64)],
    data: URLEncodedBody[dict[str, str]],
) -> Redirect:
    """Bind an official to a district, or (empty) give it the whole city again."""
    bound = accounts.set_district(
        username, data.get("district") or None, actor=require_principal(request).actor
    )
    return await redirect_after(
        request, bound, done=f"{PAGE}?done=district", back=PAGE, code="district_not_set"
    )


PAGES: list[ControllerRouterHandler] = [accounts_page, create_account_form, set_district_form]
