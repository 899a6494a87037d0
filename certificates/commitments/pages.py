"""Pages of commitments: the form a merchant (on its own page) or an official (on a small page
of its own per merchant) declares and ends commitments with, and the labels every page shows.

The form works without JavaScript: a refused declaration re-renders the page with each field's
reason and stores nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from certificates.commitments import store
from certificates.commitments.models import RETURN_DAYS
from certificates.commitments.schemas import CommitmentIn, CommitmentsOut
from service.kernel import scope
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_
from service.kernel.localtime import LOCAL_TZ, to_local
from service.kernel.models import Area
from service.kernel.security import OFFICIALS, require_principal
from service.kernel.validation import NotAnInteger, parse_int

KIND_LABELS: Final = {
    "returns": N_("Offline no-reason returns"),
    "pay_first": N_("Pay-first compensation"),
    "marked_prices": N_("Clearly marked prices"),
}
FIELD_LABELS: Final = {
    "kind": N_("Commitment"),
    "days": N_("Return period"),
    "exclusions": N_("Exclusions"),
    "other_branches": N_("Returns at other branches"),
    "valid_from": N_("In force from"),
    "valid_until": N_("In force until"),
}
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]


@dataclass(slots=True)
class FormState:
    """What the form shows: the values sent back and each field's reason, after a refusal."""

    values: dict[str, str] = field(default_factory=dict)
    errors: list[FieldError] = field(default_factory=list)


def _day(value: str, name: str, errors: list[FieldError]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(name, "is not a date (YYYY-MM-DD)"))
        return None


def from_form(data: dict[str, Any], now: datetime) -> tuple[CommitmentIn, list[FieldError]]:
    """The form's fields as the API's body. Days are Beijing days: in force from the start of
    the first (today: from now) until the end of the last."""
    errors: list[FieldError] = []
    text = {k: str(v).strip() for k, v in data.items() if isinstance(v, str)}
    days: int | None = None
    if text.get("days"):
        try:
            days = parse_int(text["days"], max_digits=3)
        except NotAnInteger:
            errors.append(FieldError("days", "must be one of " + ", ".join(map(str, RETURN_DAYS))))
    start = _day(text.get("valid_from", ""), "valid_from", errors)
    end = _day(text.get("valid_until", ""), "valid_until", errors)
    today = to_local(now).date()
    valid_from = None
    if start is not None and start != today:
        valid_from = datetime.combine(start, time(), tzinfo=LOCAL_TZ).isoformat()
    valid_until = None
    if end is not None:
        last = datetime.combine(end, time(), tzinfo=LOCAL_TZ)
        valid_until = (last + timedelta(days=1)).isoformat()
    returns = text.get("kind") == "returns"
    return (
        CommitmentIn(
            kind=text.get("kind", ""),
            days=days if returns else None,
            exclusions=text.get("exclusions", "") if returns else "",
            other_branches=returns and text.get("other_branches") in ("on", "1", "true"),
            valid_from=valid_from,
            valid_until=valid_until,
        ),
        errors,
    )


async def declare_from_form(
    uscc: str,
    data: dict[str, Any],
    *,
    request: Request[Any, Any, State],
    declared_as: str,
    district: Area | None,
) -> FormState | None:
    """Declare from the form; None when stored, else the form to show again."""
    now = datetime.now(UTC)
    body, errors = from_form(data, now)
    values = {k: str(v) for k, v in data.items() if k in FIELD_LABELS and isinstance(v, str)}
    if errors:
        return FormState(values, errors)
    try:
        await store.declare(
            uscc,
            body,
            actor=require_principal(request).actor,
            declared_as=declared_as,
            district=district,
            now=now,
        )
    except InvalidInput as exc:
        return FormState(values, exc.errors)
    return None


def context(commitments: CommitmentsOut, form: FormState | None) -> dict[str, Any]:
    """What the form and the list need, for any page that shows them."""
    return {
        "commitments": commitments.in_force,
        "commitment_history": commitments.history,
        "commitment_form": form or FormState(),
        "commitment_kinds": KIND_LABELS,
        "commitment_fields": FIELD_LABELS,
        "return_days": RETURN_DAYS,
    }


async def _official_page(
    request: Request[Any, Any, State], uscc: str, form: FormState | None = None
) -> Template:
    district = await scope.of(request)
    merchant = await scope.merchants(district).filter(uscc=uscc).first()
    if merchant is None:
        raise NotFound(f"No merchant with USCC {uscc}")
    return Template(
        "commitments/official.html",
        context={
            "merchant": merchant,
            "action": f"/official/commitments/{uscc}",
            **context(await store.of_merchant(uscc), form),
        },
        status_code=422 if form and form.errors else 200,
    )


@get("/official/commitments/{uscc:str}", opt=OFFICIALS, include_in_schema=False)
async def official_page(
    request: Request[Any, Any, State], uscc: Annotated[str, PathParameter(max_length=64)]
) -> Template:
    """A merchant's commitments, in force and past, with the form to declare or end one."""
    return await _official_page(request, uscc)


@post("/official/commitments/{uscc:str}", opt=OFFICIALS, include_in_schema=False, status_code=303)
async def official_declare(
    request: Request[Any, Any, State],
    uscc: Annotated[str, PathParameter(max_length=64)],
    data: Form,
) -> Template | Redirect:
    district = await scope.of(request)
    if not await scope.merchants(district).filter(uscc=uscc).exists():
        raise NotFound(f"No merchant with USCC {uscc}")
    form = await declare_from_form(
        uscc, data, request=request, declared_as="official", district=district
    )
    if form is not None:
        return await _official_page(request, uscc, form)
    return Redirect(f"/official/commitments/{uscc}?saved=1", status_code=303)


@post(
    "/official/commitments/{uscc:str}/{commitment_id:int}/end",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def official_end(
    request: Request[Any, Any, State],
    uscc: Annotated[str, PathParameter(max_length=64)],
    commitment_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
) -> Redirect:
    await store.end(
        uscc,
        commitment_id,
        actor=require_principal(request).actor,
        district=await scope.of(request),
    )
    return Redirect(f"/official/commitments/{uscc}?ended=1", status_code=303)


PAGES: list[ControllerRouterHandler] = [official_page, official_declare, official_end]
