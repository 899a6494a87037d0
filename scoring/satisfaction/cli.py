"""The ``fangxin score`` commands: satisfaction score runs."""

from __future__ import annotations

import click

from service.kernel.commands import cli_actor, cli_settings, run_with_db


@click.group()
def score() -> None:
    """Satisfaction score runs."""


@score.command("run")
@click.option("--publish", is_flag=True, help="Publish the run at once (scheduled jobs).")
@click.option("--window-days", default=365, show_default=True, type=click.IntRange(1, 3650))
def score_run(publish: bool, window_days: int) -> None:
    """Compute a draft run of every unit's score (and publish it with --publish)."""
    from scoring.satisfaction import runs

    settings = cli_settings()
    request = runs.parse_params({"window_days": window_days})
    run = run_with_db(
        settings,
        lambda: runs.run_now(
            request,
            settings,
            actor=cli_actor(),
            publish=publish,
            progress=lambda message: click.echo(f"  … {message}", err=True),
        ),
    )
    counts = run.counts
    click.echo(
        f"Run {run.id} {run.status.value}: {counts.get('responses', 0):,} responses "
        f"({counts.get('excluded', 0):,} excluded), {counts.get('units_merchant', 0)} merchants, "
        f"{counts.get('units_street', 0)} streets, {counts.get('units_scenic_spot', 0)} scenic "
        f"spots; load {run.timings.get('load_s')} s, compute {run.timings.get('compute_s')} s, "
        f"store {run.timings.get('store_s')} s."
    )
