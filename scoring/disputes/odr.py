"""Merchants' participation in online dispute resolution (先行和解): a commitment shown on
the merchant's page. A complaint against a participating merchant goes to it first; one
against any other goes straight to the bureau. Joining and leaving are history rows, never
edits; leaving does not take back the complaints already with the merchant (their deadline
stands)."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from scoring.disputes.models import OdrParticipation
from scoring.disputes.rules import policy
from scoring.disputes.schemas import OdrOut, ParticipationOut
from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.localtime import as_utc
from service.kernel.models import Merchant
from service.kernel.validation import check_text

ALREADY_IN = N_("You already take part in online dispute resolution")
NOT_IN = N_("You do not take part in online dispute resolution")


async def participates(merchant_id: int, conn: BaseDBAsyncClient | None = None) -> bool:
    rows = OdrParticipation.filter(merchant_id=merchant_id, left_at__isnull=True)
    return await (rows.using_db(conn) if conn is not None else rows).exists()


async def _locked_merchant(tx: BaseDBAsyncClient, merchant_id: int) -> Merchant:
    """The merchant's row, locked: joins and leaves of one merchant take turns, so at most
    one participation row is ever open."""
    qs = Merchant.filter(id=merchant_id).using_db(tx)
    if tx.capabilities.dialect == "postgres":
        qs = qs.select_for_update()
    merchant = await qs.first()
    if merchant is None:
        raise NotFound(f"No merchant {merchant_id}")
    return merchant


async def join(merchant_id: int, *, actor: Actor, now: datetime | None = None) -> OdrParticipation:
    now = as_utc(now or datetime.now(UTC))
    async with in_transaction() as tx:
        merchant = await _locked_merchant(tx, merchant_id)
        if await participates(merchant_id, tx):
            raise Conflict(gettext(ALREADY_IN))
        row = await OdrParticipation.create(
            using_db=tx, merchant_id=merchant_id, joined_at=now, joined_by=str(actor)
        )
        await audit.record(tx, actor, "odr.joined", f"merchant:{merchant.uscc}", {})
    return row


async def leave(
    merchant_id: int, reason: str, *, actor: Actor, now: datetime | None = None
) -> OdrParticipation:
    now = as_utc(now or datetime.now(UTC))
    errors: list[FieldError] = []
    text = check_text(errors, "reason", reason, policy().reason_max, required=False)
    if errors:
        raise InvalidInput("The reason is not valid", errors)
    async with in_transaction() as tx:
        merchant = await _locked_merchant(tx, merchant_id)
        row = (
            await OdrParticipation.filter(merchant_id=merchant_id, left_at__isnull=True)
            .using_db(tx)
            .first()
        )
        if row is None:
            raise Conflict(gettext(NOT_IN))
        row.left_at, row.left_by, row.leave_reason = now, str(actor), text
        await row.save(using_db=tx, update_fields=["left_at", "left_by", "leave_reason"])
        await audit.record(tx, actor, "odr.left", f"merchant:{merchant.uscc}", {"reason": text})
    return row


async def status(uscc: str) -> OdrOut:
    """Public: whether the merchant takes part now, since when, and its history."""
    merchant = await Merchant.get_or_none(uscc=uscc) if len(uscc) <= 18 else None
    if merchant is None:
        raise NotFound(f"No merchant {uscc}")
    rows = await OdrParticipation.filter(merchant_id=merchant.id).order_by("joined_at", "id")
    current = next((r for r in rows if r.left_at is None), None)
    return OdrOut(
        uscc=merchant.uscc,
        participating=current is not None,
        since=current.joined_at if current else None,
        history=[ParticipationOut(r.joined_at, r.left_at, r.leave_reason) for r in rows],
    )
