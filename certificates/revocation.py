"""Certificates that cannot outlive their grounds: the listener on ``CreditChanged``.

In the very transaction that changes a merchant's credit, a merchant certificate whose holder
fell below the policy (credit under the threshold, class D, or the serious-violation list) is
revoked, and each street or scenic spot of such a merchant is re-judged: if its criteria now
fail, its certificate is suspended at once with a grace period. Every change is recorded with
its evidence and audited. If anything here fails, the credit change rolls back with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient

from certificates import eligibility
from certificates.models import Certificate, Status, StatusChange
from certificates.policy import Kind, Policy, evaluate_area, policy_for, revocation_reason
from service.kernel import audit, events, outbox
from service.kernel.db import chunked
from service.kernel.events import CreditChanged
from service.kernel.models import Area, Merchant

SYSTEM_ACTOR = "system:credit"


async def change_status(
    conn: BaseDBAsyncClient,
    cert: Certificate,
    new: Status,
    reason: str,
    *,
    at: datetime,
    actor: str,
    note: str = "",
    evidence: dict[str, object] | None = None,
    grace_until: datetime | None = None,
) -> None:
    old = cert.status
    cert.status = new
    cert.status_reason = reason
    cert.status_changed_at = at
    cert.grace_until = grace_until
    await cert.save(
        using_db=conn, update_fields=["status", "status_reason", "status_changed_at", "grace_until"]
    )
    await StatusChange.create(
        using_db=conn,
        certificate=cert,
        at=at,
        old_status=old,
        new_status=new,
        reason=reason,
        note=note,
        actor=actor,
        evidence=evidence or {},
    )
    await audit.record(
        conn,
        actor,
        f"certificate.{new.value}",
        cert.serial,
        {"from": old.value, "reason": reason, **({"note": note} if note else {})},
    )
    await outbox.enqueue(
        conn,
        "certificate.status_changed",
        {
            "serial": cert.serial,
            "kind": cert.kind.value,
            "subject": cert.subject_code,
            "from": old.value,
            "to": new.value,
            "reason": reason,
            "at": at.isoformat(),
        },
        now=at,
    )


class Revoker:
    """Holds the policy the listener judges by; ``register`` subscribes it once."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    async def __call__(self, conn: BaseDBAsyncClient, changes: Sequence[CreditChanged]) -> None:
        rules = self.policy.merchant
        failing = {
            c.uscc: (c, reason)
            for c in changes
            if (
                reason := revocation_reason(
                    rules, c.new.score, c.new.risk_class, c.new.serious_listed
                )
            )
        }
        at = max((c.at for c in changes), default=None)
        if at is None:
            return
        area_ids = await self._areas_with_certificates(conn, [c.merchant_id for c in changes])
        if not failing and not area_ids:
            return
        # Every certificate this may change is locked first, in one order (by id), before the
        # first audit record takes the audit chain's lock: two batches touching one street
        # then queue on its certificate instead of each holding what the other waits for.
        # Statuses are read under the lock, so a change made meanwhile is seen, not repeated.
        area_codes = [
            str(c)
            for c in await Area.filter(id__in=area_ids)
            .using_db(conn)
            .values_list("code", flat=True)
        ]
        # A city-wide recompute can fail 100,000 merchants at once: the certificates are
        # found in slices, then locked in slices in ascending id order (still one order).
        held = [Status.ACTIVE, Status.SUSPENDED]
        ids: list[int] = []
        for kinds, codes in (
            ([Kind.MERCHANT], sorted(failing)),
            ([Kind.STREET, Kind.SCENIC_SPOT], area_codes),
        ):
            for chunk in chunked(codes):
                ids += [
                    c.id
                    for c in await Certificate.filter(
                        kind__in=kinds, subject_code__in=chunk, status__in=held
                    )
                    .using_db(conn)
                    .only("id")
                ]
        locked: list[Certificate] = []
        for id_chunk in chunked(sorted(ids)):
            locked += (
                await Certificate.filter(id__in=id_chunk, status__in=held)
                .using_db(conn)
                .select_for_update()
                .order_by("id")
            )
        for cert in locked:
            if cert.kind != Kind.MERCHANT:
                continue
            change, reason = failing[cert.subject_code]
            await change_status(
                conn,
                cert,
                Status.REVOKED,
                reason,
                at=at,
                actor=SYSTEM_ACTOR,
                evidence={
                    "credit_before": {
                        "score": change.old.score,
                        "class": change.old.risk_class,
                    },
                    "credit_after": {
                        "score": change.new.score,
                        "class": change.new.risk_class,
                        "serious_listed": change.new.serious_listed,
                    },
                    "credit_events": list(change.event_ids),
                },
            )
        # Any credit change can tip an area (a merchant on the serious list, a certificate
        # gone): re-judge the areas of every merchant that changed.
        areas_held = [c for c in locked if c.kind != Kind.MERCHANT and c.status == Status.ACTIVE]
        if areas_held:
            await self._suspend_failing_areas(conn, areas_held, area_ids, at)

    async def _areas_with_certificates(
        self, conn: BaseDBAsyncClient, merchant_ids: list[int]
    ) -> set[int]:
        """The streets and scenic spots of these merchants, when any area holds a certificate
        at all (most credit changes touch no certified area: the cheap question first)."""
        if (
            not await Certificate.filter(
                kind__in=[Kind.STREET, Kind.SCENIC_SPOT], status=Status.ACTIVE
            )
            .using_db(conn)
            .exists()
        ):
            return set()
        found: set[int] = set()
        for chunk in chunked(merchant_ids):
            for pair in (
                await Merchant.filter(id__in=chunk)
                .using_db(conn)
                .values_list("street_id", "scenic_spot_id")
            ):
                found.update(a for a in pair if a is not None)
        return found

    async def _suspend_failing_areas(
        self,
        conn: BaseDBAsyncClient,
        held: list[Certificate],
        area_ids: set[int],
        at: datetime,
    ) -> None:
        facts = await eligibility.area_facts(conn, area_ids, at)
        by_code = {f.code: f for f in facts}
        grace = timedelta(days=self.policy.grace_days)
        for cert in held:
            f = by_code.get(cert.subject_code)
            if f is None:
                continue
            evaluation = evaluate_area(f, self.policy.areas[f.kind])
            if evaluation.eligible:
                continue
            await change_status(
                conn,
                cert,
                Status.SUSPENDED,
                "criteria_failed",
                at=at,
                actor=SYSTEM_ACTOR,
                evidence={
                    "failing": {
                        c.key: {"value": c.value, "required": c.requirement}
                        for c in evaluation.failing
                    }
                },
                grace_until=at + grace,
            )


_registered: Revoker | None = None


def register(policy: Policy | None = None) -> Revoker:
    """Subscribe the listener (once per process; a later call only updates its policy)."""
    global _registered
    if _registered is None:
        _registered = Revoker(policy or policy_for(None))
        events.subscribe(CreditChanged, _registered)
    elif policy is not None:
        _registered.policy = policy
    return _registered
