"""The officials' advisories page: those in force and lately ended, a form to publish one and a
button to withdraw one. The same store functions as the API; a form with a mistake comes back
filled in, each bad field named."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import PathParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from service.kernel import scope
from service.kernel.errors import FangxinError, FieldError
from service.kernel.i18n import N_
from service.kernel.localtime import LOCAL_TZ
from service.kernel.notices import error_notice, redirect_after
from service.kernel.security import OFFICIALS, require_principal
from service.portal.advisories import store
from service.portal.advisories.schemas import AdvisoryIn

ADVISORY_CATEGORIES: Final = {
    "price": N_("Prices"),
    "quality": N_("Quality of goods"),
    "safety": N_("Safety"),
    "prepaid": N_("Prepaid cards and memberships"),
    "online": N_("Online shopping"),
    "travel": N_("Travel"),
    "fraud": N_("Consumer traps"),
    "other": N_("Other"),
}
PAGE: Final = "/official/advisories"
_CODES: Final = re.compile(r"[\s,，;；、]+")
FORM_FIELDS: Final = (
    "title",
    "text",
    "category",
    "valid_from",
    "valid_until",
    "merchants",
    "areas",
)


def _codes(text: str) -> list[str]:
    """USCCs or area codes as an official pastes them: one per line, or separated by commas."""
    return [c for c in _CODES.split(text.strip()) if c]


def _moment(text: str) -> str | None:
    """A ``datetime-local`` field (Beijing wall-clock time, no offset) as ISO 8601 with +08:00;
    anything else is passed on for the store to name as invalid."""
    text = text.strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_TZ)
    return moment.isoformat()


async def _page(
    request: Request[Any, Any, State],
    *,
    form: dict[str, str] | None = None,
    errors: list[FieldError] | None = None,
    status_code: int = 200,
) -> Template:
    district = await scope.of(request)
    in_force = await store.in_force()
    owners = await store.districts_of([a.id for a in in_force])
    return Template(
        "advisories/official.html",
        context={
            "in_force": in_force,
            # A district's official withdraws only what its district published.
            "may_withdraw": {
                a.id for a in in_force if district is None or owners.get(a.id) == district.id
            },
            "ended": await store.ended(),
            "categories": ADVISORY_CATEGORIES,
            "form": form or {},
            "errors": {e.field: e.message for e in errors or []},
            "district": district,
            "error": error_notice(request),
            "done": request.query_params.get("done"),
        },
        status_code=status_code,
    )


@get(PAGE, opt=OFFICIALS, include_in_schema=False)
async def advisories_page(request: Request[Any, Any, State]) -> Template:
    return await _page(request)


@post(PAGE, opt=OFFICIALS, include_in_schema=False, status_code=303)
async def publish_form(
    request: Request[Any, Any, State], data: URLEncodedBody[dict[str, str]]
) -> Redirect | Template:
    form = {k: str(data.get(k, ""))[:5000] for k in FORM_FIELDS}
    advisory = AdvisoryIn(
        title=form["title"],
        text=form["text"].replace("\r\n", "\n"),
        category=form["category"],
        valid_from=_moment(form["valid_from"]),
        valid_until=_moment(form["valid_until"]),
        merchants=[c.upper() for c in _codes(form["merchants"])][:200],
        areas=_codes(form["areas"])[:50],
    )
    try:
        await store.publish(
            advisory, actor=require_principal(request).actor, district=await scope.of(request)
        )
    except FangxinError as exc:
        errors = exc.errors or [FieldError("title", exc.detail)]
        return await _page(request, form=form, errors=errors, status_code=422)
    return Redirect(f"{PAGE}?done=published", status_code=303)


@post(
    f"{PAGE}/{{advisory_id:int}}/withdraw", opt=OFFICIALS, include_in_schema=False, status_code=303
)
async def withdraw_form(
    request: Request[Any, Any, State],
    advisory_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
) -> Redirect:
    withdrawn = store.withdraw(
        advisory_id, actor=require_principal(request).actor, district=await scope.of(request)
    )
    return await redirect_after(
        request, withdrawn, done=f"{PAGE}?done=withdrawn", back=PAGE, code="not_withdrawn"
    )


PAGES: list[ControllerRouterHandler] = [advisories_page, publish_form, withdraw_form]
