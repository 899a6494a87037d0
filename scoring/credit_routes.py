"""HTTP API of credit: the feeds post events and complaints; officials and merchants read."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.params import JSONBody, PathParameter

from scoring import credit_store, credit_view
from scoring.credit import Rules
from scoring.schemas import CreditEventBatch, CreditOut, IngestOut
from service.models import Merchant, Role
from service.security import FEEDS, MERCHANTS, require_principal
from service.settings import Settings

# 5,000 items of a few hundred bytes each, with room to spare.
BATCH_MAX_BYTES = 8 * 1024 * 1024


def rules_of(request: Request[Any, Any, Any]) -> Rules:
    settings: Settings = request.app.state.settings
    return credit_store.rules_for(settings.credit_rules)


class CreditController(Controller):
    path = "/api/v1"
    tags = ["credit"]

    @post("/credit/events", opt=FEEDS, request_max_body_size=BATCH_MAX_BYTES, status_code=200)
    async def post_events(
        self, request: Request[Any, Any, State], data: JSONBody[CreditEventBatch]
    ) -> IngestOut:
        """A batch of up to 5,000 credit events, stored whole or not at all. Replaying a batch
        changes nothing; a 422 names every bad item by its index."""
        r = await credit_store.ingest_events(
            data.events, actor=require_principal(request).actor, rules=rules_of(request)
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
        return await credit_view.merchant_credit(uscc, rules_of(request))


ROUTES = [CreditController]
