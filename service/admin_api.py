"""HTTP API of bureau IT: API tokens and accounts (the CLI does the same from a shell)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter
from litestar.types import ControllerRouterHandler

from service.kernel import accounts
from service.kernel.db import MAX_ID
from service.kernel.models import Account, ApiToken
from service.kernel.schemas import AccountIn, AccountOut, TokenCreated, TokenIn, TokenOut
from service.kernel.security import ADMINS, require_principal


class AdminController(Controller):
    """Bureau IT: API tokens and accounts (the CLI does the same from a shell)."""

    path = "/api/v1"
    tags = ["administration"]

    @get("/tokens", opt=ADMINS)
    async def list_tokens(self) -> list[TokenOut]:
        return [
            TokenOut(t.id, t.name, t.role, t.created_at, t.last_used_at, t.revoked)
            for t in await ApiToken.all().order_by("id")
        ]

    @post("/tokens", opt=ADMINS)
    async def create_token(
        self, request: Request[object, object, State], data: JSONBody[TokenIn]
    ) -> TokenCreated:
        """Create a token; the response is the only place it is ever shown."""
        token, plain = await accounts.create_token(
            data.name, data.role, actor=require_principal(request).actor
        )
        return TokenCreated(token.id, token.name, token.role, plain)

    @post("/tokens/{token_id:int}/revoke", opt=ADMINS, status_code=200)
    async def revoke_token(
        self,
        request: Request[object, object, State],
        token_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    ) -> TokenOut:
        t = await accounts.revoke_token(token_id, actor=require_principal(request).actor)
        return TokenOut(t.id, t.name, t.role, t.created_at, t.last_used_at, t.revoked)

    @get("/accounts", opt=ADMINS)
    async def list_accounts(self) -> list[AccountOut]:
        rows = (
            await Account.all().order_by("username").select_related("merchant", "district", "area")
        )
        return [
            AccountOut(
                a.username,
                a.role,
                a.merchant.uscc if a.merchant else None,
                a.active,
                a.locked_until,
                a.last_login_at,
                a.district.code if a.district else None,
                a.area.code if a.area else None,
            )
            for a in rows
        ]

    @post("/accounts", opt=ADMINS)
    async def create_account(
        self, request: Request[object, object, State], data: JSONBody[AccountIn]
    ) -> AccountOut:
        a = await accounts.create_account(
            data.username,
            data.password,
            data.role,
            merchant_uscc=data.merchant,
            district_code=data.district,
            area_code=data.area,
            actor=require_principal(request).actor,
        )
        return AccountOut(
            a.username,
            a.role,
            data.merchant,
            a.active,
            a.locked_until,
            a.last_login_at,
            data.district or None,
            data.area or None,
        )


ROUTES: list[ControllerRouterHandler] = [AdminController]
