"""HTTP of consumer advisories: the public reads them as JSON or RSS; officials publish and
withdraw them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final
from xml.etree import ElementTree as ET

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import Response
from litestar.types import ControllerRouterHandler

from service.kernel import i18n, scope
from service.kernel.security import OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings
from service.portal.advisories import store
from service.portal.advisories.schemas import AdvisoryIn, AdvisoryOut

RSS_TYPE = "application/rss+xml"
# What XML 1.0 cannot hold (its Char production). The text rule keeps it out of new
# advisories; one stored before the rule must not make the feed unreadable to every reader.
_NOT_XML: Final = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


class AdvisoryController(Controller):
    path = "/api/v1/advisories"
    tags = ["advisories"]

    @get("/", opt=PUBLIC)
    async def list_advisories(
        self,
        merchant: Annotated[str | None, QueryParameter(max_length=32)] = None,
        area: Annotated[str | None, QueryParameter(max_length=32)] = None,
    ) -> list[AdvisoryOut]:
        """Consumer advisories (消费提示) in force, newest first; those naming one merchant
        (USCC) or area (code) if asked."""
        if merchant:
            return await store.in_force(kind="merchant", code=merchant)
        if area:
            return await store.in_force(kind="area", code=area)
        return await store.in_force()

    @post("/", opt=OFFICIALS, status_code=201)
    async def publish(
        self, request: Request[Any, Any, State], data: JSONBody[AdvisoryIn]
    ) -> AdvisoryOut:
        """Publish an advisory, in force from ``valid_from`` (default now) until
        ``valid_until`` or its withdrawal. A district's official names only its district's
        merchants and areas."""
        return await store.publish(
            data, actor=require_principal(request).actor, district=await scope.of(request)
        )

    @post("/{advisory_id:int}/withdraw", opt=OFFICIALS, status_code=200)
    async def withdraw(
        self,
        request: Request[Any, Any, State],
        advisory_id: Annotated[int, PathParameter(ge=1, le=2**31 - 1)],
    ) -> AdvisoryOut:
        """Withdraw an advisory at once (it stays on record)."""
        return await store.withdraw(
            advisory_id, actor=require_principal(request).actor, district=await scope.of(request)
        )


@get("/advisories.rss", opt=PUBLIC, media_type=RSS_TYPE, include_in_schema=False)
async def advisories_rss(request: Request[Any, Any, State]) -> Response[bytes]:
    """The advisories in force as an RSS 2.0 feed, for news readers and other sites."""
    settings: Settings = request.app.state.settings
    base = settings.base_url.rstrip("/")
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = i18n.gettext("Fangxin · consumer advisories")
    ET.SubElement(channel, "link").text = f"{base}/"
    ET.SubElement(channel, "description").text = i18n.gettext(
        "Consumer advisories published by the market-regulation bureau"
    )
    ET.SubElement(channel, "language").text = i18n.current_locale().replace("_", "-").lower()
    for a in await store.in_force():
        item = ET.SubElement(channel, "item")
        ET.SubElement(item, "title").text = _xml_text(a.title)
        ET.SubElement(item, "description").text = _xml_text(a.text)
        ET.SubElement(item, "category").text = a.category
        ET.SubElement(item, "guid", isPermaLink="false").text = f"{base}/advisories/{a.id}"
        ET.SubElement(item, "pubDate").text = a.valid_from.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return Response(ET.tostring(rss, encoding="utf-8", xml_declaration=True), media_type=RSS_TYPE)


ROUTES: list[ControllerRouterHandler] = [AdvisoryController, advisories_rss]
