"""The surveys domain as the shell composes it (``service.kernel.plugins``): the public form
and the submission API, questionnaires and screening, their command, the nightly screening
and the demo's responses."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service.kernel.i18n import N_
from service.kernel.periodic import Details, JobContext, JobSpec
from service.kernel.plugins import DemoStep, Plugin

if TYPE_CHECKING:
    import click
    from litestar.types import ControllerRouterHandler

SCREENED = {
    "screened": N_("responses screened"),
    "flags_raised": N_("flags raised"),
    "excluded": N_("responses set aside"),
}


async def screen(ctx: JobContext) -> Details:
    from surveys import quality

    return (await quality.recompute_flags()).details()


class SurveysPlugin(Plugin):
    name = "surveys"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from surveys.routes import ROUTES

        return ROUTES

    def templates(self) -> Sequence[Path]:
        return (Path(__file__).parent / "templates",)

    def commands(self) -> Sequence[click.Command]:
        from surveys.cli import survey

        return (survey,)

    def jobs(self) -> Sequence[JobSpec]:
        return (
            JobSpec(
                "screening", N_("Response screening"), screen, cron="30 1 * * *", labels=SCREENED
            ),
        )

    def demo(self) -> Sequence[DemoStep]:
        from surveys import demo

        return (DemoStep("records", demo.load),)


PLUGIN = SurveysPlugin()
