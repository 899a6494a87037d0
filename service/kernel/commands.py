"""What every ``fangxin`` command shares, whichever package defines it: reading the
settings, naming the operator as the actor, and running a coroutine against the database
with the service's errors turned into exit codes and messages.

The plugins' click groups import this; ``service.cli`` composes them, and wires every
plugin's listeners before any command runs."""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click

from service.kernel import db, progress
from service.kernel.audit import Actor
from service.kernel.disk import DiskFull
from service.kernel.errors import FangxinError
from service.kernel.settings import Settings, SettingsError, get_settings
from service.kernel.tables import ImportRejected

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
    """Run ``fn`` with the database open, its progress shown on standard error
    (``service.kernel.progress``); a service error exits 1 with its detail."""

    async def wrapped() -> T:
        async with db.database(settings):
            return await fn()

    try:
        with progress.reporting():
            return asyncio.run(wrapped())
    except DiskFull as exc:
        click.echo(f"fangxin: {exc.detail}", err=True)
        sys.exit(1)
    except FangxinError as exc:
        click.echo(f"fangxin: {exc.detail}", err=True)
        for e in exc.errors:
            click.echo(f"  {e.field}: {e.message}", err=True)
        sys.exit(1)


def run_import(file: Path, settings: Settings, run: Callable[[], Awaitable[T]]) -> T:
    """``run_with_db`` for an import: a rejected file exits 1 naming each bad row."""
    try:
        return run_with_db(settings, run)
    except ImportRejected as exc:
        click.echo(f"{file}: {exc}", err=True)
        for e in exc.errors:
            click.echo(f"  {e}", err=True)
        sys.exit(1)
