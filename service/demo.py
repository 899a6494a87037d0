"""The demo city: a lived-in Zhumadian for ``make run``, loaded only into an empty database.

Each plugin brings its part (``service.kernel.plugins.DemoStep``): the register's areas,
merchants and accounts; the surveys' responses; scoring's complaints, credit and intake;
the certificates' commitments; the advisories; all in one transaction, so a failure half-way
leaves nothing to block the next try. Then, in plugin order, what follows from them: a
published score run, the certificates, last year's review and an application in public
notice. Rows go through the same validated paths as an operator's, marked as demo data.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from tortoise.transactions import in_transaction

from service import plugins
from service.kernel import progress
from service.kernel.audit import Actor
from service.kernel.models import Account, Area, Merchant
from service.kernel.plugins import DemoContext, DemoStage
from service.kernel.settings import Settings


@dataclass(slots=True)
class DemoReport:
    loaded: bool
    areas: int = 0
    merchants: int = 0
    accounts: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, pw)
    surveys: int = 0
    responses: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    score_run: int | None = None
    complaints: int = 0
    credit_events: int = 0
    intake_year: int = 0
    intake_records: int = 0
    certificates: int = 0
    revoked: int = 0
    advisories: int = 0
    disputes: int = 0
    repairs: int = 0

    def text(self) -> str:
        if not self.loaded:
            return "The database already holds data; the demo city was not loaded."
        flags = ", ".join(f"{k} {v}" for k, v in self.flagged.items())
        lines = [
            f"Demo city loaded: {self.areas} areas, {self.merchants} merchants (marked as demo).",
            f"Surveys: {self.surveys} questionnaires open, {self.responses:,} responses "
            f"(screening flagged: {flags or 'none'}).",
            f"Scores: run {self.score_run} published." if self.score_run else "Scores: none.",
            f"Credit: {self.complaints:,} complaints and {self.credit_events:,} credit events.",
            f"12315 intake of {self.intake_year} at the bureau's scale: "
            f"{self.intake_records:,} consultations, complaints and reports, counter visits "
            "and a Red Shield campaign (the annual report: /official/reports/annual).",
            f"Certificates: {self.certificates} issued, {self.revoked} revoked after a fine, "
            "one suspended after mystery shopping; a scenic spot on hold after a merchant's "
            "serious listing; one expired (issued two years ago); one eligible street left "
            "for an official to certify.",
            f"Consumer advisories: {self.advisories} in force (home, a scenic spot, a merchant).",
            f"Complaints filed online: {self.disputes}, one in every state (with the merchant, "
            "offered, settled, withdrawn, escalated, refused, in mediation, closed and "
            "followed up).",
            f"Credit repairs: {self.repairs} (one approved, one awaiting an official).",
            "Demo accounts (passwords are shown only now):",
        ]
        lines += [f"  {u:<16} {r:<9} {p}" for u, r, p in self.accounts]
        return "\n".join(lines)


async def database_is_empty() -> bool:
    return not (await Area.exists() or await Merchant.exists() or await Account.exists())


async def load_demo(
    settings: Settings,
    *,
    actor: Actor,
    responses: int | None = None,
    intake: Any = None,
) -> DemoReport:
    """The demo city; ``responses`` and ``intake`` size its survey answers and last year's
    12315 intake (the bureau's report by default; tests that need neither take less)."""
    if not await database_is_empty():
        return DemoReport(loaded=False)
    plugins.wire(settings)
    sizes = {k: v for k, v in (("responses", responses), ("intake", intake)) if v is not None}
    ctx = DemoContext(settings, actor, sizes)
    # All or nothing: a failure half-way must not leave a city that blocks the next try.
    async with in_transaction():
        await _run("records", ctx)
    # Once the city is committed: a score run reads it through its own connection.
    await _run("derived", ctx)
    known = {f.name for f in fields(DemoReport)}
    return DemoReport(
        loaded=True,
        accounts=ctx.accounts,
        **{k: v for k, v in ctx.facts.items() if k in known},
    )


async def _run(stage: DemoStage, ctx: DemoContext) -> None:
    steps = [step for plugin in plugins.PLUGINS for step in plugin.demo() if step.stage == stage]
    with progress.task(f"Demo city ({stage})", len(steps)) as shown:
        for step in steps:
            await step.run(ctx)
            shown.advance()
