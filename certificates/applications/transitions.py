"""The application's state machine: which status may follow which, and the one function that
moves an application, writing its timeline step and the audit event in the caller's
transaction.

submitted → under_review → refused
                         → approved → in_notice → issued
                                               → blocked (an objection upheld) → refused
submitted → refused (materials plainly wrong need no inspection)

Refused and issued are final; every other status is unresolved, and a subject has at most one
unresolved application at a time — the database holds to it (a partial unique index,
migration 0019), so simultaneous submissions cannot both get in. A blocked application stays
unresolved: it holds back its subject's certificate, and applying again cannot clear it; an
official's refusal (with its reason, audited) is the way out, after which the applicant may
apply afresh.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from tortoise.backends.base.client import BaseDBAsyncClient

from certificates.applications.models import Application, ApplicationEvent, ApplicationStatus
from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import Conflict

S = ApplicationStatus
NEXT: Final[dict[ApplicationStatus | None, frozenset[ApplicationStatus]]] = {
    None: frozenset({S.SUBMITTED}),
    S.SUBMITTED: frozenset({S.UNDER_REVIEW, S.REFUSED}),
    S.UNDER_REVIEW: frozenset({S.REFUSED, S.APPROVED}),
    S.APPROVED: frozenset({S.IN_NOTICE}),
    S.IN_NOTICE: frozenset({S.ISSUED, S.BLOCKED}),
    S.REFUSED: frozenset(),
    S.ISSUED: frozenset(),
    S.BLOCKED: frozenset({S.REFUSED}),
}
FINAL: Final = frozenset({S.REFUSED, S.ISSUED})
# A subject has at most one of these at a time (migration 0019's index says the same in SQL).
UNRESOLVED: Final = frozenset(S) - FINAL


def may_move(old: ApplicationStatus | None, new: ApplicationStatus) -> bool:
    return new in NEXT[old]


async def move(
    conn: BaseDBAsyncClient,
    application: Application,
    new: ApplicationStatus,
    *,
    actor: Actor,
    reason: str = "",
    now: datetime,
    details: dict[str, object] | None = None,
) -> None:
    """Move the application to ``new`` (saved), or Conflict if its status does not lead there."""
    old = application.status
    if not may_move(old, new):
        raise Conflict(f"Application {application.id} is {old.value}: it cannot become {new.value}")
    application.status = new
    await application.save(using_db=conn, update_fields=["status"])
    await ApplicationEvent.create(
        using_db=conn,
        application=application,
        at=now,
        old_status=old,
        new_status=new,
        actor=str(actor),
        reason=reason,
    )
    await audit.record(
        conn,
        actor,
        f"application.{new.value}",
        f"application:{application.id}",
        {"from": old.value, "reason": reason, **(details or {})},
    )
