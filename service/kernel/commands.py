"""What every ``fangxin`` command shares, whichever package defines it: reading the
settings, naming the operator as the actor, and running a coroutine against the database
with the service's errors turned into exit codes and messages.

Domain packages' click groups (``surveys.cli``, ``scoring.satisfaction.cli``,
``scoring.credit.cli``, ``certificates.cli``) import this; ``service.cli`` composes them."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from service.kernel import db
from service.kernel.audit import Actor
from service.kernel.errors import FangxinError
from service.kernel.settings import Settings, SettingsError, get_settings
from service.register import store as registry

T = TypeVar("T")


def cli_settings() -> Settings:
    """The settings, or exit 2 naming what is wrong with them."""
    try:
        return get_settings()
    except SettingsError as exc:
        click.echo(f"fangxin: configuration error: {exc}", err=True)
        sys.exit(2)


def cli_actor() -> Actor:
    """The audit actor of a command: the operating-system user who ran it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor("cli", user)


def run_with_db(settings: Settings, fn: Callable[[], Awaitable[T]]) -> T:
    """Run ``fn`` with the database open; a service error exits 1 with its detail."""
    from certificates import revocation
    from certificates.applications import gate as creation_gate
    from certificates.policy import policy_for
    from scoring.credit import links, workdays
    from scoring.credit import store as credit_store

    # Certificates answer credit changes (imports, recompute) inside the credit transaction.
    revocation.register(policy_for(settings.certificate_policy))
    # Nothing is issued past an open or objected public notice.
    creation_gate.register()
    # Records that named a merchant before it was registered link to it on registration.
    links.register(credit_store.rules_for(settings.credit_rules))
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


def run_import(file: Path, settings: Settings, run: Callable[[], Awaitable[T]]) -> T:
    """``run_with_db`` for an import: a rejected file exits 1 naming each bad row."""
    try:
        return run_with_db(settings, run)
    except registry.ImportRejected as exc:
        click.echo(f"{file}: {exc}", err=True)
        for e in exc.errors:
            click.echo(f"  {e}", err=True)
        sys.exit(1)
