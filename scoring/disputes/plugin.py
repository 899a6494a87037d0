"""Complaints filed online as the shell composes them (``service.kernel.plugins``): the API
(filing, tracking, the merchant's answer, the bureau's steps, ODR participation); the
nightly deadlines (escalation and the merchant's reminder) and the purge of contacts past
their retention; the receipt book the 12315 feed links its records to."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from service.kernel.i18n import N_
from service.kernel.periodic import Details, JobContext, JobOption, JobSpec
from service.kernel.plugins import DemoStep, Plugin
from service.kernel.settings import Settings

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler


async def dispute_deadlines(ctx: JobContext) -> Details:
    from scoring.credit import store as credit_store
    from scoring.disputes import sweeps

    run = await sweeps.escalate_due(
        credit=credit_store.rules_for(ctx.settings.credit_rules),
        limit=ctx.config.option("batch"),
    )
    return {"reminded": run.reminded, "escalated": run.escalated}


async def purge_contacts(ctx: JobContext) -> Details:
    from scoring.disputes import sweeps

    return {"purged": await sweeps.purge_contacts(limit=ctx.config.option("batch"))}


class DisputesPlugin(Plugin):
    name = "disputes"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from scoring.disclosure.pages import PAGES as DISCLOSURE_PAGES
        from scoring.disclosure.routes import ROUTES as DISCLOSURE
        from scoring.disputes import consumer_pages, party_pages
        from scoring.disputes.routes import ROUTES

        return [*ROUTES, *consumer_pages.PAGES, *party_pages.PAGES, *DISCLOSURE, *DISCLOSURE_PAGES]

    def templates(self) -> Sequence[Path]:
        here = Path(__file__).parent
        return (here / "templates", here.parent / "disclosure" / "templates")

    def jobs(self) -> Sequence[JobSpec]:
        return (
            # Just after midnight: a deadline counts to the end of its (Beijing) day.
            JobSpec(
                "dispute_deadlines",
                N_("Complaint deadlines and reminders"),
                dispute_deadlines,
                cron="5 0 * * *",
                options={"batch": JobOption(500, 1, 100_000)},
                labels={
                    "reminded": N_("merchants reminded"),
                    "escalated": N_("complaints escalated"),
                },
            ),
            JobSpec(
                "dispute_contact_purge",
                N_("Purge of consumers' contacts past retention"),
                purge_contacts,
                cron="45 2 * * *",
                options={"batch": JobOption(1000, 1, 100_000)},
                labels={"purged": N_("contacts purged")},
            ),
        )

    def demo(self) -> Sequence[DemoStep]:
        from scoring.disclosure import demo as disclosure_demo
        from scoring.disputes import demo

        # After scoring's records (the plugins' order): the merchants exist, the intake too.
        # The correction once all records are committed (it takes its own transaction).
        return (
            DemoStep("records", demo.load_disputes),
            DemoStep("derived", disclosure_demo.load_corrections),
        )

    def wire(self, settings: Settings) -> None:
        from scoring.disputes import receipts

        # The 12315 feed links its records of complaints filed here instead of storing them.
        receipts.register()


PLUGIN = DisputesPlugin()
