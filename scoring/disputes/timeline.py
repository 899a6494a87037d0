"""The one way a complaint changes: a step on its timeline, in the caller's transaction, with
its audit event — and, when the step moves the status, a compare-and-set in the database.

``UPDATE dispute SET status = new WHERE id = ? AND status = old`` is what decides a race
(two offers, an acceptance against a withdrawal, the deadline job against a late answer):
the database lets exactly one of them match the old status; the others find nothing to
update and are refused with a Conflict, their transaction rolled back whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.disputes.models import Dispute, DisputeEvent
from scoring.disputes.rules import DisputeStatus, Step, may_move
from service.kernel import audit
from service.kernel.accounts import Principal
from service.kernel.audit import Actor
from service.kernel.errors import Conflict
from service.kernel.i18n import N_, gettext
from service.kernel.models import Role

MOVED_ON = N_("This complaint has moved on; reload it to see where it stands")


@dataclass(frozen=True, slots=True)
class Party:
    """Who takes a step: the timeline shows the role to everyone, the name to officials."""

    role: str  # consumer, merchant, official, system
    actor: Actor


CONSUMER: Final = Party("consumer", Actor("public", "consumer"))
SYSTEM: Final = Party("system", Actor("system", "disputes"))


def party_of(who: Principal) -> Party:
    return Party("merchant" if who.role == Role.MERCHANT else "official", who.actor)


async def step(
    tx: BaseDBAsyncClient,
    dispute: Dispute,
    what: Step,
    by: Party,
    *,
    now: datetime,
    to: DisputeStatus | None = None,
    note: str = "",
    details: dict[str, Any] | None = None,
    **changes: Any,
) -> None:
    """Record the step; with ``to``, move the status there (Conflict if its status does not
    lead there, or another request moved it first). ``changes`` are further fields of the
    dispute, written in the same statement."""
    old = dispute.status
    if to is not None and to != old:
        if not may_move(old, to):
            raise Conflict(gettext(MOVED_ON))
        updated = (
            await Dispute.filter(id=dispute.id, status=old)
            .using_db(tx)
            .update(status=to, updated_at=now, **changes)
        )
        if updated != 1:
            raise Conflict(gettext(MOVED_ON))
        dispute.status = to
    elif changes:
        await Dispute.filter(id=dispute.id).using_db(tx).update(updated_at=now, **changes)
    for name, value in changes.items():
        setattr(dispute, name, value)
    await DisputeEvent.create(
        using_db=tx,
        dispute_id=dispute.id,
        at=now,
        step=what,
        status=dispute.status,
        actor_role=by.role,
        actor=str(by.actor),
        note=note,
        details=details or {},
    )
    await audit.record(
        tx,
        by.actor,
        f"dispute.{what.value}",
        f"dispute:{dispute.code}",
        {"from": old.value, "to": dispute.status.value, **(details or {})},
    )
