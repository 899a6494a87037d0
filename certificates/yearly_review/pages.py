"""Pages of the yearly review: the public lists (红黑榜) of each confirmed year at /lists, and
the officials' page at /official/reviews to build a draft, read it, exclude a proposed
withdrawal with a note and confirm. A form that fails is shown again with what went wrong,
having changed nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Response, Template
from litestar.types import ControllerRouterHandler

from certificates.labels import STATUS_LABELS
from certificates.policy import policy_for
from certificates.schemas import ReviewOut
from certificates.yearly_review import lists as review_lists
from certificates.yearly_review import store as reviews
from scoring.credit import store as credit_store
from service.kernel import scope
from service.kernel.db import MAX_ID
from service.kernel.errors import FangxinError, FieldError, InvalidInput, NotFound
from service.kernel.exports import Headers
from service.kernel.i18n import gettext as _
from service.kernel.localtime import to_local
from service.kernel.security import CITY_OFFICIALS, OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings
from service.kernel.validation import int_or_none

OFFICIAL_PAGE = "/official/reviews"
FORMATS = ("csv", "xlsx")


async def _lists_page(year: int, status_code: int = 200) -> Template:
    years = await reviews.confirmed_years()
    lists = review_lists.public_list(await reviews.get(year, confirmed_only=True))
    return Template(
        "yearly_review/lists.html",
        context={
            "lists": lists,
            "year": year,
            "years": years,
            "sections": review_lists.SECTIONS,
            "reason_text": review_lists.reason_text,
        },
        status_code=status_code,
    )


@get("/lists", opt=PUBLIC, include_in_schema=False)
async def latest_lists() -> Template:
    """The latest confirmed year's lists, with links to the other years."""
    years = await reviews.confirmed_years()
    if not years:
        return Template(
            "yearly_review/lists.html",
            context={"lists": None, "year": None, "years": [], "sections": {}},
        )
    return await _lists_page(years[0])


@get("/lists/{edition:str}", opt=PUBLIC, include_in_schema=False)
async def lists_of_year(
    edition: Annotated[str, PathParameter(max_length=16)],
    header_row: Headers = "label",
) -> Template | Response[bytes]:
    """``/lists/2025`` (the page), ``/lists/2025.csv`` or ``/lists/2025.xlsx``: a confirmed
    year's lists; a draft or a year without a review is missing."""
    stem, _dot, fmt = edition.partition(".")
    year = int_or_none(stem, max_digits=4)
    if year is None or (fmt and fmt not in FORMATS):
        raise NotFound(f"No list {edition}")
    if fmt:
        lists = review_lists.public_list(await reviews.get(year, confirmed_only=True))
        return await review_lists.download(lists, fmt, header_row)
    return await _lists_page(year)


async def _official_page(
    request: Request[Any, Any, State],
    year: int | None,
    *,
    error: FangxinError | None = None,
    failed: str = "",
    status_code: int = 200,
) -> Template:
    confined = await scope.of(request)
    review: ReviewOut | None = None
    if year is not None:
        try:
            review = await reviews.get(year, confined)
        except NotFound:
            review = None
    errors: list[FieldError] = error.errors if error else []
    return Template(
        "yearly_review/reviews.html",
        context={
            "year": year,
            "review": review,
            "reviews": await reviews.latest_years(),
            "default_year": to_local(datetime.now(UTC)).year - 1,
            # Building and confirming are the city bureau's: a district's official reads.
            "may_act": confined is None,
            "sections": review_lists.SECTIONS,
            "reason_text": review_lists.reason_text,
            "cert_statuses": STATUS_LABELS,
            "error": failed or None,
            # The service's own words: which field, which line, which state.
            "error_details": [f"{e.field}: {e.message}" for e in errors]
            or ([error.detail] if error else []),
            "done": request.query_params.get("done") in ("built", "excluded", "confirmed"),
        },
        status_code=status_code,
    )


@get(OFFICIAL_PAGE, opt=OFFICIALS, include_in_schema=False)
async def reviews_page(
    request: Request[Any, Any, State],
    year: Annotated[int | None, QueryParameter(ge=reviews.FIRST_YEAR, le=2100)] = None,
) -> Template:
    """The reviews there are; one year's draft or confirmed review, line by line."""
    return await _official_page(request, year)


def _year_of(data: dict[str, str]) -> int | None:
    return int_or_none(data.get("year", "").strip(), max_digits=4)


@post(OFFICIAL_PAGE, opt=CITY_OFFICIALS, include_in_schema=False, status_code=303)
async def build_form(
    request: Request[Any, Any, State], data: URLEncodedBody[dict[str, str]]
) -> Redirect | Template:
    """Build (or build again) a year's draft, then show it."""
    settings: Settings = request.app.state.settings
    year = _year_of(data)
    try:
        if year is None:
            raise InvalidInput(
                "No review for that year", [FieldError("year", _("Enter a year, e.g. 2025."))]
            )
        await reviews.build(
            year,
            actor=require_principal(request).actor,
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        )
    except FangxinError as exc:
        return await _official_page(
            request, None, error=exc, failed=_("The draft was not built."), status_code=exc.status
        )
    return Redirect(f"{OFFICIAL_PAGE}?year={year}&done=built", status_code=303)


@post(
    f"{OFFICIAL_PAGE}/{{year:int}}/items/{{item_id:int}}/exclude",
    opt=CITY_OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def exclude_form(
    request: Request[Any, Any, State],
    year: Annotated[int, PathParameter(ge=reviews.FIRST_YEAR, le=2100)],
    item_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    data: URLEncodedBody[dict[str, str]],
) -> Redirect | Template:
    """Exclude a proposed withdrawal; the note is required."""
    try:
        await reviews.exclude(
            year, item_id, data.get("note", ""), actor=require_principal(request).actor
        )
    except FangxinError as exc:
        failed = _("The withdrawal was not excluded.")
        return await _official_page(request, year, error=exc, failed=failed, status_code=exc.status)
    return Redirect(f"{OFFICIAL_PAGE}?year={year}&done=excluded", status_code=303)


@post(
    f"{OFFICIAL_PAGE}/{{year:int}}/confirm",
    opt=CITY_OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def confirm_form(
    request: Request[Any, Any, State],
    year: Annotated[int, PathParameter(ge=reviews.FIRST_YEAR, le=2100)],
    data: URLEncodedBody[dict[str, str]],
) -> Redirect | Template:
    """Confirm the draft the page showed (its build time travels with the form): its
    withdrawals are made and its lists published."""
    try:
        read = datetime.fromisoformat(data.get("built_at", ""))
    except ValueError:
        read = None
    try:
        await reviews.confirm(year, actor=require_principal(request).actor, read=read)
    except FangxinError as exc:
        failed = _("The review was not confirmed.")
        return await _official_page(request, year, error=exc, failed=failed, status_code=exc.status)
    return Redirect(f"{OFFICIAL_PAGE}?year={year}&done=confirmed", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    latest_lists,
    lists_of_year,
    reviews_page,
    build_form,
    exclude_form,
    confirm_form,
]
