"""The ``fangxin`` command: every operation an operator runs, each a thin call into a service.

The plugins' groups (survey, score, credit, certificates, report) and their importers are
composed here (``service.plugins``); this module keeps the service's own commands (serve,
migrate, demo, user, token, import, outbox, worker, audit, backup, restore). Every plugin's
listeners are wired before any command runs."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

import click

from service import backup, demo, plugins
from service.kernel import accounts, audit, db, progress, second_factor
from service.kernel.commands import cli_actor, cli_settings, run_with_db
from service.kernel.disk import DiskFull
from service.kernel.models import Role
from service.kernel.plugins import Importer
from service.kernel.settings import SettingsError

T = TypeVar("T")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Fangxin (放心): trusted-consumption surveys, scores, credit and certificates."""
    settings = cli_settings()
    try:
        plugins.wire(settings)
    except SettingsError as exc:
        click.echo(f"fangxin: configuration error: {exc}", err=True)
        sys.exit(2)


# Each plugin contributes its own commands, as it contributes its routes to the app.
for _plugin in plugins.PLUGINS:
    for _command in _plugin.commands():
        main.add_command(_command)
IMPORTERS: dict[str, Importer] = {
    kind: importer for plugin in plugins.PLUGINS for kind, importer in plugin.importers().items()
}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve HTTP (uvicorn)."""
    import uvicorn

    settings = cli_settings()
    if workers > 1 and not reload and not settings.redis_url:
        click.echo(
            f"fangxin: --workers {workers} needs FANGXIN_REDIS_URL: without Redis each worker "
            "keeps its own sessions and rate limits, so a sign-in is lost whenever the next "
            "request lands on another worker, and every worker grants the full rate limit. "
            "Set FANGXIN_REDIS_URL, or serve with one worker.",
            err=True,
        )
        sys.exit(1)

    async def pending() -> list[str]:
        return await db.pending_migrations()

    try:
        waiting = run_with_db(settings, pending)
    except Exception as exc:
        click.echo(f"fangxin: cannot reach the database: {exc}", err=True)
        sys.exit(1)
    if waiting:
        click.echo(
            f"fangxin: migrations pending ({', '.join(waiting)}); run `fangxin migrate`", err=True
        )
        sys.exit(1)
    proxies = ", ".join(str(n) for n in settings.trusted_proxies) or "none"
    click.echo(
        f"Fangxin serving on http://{host}:{port} ({workers} worker(s), "
        f"database {'PostgreSQL' if settings.is_postgres else 'SQLite'}, "
        f"trusted proxies: {proxies})"
    )
    from service import metrics_dir
    from service.logs import configure_logging

    # Before any worker starts: each worker's request counts go to files that any worker's
    # /metrics adds up, and uvicorn's own records leave as ours do (log_config=None below).
    metrics_dir.prepare(settings.data_dir)
    configure_logging(settings)
    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers if not reload else None,
        reload=reload,
        access_log=False,
        # Off: create_app reads the proxy headers itself, from FANGXIN_TRUSTED_PROXIES alone
        # (uvicorn's own pass would trust 127.0.0.1 unasked).
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        log_config=None,
    )


@main.command()
def migrate() -> None:
    """Apply pending database migrations."""
    settings = cli_settings()
    applied = asyncio.run(db.migrate(settings))
    click.echo("Applied: " + ", ".join(applied) if applied else "Database is up to date.")


@main.command(hidden=True)
@click.option("--name", default=None)
def makemigrations(name: str | None) -> None:
    """Write migrations for model changes (developers)."""
    settings = cli_settings()
    paths = run_with_db(settings, lambda: db.make_migrations(name))
    click.echo("\n".join(paths) if paths else "No changes.")


@main.command("demo")
def demo_cmd() -> None:
    """Fill an empty database with the demo city."""
    settings = cli_settings()
    report = run_with_db(settings, lambda: demo.load_demo(settings, actor=cli_actor()))
    click.echo(report.text())


@main.group()
def user() -> None:
    """Accounts of officials, administrators, merchants and area managers."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role if r != Role.FEED]))
@click.option("--merchant", "merchant_uscc", default=None, help="USCC, for merchant accounts")
@click.option(
    "--district",
    "district_code",
    default=None,
    help="District code, for an official of a district bureau (sees that district only)",
)
@click.option(
    "--area",
    "area_code",
    default=None,
    help="Street or scenic spot code, for an area manager account",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(
    name: str,
    role: str,
    merchant_uscc: str | None,
    district_code: str | None,
    area_code: str | None,
    password_stdin: bool,
) -> None:
    """Create an account."""
    settings = cli_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    account = run_with_db(
        settings,
        lambda: accounts.create_account(
            name,
            password,
            Role(role),
            merchant_uscc=merchant_uscc,
            district_code=district_code,
            area_code=area_code,
            actor=cli_actor(),
        ),
    )
    where = f" for district {district_code}" if district_code else ""
    where += f" for area {area_code}" if area_code else ""
    click.echo(f"Created {account.role.value} account {account.username}{where}.")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set an account's password (held to the same strength rule) and lift any lock."""
    settings = cli_settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    run_with_db(settings, lambda: accounts.change_password(name, password, actor=cli_actor()))
    click.echo(f"Changed the password of {name}; every session of the account has ended.")


@user.command("reset-2fa")
@click.argument("name")
def user_reset_2fa(name: str) -> None:
    """Remove an account's second factor (a lost phone) and its recovery codes; audited.
    Its holder sets one up again at the next sign-in where policy requires it."""
    settings = cli_settings()
    removed = run_with_db(settings, lambda: second_factor.reset(name, actor=cli_actor()))
    what = "Removed the second factor of" if removed else "No second factor was set up for"
    click.echo(f"{what} {name}; every session of the account has ended.")


@user.command("lock")
@click.argument("name")
def user_lock(name: str) -> None:
    """Lock an account: no sign-in, and every session of it ends now."""
    settings = cli_settings()
    run_with_db(settings, lambda: accounts.set_active(name, False, actor=cli_actor()))
    click.echo(f"Locked {name}; every session of the account has ended.")


@user.command("unlock")
@click.argument("name")
def user_unlock(name: str) -> None:
    """Unlock an account (its holder signs in again: ended sessions stay ended)."""
    settings = cli_settings()
    run_with_db(settings, lambda: accounts.set_active(name, True, actor=cli_actor()))
    click.echo(f"Unlocked {name}.")


@user.command("role")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role if r != Role.FEED]))
@click.option("--merchant", "merchant_uscc", default=None, help="USCC, for a merchant account")
@click.option("--district", "district_code", default=None, help="District, for an official")
@click.option("--area", "area_code", default=None, help="Street or spot, for an area manager")
def user_role(
    name: str,
    role: str,
    merchant_uscc: str | None,
    district_code: str | None,
    area_code: str | None,
) -> None:
    """Give an account another role, taking its old one away; every session of it ends."""
    settings = cli_settings()
    run_with_db(
        settings,
        lambda: accounts.change_role(
            name,
            Role(role),
            merchant_uscc=merchant_uscc,
            district_code=district_code,
            area_code=area_code,
            actor=cli_actor(),
        ),
    )
    click.echo(f"{name} is now {role}; every session of the account has ended.")


@main.group()
def token() -> None:
    """API tokens for machines (12315 and credit feeds, integrations)."""


@token.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice([Role.FEED.value, Role.OFFICIAL.value, Role.ADMIN.value]),
)
def token_add(name: str, role: str) -> None:
    """Create a token and print it once; only its hash is kept."""
    settings = cli_settings()
    tok, plain = run_with_db(
        settings, lambda: accounts.create_token(name, Role(role), actor=cli_actor())
    )
    click.echo(plain)
    click.echo(f"Token {tok.id} ({name}, {role}) created. It is shown only this once.", err=True)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by id."""
    settings = cli_settings()
    tok = run_with_db(settings, lambda: accounts.revoke_token(token_id, actor=cli_actor()))
    click.echo(f"Token {tok.id} ({tok.name}) revoked.")


class _ImportGroup(click.Group):
    """Kinds in the plugins' order, then ``template``."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@main.group("import", cls=_ImportGroup)
def import_group() -> None:
    """Import areas, merchants, credit events, 12315 intake records (complaints), counter
    visit tallies or spot checks from CSV or XLSX: all rows or none. Headers in Chinese or
    English; a CSV in UTF-8 (with or without a BOM) or GB18030/GBK. ``fangxin import
    template KIND`` writes a blank file to fill in."""


def _import_command(kind: str, importer: Importer) -> click.Command:
    @click.command(kind, help=f"Import {kind} from a CSV or XLSX FILE: all rows or none.")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Check the file; change nothing.")
    def command(file: Path, dry_run: bool) -> None:
        importer(file, dry_run)

    return command


for _kind, _importer in IMPORTERS.items():
    import_group.add_command(_import_command(_kind, _importer))


@import_group.command("template")
@click.argument("kind", type=click.Choice(list(IMPORTERS)))
@click.option(
    "--format", "fmt", type=click.Choice(["xlsx", "csv"]), default="xlsx", show_default=True
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file to write [default: KIND-template.FORMAT here].",
)
def import_template(kind: str, fmt: Literal["xlsx", "csv"], output: Path | None) -> None:
    """Write a blank file to fill in for KIND: Chinese headers and, in the workbook, a data
    dictionary sheet (填写说明)."""
    from service.kernel import import_templates
    from service.kernel.import_headers import KINDS

    target = output or Path(import_templates.filename(KINDS[kind], fmt))
    target.write_bytes(import_templates.template(KINDS[kind], fmt))
    click.echo(f"Template for {kind} written to {target}.")


@main.group("outbox")
def outbox_group() -> None:
    """Notifications for other systems (the webhook)."""


@outbox_group.command("deliver")
def outbox_deliver() -> None:
    """Post every due notification to FANGXIN_WEBHOOK_URL now (the service does it every 5 s)."""
    from service.kernel import outbox

    settings = cli_settings()
    if not settings.webhook_url:
        click.echo("FANGXIN_WEBHOOK_URL is not set: notifications are kept, not sent.", err=True)
        sys.exit(2)
    result = run_with_db(settings, lambda: outbox.deliver_due(settings, limit=10_000))
    click.echo(f"Delivered {result.delivered}; {result.failed} failed and will be retried.")


@main.command("worker")
def worker_cmd() -> None:
    """Run the periodic jobs on their schedule (FANGXIN_JOBS) until stopped.

    Start one on as many machines as you like: each job's slot runs once, on whichever
    worker takes its lease first. In production the web processes run no jobs: run this."""
    from service import jobs, worker
    from service.logs import configure_logging

    settings = cli_settings()
    try:
        schedule = jobs.schedule_for(settings)
    except jobs.JobsConfigError as exc:
        click.echo(f"fangxin: configuration error: {exc}", err=True)
        sys.exit(2)
    configure_logging(settings)

    async def run() -> None:
        waiting = await db.pending_migrations()
        if waiting:
            click.echo(
                f"fangxin: migrations pending ({', '.join(waiting)}); run `fangxin migrate`",
                err=True,
            )
            sys.exit(1)
        for config in schedule.jobs:
            when = f"cron {config.cron}" if config.cron else f"every {config.every} s"
            state = "on" if config.enabled else f"off ({config.off_reason or 'disabled'})"
            click.echo(f"  {config.name:<18} {when:<22} {state}")
        click.echo(f"Fangxin worker running ({schedule.timezone.key}); stop with Ctrl-C.")
        await worker.run_worker(settings, schedule)

    run_with_db(settings, run)
    click.echo("Fangxin worker stopped.")


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every event's hash and its link to the one before."""
    settings = cli_settings()
    report = run_with_db(settings, audit.verify_chain)
    if report.ok:
        click.echo(f"Audit chain intact: {report.checked} events verified.")
        return
    click.echo(
        f"Audit chain BROKEN at event {report.broken_at}: {report.reason} "
        f"({report.checked} events before it verified).",
        err=True,
    )
    sys.exit(1)


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_cmd(file: Path) -> None:
    """Write the database, the signing key, the secret and the PDF store to FILE."""
    settings = cli_settings()
    report: backup.BackupReport = _report(lambda: backup.backup(settings, file))
    click.echo(f"Backup written to {file} ({report.size:,} bytes), readable by its owner only.")
    if report.holds_secrets:
        click.echo(
            "It holds secrets (the signing key or the generated secret): keep it as safe as "
            "the keys themselves (mode 0600; keep it so when you copy it)."
        )
    click.echo("In the backup:")
    for line in report.included:
        click.echo(f"  {line}")
    if report.elsewhere:
        click.echo("NOT in the backup, kept elsewhere (back these up where they are kept):")
        for line in report.elsewhere:
            click.echo(f"  {line}")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def restore_cmd(file: Path, yes: bool) -> None:
    """Replace the database's contents with a backup and put its files (signing key, secret,
    PDFs) into the data dir (stop the server first)."""
    settings = cli_settings()
    if not yes and sys.stdin.isatty():
        click.confirm("This replaces every row of the database. Continue?", abort=True)
    report: backup.RestoreReport = _report(lambda: backup.restore(settings, file))
    click.echo(f"Database restored from {file}.")
    if report.database_only:
        click.echo(
            "This backup holds the database only (made before backups carried the signing "
            "key, the secret and the PDFs): bring those back by hand."
        )
        return
    click.echo(f"Into {settings.data_dir}: {', '.join(report.restored) or 'no files'}", nl=False)
    click.echo(f"; {report.pdfs:,} certificate PDF(s).")
    for aside in report.set_aside:
        click.echo(f"A different file was already there, set aside as {aside}.")
    if report.elsewhere:
        click.echo("The backup does not hold these, kept elsewhere when it was made:")
        for line in report.elsewhere:
            click.echo(f"  {line}")


def _report(fn: Callable[[], T]) -> T:
    try:
        with progress.reporting():
            return fn()
    except backup.BackupError as exc:
        click.echo(f"fangxin: {exc}", err=True)
        sys.exit(1)
    except DiskFull as exc:
        click.echo(f"fangxin: {exc.detail}", err=True)
        sys.exit(1)
