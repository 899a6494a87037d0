"""The register as the shell composes it (``service.kernel.plugins``): the areas and merchants
API, their imports (``fangxin import areas|merchants``) and the demo city's register."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING

from service.kernel.plugins import DemoStep, FileImporter, Importer, Plugin

if TYPE_CHECKING:
    from litestar.types import ControllerRouterHandler


class RegisterPlugin(Plugin):
    name = "register"

    def routes(self) -> Sequence[ControllerRouterHandler]:
        from service.register.routes import ROUTES

        return ROUTES

    def importers(self) -> Mapping[str, Importer]:
        from service.register.cli import import_register

        return {kind: partial(import_register, kind) for kind in ("areas", "merchants")}

    def file_importers(self) -> Mapping[str, FileImporter]:
        from service.register.imports import file_importer

        return {kind: file_importer(kind) for kind in ("areas", "merchants")}

    def demo(self) -> Sequence[DemoStep]:
        from service.register import demo

        return (DemoStep("records", demo.load),)


PLUGIN = RegisterPlugin()
