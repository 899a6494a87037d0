"""One batch of a feed, taken the same way whichever feed sends it.

Credit events, 12315 intake records, Red Shield spot checks and counter-visit tallies arrive
as batches that must be stored whole or not at all: a feed that resends a batch after fixing
one item must not find half of the first attempt already in. So every batch is checked in full
inside the transaction that writes it, refused as a whole naming each bad item, audited in that
same transaction (the record commits with the change or not at all), and a dry run does all of
it and rolls back, so its counts are exactly what a real run would give. A ``Feed`` says only
what differs between the feeds: what it locks and looks up, how it checks an item, what it
writes and what its audit record is called.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import FieldError, InvalidInput

Checked = TypeVar("Checked")
Count = Literal["received", "stored", "updated", "unchanged", "merchants_changed"]


@dataclass(frozen=True, slots=True)
class IngestResult:
    received: int
    stored: int
    updated: int
    unchanged: int
    merchants_changed: int
    # Records that are a complaint filed through Fangxin itself (complaints only): linked to
    # it, never stored a second time.
    linked: int = 0


class DryRun(Exception):
    """Raised inside an ingest's transaction after measuring a dry run, to roll it back."""

    def __init__(self, result: IngestResult) -> None:
        super().__init__("dry run")
        self.result = result


async def measured(work: Awaitable[IngestResult]) -> IngestResult:
    """An ingest's result, whether it committed or a dry run rolled it back."""
    try:
        return await work
    except DryRun as done:
        return done.result


class Feed(ABC, Generic[Checked]):
    """One batch from one feed. ``Checked`` is what its check hands to its write: the rows,
    with whatever the write needs of what the check looked up."""

    action: ClassVar[str]  # the audit record's action and subject
    subject: ClassVar[str]
    # Which of the result's counts the audit record gives, in this order: each feed's
    # records have always named their own, and records already stored must stay alike.
    counts: ClassVar[tuple[Count, ...]]
    unit: ClassVar[str] = "item"  # what a refusal counts

    @abstractmethod
    async def check(self, tx: BaseDBAsyncClient) -> tuple[Checked, list[FieldError]]:
        """Look up what the items refer to and check every item, each problem naming its item
        by index. A lock that must cover what is read takes its place here, before the
        reads; one that need only cover the write (credit events') is the write's."""

    @abstractmethod
    async def write(self, tx: BaseDBAsyncClient, checked: Checked) -> IngestResult:
        """Store a batch known good; called only when the check found no problem."""

    def audited(self, checked: Checked) -> dict[str, object]:
        """What the audit record says of the batch beyond its origin and its counts."""
        return {}


async def ingest(feed: Feed[Checked], *, actor: Actor, origin: str, dry_run: bool) -> IngestResult:
    """The batch stored whole, or refused whole with InvalidInput naming every bad item; a dry
    run rolls back and returns the counts all the same."""
    return await measured(_in_one_transaction(feed, actor, origin, dry_run))


async def _in_one_transaction(
    feed: Feed[Checked], actor: Actor, origin: str, dry_run: bool
) -> IngestResult:
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        checked, errors = await feed.check(tx)
        if errors:
            raise _refusal(errors, feed.unit)
        result = await feed.write(tx, checked)
        counts: dict[str, object] = {name: getattr(result, name) for name in feed.counts}
        details = {"origin": origin, **feed.audited(checked), **counts}
        await audit.record(tx, actor, feed.action, feed.subject, details)
        if dry_run:
            raise DryRun(result)
    return result


def _refusal(errors: list[FieldError], unit: str) -> InvalidInput:
    """The whole batch refused: a feed counts the items it has to fix, not the problems."""
    bad = len({e.field.split(".", 1)[0] for e in errors})
    return InvalidInput(f"{bad} {unit}(s) are invalid; nothing was stored", errors)
