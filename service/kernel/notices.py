"""Form errors shown after a redirect, by code only.

A redirect's ``?error=`` is a link anyone can send an official: whatever text it carried
would appear in the bureau's own alert box (phishing). So the URL carries a known code, the
page shows that code's translated message and nothing for an unknown one, and the details
the service wrote (which criteria failed) travel in the server-side session instead."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeVar

from litestar import Request
from litestar.response import Redirect

from service.kernel.errors import FangxinError
from service.kernel.i18n import N_, gettext

ERRORS: Final = {
    "none": N_("Tick at least one eligible subject."),
    "note": N_("A note is required."),
    "not_issued": N_("Nothing was issued."),
    "not_decided": N_("The decision was not recorded."),
    "choose_flag": N_("Choose a flag and a decision."),
    "not_created": N_("The account was not created."),
    "district_not_set": N_("The district was not changed."),
    "not_withdrawn": N_("The advisory was not withdrawn."),
}
T = TypeVar("T")
_FLASH: Final = "fangxin_flash"
_MAX_DETAILS: Final = 20


@dataclass(frozen=True, slots=True)
class Notice:
    code: str
    message: str
    details: list[str] = field(default_factory=list)


def error_redirect(
    request: Request[Any, Any, Any], url: str, code: str, details: Sequence[str] = ()
) -> Redirect:
    """303 to ``url`` with ``error=code`` added (before any fragment), the details kept in
    the session for the next page only."""
    assert code in ERRORS, code  # a page could not show it
    path, hash_, fragment = url.partition("#")
    target = f"{path}{'&' if '?' in path else '?'}error={code}{hash_}{fragment}"
    session = request.scope.get("session")
    if details and isinstance(session, dict):
        session[_FLASH] = {"code": code, "details": [str(d)[:500] for d in details][:_MAX_DETAILS]}
    return Redirect(target, status_code=303)


def error_notice(request: Request[Any, Any, Any]) -> Notice | None:
    """The notice for this page's ``?error=`` code, or None for none or an unknown one."""
    session = request.scope.get("session")
    flash = session.pop(_FLASH, None) if isinstance(session, dict) and _FLASH in session else None
    code = request.query_params.get("error")
    if code is None or code not in ERRORS:
        return None
    details = (
        flash.get("details", []) if isinstance(flash, dict) and flash.get("code") == code else []
    )
    return Notice(code, gettext(ERRORS[code]), [str(d) for d in details])


def refusal_details(exc: FangxinError) -> list[str]:
    """What a refused form shows under its notice: each bad field and why, else the detail."""
    return [f"{e.field}: {e.message}" for e in exc.errors] or [exc.detail]


async def redirect_after(
    request: Request[Any, Any, Any],
    action: Awaitable[T],
    *,
    done: str | Callable[[T], str],
    back: str,
    code: str,
) -> Redirect:
    """A page form's POST, carried out: 303 to ``done`` (or the URL it makes of the action's
    result) when the action succeeds; when the service refuses it, 303 to ``back`` with the
    notice ``code`` and each reason (``refusal_details``)."""
    try:
        result = await action
    except FangxinError as exc:
        return error_redirect(request, back, code, refusal_details(exc))
    return Redirect(done if isinstance(done, str) else done(result), status_code=303)
