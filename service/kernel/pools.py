"""Bounded room for blocking work that anyone may ask for (checking an uploaded PDF): a few
threads at a time and a short queue, so that a crowd of such requests waits its turn or is
told to come back (503 with Retry-After) instead of taking every thread, and the memory and
the interpreter lock with them, from the pages everyone else is loading."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import TypeVar, TypeVarTuple

import anyio

from service.kernel.errors import FangxinError

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Busy(FangxinError):
    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after

    @property
    def headers(self) -> dict[str, str]:
        return {"retry-after": str(self.retry_after)}


class BlockingPool:
    """At most ``size`` calls of ``run`` at once, each in a worker thread; at most ``queue``
    more waiting, none longer than ``wait`` seconds. Any call beyond raises ``Busy``.

    One per process and event loop: the slots are made afresh for each loop that uses them
    (tests run many), the counts are the loop's own."""

    def __init__(self, what: str, size: int, queue: int, wait: float) -> None:
        self.what = what
        self.size = size
        self.queue = queue
        self.wait = wait
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._slots = anyio.CapacityLimiter(size)
        self._waiting = 0

    def _slots_of_this_loop(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        if self._loop is None or self._loop() is not loop:
            self._loop = weakref.ref(loop)
            self._slots = anyio.CapacityLimiter(self.size)
            self._waiting = 0
        return self._slots

    def _busy(self) -> Busy:
        return Busy(
            f"Too many {self.what} are under way; try again in a few seconds.",
            retry_after=max(1, round(self.wait)),
        )

    async def run(self, fn: Callable[[*Ts], T], *args: *Ts) -> T:
        slots = self._slots_of_this_loop()
        if slots.available_tokens == 0 and self._waiting >= self.queue:
            raise self._busy()
        self._waiting += 1
        try:
            with anyio.fail_after(self.wait):
                await slots.acquire()
        except TimeoutError:
            raise self._busy() from None
        finally:
            self._waiting -= 1
        try:
            # Not cancellable once started: the thread runs to its end, holding its slot.
            return await anyio.to_thread.run_sync(fn, *args)
        finally:
            slots.release()
