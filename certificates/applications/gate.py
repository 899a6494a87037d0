"""What keeps a public notice from being bypassed: direct issuance (``POST
/api/v1/certificates``, the eligibility page) refuses, with 409, a subject whose latest
application is in notice and not yet cleared (the notice still running, or an objection
unanswered or upheld), or was blocked by an upheld objection. A notice that ended cleanly no
longer holds anything back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from certificates import issuance
from certificates.applications.models import Application, ApplicationStatus, Objection

S = ApplicationStatus


async def refusals(
    conn: BaseDBAsyncClient, requests: Sequence[issuance.Request], now: datetime
) -> dict[str, str]:
    """For each requested subject held back by its application, why."""
    refused: dict[str, str] = {}
    wanted = {(r.kind.value, r.subject) for r in requests}
    rows = (
        await Application.filter(subject_code__in=[r.subject for r in requests])
        .using_db(conn)
        .order_by("subject_code", "-submitted_at", "-id")
    )
    latest: dict[tuple[str, str], Application] = {}
    for a in rows:
        latest.setdefault((a.kind, a.subject_code), a)
    for key, a in latest.items():
        if key not in wanted:
            continue
        if a.status == S.BLOCKED:
            refused[a.subject_code] = f"an objection to application {a.id}'s notice was upheld"
        elif a.status == S.IN_NOTICE:
            if a.notice_ends_at is None or now < a.notice_ends_at:
                refused[a.subject_code] = f"application {a.id} is in public notice"
            elif (
                await Objection.filter(application_id=a.id, outcome__isnull=True)
                .using_db(conn)
                .exists()
            ):
                refused[a.subject_code] = f"an objection to application {a.id} is unanswered"
    return refused


def register() -> None:
    """Consult the notices before every issue in this process."""
    issuance.add_gate(refusals)
