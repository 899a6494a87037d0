"""The annual report as the shell composes it (``service.kernel.plugins``): a read model of
the live records, with its API, page and ``fangxin report`` command."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service.kernel.plugins import Plugin

if TYPE_CHECKING:
    import click
    from litestar.types import ControllerRouterHandler


class ReportsPlugin(Plugin):
    name = "reports"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from service.reports.pages import PAGES
        from service.reports.routes import ROUTES

        return (*ROUTES, *PAGES)

    def templates(self) -> Sequence[Path]:
        return (Path(__file__).parent / "templates",)

    def commands(self) -> Sequence[click.Command]:
        from service.reports.cli import report

        return (report,)


PLUGIN = ReportsPlugin()
