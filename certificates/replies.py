"""A holder's right to reply (appeal) and the official decision, as the best rating schemes
give businesses: a reply within 21 days of a revocation or suspension, decided by an official,
both published beside the status on the verify page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from litestar.exceptions import PermissionDeniedException
from tortoise import connections
from tortoise.transactions import in_transaction

from certificates.models import Certificate, Decision, Reply, Status, StatusChange
from certificates.policy import Kind
from certificates.revocation import change_status
from service.kernel import audit, scope
from service.kernel.accounts import Principal
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.models import Merchant, Role
from service.kernel.validation import check_text

REPLY_DAYS = 21
TEXT_MAX = 2000  # a reply and a decision's note
ANSWERABLE = (Status.REVOKED, Status.SUSPENDED)


async def submit(serial: str, text: str, *, by: Principal, now: datetime | None = None) -> Reply:
    """The holder replies to the latest revocation or suspension of its certificate."""
    now = now or datetime.now(UTC)
    errors: list[FieldError] = []
    text = check_text(errors, "text", text, TEXT_MAX)
    if errors:
        raise InvalidInput("The reply cannot be recorded", errors)
    # The reply is published as the holder's own words: only the holder may write it. The
    # bureau speaks through the status change's note and the decision, shown as its own.
    if by.role != Role.MERCHANT:
        raise PermissionDeniedException("Only the holder of the certificate writes its reply")
    cert = await Certificate.get_or_none(serial=serial)
    if cert is None:
        raise NotFound(f"No certificate {serial}")
    own = await Merchant.get_or_none(id=by.merchant_id) if by.merchant_id else None
    if cert.kind != Kind.MERCHANT or own is None or own.uscc != cert.subject_code:
        raise NotFound(f"No certificate {serial} of yours")
    change = await StatusChange.filter(certificate_id=cert.id).order_by("-at", "-id").first()
    if change is None or change.new_status not in ANSWERABLE:
        raise Conflict(f"{serial} is {cert.status.value}: there is nothing to reply to")
    if now - change.at > timedelta(days=REPLY_DAYS):
        raise Conflict(f"The {REPLY_DAYS} days to reply to the {change.new_status.value} are over")
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        if await Reply.filter(change_id=change.id).using_db(tx).exists():
            raise Conflict(f"{serial} already has a reply to this {change.new_status.value}")
        reply = await Reply.create(
            using_db=tx,
            certificate_id=cert.id,
            change_id=change.id,
            text=text,
            submitted_by=str(by.actor),
            submitted_at=now,
        )
        await audit.record(tx, by.actor, "certificate.reply", serial, {"reply": reply.id})
    return reply


async def decide(
    reply_id: int, decision: str, note: str, *, by: Principal, now: datetime | None = None
) -> Reply:
    """An official decides a reply. Upheld, the certificate stands again: the one way back
    from a revocation, because the revocation itself was found wrong."""
    now = now or datetime.now(UTC)
    try:
        verdict = Decision(decision)
    except ValueError:
        raise InvalidInput(
            "The decision cannot be recorded", [FieldError("decision", "upheld or dismissed")]
        ) from None
    errors: list[FieldError] = []
    note = check_text(errors, "note", note, TEXT_MAX)
    if errors:
        raise InvalidInput("Say why", errors)
    # A district's official decides the replies about its district's certificates only.
    district = await scope.district_of(by)
    if district is not None:
        about = await Certificate.filter(replies__id=reply_id).first()
        if about is None or not await scope.holds(district, about.kind.value, about.subject_code):
            raise NotFound(f"No reply {reply_id}")
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        reply = await Reply.filter(id=reply_id).using_db(tx).select_for_update().first()
        if reply is None:
            raise NotFound(f"No reply {reply_id}")
        if reply.decision is not None:
            raise Conflict(f"Reply {reply_id} was already decided: {reply.decision.value}")
        reply.decision = verdict
        reply.decision_note = note
        reply.decided_by = str(by.actor)
        reply.decided_at = now
        await reply.save(using_db=tx)
        cert = await Certificate.filter(id=reply.certificate_id).using_db(tx).get()
        await audit.record(
            tx, by.actor, f"certificate.reply_{verdict.value}", cert.serial, {"reply": reply.id}
        )
        if verdict == Decision.UPHELD and cert.status in ANSWERABLE:
            await change_status(
                tx, cert, Status.ACTIVE, "appeal_upheld", at=now, actor=str(by.actor), note=note
            )
    return reply
