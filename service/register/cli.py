"""``fangxin import areas|merchants FILE``: the register's half of ``fangxin import``."""

from __future__ import annotations

from pathlib import Path

import click

from service.kernel.commands import cli_actor, cli_settings, run_import
from service.kernel.tables import ENCODING_NAMES
from service.register import imports


def import_register(kind: str, file: Path, dry_run: bool) -> None:
    """Areas or merchants from CSV or XLSX: all rows or none."""
    settings = cli_settings()

    async def run() -> imports.ImportResult:
        return await imports.import_file(
            imports.KINDS[kind], file, actor=cli_actor(), dry_run=dry_run
        )

    result = run_import(file, settings, run)
    click.echo(f"{file.name}: read as {ENCODING_NAMES[result.encoding]} ({result.encoding}).")
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{result.rows} {kind} rows: {result.created} {verb} created, {result.updated} "
        f"{verb} updated, {result.unchanged} unchanged."
    )
