"""HTTP API of credit: the feeds post events and complaints; officials and merchants read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import polars as pl
from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Response

from scoring.credit import complaints, confine, spot_checks, visits
from scoring.credit import figures as credit_figures
from scoring.credit import store as credit_store
from scoring.credit import view as credit_view
from scoring.credit.rules import Rules
from scoring.credit.schemas import (
    ComplaintBatch,
    CreditEventBatch,
    CreditOut,
    IngestOut,
    SpotCheckCampaignBatch,
    VisitTallyBatch,
)
from service.kernel import scope
from service.kernel.exports import Headers, figures_response
from service.kernel.models import Merchant, Role
from service.kernel.security import FEEDS, MERCHANTS, OFFICIALS, require_principal
from service.kernel.settings import Settings
from service.kernel.validation import require_in_range

# 5,000 items of a few hundred bytes each, with room to spare.
BATCH_MAX_BYTES = 8 * 1024 * 1024


def rules_of(request: Request[Any, Any, Any]) -> Rules:
    settings: Settings = request.app.state.settings
    return credit_store.rules_for(settings.credit_rules)


async def require_merchant_in_scope(request: Request[Any, Any, Any], uscc: str) -> None:
    """A merchant of another district is missing to a district's official."""
    missing = f"No merchant with USCC {uscc}"
    await scope.require(await scope.of(request), scope.MERCHANT, uscc, missing)


def classes_within(frame: pl.DataFrame, district: str | None) -> pl.DataFrame:
    """The credit-class rows of one district's streets and scenic spots, or all."""
    return frame.filter(pl.col("district") == district) if district else frame


class CreditController(Controller):
    path = "/api/v1"
    tags = ["credit"]

    @post("/credit/events", opt=FEEDS, request_max_body_size=BATCH_MAX_BYTES, status_code=200)
    async def post_events(
        self, request: Request[Any, Any, State], data: JSONBody[CreditEventBatch]
    ) -> IngestOut:
        """A batch of up to 5,000 credit events, stored whole or not at all. Replaying a batch
        changes nothing; a 422 names every bad item by its index."""
        await confine.events(await scope.of(request), data.events)
        r = await credit_store.ingest_events(
            data.events, actor=require_principal(request).actor, rules=rules_of(request)
        )
        return IngestOut(r.received, r.stored, r.updated, r.unchanged, r.merchants_changed)

    @post("/complaints", opt=FEEDS, request_max_body_size=BATCH_MAX_BYTES, status_code=200)
    async def post_complaints(
        self, request: Request[Any, Any, State], data: JSONBody[ComplaintBatch]
    ) -> IngestOut:
        """A batch of up to 5,000 records of the 12315 intake — consultations, complaints and
        reports — stored whole or not at all. A record resent as it moves on updates the stored
        one; an identical resend changes nothing. Upheld and overdue complaints become credit
        events. A record about a party not in the register is kept and linked when the
        merchant is registered; only malformed records refuse the batch (422, each named). A
        record of a complaint filed through Fangxin (``fangxin_ref``, or an ``external_id``
        that is its receipt code) is linked to it and counted once (``linked``)."""
        items = await confine.complaints(await scope.of(request), data.complaints)
        r = await complaints.ingest_complaints(
            items, actor=require_principal(request).actor, rules=rules_of(request)
        )
        return IngestOut(
            r.received, r.stored, r.updated, r.unchanged, r.merchants_changed, r.linked
        )

    @post("/visits", opt=FEEDS, request_max_body_size=BATCH_MAX_BYTES, status_code=200)
    async def post_visits(
        self, request: Request[Any, Any, State], data: JSONBody[VisitTallyBatch]
    ) -> IngestOut:
        """Daily tallies of people received in person (接待来访、咨询), stored whole or not at
        all; a resent tally replaces the stored one."""
        items = await confine.tallies(await scope.of(request), data.tallies)
        r = await visits.ingest_tallies(items, actor=require_principal(request).actor)
        return IngestOut(r.received, r.stored, r.updated, r.unchanged, r.merchants_changed)

    @post("/spot-checks", opt=FEEDS, request_max_body_size=BATCH_MAX_BYTES, status_code=200)
    async def post_spot_checks(
        self, request: Request[Any, Any, State], data: JSONBody[SpotCheckCampaignBatch]
    ) -> IngestOut:
        """Red Shield campaigns as they stand (rounds and batches sampled), stored whole or
        not at all; counts are of batches. Each failed batch of a registered merchant is a
        ``spot_check_failed`` credit event."""
        campaigns = await confine.campaigns(await scope.of(request), data.campaigns)
        r = await spot_checks.ingest_spot_checks(
            campaigns, actor=require_principal(request).actor, rules=rules_of(request)
        )
        return IngestOut(r.received, r.stored, r.updated, r.unchanged, r.merchants_changed)

    @get("/merchants/{uscc:str}/credit", opt=MERCHANTS)
    async def get_credit(
        self,
        request: Request[Any, Any, State],
        uscc: Annotated[str, PathParameter(max_length=64)],
    ) -> CreditOut:
        """A merchant's credit score and class, its history, and each event with its points.
        Officials read any merchant; a merchant reads its own."""
        principal = require_principal(request)
        if principal.role == Role.MERCHANT:
            own = await Merchant.get_or_none(id=principal.merchant_id)
            if own is None or own.uscc != uscc:
                raise PermissionDeniedException("A merchant sees only its own credit")
        await require_merchant_in_scope(request, uscc)
        return await credit_view.merchant_credit(uscc, rules_of(request))


Format = Annotated[Literal["json", "csv", "xlsx"], QueryParameter()]


class FiguresController(Controller):
    path = "/api/v1"
    tags = ["credit"]

    @get("/complaints/figures", opt=OFFICIALS)
    async def complaint_figures(
        self,
        request: Request[Any, Any, State],
        period: Annotated[credit_figures.Period, QueryParameter()] = "year",
        district: Annotated[str | None, QueryParameter(max_length=32)] = None,
        since: Annotated[datetime | None, QueryParameter()] = None,
        until: Annotated[datetime | None, QueryParameter()] = None,
        format: Format = "json",
        header_row: Headers = "label",
    ) -> Response[Any]:
        """Complaints per period and district: received, closed, closure rate, overdue, upheld,
        money in dispute and recovered (yuan), by the district handling them; a whole-city
        row (district 全市) per period unless one district is asked for."""
        require_in_range(since=since, until=until)
        # A district's official: its district's complaints.
        district = scope.district_filter(await scope.of(request), district)
        q = credit_figures.ComplaintQuery(period, district, since, until)
        frame = credit_figures.shown(await credit_figures.complaints_report(q), district)
        return await figures_response(
            frame, format, f"complaints-by-{period}", "complaint_figures", header_row, period=period
        )

    @get("/credit/classes", opt=OFFICIALS)
    async def credit_classes(
        self,
        request: Request[Any, Any, State],
        kind: Annotated[Literal["street", "scenic_spot"] | None, QueryParameter()] = None,
        format: Format = "json",
        header_row: Headers = "label",
    ) -> Response[Any]:
        """Active merchants per street and scenic spot by credit class (A–D), the share in C
        or D, listings, and complaints in the last twelve months; most troubled first."""
        frame = await credit_figures.classes_report(rules_of(request), kind)
        district = scope.district_filter(await scope.of(request), None)
        return await figures_response(
            classes_within(frame, district),
            format,
            "credit-classes",
            "credit_classes",
            header_row,
            kind=kind,
        )


ROUTES = [CreditController, FiguresController]
