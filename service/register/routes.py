"""HTTP API of the register: officials create and update areas and merchants; anyone reads."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from service.kernel import scope
from service.kernel.models import AreaKind, MerchantCategory, MerchantStatus
from service.kernel.security import OFFICIALS, PUBLIC, require_principal
from service.register import store as registry
from service.register.schemas import (
    AreaIn,
    AreaOut,
    AreaPage,
    AreaPatch,
    MerchantIn,
    MerchantOut,
    MerchantPage,
    MerchantPatch,
)
from service.register.store import MerchantFilter, Page

PageNo = Annotated[int, QueryParameter(description="1-based page number")]
PageSize = Annotated[int, QueryParameter(description="items per page, at most 500")]


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


ROUTES: list[ControllerRouterHandler] = [AreaController, MerchantController]
