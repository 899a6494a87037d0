"""The ``fangxin credit`` commands, and the credit half of ``fangxin import``: credit events
and complaints (``service.cli`` keeps the one ``import`` command and hands these kinds here)."""

from __future__ import annotations

from pathlib import Path

import click

from service.kernel.commands import cli_actor, cli_settings, run_import, run_with_db
from service.kernel.tables import ENCODING_NAMES

# The kinds of ``fangxin import`` that are credit feeds, imported by ``import_feed``.
FEED_KINDS = ("credit", "complaints", "visits", "spot-checks")


@click.group()
def credit() -> None:
    """Merchant credit scores."""


@credit.command("recompute")
def credit_recompute() -> None:
    """Mark complaints that went past a time limit, then rescore every merchant as of now."""
    from scoring.credit import complaints
    from scoring.credit import store as credit_store

    settings = cli_settings()
    rules = credit_store.rules_for(settings.credit_rules)
    arrow_url = settings.database_url if settings.is_postgres else None
    result = run_with_db(
        settings,
        lambda: complaints.recompute(actor=cli_actor(), rules=rules, database_url=arrow_url),
    )
    click.echo(
        f"Credit recomputed with rules {rules.version}: {result.overdue_marked} complaint(s) "
        f"newly overdue, {result.merchants_changed} merchant(s) changed."
    )


def import_feed(kind: str, file: Path, dry_run: bool) -> None:
    """``fangxin import credit|complaints|visits|spot-checks FILE``: all rows or none, then
    the credit it moves."""
    from scoring.credit import feed_files
    from scoring.credit import store as credit_store

    settings = cli_settings()
    rules = credit_store.rules_for(settings.credit_rules)

    async def run() -> feed_files.FileIngestResult:
        if kind == "visits":
            return await feed_files.import_visits(file, actor=cli_actor(), dry_run=dry_run)
        importer = {
            "credit": feed_files.import_events,
            "complaints": feed_files.import_complaints,
            "spot-checks": feed_files.import_spot_checks,
        }[kind]
        return await importer(file, actor=cli_actor(), rules=rules, dry_run=dry_run)

    r = run_import(file, settings, run)
    click.echo(f"{file.name}: read as {ENCODING_NAMES[r.encoding]} ({r.encoding}).")
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{r.received} {kind} rows: {r.stored} {verb} stored, {r.updated} {verb} updated, "
        f"{r.unchanged} unchanged; credit of {r.merchants_changed} merchant(s) "
        f"{'would change' if dry_run else 'changed'}."
    )
