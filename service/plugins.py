"""The parts the service is composed of, in order: the register, the three domains of the card
(surveys, scoring with its complaints filed online, certificates) and the shell's own read
models (the annual report, consumer advisories). ``create_app``, the ``fangxin`` command, the
worker and the demo all compose this one list, so each route, command, job, listener and demo
step is declared once, in its plugin."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final

from certificates.plugin import PLUGIN as CERTIFICATES
from scoring.disputes.plugin import PLUGIN as DISPUTES
from scoring.plugin import PLUGIN as SCORING
from service.kernel.plugins import FileImporter, Plugin
from service.kernel.settings import Settings
from service.portal.advisories.plugin import PLUGIN as ADVISORIES
from service.register.plugin import PLUGIN as REGISTER
from service.reports.plugin import PLUGIN as REPORTS
from surveys.plugin import PLUGIN as SURVEYS

PLUGINS: Final[Sequence[Plugin]] = (
    REGISTER,
    SURVEYS,
    SCORING,
    DISPUTES,
    CERTIFICATES,
    REPORTS,
    ADVISORIES,
)


def wire(settings: Settings) -> None:
    """Every plugin's listeners and hooks (each registers once per process; again, it only
    takes the settings given)."""
    for plugin in PLUGINS:
        plugin.wire(settings)


def template_dirs() -> list[Path]:
    return [folder for plugin in PLUGINS for folder in plugin.templates()]


def file_importers() -> dict[str, FileImporter]:
    """``POST /api/v1/imports/{kind}``'s kinds, those of ``fangxin import``."""
    return {kind: fn for plugin in PLUGINS for kind, fn in plugin.file_importers().items()}
