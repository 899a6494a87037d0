"""Consumer advisories as the shell composes them (``service.kernel.plugins``): the public
feeds, the officials' page and the demo's advisories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service.kernel.plugins import DemoContext, DemoStep, Plugin

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler


async def _demo(ctx: DemoContext) -> None:
    from service.portal.advisories import demo

    ctx.facts["advisories"] = await demo.publish_demo(ctx.actor)


class AdvisoriesPlugin(Plugin):
    name = "advisories"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from service.portal.advisories.pages import PAGES
        from service.portal.advisories.routes import ROUTES

        return (*ROUTES, *PAGES)

    def templates(self) -> Sequence[Path]:
        return (Path(__file__).parent / "templates",)

    def demo(self) -> Sequence[DemoStep]:
        return (DemoStep("records", _demo),)


PLUGIN = AdvisoriesPlugin()
