"""Issuing certificates to eligible subjects, and reading a certificate's status at any time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from certificates import eligibility, status_lists
from certificates.models import Certificate, Status, StatusChange
from certificates.policy import Evaluation, Kind, Policy
from certificates.serials import KIND_CODES, make_serial, sequence_of
from scoring.credit.rules import Rules
from service.kernel import audit, outbox, scope
from service.kernel.audit import Actor
from service.kernel.errors import Conflict, FangxinError, FieldError, InvalidInput, NotFound
from service.kernel.models import Area

SERIAL_LOCK_KEY = 0x46584345  # "FXCE": one issuer numbers certificates at a time
HELD = (Status.ACTIVE, Status.SUSPENDED)


class NotEligible(FangxinError):
    status = 422
    title = "Not eligible"


def add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=moment.year + years, day=28)


def failing_errors(evaluation: Evaluation, field: str = "") -> list[FieldError]:
    prefix = f"{field}." if field else ""
    return [
        FieldError(
            f"{prefix}{c.key}", f"{'none' if c.value is None else c.value} (needs {c.requirement})"
        )
        for c in evaluation.failing
    ]


async def _lock_serials(conn: BaseDBAsyncClient) -> None:
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [SERIAL_LOCK_KEY])
    else:  # a write that changes nothing takes SQLite's write lock now
        await conn.execute_query("DELETE FROM certificate WHERE 0")


async def _next_sequence(conn: BaseDBAsyncClient, prefix: str, year: int, kind: Kind) -> int:
    start = f"{prefix}-{year:04d}-{KIND_CODES[kind]}-"
    serials = (
        await Certificate.filter(serial__startswith=start)
        .using_db(conn)
        .values_list("serial", flat=True)
    )
    return max((sequence_of(str(s)) for s in serials), default=0) + 1


@dataclass(frozen=True, slots=True)
class Request:
    kind: Kind
    subject: str  # a USCC or an area code


# Checks a package above this one adds before anything is issued (creation: a subject whose
# public notice is under way or was objected to cannot be issued directly, or the notice
# could be bypassed). Each gets the issuing transaction and answers, for each subject it
# refuses, why.
IssueGate = Callable[[BaseDBAsyncClient, Sequence[Request], datetime], Awaitable[dict[str, str]]]
_gates: list[IssueGate] = []


def add_gate(gate: IssueGate) -> None:
    """Consult ``gate`` before every issue (once, however often it is added)."""
    if gate not in _gates:
        _gates.append(gate)


async def _refused_by_gates(
    conn: BaseDBAsyncClient, requests: Sequence[Request], now: datetime
) -> list[FieldError | None]:
    """For each request, why a gate holds it back, or None."""
    refused: dict[str, str] = {}
    for gate in _gates:
        refused |= await gate(conn, requests, now)
    single = len(requests) == 1
    return [
        FieldError("subject" if single else f"subjects[{i}].subject", refused[r.subject])
        if r.subject in refused
        else None
        for i, r in enumerate(requests)
    ]


async def issue(
    requests: Sequence[Request],
    *,
    actor: Actor,
    policy: Policy,
    credit_rules: Rules,
    now: datetime | None = None,
    is_demo: bool = False,
    district: Area | None = None,
) -> list[Certificate]:
    """Certificates for eligible subjects, all or none: an ineligible subject is refused with
    the criteria it fails, a subject already holding one with its serial. ``district``: issued
    by its official, to whom a subject elsewhere is no subject at all."""
    now = now or datetime.now(UTC)
    facts = await eligibility.gather(credit_rules, now)
    found = {(e.kind, e.code): e for e in eligibility.evaluate(facts, policy, now)}
    for r in requests:
        if not await scope.holds(district, r.kind.value, r.subject):
            found.pop((r.kind, r.subject), None)
    single = len(requests) == 1
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        await _lock_serials(tx)
        held = {
            (c.kind, c.subject_code): c.serial
            for c in await Certificate.filter(
                subject_code__in=[r.subject for r in requests], status__in=HELD
            ).using_db(tx)
        }
        # Only subjects the caller may see: another district's is missing, not held back.
        gated = [
            e
            for e, r in zip(await _refused_by_gates(tx, requests, now), requests, strict=True)
            if e is not None and (r.kind, r.subject) in found
        ]
        if gated:
            raise Conflict("Not issued while a public notice is open or objected to", gated)
        errors: list[FieldError] = []
        evaluations: list[Evaluation] = []
        for i, r in enumerate(requests):
            field = "" if single else f"subjects[{i}]"
            e = found.get((r.kind, r.subject))
            if e is None:
                if single:
                    raise NotFound(f"No {r.kind.value} {r.subject} to certify")
                errors.append(FieldError(f"{field}.subject", f"no {r.kind.value} {r.subject}"))
            elif (r.kind, r.subject) in held:
                if single:
                    raise Conflict(f"{r.subject} already holds {held[(r.kind, r.subject)]}")
                errors.append(
                    FieldError(f"{field}.subject", f"already holds {held[(r.kind, r.subject)]}")
                )
            elif not e.eligible:
                errors.extend(failing_errors(e, field))
            else:
                evaluations.append(e)
        if errors:
            if single:
                raise NotEligible(f"{requests[0].subject} does not meet the policy", errors)
            raise InvalidInput("Some subjects cannot be certified; none was", errors)
        issued = []
        sequences: dict[Kind, int] = {}
        for e in evaluations:
            if e.kind not in sequences:
                sequences[e.kind] = await _next_sequence(tx, policy.serial_prefix, now.year, e.kind)
            serial = make_serial(policy.serial_prefix, now.year, e.kind, sequences[e.kind])
            sequences[e.kind] += 1
            cert = await Certificate.create(
                using_db=tx,
                serial=serial,
                kind=e.kind,
                subject_code=e.code,
                subject_name=e.name,
                policy_version=policy.version,
                score_run_id=facts.run.id if facts.run else None,
                basis={c.key: c.value for c in e.criteria},
                issued_by=str(actor),
                issued_at=now,
                valid_from=now,
                valid_until=add_years(now, policy.validity_years),
                status=Status.ACTIVE,
                status_changed_at=now,
                is_demo=is_demo,
                status_index=await status_lists.allocate(tx),
            )
            await StatusChange.create(
                using_db=tx,
                certificate=cert,
                at=now,
                old_status=None,
                new_status=Status.ACTIVE,
                reason="issued",
                actor=str(actor),
                evidence={"criteria": cert.basis, "score_run": cert.score_run_id},
            )
            await outbox.enqueue(
                tx,
                "certificate.issued",
                {
                    "serial": cert.serial,
                    "kind": cert.kind.value,
                    "subject": cert.subject_code,
                    "valid_until": cert.valid_until.isoformat(),
                },
                now=now,
            )
            issued.append(cert)
        await audit.record(
            tx,
            actor,
            "certificate.issued",
            issued[0].serial if len(issued) == 1 else f"{len(issued)} certificates",
            {
                "count": len(issued),
                "policy": policy.version,
                "serials": [c.serial for c in issued],
            },
        )
    return issued


async def holders(kind: Kind) -> set[str]:
    """Subjects of a kind that hold a certificate now (active or on hold)."""
    return {
        str(code)
        for code in await Certificate.filter(kind=kind, status__in=HELD).values_list(
            "subject_code", flat=True
        )
    }


@dataclass(frozen=True, slots=True)
class StatusAt:
    status: Status
    reason: str | None
    changed_at: datetime


async def status_at(cert: Certificate, at: datetime | None = None) -> StatusAt:
    """The status now, or at a past moment from the recorded changes (expiry applies by
    date: a certificate past its validity is expired whatever it was)."""
    if at is None:
        current = StatusAt(cert.status, cert.status_reason, cert.status_changed_at)
        moment = datetime.now(UTC)
    else:
        change = (
            await StatusChange.filter(certificate_id=cert.id, at__lte=at)
            .order_by("-at", "-id")
            .first()
        )
        if change is None:
            raise NotFound(f"{cert.serial} was not issued yet at {at.isoformat()}")
        current = StatusAt(
            change.new_status, None if change.reason == "issued" else change.reason, change.at
        )
        moment = at
    if current.status in HELD and moment >= cert.valid_until:
        return StatusAt(Status.EXPIRED, "validity_ended", cert.valid_until)
    return current


async def get_certificate(serial: str, district: Area | None = None) -> Certificate:
    """The certificate, or NotFound; ``district``: one whose subject lies elsewhere is missing
    to that district's official."""
    cert = await Certificate.get_or_none(serial=serial)
    if cert is None or not await scope.holds(district, cert.kind.value, cert.subject_code):
        raise NotFound(f"No certificate {serial}")
    return cert


def subjects_within(district: Area | None, via: str = "") -> Q:
    """A filter for certificates whose subject lies in the district (all, for the city);
    ``via``: the path to the certificate from the rows filtered (``certificate__``)."""
    return scope.targets(district, code=f"{via}subject_code", kind=f"{via}kind")
