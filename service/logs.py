"""Structured logging: readable lines in development, JSON lines in production.

Every record leaves through one standard-library handler whose formatter is structlog's
``ProcessorFormatter``: our own events (structlog, handed to the standard library) and the
records of uvicorn, Tortoise and any other library get the same processors, so they come out
in one format with the same keys (``timestamp``, ``level``, ``logger``, ``event``, and the
``request_id`` of the request they belong to).
"""

from __future__ import annotations

import logging
import sys
from typing import Final, TextIO

import structlog

from service.kernel.settings import Settings

# Packages whose records we want at INFO; other libraries speak from WARNING up, as they
# did before anything was configured (fontTools, for one, narrates every PDF at INFO).
OWN_LOGGERS: Final = ("fangxin", "service", "surveys", "scoring", "certificates")
# Loggers that bring handlers of their own (uvicorn's dictConfig): without theirs, their
# records reach ours at the root. Their levels stay as configured (``serve``'s log_level).
FOREIGN_WITH_HANDLERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")

_handler: logging.Handler | None = None


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to ``sys.stderr`` as it is when a record arrives, not as it was when the
    handler was made: test runners swap it, and a handler left holding a closed one fails."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        del value


def _shared_processors() -> list[structlog.types.Processor]:
    """What every record gets, ours and other libraries' alike."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def formatter(settings: Settings) -> structlog.stdlib.ProcessorFormatter:
    """The formatter of the one handler: JSON in production, console lines otherwise."""
    rendering: list[structlog.types.Processor] = [
        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
    ]
    if settings.production:
        rendering += [
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ]
    else:
        rendering.append(structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty()))
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(), processors=rendering
    )


def configure_logging(settings: Settings) -> None:
    """Route structlog and the standard library through one handler on the root logger.
    Safe to call again (each app of a test run does): the handler is replaced, not added."""
    global _handler
    level = logging.WARNING if settings.env == "test" else logging.INFO
    structlog.configure(
        processors=[
            *_shared_processors(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        # Filtered at the call, before any processor runs: a debug line costs nothing.
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter(settings))
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    root.addHandler(handler)
    _handler = handler
    root.setLevel(logging.WARNING)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for name in FOREIGN_WITH_HANDLERS:
        foreign = logging.getLogger(name)
        foreign.handlers.clear()
        foreign.propagate = True
