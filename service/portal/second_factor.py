"""The second step of signing in, and setting up a second factor.

Every sign-in path ends in ``after_first_factor``: the password form (service.portal.login)
and single sign-on (service.portal.oidc). When the account has a second factor, or policy
requires one of its role, the session it gets is only *pending*: it names the account under a
key the authentication middleware does not read, so the visitor is still anonymous to every
other page. The code page (or, required but not enrolled, the enrolment page) turns it into a
signed-in session; nothing else does. API tokens are no sign-in: an administrator creates them
while signed in (so past this step) or from the server's shell.

A pending session lasts ``PENDING_FOR``, and ends when the account's sessions end.
"""

from __future__ import annotations

import time
from typing import Any, Final

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.exceptions import PermissionDeniedException
from litestar.params import URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from markupsafe import Markup

from service.kernel import second_factor
from service.kernel.accounts import Principal
from service.kernel.errors import Conflict, NotFound
from service.kernel.i18n import _
from service.kernel.models import Account
from service.kernel.qr import qr_svg
from service.kernel.second_factor import CodeRefused, Enrolment, Step
from service.kernel.security import (
    PUBLIC,
    SIGNED_IN,
    require_principal,
    require_session_store,
    rotate_session,
    session_for,
)
from service.kernel.settings import Settings

PENDING: Final = "second_factor_pending"
PENDING_FOR: Final = 600.0  # seconds between the first factor and the second
VERIFY_PATH: Final = "/login/second-factor"
ENROL_PATH: Final = "/login/second-factor/enrol"
CODE_FIELD: Final = "code"
ACCOUNT_ENROL_PATH: Final = "/account/second-factor/enrol"


async def after_first_factor(
    request: Request[Any, Any, Any],
    account: Account,
    target: str,
    *,
    via: str,
    second_factor_done: bool = False,
) -> Redirect:
    """Sign in, or hold the sign-in pending until the second factor, as the account needs."""
    settings: Settings = request.app.state.settings
    step = None if second_factor_done else await second_factor.step_for(settings, account)
    if step is None:
        await _finish(request, account)
        return Redirect(path=target, status_code=303)
    # The session id rotates when the sign-in completes (``_finish``), not here: a pending
    # session opens nothing, and the visitor's CSRF token stays the anonymous one it holds.
    request.set_session(
        {
            PENDING: {
                "aid": account.id,
                "ep": account.session_epoch,
                "next": target,
                "via": via,
                "at": time.time(),
            }
        }
    )
    return Redirect(path=VERIFY_PATH if step == Step.VERIFY else ENROL_PATH, status_code=303)


async def _pending(request: Request[Any, Any, Any]) -> tuple[Account, str] | None:
    """The account waiting for its second factor in this session, and where it was going."""
    raw = request.session.get(PENDING) if isinstance(request.session, dict) else None
    if not isinstance(raw, dict):
        return None
    at, account_id, epoch = raw.get("at"), raw.get("aid"), raw.get("ep")
    if not isinstance(at, float) or time.time() - at > PENDING_FOR:
        return None
    if not isinstance(account_id, int) or not isinstance(epoch, int):
        return None
    account = await Account.get_or_none(id=account_id, active=True, session_epoch=epoch)
    if account is None:
        return None
    target = raw.get("next")
    return account, target if isinstance(target, str) else "/"


async def _finish(request: Request[Any, Any, Any], account: Account) -> None:
    await rotate_session(request)
    request.set_session(session_for(account))


def _expired() -> Redirect:
    return Redirect(path="/login", status_code=303)


@get(VERIFY_PATH, opt=PUBLIC, include_in_schema=False)
async def verify_form(request: Request[object, object, State]) -> Template | Redirect:
    pending = await _pending(request)
    if pending is None:
        return _expired()
    if await second_factor.confirmed_for(pending[0].id) is None:
        return Redirect(path=ENROL_PATH, status_code=303)  # required, not yet set up
    return Template(template_name="second_factor.html", context={"error": None})


@post(VERIFY_PATH, opt=PUBLIC, include_in_schema=False, status_code=303, media_type=MediaType.HTML)
async def verify(
    request: Request[object, object, State], data: URLEncodedBody[dict[str, str]]
) -> Template | Redirect:
    settings: Settings = request.app.state.settings
    await require_session_store(request)
    pending = await _pending(request)
    if pending is None:
        return _expired()
    account, target = pending
    try:
        await second_factor.verify(settings, account, (data.get(CODE_FIELD) or "")[:40])
    except CodeRefused as exc:
        return Template(
            template_name="second_factor.html",
            context={"error": _(exc.detail)},
            status_code=401,
        )
    except NotFound:
        return _expired()
    await _finish(request, account)
    return Redirect(path=target, status_code=303)


def _enrol_context(enrolment: Enrolment, action: str, error: str | None) -> dict[str, Any]:
    grouped = " ".join(enrolment.secret[i : i + 4] for i in range(0, len(enrolment.secret), 4))
    return {
        # Our own SVG (segno), with nothing of the visitor's in it.
        "qr": Markup(qr_svg(enrolment.uri).decode("utf-8")),  # noqa: S704
        "secret": grouped,
        "action": action,
        "error": error,
    }


@get(ENROL_PATH, opt=PUBLIC, include_in_schema=False)
async def enrol_form(request: Request[object, object, State]) -> Template | Redirect:
    settings: Settings = request.app.state.settings
    pending = await _pending(request)
    if pending is None:
        return _expired()
    account, _target = pending
    enrolment = await second_factor.pending_enrolment(settings, account)
    if enrolment is None:
        try:
            enrolment = await second_factor.begin_enrolment(settings, account)
        except Conflict:
            return Redirect(path=VERIFY_PATH, status_code=303)
    return Template(
        template_name="second_factor_enrol.html",
        context={**_enrol_context(enrolment, ENROL_PATH, None), "required": True},
    )


@post(ENROL_PATH, opt=PUBLIC, include_in_schema=False, status_code=303, media_type=MediaType.HTML)
async def enrol(
    request: Request[object, object, State], data: URLEncodedBody[dict[str, str]]
) -> Template | Redirect:
    settings: Settings = request.app.state.settings
    await require_session_store(request)
    pending = await _pending(request)
    if pending is None:
        return _expired()
    account, target = pending
    return await _confirm(request, settings, account, data, ENROL_PATH, target, finish=True)


async def _confirm(
    request: Request[Any, Any, Any],
    settings: Settings,
    account: Account,
    data: dict[str, str],
    action: str,
    target: str,
    *,
    finish: bool,
) -> Template | Redirect:
    code = (data.get(CODE_FIELD) or "").strip()[:40]
    try:
        codes = await second_factor.confirm_enrolment(settings, account, code)
    except CodeRefused as exc:
        enrolment = await second_factor.pending_enrolment(settings, account)
        if enrolment is None:
            return Redirect(path=action, status_code=303)
        return Template(
            template_name="second_factor_enrol.html",
            context={**_enrol_context(enrolment, action, _(exc.detail)), "required": finish},
            status_code=401,
        )
    except NotFound:
        return Redirect(path=action, status_code=303)
    if finish:
        await _finish(request, account)
    return Template(
        template_name="recovery_codes.html",
        context={"codes": codes, "next": target},
        status_code=200,
    )


@get("/account/second-factor", opt=SIGNED_IN, include_in_schema=False)
async def account_second_factor(request: Request[object, object, State]) -> Template:
    settings: Settings = request.app.state.settings
    who = require_principal(request)
    account = await _account(who)
    confirmed = await second_factor.confirmed_for(account.id)
    return Template(
        template_name="account_second_factor.html",
        context={
            "enrolled_at": confirmed.confirmed_at if confirmed else None,
            "codes_left": await second_factor.recovery_codes_left(account.id),
            "required": second_factor.required(settings, who.role.value),
        },
    )


async def _account(who: Principal) -> Account:
    """The signed-in account; a machine's API token has none, and no second factor."""
    account = await Account.get_or_none(id=who.account_id) if who.account_id else None
    if account is None:
        raise PermissionDeniedException("Only a person signed in has a second factor")
    return account


@post(
    ACCOUNT_ENROL_PATH,
    opt=SIGNED_IN,
    include_in_schema=False,
    status_code=200,
    media_type=MediaType.HTML,
)
async def account_enrol(
    request: Request[object, object, State], data: URLEncodedBody[dict[str, str]]
) -> Template | Redirect:
    """Start (or, with a code, confirm) setting up an authenticator for the signed-in account."""
    settings: Settings = request.app.state.settings
    account = await _account(require_principal(request))
    if data.get(CODE_FIELD):
        return await _confirm(
            request, settings, account, data, ACCOUNT_ENROL_PATH, "/account", finish=False
        )
    try:
        enrolment = await second_factor.begin_enrolment(settings, account)
    except Conflict:
        return Redirect(path="/account/second-factor", status_code=303)
    return Template(
        template_name="second_factor_enrol.html",
        context={
            **_enrol_context(enrolment, ACCOUNT_ENROL_PATH, None),
            "required": False,
        },
    )


PAGES: list[ControllerRouterHandler] = [
    verify_form,
    verify,
    enrol_form,
    enrol,
    account_second_factor,
    account_enrol,
]
