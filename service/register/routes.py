"""HTTP API of the shared core: health, readiness, and the registry of areas and merchants."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Response
from litestar.types import ControllerRouterHandler

from service.kernel import accounts, db, scope
from service.kernel.db import MAX_ID
from service.kernel.models import Account, ApiToken, AreaKind, MerchantCategory, MerchantStatus
from service.kernel.schemas import (
    AccountIn,
    AccountOut,
    AreaIn,
    AreaOut,
    AreaPage,
    AreaPatch,
    MerchantIn,
    MerchantOut,
    MerchantPage,
    MerchantPatch,
    Problem,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from service.kernel.security import ADMINS, OFFICIALS, PUBLIC, require_principal
from service.register import store as registry
from service.register.store import MerchantFilter, Page

PageNo = Annotated[int, QueryParameter(description="1-based page number")]
PageSize = Annotated[int, QueryParameter(description="items per page, at most 500")]


@get("/healthz", opt=PUBLIC, tags=["health"], cache_control=None)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, tags=["health"], responses={})
async def readyz(state: State) -> Response[dict[str, str] | Problem]:
    """The database answers and every migration is applied; 503 with the reason otherwise."""
    try:
        await db.connection().execute_query("SELECT 1")
        pending = await db.pending_migrations()
    except Exception as exc:
        return _not_ready(f"database unreachable: {type(exc).__name__}: {exc}")
    if pending:
        return _not_ready(f"migrations pending: {', '.join(pending)} (run `fangxin migrate`)")
    return Response({"status": "ready"})


def _not_ready(detail: str) -> Response[dict[str, str] | Problem]:
    return Response(
        Problem(type="about:blank", title="Not ready", status=503, detail=detail),
        status_code=503,
        media_type="application/problem+json",
    )


class AreaController(Controller):
    path = "/api/v1/areas"
    tags = ["registry"]

    @get("/", opt=PUBLIC)
    async def list_areas(
        self,
        page: PageNo = 1,
        page_size: PageSize = 50,
        kind: Annotated[AreaKind | None, QueryParameter()] = None,
        parent: Annotated[str | None, QueryParameter()] = None,
    ) -> AreaPage:
        """Areas of the city: the city, its districts, streets and scenic spots."""
        p = Page(page, page_size)
        items, total = await registry.list_areas(p, kind=kind, parent=parent)
        return AreaPage(items=items, total=total, page=p.page, page_size=p.page_size)

    @get("/{code:str}", opt=PUBLIC)
    async def get_area(self, code: Annotated[str, PathParameter(max_length=64)]) -> AreaOut:
        return await registry.get_area(code)

    @post("/", opt=OFFICIALS)
    async def create_area(
        self, request: Request[object, object, State], data: JSONBody[AreaIn]
    ) -> AreaOut:
        return await registry.create_area(
            data, actor=require_principal(request).actor, district=await scope.of(request)
        )

    @patch("/{code:str}", opt=OFFICIALS)
    async def update_area(
        self,
        request: Request[object, object, State],
        code: Annotated[str, PathParameter(max_length=64)],
        data: JSONBody[AreaPatch],
    ) -> AreaOut:
        return await registry.update_area(
            code, data, actor=require_principal(request).actor, district=await scope.of(request)
        )


class MerchantController(Controller):
    path = "/api/v1/merchants"
    tags = ["registry"]

    @get("/", opt=PUBLIC)
    async def list_merchants(
        self,
        page: PageNo = 1,
        page_size: PageSize = 50,
        district: Annotated[str | None, QueryParameter()] = None,
        street: Annotated[str | None, QueryParameter()] = None,
        scenic_spot: Annotated[str | None, QueryParameter()] = None,
        category: Annotated[MerchantCategory | None, QueryParameter()] = None,
        status: Annotated[MerchantStatus | None, QueryParameter()] = None,
        q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    ) -> MerchantPage:
        """The merchant register, filtered and paged; ``q`` searches names."""
        p = Page(page, page_size)
        f = MerchantFilter(district, street, scenic_spot, category, status, q)
        items, total = await registry.list_merchants(p, f)
        return MerchantPage(items=items, total=total, page=p.page, page_size=p.page_size)

    @get("/{uscc:str}", opt=PUBLIC)
    async def get_merchant(self, uscc: Annotated[str, PathParameter(max_length=64)]) -> MerchantOut:
        return await registry.get_merchant(uscc)

    @post("/", opt=OFFICIALS)
    async def create_merchant(
        self, request: Request[object, object, State], data: JSONBody[MerchantIn]
    ) -> MerchantOut:
        return await registry.create_merchant(
            data, actor=require_principal(request).actor, district=await scope.of(request)
        )

    @patch("/{uscc:str}", opt=OFFICIALS)
    async def update_merchant(
        self,
        request: Request[object, object, State],
        uscc: Annotated[str, PathParameter(max_length=64)],
        data: JSONBody[MerchantPatch],
    ) -> MerchantOut:
        return await registry.update_merchant(
            uscc, data, actor=require_principal(request).actor, district=await scope.of(request)
        )


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


ROUTES: list[ControllerRouterHandler] = [
    healthz,
    readyz,
    AreaController,
    MerchantController,
    AdminController,
]
