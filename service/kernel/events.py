"""Typed in-process domain events, delivered inside the transaction that caused them.

A listener gets the transaction's connection, so whatever it writes (a revocation, an audit
record) commits or rolls back with the change itself; a listener that raises rolls it all
back. Listeners receive all events of their type from one change at once, so they can act on
a batch of 5,000 merchants with a handful of queries instead of 5,000.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient


@dataclass(frozen=True, slots=True)
class CreditState:
    score: float
    risk_class: str
    abnormal_listed: bool
    serious_listed: bool


@dataclass(frozen=True, slots=True)
class CreditChanged:
    """A merchant's credit score or class changed. ``old`` is the rule table's start for a
    merchant's first change."""

    merchant_id: int
    uscc: str
    old: CreditState
    new: CreditState
    cause: str  # "events": new records arrived · "recompute": time passed or rules changed
    event_ids: tuple[int, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class MerchantRegistered:
    """A merchant entered the register: records that named its USCC before may now be
    linked to it."""

    merchant_id: int
    uscc: str
    at: datetime


E = TypeVar("E")
Listener = Callable[[BaseDBAsyncClient, Sequence[Any]], Awaitable[None]]

_listeners: dict[type, list[Listener]] = {}


def subscribe(
    kind: type[E], listener: Callable[[BaseDBAsyncClient, Sequence[E]], Awaitable[None]]
) -> None:
    _listeners.setdefault(kind, []).append(listener)


def unsubscribe(
    kind: type[E], listener: Callable[[BaseDBAsyncClient, Sequence[E]], Awaitable[None]]
) -> None:
    _listeners.get(kind, []).remove(listener)


@contextmanager
def listening(
    kind: type[E], listener: Callable[[BaseDBAsyncClient, Sequence[E]], Awaitable[None]]
) -> Iterator[None]:
    """Subscribe for the duration of a block (tests, one-off jobs)."""
    subscribe(kind, listener)
    try:
        yield
    finally:
        unsubscribe(kind, listener)


async def emit(conn: BaseDBAsyncClient, events: Sequence[object]) -> None:
    """Deliver events to their listeners, in order, grouped by type, on ``conn``.

    Call it inside the transaction that made the change; exceptions propagate so the caller's
    transaction rolls back.
    """
    by_kind: dict[type, list[object]] = {}
    for event in events:
        by_kind.setdefault(type(event), []).append(event)
    for kind, batch in by_kind.items():
        for listener in list(_listeners.get(kind, ())):
            await listener(conn, batch)
