"""How far long command-line work has got (imports, the demo, backups, restores, reports), on
standard error: a ``rich`` progress bar when standard error is a terminal; otherwise, so that
CI logs and scripts stay clean, a plain line at every tenth of work of at least
``PLAIN_MIN_TOTAL`` steps, with no control characters, and nothing for smaller work.

It is off unless a command turns it on (``reporting``): the service's requests and the worker
never print it, whatever code they share with the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, TextIO

PLAIN_MIN_TOTAL: Final = 10_000  # steps: smaller work prints no plain line
PLAIN_STEPS: Final = 10  # plain lines for the whole work
_FLUSH_EVERY: Final = 500  # steps between two updates of a bar

_ON: ContextVar[TextIO | None] = ContextVar("fangxin_progress", default=None)
# The bar on screen: work inside another's (a report's figures, a demo step's rows) shows
# nothing of its own, rich keeping one live display at a time.
_BAR: ContextVar[bool] = ContextVar("fangxin_progress_bar", default=False)


@contextmanager
def reporting(stream: TextIO | None = None) -> Iterator[None]:
    """Report progress on ``stream`` (standard error) inside this block: what a command
    wraps its work in. The context is copied into ``asyncio.run``'s task."""
    token = _ON.set(stream or sys.stderr)
    try:
        yield
    finally:
        _ON.reset(token)


class Task:
    """One piece of work of ``total`` steps: ``advance`` as steps are done."""

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = max(total, 0)
        self.done = 0

    def advance(self, steps: int = 1) -> None:
        self.done += steps

    def finish(self) -> None:
        """Called once when the work ends."""


class _Plain(Task):
    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        super().__init__(label, total)
        self.stream = stream
        self.shown = 0  # tenths printed

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        tenth = min(PLAIN_STEPS, self.done * PLAIN_STEPS // self.total)
        if tenth > self.shown:
            self.shown = tenth
            percent = tenth * 100 // PLAIN_STEPS
            line = f"{self.label}: {self.done:,} of {self.total:,} ({percent}%)\n"
            self.stream.write(line)
            self.stream.flush()


class _Bar(Task):
    def __init__(self, label: str, total: int, stream: TextIO) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        super().__init__(label, total)
        self.pending = 0
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self.task = self.bar.add_task(label, total=total)
        self.bar.start()

    def advance(self, steps: int = 1) -> None:
        self.done += steps
        self.pending += steps
        if self.pending >= _FLUSH_EVERY:
            self.bar.update(self.task, completed=self.done)
            self.pending = 0

    def finish(self) -> None:
        self.bar.update(self.task, completed=self.done)
        self.bar.stop()


@contextmanager
def task(label: str, total: int) -> Iterator[Task]:
    """A piece of work of ``total`` steps, shown as the command's stream allows (see the
    module); outside ``reporting`` a task counts and shows nothing."""
    stream = _ON.get()
    bar = None
    if stream is None or total <= 0 or _BAR.get():
        t = Task(label, total)
    elif stream.isatty():
        t = _Bar(label, total, stream)
        bar = _BAR.set(True)
    elif total >= PLAIN_MIN_TOTAL:
        t = _Plain(label, total, stream)
    else:
        t = Task(label, total)
    try:
        yield t
    finally:
        t.finish()
        if bar is not None:
            _BAR.reset(bar)
