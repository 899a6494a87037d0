"""HTTP API of complaints filed online (the handlers come with the next step)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

ROUTES: list[ControllerRouterHandler] = []
