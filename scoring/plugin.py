"""The scoring domain as the shell composes it (``service.kernel.plugins``): satisfaction
(scores, runs and their review, rankings, methodology) and credit (feeds, complaints,
figures); their commands and feed imports; the nightly credit recompute and the weekly draft
run; the listener that links records to merchants registered later; the working-day calendar;
the demo's credit, intake and published run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from service.kernel.audit import Actor
from service.kernel.i18n import N_
from service.kernel.periodic import Details, JobContext, JobOption, JobSpec
from service.kernel.plugins import DemoStep, FileImporter, Importer, Plugin
from service.kernel.settings import Settings, SettingsError
from surveys.plugin import SCREENED

if TYPE_CHECKING:
    import click
    from litestar.types import ControllerRouterHandler

HERE = Path(__file__).parent


async def recompute_credit(ctx: JobContext) -> Details:
    from scoring.credit import complaints
    from scoring.credit import store as credit_store

    settings = ctx.settings
    result = await complaints.recompute(
        actor=Actor("system", "credit"),
        rules=credit_store.rules_for(settings.credit_rules),
        database_url=settings.database_url if settings.is_postgres else None,
    )
    return {"overdue_marked": result.overdue_marked, "merchants_changed": result.merchants_changed}


async def score_run(ctx: JobContext) -> Details:
    from scoring.satisfaction import runs
    from surveys import quality
    from surveys.models import Response

    # Screening first, in the same run: a run scores only what screening has set aside, and
    # a separately scheduled screening could still be running, or have failed.
    details = (await quality.recompute_flags()).details()
    if not await Response.exists():
        return details  # no draft of nothing for officials to wade through
    run = await runs.run_now(
        runs.parse_params({"window_days": ctx.config.option("window_days")}),
        ctx.settings,
        actor=Actor("system", "scoring"),
    )
    scored = run.counts.get("responses", 0)
    return {**details, "run": run.id, "responses": scored if isinstance(scored, int) else 0}


class ScoringPlugin(Plugin):
    name = "scoring"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from scoring.credit.pages import PAGES as CREDIT_PAGES
        from scoring.credit.repair_pages import PAGES as REPAIR_PAGES
        from scoring.credit.repair_routes import ROUTES as REPAIR_ROUTES
        from scoring.credit.routes import ROUTES as CREDIT_ROUTES
        from scoring.satisfaction.pages import PAGES as SCORE_PAGES
        from scoring.satisfaction.routes import ROUTES as SCORE_ROUTES
        from scoring.satisfaction.run_pages import PAGES as RUN_PAGES

        return (
            *SCORE_ROUTES,
            *CREDIT_ROUTES,
            *REPAIR_ROUTES,
            *SCORE_PAGES,
            *RUN_PAGES,
            *CREDIT_PAGES,
            *REPAIR_PAGES,
        )

    def templates(self) -> Sequence[Path]:
        return (HERE / "satisfaction" / "templates", HERE / "credit" / "templates")

    def commands(self) -> Sequence[click.Command]:
        from scoring.credit.cli import credit
        from scoring.satisfaction.cli import score

        return (score, credit)

    def importers(self) -> Mapping[str, Importer]:
        from scoring.credit.cli import FEED_KINDS, import_feed

        return {kind: partial(import_feed, kind) for kind in FEED_KINDS}

    def file_importers(self) -> Mapping[str, FileImporter]:
        from scoring.credit.cli import FEED_KINDS
        from scoring.credit.feed_files import file_importer

        return {kind: file_importer(kind) for kind in FEED_KINDS}

    def jobs(self) -> Sequence[JobSpec]:
        from scoring.satisfaction.runs import DEFAULT_WINDOW_DAYS

        return (
            JobSpec(
                "credit_recompute",
                N_("Credit recompute"),
                recompute_credit,
                cron="15 0 * * *",
                labels={
                    "overdue_marked": N_("complaints newly overdue"),
                    "merchants_changed": N_("merchants rescored"),
                },
            ),
            JobSpec(
                "score_run",
                N_("Screening and a draft score run"),
                score_run,
                cron="0 2 * * mon",
                options={"window_days": JobOption(DEFAULT_WINDOW_DAYS, 1, 3650)},
                labels={**SCREENED, "run": N_("draft run"), "responses": N_("responses scored")},
            ),
        )

    def wire(self, settings: Settings) -> None:
        from scoring.credit import links, workdays
        from scoring.credit import store as credit_store

        # Records that named a merchant before it was registered link to it on registration.
        links.register(credit_store.rules_for(settings.credit_rules))
        # Complaint deadlines count on the bureau's working-day calendar.
        try:
            workdays.configure(settings.workdays_file)
        except workdays.CalendarFileError as exc:
            raise SettingsError(str(exc)) from exc

    def demo(self) -> Sequence[DemoStep]:
        from scoring import demo

        return (
            DemoStep("records", demo.load_credit),
            DemoStep("records", demo.load_repairs),
            DemoStep("records", demo.load_intake),
            DemoStep("derived", demo.publish_run),
        )


PLUGIN = ScoringPlugin()
