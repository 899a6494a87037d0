"""``fangxin import areas|merchants FILE``: the register's half of ``fangxin import``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import click

from service.kernel.commands import cli_actor, cli_settings, run_import
from service.register import store


def import_register(kind: str, file: Path, dry_run: bool) -> None:
    """Areas or merchants from CSV or XLSX: all rows or none."""
    settings = cli_settings()
    importer: Callable[..., Awaitable[store.ImportResult]] = (
        store.import_areas if kind == "areas" else store.import_merchants
    )

    async def run() -> store.ImportResult:
        return await importer(file, actor=cli_actor(), dry_run=dry_run)

    result = run_import(file, settings, run)
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{result.rows} {kind} rows: {result.created} {verb} created, {result.updated} "
        f"{verb} updated, {result.unchanged} unchanged."
    )
