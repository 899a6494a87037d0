"""HTTP API of the yearly review (后评价): the city's officials build a year's draft, exclude a
proposed withdrawal, confirm; officials read it (a district's official its district's lines);
anyone reads a confirmed year's public lists as JSON, CSV or XLSX."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from certificates.policy import policy_for
from certificates.schemas import ExcludeIn, PublicList, ReviewIn, ReviewOut
from certificates.yearly_review import lists as review_lists
from certificates.yearly_review import store as reviews
from scoring.credit import store as credit_store
from service.kernel import scope
from service.kernel.db import MAX_ID
from service.kernel.exports import Headers
from service.kernel.security import CITY_OFFICIALS, OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings

Year = Annotated[int, PathParameter(ge=reviews.FIRST_YEAR, le=2100)]


class ReviewController(Controller):
    path = "/api/v1/certificates/reviews"
    tags = ["certificates"]

    @post("/", opt=CITY_OFFICIALS, status_code=201)
    async def build(self, request: Request[Any, Any, State], data: JSONBody[ReviewIn]) -> ReviewOut:
        """Build the year's draft review: every holder (active or on hold) judged by today's
        policy, retained or withdrawn with reason codes; the certificates that entered and
        exited during the year; the holders whose published score rose by the policy's
        ``[review] improved_by``. A draft built before is replaced; a confirmed year: 409.
        City-wide: the city bureau's officials only."""
        settings: Settings = request.app.state.settings
        return await reviews.build(
            data.year,
            actor=require_principal(request).actor,
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        )

    @get("/{year:int}", opt=OFFICIALS)
    async def get_review(self, request: Request[Any, Any, State], year: Year) -> ReviewOut:
        """The year's review, draft or confirmed, line by line; a district's official sees
        its district's lines."""
        return await reviews.get(year, await scope.of(request))

    @post("/{year:int}/items/{item_id:int}/exclude", opt=CITY_OFFICIALS, status_code=200)
    async def exclude(
        self,
        request: Request[Any, Any, State],
        year: Year,
        item_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
        data: JSONBody[ExcludeIn],
    ) -> ReviewOut:
        """Keep a proposed withdrawal from being made, with a note saying why (audited)."""
        return await reviews.exclude(
            year, item_id, data.note, actor=require_principal(request).actor
        )

    @post("/{year:int}/confirm", opt=CITY_OFFICIALS, status_code=200)
    async def confirm(self, request: Request[Any, Any, State], year: Year) -> ReviewOut:
        """Confirm the draft: each withdrawal not excluded revokes its certificate (reason
        ``yearly_review``), all audited in one transaction; the review is then frozen and
        its lists public. A second confirm: 409."""
        return await reviews.confirm(year, actor=require_principal(request).actor)

    @get("/{year:int}/list", opt=PUBLIC)
    async def public_list(
        self,
        year: Year,
        format: Annotated[Literal["json", "csv", "xlsx"], QueryParameter()] = "json",
        header_row: Headers = "label",
    ) -> PublicList | Response[bytes]:
        """A confirmed year's public lists (红黑榜): named and improved holders (red),
        withdrawn and exited ones with their reasons (black). A draft is not public: 404."""
        lists = review_lists.public_list(await reviews.get(year, confirmed_only=True))
        if format == "json":
            return lists
        return await review_lists.download(lists, format, header_row)


ROUTES = [ReviewController]
