"""What a domain brings to the service, declared in one object: its routes and pages, its
template folder, its ``fangxin`` commands and importers, its periodic jobs, the listeners and
hooks it needs wired before any work, and its part of the demo city.

The shell composes one list of these (``service.plugins``) for the app, the CLI, the worker
and the demo alike, so every hook is registered in exactly one place. The kernel defines the
shape and knows no domain; each domain's ``plugin.py`` fills it in. Everything is reached
through methods, imported when called: ``fangxin --help`` need not import every route.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import click
    from litestar.types import ControllerRouterHandler

    from service.kernel.audit import Actor
    from service.kernel.periodic import JobSpec
    from service.kernel.settings import Settings

# ``fangxin import KIND FILE [--dry-run]``: the plugin's importer for KIND.
Importer = Callable[[Path, bool], None]


@dataclass(frozen=True, slots=True)
class FileImported:
    """What importing a file did, as ``POST /api/v1/imports/{kind}`` answers it."""

    kind: str
    encoding: str  # what the file was read as: utf-8, utf-8-sig, gb18030 or xlsx
    dry_run: bool
    counts: Mapping[str, int]  # the kind's own: rows, created, updated ... or received, stored ...


# The same import for the API: (file, settings, actor, dry run) -> what it did; a file refused
# raises ``service.kernel.tables.ImportRejected``.
FileImporter = Callable[[Path, "Settings", "Actor", bool], Awaitable[FileImported]]


@dataclass(slots=True)
class DemoContext:
    """What the demo city's steps share: who loads it, how big, and what each step made."""

    settings: Settings
    actor: Actor
    # Sizes a test may shrink, by name: "responses" (surveys), "intake" (the 12315 year).
    sizes: Mapping[str, Any]
    # What was made, by name, for the summary ``fangxin demo`` prints.
    facts: dict[str, Any] = field(default_factory=dict)
    # The demo accounts made: (username, role, password), passwords shown once.
    accounts: list[tuple[str, str, str]] = field(default_factory=list)


# "records": inside the demo's one transaction (the city as data); "derived": after it
# commits, in plugin order (score runs read through their own connection, certificates
# follow the scores).
DemoStage = Literal["records", "derived"]
DemoStepFunction = Callable[[DemoContext], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DemoStep:
    stage: DemoStage
    run: DemoStepFunction


class Plugin:
    """A domain, as the shell composes it. Every method has a default of nothing."""

    name: str = ""

    def routes(self) -> Sequence[ControllerRouterHandler]:
        """API handlers and pages."""
        return ()

    def templates(self) -> Sequence[Path]:
        """Jinja template folders."""
        return ()

    def commands(self) -> Sequence[click.Command]:
        """Commands and groups under ``fangxin``."""
        return ()

    def importers(self) -> Mapping[str, Importer]:
        """Kinds of ``fangxin import``, in the order they are listed."""
        return {}

    def file_importers(self) -> Mapping[str, FileImporter]:
        """The same kinds as ``importers``, for the API."""
        return {}

    def jobs(self) -> Sequence[JobSpec]:
        """Periodic jobs."""
        return ()

    def wire(self, settings: Settings) -> None:
        """Listeners and hooks, registered before the app, a command or the worker does any
        work. Raises ``SettingsError`` for a configuration it cannot work with."""

    def demo(self) -> Sequence[DemoStep]:
        """Its part of the demo city."""
        return ()
