"""The ``fangxin survey`` commands: questionnaires, invitation codes and screening."""

from __future__ import annotations

from pathlib import Path

import click

from service.kernel.commands import cli_actor, cli_settings, run_with_db


@click.group()
def survey() -> None:
    """Questionnaires, invitation codes and response screening."""


@survey.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def survey_load(file: Path) -> None:
    """Load a questionnaire from TOML: a new survey, or a new version of an edited one."""
    from surveys.questionnaire import load_file

    settings = cli_settings()
    result = run_with_db(settings, lambda: load_file(file, actor=cli_actor()))
    if result.new_version:
        what = "created" if result.created_survey else "updated"
        click.echo(f"Survey {result.slug} {what}: version {result.version} published.")
    else:
        click.echo(f"Survey {result.slug} unchanged (version {result.version}).")


@survey.command("invite")
@click.argument("slug")
@click.option("--count", required=True, type=click.IntRange(1, 100_000))
def survey_invite(slug: str, count: int) -> None:
    """Print COUNT one-time invitation codes (only their hashes are kept)."""
    from surveys.invites import create_invites

    settings = cli_settings()
    codes = run_with_db(settings, lambda: create_invites(slug, count, actor=cli_actor()))
    click.echo("\n".join(codes))


@survey.command("screen")
@click.argument("slug", required=False)
def survey_screen(slug: str | None) -> None:
    """Recompute the quality flags of every response (or one survey's)."""
    from surveys.quality import recompute_flags

    settings = cli_settings()
    report = run_with_db(settings, lambda: recompute_flags(slug))
    flags = ", ".join(f"{k} {v}" for k, v in report.raised.items())
    click.echo(f"{report.responses} responses screened: {flags}; {report.excluded} excluded.")
