"""Periodic upkeep and officials' decisions on certificates.

``sweep`` (``fangxin certificates sweep``; safe to start on every machine at once: it holds a
lock for its transaction) expires certificates past their validity, revokes area
certificates whose grace ran out, lifts holds whose criteria recovered, suspends area
certificates whose criteria fail (a new score run can do that) and revokes merchant
certificates whose holder's credit no longer allows one (a new rule table can do that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from certificates import eligibility, issuance
from certificates.models import Certificate, Status
from certificates.policy import Kind, Policy, evaluate_area, revocation_reason
from certificates.revocation import change_status
from scoring.credit.models import CreditStanding
from scoring.credit.rules import Rules
from scoring.credit.store import start_state
from service.kernel.audit import Actor
from service.kernel.db import chunked
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.models import Area, Merchant
from service.kernel.validation import check_text

SWEEP_LOCK_KEY = 0x46584357  # "FXCW"
HELD = (Status.ACTIVE, Status.SUSPENDED)
REASON_MAX = 64  # a reason code
NOTE_MAX = 2000


@dataclass(slots=True)
class SweepResult:
    expired: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    lifted: list[str] = field(default_factory=list)


async def _lock(conn: BaseDBAsyncClient) -> None:
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [SWEEP_LOCK_KEY])
    else:  # a write that changes nothing takes SQLite's write lock now
        await conn.execute_query("DELETE FROM certificate WHERE 0")


async def sweep(
    *, actor: Actor, policy: Policy, credit_rules: Rules, now: datetime | None = None
) -> SweepResult:
    now = now or datetime.now(UTC)
    who = str(actor)
    result = SweepResult()
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        await _lock(tx)
        held = await Certificate.filter(status__in=HELD).using_db(tx).order_by("serial")
        live = []
        for cert in held:
            if cert.valid_until <= now:
                await change_status(tx, cert, Status.EXPIRED, "validity_ended", at=now, actor=who)
                result.expired.append(cert.serial)
            else:
                live.append(cert)
        await _merchants(
            tx, [c for c in live if c.kind == Kind.MERCHANT], policy, credit_rules, now, who, result
        )
        await _areas(tx, [c for c in live if c.kind != Kind.MERCHANT], policy, now, who, result)
    return result


async def _merchants(
    tx: BaseDBAsyncClient,
    certs: list[Certificate],
    policy: Policy,
    credit_rules: Rules,
    now: datetime,
    who: str,
    result: SweepResult,
) -> None:
    if not certs:
        return
    # Every certified merchant of the city, in slices below what one query may bind.
    ids: dict[str, int] = {}
    for codes in chunked([c.subject_code for c in certs]):
        ids.update(await Merchant.filter(uscc__in=codes).using_db(tx).values_list("uscc", "id"))
    standing: dict[int, tuple[float, str, bool]] = {}
    for merchant_ids in chunked(list(ids.values())):
        for m, score, cls, serious in (
            await CreditStanding.filter(merchant_id__in=merchant_ids)
            .using_db(tx)
            .values_list("merchant_id", "score", "risk_class", "serious_listed")
        ):
            standing[m] = (score, cls, serious)
    start = start_state(credit_rules)
    for cert in certs:
        score, cls, serious = standing.get(
            ids.get(cert.subject_code, -1), (start.score, start.risk_class, False)
        )
        reason = revocation_reason(policy.merchant, score, cls, serious)
        if reason:
            await change_status(
                tx,
                cert,
                Status.REVOKED,
                reason,
                at=now,
                actor=who,
                evidence={"credit": {"score": score, "class": cls, "serious_listed": serious}},
            )
            result.revoked.append(cert.serial)


async def _areas(
    tx: BaseDBAsyncClient,
    certs: list[Certificate],
    policy: Policy,
    now: datetime,
    who: str,
    result: SweepResult,
) -> None:
    if not certs:
        return
    area_ids = dict(
        await Area.filter(code__in=[c.subject_code for c in certs])
        .using_db(tx)
        .values_list("code", "id")
    )
    facts = {f.code: f for f in await eligibility.area_facts(tx, set(area_ids.values()), now)}
    for cert in certs:
        f = facts.get(cert.subject_code)
        if f is None:
            continue
        evaluation = evaluate_area(f, policy.areas[f.kind])
        failing = {c.key: {"value": c.value, "required": c.requirement} for c in evaluation.failing}
        if cert.status == Status.SUSPENDED and evaluation.eligible:
            await change_status(tx, cert, Status.ACTIVE, "criteria_recovered", at=now, actor=who)
            result.lifted.append(cert.serial)
        elif cert.status == Status.SUSPENDED and cert.grace_until and cert.grace_until <= now:
            await change_status(
                tx,
                cert,
                Status.REVOKED,
                "grace_expired",
                at=now,
                actor=who,
                evidence={"failing": failing},
            )
            result.revoked.append(cert.serial)
        elif cert.status == Status.ACTIVE and not evaluation.eligible:
            await change_status(
                tx,
                cert,
                Status.SUSPENDED,
                "criteria_failed",
                at=now,
                actor=who,
                evidence={"failing": failing},
                grace_until=now + timedelta(days=policy.grace_days),
            )
            result.suspended.append(cert.serial)


ACTIONS = {
    "revoke": (Status.REVOKED, HELD),
    "suspend": (Status.SUSPENDED, (Status.ACTIVE,)),
    "reinstate": (Status.ACTIVE, (Status.SUSPENDED,)),
}


async def decide(
    serial: str,
    action: str,
    reason: str,
    note: str,
    *,
    actor: Actor,
    now: datetime | None = None,
    district: Area | None = None,
) -> Certificate:
    """An official revokes (final), suspends or reinstates a certificate, with a reason;
    ``district``: its official, to whom a certificate of a subject elsewhere is missing."""
    now = now or datetime.now(UTC)
    errors: list[FieldError] = []
    if action not in ACTIONS:
        errors.append(FieldError("action", "revoke, suspend or reinstate"))
    reason = check_text(errors, "reason", reason, REASON_MAX)
    note = check_text(errors, "note", note, NOTE_MAX, required=False)
    if errors:
        raise InvalidInput("The decision cannot be recorded", errors)
    new, allowed = ACTIONS[action]
    if district is not None:
        await issuance.get_certificate(serial, district)
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        cert = await Certificate.filter(serial=serial).using_db(tx).select_for_update().first()
        if cert is None:
            raise NotFound(f"No certificate {serial}")
        if cert.status not in allowed:
            raise Conflict(f"{serial} is {cert.status.value}: it cannot be {new.value} now")
        await change_status(tx, cert, new, reason, at=now, actor=str(actor), note=note)
    return cert
