"""HTTP of commitments: the public reads a merchant's; the merchant itself, or an official
within reach, declares and ends them."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.params import JSONBody, PathParameter
from litestar.types import ControllerRouterHandler

from certificates.commitments import store
from certificates.commitments.schemas import CommitmentIn, CommitmentOut, CommitmentsOut
from service.kernel import scope
from service.kernel.accounts import Principal
from service.kernel.models import Merchant, Role
from service.kernel.security import MERCHANTS, PUBLIC, require_principal

USCC = Annotated[str, PathParameter(max_length=64)]


async def declared_as(principal: Principal, uscc: str) -> str:
    """Who acts on a merchant's commitments: the merchant's own account (for its own USCC
    only, 403 otherwise, as its credit), or an official or administrator."""
    if principal.role != Role.MERCHANT:
        return "official"
    own = await Merchant.get_or_none(id=principal.merchant_id) if principal.merchant_id else None
    if own is None or own.uscc != uscc:
        raise PermissionDeniedException("A merchant acts only on its own commitments")
    return "merchant"


async def own_commitments(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Before the body is read: another merchant's USCC is refused whatever is sent."""
    await declared_as(require_principal(connection), str(connection.path_params["uscc"]))


class CommitmentController(Controller):
    path = "/api/v1/merchants/{uscc:str}/commitments"
    tags = ["commitments"]

    @get("/", opt=PUBLIC)
    async def list_commitments(self, uscc: USCC) -> CommitmentsOut:
        """A merchant's commitments (承诺) in force, and every one it made, newest first,
        each with the upheld complaints of the last twelve months saying it was broken."""
        return await store.of_merchant(uscc)

    @post("/", opt=MERCHANTS, status_code=201, guards=[own_commitments])
    async def declare(
        self, request: Request[Any, Any, State], uscc: USCC, data: JSONBody[CommitmentIn]
    ) -> CommitmentOut:
        """Declare a commitment of a kind (returns: 7, 15 or 30 days, exclusions, other
        branches; pay_first; marked_prices), replacing the one of that kind still running:
        that one is ended, not edited, so the history stays."""
        principal = require_principal(request)
        return await store.declare(
            uscc,
            data,
            actor=principal.actor,
            declared_as=await declared_as(principal, uscc),
            district=await scope.of(request),
        )

    @post("/{commitment_id:int}/end", opt=MERCHANTS, status_code=200, guards=[own_commitments])
    async def end(
        self,
        request: Request[Any, Any, State],
        uscc: USCC,
        commitment_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    ) -> CommitmentOut:
        """End a commitment at once (it stays on record)."""
        principal = require_principal(request)
        return await store.end(
            uscc, commitment_id, actor=principal.actor, district=await scope.of(request)
        )


ROUTES: list[ControllerRouterHandler] = [CommitmentController]
