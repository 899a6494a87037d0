"""What keeps a public notice from being bypassed: issuance (``POST /api/v1/certificates``,
the eligibility page, and an application's own issue, which goes through the same issuance)
refuses, with 409, a subject with any unresolved application that holds it back — in notice
and not yet cleared (the notice still running, or an objection unanswered), or blocked by an
upheld objection. Every unresolved application of the subject is judged, not only the latest:
an older one still in notice or blocked holds the subject back whatever came after it. A
notice that ended cleanly no longer holds anything back; a refused application never does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from certificates import issuance
from certificates.applications import transitions
from certificates.applications.models import Application, ApplicationStatus, Objection

S = ApplicationStatus


async def _holds_back(conn: BaseDBAsyncClient, a: Application, now: datetime) -> str | None:
    """Why this application holds its subject back now, or None."""
    if a.status == S.BLOCKED:
        return f"an objection to application {a.id}'s notice was upheld"
    if a.status != S.IN_NOTICE:
        return None
    if a.notice_ends_at is None or now < a.notice_ends_at:
        return f"application {a.id} is in public notice"
    if await Objection.filter(application_id=a.id, outcome__isnull=True).using_db(conn).exists():
        return f"an objection to application {a.id} is unanswered"
    return None


async def refusals(
    conn: BaseDBAsyncClient, requests: Sequence[issuance.Request], now: datetime
) -> dict[str, str]:
    """For each requested subject held back by an application, why."""
    wanted = {(r.kind.value, r.subject) for r in requests}
    rows = (
        await Application.filter(
            subject_code__in=[r.subject for r in requests], status__in=transitions.UNRESOLVED
        )
        .using_db(conn)
        .order_by("subject_code", "id")
    )
    refused: dict[str, str] = {}
    for a in rows:
        if (a.kind, a.subject_code) not in wanted or a.subject_code in refused:
            continue
        why = await _holds_back(conn, a, now)
        if why is not None:
            refused[a.subject_code] = why
    return refused


def register() -> None:
    """Consult the notices before every issue in this process."""
    issuance.add_gate(refusals)
