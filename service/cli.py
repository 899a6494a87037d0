"""The ``fangxin`` command: every operation an operator runs, each a thin call into a service."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from service import accounts, audit, backup, db, demo, registry
from service.audit import Actor
from service.errors import FangxinError
from service.models import Role
from service.settings import Settings, SettingsError, get_settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        click.echo(f"fangxin: configuration error: {exc}", err=True)
        sys.exit(2)


def _cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("cli", user)


def _run_with_db(settings: Settings, fn: Callable[[], Awaitable[T]]) -> T:
    from certificates import revocation
    from certificates.policy import policy_for
    from scoring.credit import workdays

    # Certificates answer credit changes (imports, recompute) inside the credit transaction.
    revocation.register(policy_for(settings.certificate_policy))
    # Complaint deadlines count on the bureau's working-day calendar.
    try:
        workdays.configure(settings.workdays_file)
    except workdays.CalendarFileError as exc:
        click.echo(f"fangxin: configuration error: {exc}", err=True)
        sys.exit(2)

    async def wrapped() -> T:
        async with db.database(settings):
            return await fn()

    try:
        return asyncio.run(wrapped())
    except FangxinError as exc:
        click.echo(f"fangxin: {exc.detail}", err=True)
        for e in exc.errors:
            click.echo(f"  {e.field}: {e.message}", err=True)
        sys.exit(1)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Fangxin (放心): trusted-consumption surveys, scores, credit and certificates."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int, workers: int, reload: bool) -> None:
    """Serve HTTP (uvicorn)."""
    import uvicorn

    settings = _settings()
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
        waiting = _run_with_db(settings, pending)
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
    settings = _settings()
    applied = asyncio.run(db.migrate(settings))
    click.echo("Applied: " + ", ".join(applied) if applied else "Database is up to date.")


@main.command(hidden=True)
@click.option("--name", default=None)
def makemigrations(name: str | None) -> None:
    """Write migrations for model changes (developers)."""
    settings = _settings()
    paths = _run_with_db(settings, lambda: db.make_migrations(name))
    click.echo("\n".join(paths) if paths else "No changes.")


@main.command("demo")
def demo_cmd() -> None:
    """Fill an empty database with the demo city."""
    settings = _settings()
    report = _run_with_db(settings, lambda: demo.load_demo(settings, actor=_cli_actor()))
    click.echo(report.text())


@main.group()
def user() -> None:
    """Accounts of officials, administrators and merchants."""


@user.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role if r != Role.FEED]))
@click.option("--merchant", "merchant_uscc", default=None, help="USCC, for merchant accounts")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(name: str, role: str, merchant_uscc: str | None, password_stdin: bool) -> None:
    """Create an account."""
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    account = _run_with_db(
        settings,
        lambda: accounts.create_account(
            name, password, Role(role), merchant_uscc=merchant_uscc, actor=_cli_actor()
        ),
    )
    click.echo(f"Created {account.role.value} account {account.username}.")


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(name: str, password_stdin: bool) -> None:
    """Set an account's password (held to the same strength rule) and lift any lock."""
    settings = _settings()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    _run_with_db(settings, lambda: accounts.change_password(name, password, actor=_cli_actor()))
    click.echo(f"Changed the password of {name}.")


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
    settings = _settings()
    tok, plain = _run_with_db(
        settings, lambda: accounts.create_token(name, Role(role), actor=_cli_actor())
    )
    click.echo(plain)
    click.echo(f"Token {tok.id} ({name}, {role}) created. It is shown only this once.", err=True)


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by id."""
    settings = _settings()
    tok = _run_with_db(settings, lambda: accounts.revoke_token(token_id, actor=_cli_actor()))
    click.echo(f"Token {tok.id} ({tok.name}) revoked.")


@main.command("import")
@click.argument("kind", type=click.Choice(["areas", "merchants", "credit", "complaints"]))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file; change nothing.")
def import_cmd(kind: str, file: Path, dry_run: bool) -> None:
    """Import areas, merchants, credit events or complaints from CSV or XLSX: all rows or
    none."""
    if kind in ("credit", "complaints"):
        _import_feed(kind, file, dry_run)
        return
    settings = _settings()
    importer: Callable[..., Awaitable[registry.ImportResult]] = (
        registry.import_areas if kind == "areas" else registry.import_merchants
    )

    async def run() -> registry.ImportResult:
        return await importer(file, actor=_cli_actor(), dry_run=dry_run)

    result = _imported(file, settings, run)
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{result.rows} {kind} rows: {result.created} {verb} created, {result.updated} "
        f"{verb} updated, {result.unchanged} unchanged."
    )


def _imported(file: Path, settings: Settings, run: Callable[[], Awaitable[T]]) -> T:
    try:
        return _run_with_db(settings, run)
    except registry.ImportRejected as exc:
        click.echo(f"{file}: {exc}", err=True)
        for e in exc.errors:
            click.echo(f"  {e}", err=True)
        sys.exit(1)


def _import_feed(kind: str, file: Path, dry_run: bool) -> None:
    from scoring.credit import feed_files
    from scoring.credit import store as credit_store

    settings = _settings()
    rules = credit_store.rules_for(settings.credit_rules)
    importer = feed_files.import_events if kind == "credit" else feed_files.import_complaints

    async def run() -> credit_store.IngestResult:
        return await importer(file, actor=_cli_actor(), rules=rules, dry_run=dry_run)

    r = _imported(file, settings, run)
    verb = "would be" if dry_run else "were"
    click.echo(
        f"{r.received} {kind} rows: {r.stored} {verb} stored, {r.updated} {verb} updated, "
        f"{r.unchanged} unchanged; credit of {r.merchants_changed} merchant(s) "
        f"{'would change' if dry_run else 'changed'}."
    )


@main.group()
def credit() -> None:
    """Merchant credit scores."""


@credit.command("recompute")
def credit_recompute() -> None:
    """Mark complaints that went past a time limit, then rescore every merchant as of now."""
    from scoring.credit import complaints
    from scoring.credit import store as credit_store

    settings = _settings()
    rules = credit_store.rules_for(settings.credit_rules)
    arrow_url = settings.database_url if settings.is_postgres else None
    result = _run_with_db(
        settings,
        lambda: complaints.recompute(actor=_cli_actor(), rules=rules, database_url=arrow_url),
    )
    click.echo(
        f"Credit recomputed with rules {rules.version}: {result.overdue_marked} complaint(s) "
        f"newly overdue, {result.merchants_changed} merchant(s) changed."
    )


@main.group()
def survey() -> None:
    """Questionnaires, invitation codes and response screening."""


@survey.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def survey_load(file: Path) -> None:
    """Load a questionnaire from TOML: a new survey, or a new version of an edited one."""
    from surveys.questionnaire import load_file

    settings = _settings()
    result = _run_with_db(settings, lambda: load_file(file, actor=_cli_actor()))
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

    settings = _settings()
    codes = _run_with_db(settings, lambda: create_invites(slug, count, actor=_cli_actor()))
    click.echo("\n".join(codes))


@survey.command("screen")
@click.argument("slug", required=False)
def survey_screen(slug: str | None) -> None:
    """Recompute the quality flags of every response (or one survey's)."""
    from surveys.quality import recompute_flags

    settings = _settings()
    report = _run_with_db(settings, lambda: recompute_flags(slug))
    flags = ", ".join(f"{k} {v}" for k, v in report.raised.items())
    click.echo(f"{report.responses} responses screened: {flags}; {report.excluded} excluded.")


@main.group()
def score() -> None:
    """Satisfaction score runs."""


@score.command("run")
@click.option("--publish", is_flag=True, help="Publish the run at once (scheduled jobs).")
@click.option("--window-days", default=365, show_default=True, type=click.IntRange(1, 3650))
def score_run(publish: bool, window_days: int) -> None:
    """Compute a draft run of every unit's score (and publish it with --publish)."""
    from scoring.satisfaction import runs

    settings = _settings()
    request = runs.parse_params({"window_days": window_days})
    run = _run_with_db(
        settings,
        lambda: runs.run_now(
            request,
            settings,
            actor=_cli_actor(),
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


@main.group()
def certificates() -> None:
    """Trusted-consumption certificates."""


@certificates.command("evaluate")
@click.option("--kind", type=click.Choice(["merchant", "street", "scenic_spot"]))
@click.option("--eligible-only", is_flag=True, help="List only the subjects that qualify.")
def certificates_evaluate(kind: str | None, eligible_only: bool) -> None:
    """Every subject against the policy: each criterion's value, requirement and result."""
    from certificates import eligibility
    from certificates.policy import policy_for
    from scoring.credit import store as credit_store

    settings = _settings()
    policy = policy_for(settings.certificate_policy)
    rules = credit_store.rules_for(settings.credit_rules)
    found = _run_with_db(settings, lambda: eligibility.evaluate_all(policy, rules))
    shown = [e for e in found if (kind is None or e.kind == kind)]
    for e in shown:
        if eligible_only and not e.eligible:
            continue
        if e.eligible:
            click.echo(f"{e.kind.value} {e.code} {e.name}: eligible")
            continue
        why = "; ".join(f"{c.key} {_shown(c.value)} (needs {c.requirement})" for c in e.failing)
        click.echo(f"{e.kind.value} {e.code} {e.name}: not eligible: {why}")
    totals = ", ".join(
        f"{k}: {sum(e.eligible for e in shown if e.kind == k)} of "
        f"{sum(1 for e in shown if e.kind == k)} eligible"
        for k in dict.fromkeys(e.kind.value for e in shown)
    )
    click.echo(f"Policy {policy.version}. {totals or 'No subjects.'}")


@certificates.command("issue")
@click.argument("subjects", nargs=-1)
@click.option("--kind", type=click.Choice(["merchant", "street", "scenic_spot"]), required=True)
@click.option("--all-eligible", is_flag=True, help="Every eligible subject of the kind.")
def certificates_issue(subjects: tuple[str, ...], kind: str, all_eligible: bool) -> None:
    """Issue certificates to eligible subjects (USCCs or area codes): all or none."""
    from certificates import eligibility, issuance
    from certificates.policy import Kind, policy_for
    from scoring.credit import store as credit_store

    settings = _settings()
    policy = policy_for(settings.certificate_policy)
    rules = credit_store.rules_for(settings.credit_rules)

    async def run() -> list[str]:
        from certificates import documents

        chosen = list(subjects)
        if all_eligible:
            found = await eligibility.evaluate_all(policy, rules)
            holding = await issuance.holders(Kind(kind))
            chosen += [
                e.code for e in found if e.kind == kind and e.eligible and e.code not in holding
            ]
        if not chosen:
            return []
        # Each PDF is rendered and signed as its certificate is issued, in a process per core.
        with click.progressbar(
            length=len(chosen), label="Issuing and signing", file=sys.stderr
        ) as bar:
            issued = await documents.issue_signed(
                [issuance.Request(Kind(kind), s) for s in dict.fromkeys(chosen)],
                settings=settings,
                actor=_cli_actor(),
                policy=policy,
                credit_rules=rules,
                progress=bar.update,
            )
        return [f"{c.serial} {c.subject_code} {c.subject_name}" for c in issued]

    lines = _run_with_db(settings, run)
    for line in lines:
        click.echo(line)
    click.echo(f"{len(lines)} certificate(s) issued.")


@certificates.command("sweep")
def certificates_sweep() -> None:
    """Expire, revoke after grace, lift recovered holds, suspend failing areas."""
    from certificates import sweep
    from certificates.policy import policy_for
    from scoring.credit import store as credit_store

    settings = _settings()
    result = _run_with_db(
        settings,
        lambda: sweep.sweep(
            actor=_cli_actor(),
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        ),
    )
    click.echo(
        f"Swept: {len(result.expired)} expired, {len(result.revoked)} revoked, "
        f"{len(result.suspended)} suspended, {len(result.lifted)} reinstated."
    )


def _shown(value: object) -> str:
    if value is None:
        return "none"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@main.group("outbox")
def outbox_group() -> None:
    """Notifications for other systems (the webhook)."""


@outbox_group.command("deliver")
def outbox_deliver() -> None:
    """Post every due notification to FANGXIN_WEBHOOK_URL now (the service does it every 5 s)."""
    from service import outbox

    settings = _settings()
    if not settings.webhook_url:
        click.echo("FANGXIN_WEBHOOK_URL is not set: notifications are kept, not sent.", err=True)
        sys.exit(2)
    result = _run_with_db(settings, lambda: outbox.deliver_due(settings, limit=10_000))
    click.echo(f"Delivered {result.delivered}; {result.failed} failed and will be retried.")


@main.command("worker")
def worker_cmd() -> None:
    """Run the periodic jobs on their schedule (FANGXIN_JOBS) until stopped.

    Start one on as many machines as you like: each job's slot runs once, on whichever
    worker takes its lease first. In production the web processes run no jobs: run this."""
    from service import jobs, worker
    from service.logs import configure_logging

    settings = _settings()
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

    _run_with_db(settings, run)
    click.echo("Fangxin worker stopped.")


@main.group("audit")
def audit_group() -> None:
    """The tamper-evident audit log."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check every event's hash and its link to the one before."""
    settings = _settings()
    report = _run_with_db(settings, audit.verify_chain)
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
    settings = _settings()
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
    settings = _settings()
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
        return fn()
    except backup.BackupError as exc:
        click.echo(f"fangxin: {exc}", err=True)
        sys.exit(1)
