"""Password pages (issue 32, item 5): every account changes its own; an official issues a
one-time reset code to a merchant or area manager of the district; the holder redeems it on a
public page. The rules live in service/kernel/passwords.py; these pages only show them.

Kept apart from the sign-in pages (service/portal/login.py), which they do not touch: a
change re-issues the changing browser's own session here, with the new session epoch, so the
holder stays signed in there and nowhere else.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.params import PathParameter, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from tortoise.expressions import Q

from service.kernel import passwords, scope
from service.kernel.accounts import MIN_PASSWORD
from service.kernel.errors import InvalidInput
from service.kernel.i18n import _
from service.kernel.models import Account, PasswordReset
from service.kernel.privacy import salted_hash
from service.kernel.security import (
    OFFICIALS,
    PUBLIC,
    SIGNED_IN,
    require_principal,
    require_session_store,
    rotate_session,
    session_for,
)
from service.kernel.settings import Settings

CHANGE = "/account/password"
RESETS = "/official/password-resets"
REDEEM = "/password-reset"
LISTED = 200  # accounts listed at once; the search finds the others
FIELD_MAX = 1024  # longer than any password or code; what is longer is cut, then refused
FormBody = URLEncodedBody[dict[str, str]]


def _field(data: dict[str, str], name: str) -> str:
    value = data.get(name)
    return value[:FIELD_MAX] if isinstance(value, str) else ""


def _field_errors(exc: InvalidInput | None) -> dict[str, list[str]]:
    """Each refused field with its translated reasons."""
    found: dict[str, list[str]] = defaultdict(list)
    for error in exc.errors if exc else []:
        found[error.field].append(_(error.message) % {"n": MIN_PASSWORD})
    return dict(found)


# --- changing one's own password -------------------------------------------------------------


def _change_page(exc: InvalidInput | None = None, status_code: int = 200) -> Template:
    return Template(
        "password_change.html",
        context={"field_errors": _field_errors(exc), "min_length": MIN_PASSWORD},
        status_code=status_code,
    )


@get(CHANGE, opt=SIGNED_IN, include_in_schema=False)
async def change_form(request: Request[Any, Any, State]) -> Template:
    return _change_page()


@post(CHANGE, opt=SIGNED_IN, include_in_schema=False, status_code=303, media_type=MediaType.HTML)
async def change(request: Request[Any, Any, State], data: FormBody) -> Any:
    settings: Settings = request.app.state.settings
    # 503 now if the new session could not be saved: the change would sign the holder out.
    await require_session_store(request)
    try:
        account = await passwords.change_own(
            require_principal(request),
            _field(data, "current"),
            _field(data, "password"),
            _field(data, "confirm"),
            max_failures=settings.login_max_failures,
        )
    except InvalidInput as exc:
        return _change_page(exc, status_code=exc.status)
    # Every session of the account ended with the change; this browser's goes on, under a
    # new id and the account's new epoch.
    await rotate_session(request)
    request.set_session(session_for(account))
    return Redirect("/account?done=password", status_code=303)


# --- officials: reset codes ------------------------------------------------------------------


async def _resets_page(
    request: Request[Any, Any, State],
    *,
    issued: tuple[Account, PasswordReset, str] | None = None,
    q: str | None = None,
) -> Template:
    district = await scope.of(request)
    now = datetime.now(UTC)
    found = passwords.resettable(district)
    q = (q or "").strip()
    if q:
        found = found.filter(
            Q(username__icontains=q)
            | Q(merchant__name__icontains=q)
            | Q(merchant__uscc=q.upper())
            | Q(area__code=q)
        )
    accounts = await found.order_by("username").select_related("merchant", "area").limit(LISTED + 1)
    more = len(accounts) > LISTED
    accounts = accounts[:LISTED]
    live = {
        r.account_id: r
        for r in await PasswordReset.filter(
            passwords.live(now), account_id__in=[a.id for a in accounts]
        )
    }
    return Template(
        "portal/password_resets.html",
        context={
            "rows": [(a, live.get(a.id)) for a in accounts],
            "more": more,
            "q": q,
            "issued": issued,
            "hours": request.app.state.settings.password_reset_hours,
        },
    )


@get(RESETS, opt=OFFICIALS, include_in_schema=False)
async def resets_page(
    request: Request[Any, Any, State],
    q: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Template:
    """The merchants' and area managers' accounts of the official's district (or the city's),
    each with its live reset code, if any; ``q`` finds one by username, merchant name, USCC
    or area code."""
    return await _resets_page(request, q=q)


@post(
    f"{RESETS}/{{username:str}}",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=200,
    media_type=MediaType.HTML,
)
async def issue_code(
    request: Request[Any, Any, State],
    username: Annotated[str, PathParameter(max_length=64)],
) -> Any:
    """Issue a code and show it, once: the page answering this POST is the only place it
    ever appears (private, no-store, like every signed-in page)."""
    settings: Settings = request.app.state.settings
    principal = require_principal(request)
    reset, code = await passwords.issue(
        username,
        district=await scope.of(request),
        actor=principal.actor,
        hours=settings.password_reset_hours,
    )
    account = await Account.get(id=reset.account_id)
    return await _resets_page(request, issued=(account, reset, code))


# --- redeeming a code (public) ---------------------------------------------------------------


def _redeem_page(
    *, username: str = "", exc: InvalidInput | None = None, status_code: int = 200
) -> Template:
    return Template(
        "password_reset.html",
        context={
            "field_errors": _field_errors(exc),
            "username": username,
            "min_length": MIN_PASSWORD,
            "done": False,
        },
        status_code=status_code,
    )


@get(REDEEM, opt=PUBLIC, include_in_schema=False)
async def redeem_form(request: Request[Any, Any, State]) -> Template:
    return _redeem_page()


@post(REDEEM, opt=PUBLIC, include_in_schema=False, status_code=200, media_type=MediaType.HTML)
async def redeem(request: Request[Any, Any, State], data: FormBody) -> Any:
    settings: Settings = request.app.state.settings
    username = _field(data, "username").strip()[:64]
    host = request.client.host if request.client else "unknown"
    try:
        await passwords.redeem(
            username,
            _field(data, "code"),
            _field(data, "password"),
            _field(data, "confirm"),
            # Counted per address, kept only as a keyed hash like every address we see.
            address=salted_hash(settings.secret_key, "password-reset", host),
        )
    except InvalidInput as exc:
        return _redeem_page(username=username, exc=exc, status_code=exc.status)
    return Template(
        "password_reset.html",
        context={
            "field_errors": {},
            "username": username,
            "min_length": MIN_PASSWORD,
            "done": True,
        },
    )


PAGES: list[ControllerRouterHandler] = [
    change_form,
    change,
    resets_page,
    issue_code,
    redeem_form,
    redeem,
]
