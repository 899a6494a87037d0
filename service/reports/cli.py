"""The ``fangxin report`` commands: the annual report as PDF, JSON or a workbook."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from service.kernel import progress
from service.kernel.commands import cli_settings, run_with_db


@click.group()
def report() -> None:
    """The bureau's reports from live data."""


@report.command("annual")
@click.option("--year", type=click.IntRange(2000, 2100), required=True)
@click.option("--district", default=None, help="A district's code; without it, the city.")
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "json", "xlsx"]), default="pdf", show_default=True
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write it; without it, fangxin-annual-YEAR[-DISTRICT].FORMAT here ('-': stdout).",
)
def annual_cmd(year: int, district: str | None, fmt: str, output: Path | None) -> None:
    """The annual report of YEAR: the figures in sentences, tables and charts (PDF, A4, in
    Chinese), or the figures as JSON or XLSX."""
    import msgspec

    from service.reports import annual, render
    from service.reports.routes import report_name

    settings = cli_settings()
    with progress.reporting(), progress.task(f"Annual report {year}", 2) as shown:
        report_ = run_with_db(settings, lambda: annual.annual_report(year, district))
        shown.advance()  # the figures; then the document, the PDF's being the long part
        if fmt == "pdf":
            content = render.annual_pdf(report_)
        elif fmt == "xlsx":
            content = render.annual_xlsx(report_)
        else:
            content = msgspec.json.format(msgspec.json.encode(report_), indent=2) + b"\n"
        shown.advance()
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(content)
        return
    target = output or Path(f"{report_name(year, district)}.{fmt}")
    target.write_bytes(content)
    click.echo(f"Annual report {year}{' ' + district if district else ''}: {target}", err=True)
