"""Applying for a certificate, inspecting, deciding and issuing: one function each for the
API, the pages, the CLI and the tests.

Who may see an application: its applicant (the merchant's own account, or the account that
manages the street or scenic spot), and officials — a district's official only those of its
district. Anything else answers as missing, as everywhere in Fangxin.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from certificates import documents, issuance
from certificates.applications import inspections, materials, transitions
from certificates.applications.models import (
    Application,
    ApplicationEvent,
    ApplicationStatus,
    Inspection,
    InspectionKind,
    Material,
    Objection,
    ObjectionOutcome,
)
from certificates.applications.schemas import (
    ApplicationDecisionIn,
    ApplicationOut,
    ApplicationPage,
    ApplicationSummary,
    ChecklistItemOut,
    InspectionIn,
    InspectionOut,
    MaterialOut,
    ObjectionOut,
    StepOut,
    SubjectOut,
)
from certificates.models import Certificate, Status
from certificates.policy import Kind, Policy
from scoring.credit.rules import Rules
from service.kernel import audit, scope
from service.kernel.accounts import Principal
from service.kernel.audit import Actor
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.models import Area, AreaKind, Merchant, Role
from service.kernel.settings import Settings
from service.kernel.uploads import row_of
from service.kernel.validation import NotText, check_text, clean_text

S = ApplicationStatus
STATEMENT_MAX = 4000
REASON_MAX = 2000
OFFICIAL_ROLES = (Role.OFFICIAL, Role.ADMIN)
# What an applicant reads on its form (and the API), in its language.
OWN_KIND = N_("This account applies for a %(kind)s certificate only")
OWN_SUBJECT = N_("This account applies for %(code)s only")
EMPTY = N_("Please fill this in")
TOO_LONG = N_("At most %(limit)d characters")
BAD_TEXT = N_("This text contains characters that are not allowed")
NO_FILES = N_("Attach at least one PDF, JPEG or PNG file")
PENDING = N_("Your application %(id)s is still open: follow it below")
STOPPED = N_(
    "Your application %(id)s was stopped by an upheld objection: you may apply again once the"
    " bureau has closed it"
)
HOLDS = N_("You already hold certificate %(serial)s")


@dataclass(frozen=True, slots=True)
class Subject:
    kind: Kind
    code: str
    name: str
    district_id: int


async def _own_subject(who: Principal) -> Subject:
    """The one subject an applicant may apply for: its merchant, or the area it manages."""
    if who.role == Role.MERCHANT and who.merchant_id is not None:
        m = await Merchant.get_or_none(id=who.merchant_id)
        if m is not None:
            return Subject(Kind.MERCHANT, m.uscc, m.name, m.district_id)
    if who.role == Role.AREA_MANAGER and who.area_id is not None:
        a = await Area.get_or_none(id=who.area_id)
        if (
            a is not None
            and a.parent_id is not None
            and a.kind
            in (
                AreaKind.STREET,
                AreaKind.SCENIC_SPOT,
            )
        ):
            return Subject(Kind(a.kind.value), a.code, a.name_zh, a.parent_id)
    raise NotFound("This account has nothing to apply for")


async def submit(
    who: Principal,
    *,
    kind: str | None,
    subject: str | None,
    statement: str,
    uploads: Sequence[materials.Upload],
    data_dir: Path,
    now: datetime | None = None,
    is_demo: bool = False,
) -> Application:
    """A new application from its applicant, with its statement and files (checked by their
    content, stored by their hash). ``kind`` and ``subject`` may be left out: an applicant
    has one subject; given, they must name it."""
    now = now or datetime.now(UTC)
    own = await _own_subject(who)
    errors: list[FieldError] = []
    if kind and kind != own.kind.value:
        errors.append(FieldError("kind", gettext(OWN_KIND) % {"kind": own.kind.value}))
    if subject and subject != own.code:
        errors.append(FieldError("subject", gettext(OWN_SUBJECT) % {"code": own.code}))
    try:
        text = clean_text(statement).strip()
    except NotText:
        text = statement.strip()
        errors.append(FieldError("statement", gettext(BAD_TEXT)))
    if not text:
        errors.append(FieldError("statement", gettext(EMPTY)))
    elif len(text) > STATEMENT_MAX:
        errors.append(FieldError("statement", gettext(TOO_LONG) % {"limit": STATEMENT_MAX}))
    files, file_errors = materials.check(list(uploads))
    errors += file_errors
    if not files and not file_errors:
        errors.append(FieldError("files", gettext(NO_FILES)))
    if errors:
        raise InvalidInput("The application is not valid", errors)
    for f in files:
        materials.store(data_dir, f)
    try:
        async with in_transaction() as tx:
            return await _create(tx, who, own, text, files, now=now, is_demo=is_demo)
    except IntegrityError:
        # A simultaneous submission for the same subject got in first: the database keeps one
        # unresolved application per subject (migration 0019), whatever the check above saw.
        pending = await _unresolved(own)
        if pending is None:
            raise
        raise _still_pending(pending) from None


async def _unresolved(own: Subject, conn: BaseDBAsyncClient | None = None) -> Application | None:
    """The subject's unresolved application (at most one), if any."""
    return (
        await Application.filter(
            kind=own.kind.value, subject_code=own.code, status__in=transitions.UNRESOLVED
        )
        .using_db(conn)
        .order_by("id")
        .first()
    )


def _still_pending(pending: Application) -> Conflict:
    message = STOPPED if pending.status == S.BLOCKED else PENDING
    return Conflict(gettext(message) % {"id": pending.id})


async def _create(
    tx: BaseDBAsyncClient,
    who: Principal,
    own: Subject,
    text: str,
    files: Sequence[materials.CheckedFile],
    *,
    now: datetime,
    is_demo: bool,
) -> Application:
    """The application, its materials, its first timeline step and audit event, in ``tx``;
    a Conflict if the subject has an unresolved application or holds a certificate."""
    pending = await _unresolved(own, tx)
    if pending is not None:
        raise _still_pending(pending)
    held = (
        await Certificate.filter(kind=own.kind, subject_code=own.code, status__in=issuance.HELD)
        .using_db(tx)
        .first()
    )
    if held is not None:
        raise Conflict(gettext(HOLDS) % {"serial": held.serial})
    application = await Application.create(
        using_db=tx,
        kind=own.kind.value,
        subject_code=own.code,
        subject_name=own.name,
        district_id=own.district_id,
        applicant_id=who.account_id,
        applicant_name=who.name,
        statement=text,
        status=S.SUBMITTED,
        submitted_at=now,
        is_demo=is_demo,
    )
    for f in files:
        await Material.create(
            using_db=tx,
            application=application,
            **row_of(f, now),
        )
    await ApplicationEvent.create(
        using_db=tx,
        application=application,
        at=now,
        old_status=None,
        new_status=S.SUBMITTED,
        actor=str(who.actor),
        reason="",
    )
    await audit.record(
        tx,
        who.actor,
        "application.submitted",
        f"application:{application.id}",
        {
            "kind": own.kind.value,
            "subject": own.code,
            "materials": [f.sha256 for f in files],
        },
    )
    return application


# --- who sees what ---------------------------------------------------------------------------


async def visible(who: Principal) -> tuple[Area | None, Subject | None]:
    """(district, None) for an official: the district it is confined to (None: the city);
    (None, subject) for an applicant: the one subject whose applications it sees."""
    if who.role in OFFICIAL_ROLES:
        return await scope.district_of(who), None
    return None, await _own_subject(who)


async def get_for(application_id: int, who: Principal) -> Application:
    """The application if this caller may see it, else NotFound."""
    application = await Application.get_or_none(id=application_id)
    missing = NotFound(f"No application {application_id}")
    if application is None:
        raise missing
    if who.role in OFFICIAL_ROLES:
        district = await scope.district_of(who)
        if district is not None and application.district_id != district.id:
            raise missing
        return application
    if who.role in (Role.MERCHANT, Role.AREA_MANAGER):
        own = await _own_subject(who)
        if (application.kind, application.subject_code) == (own.kind.value, own.code):
            return application
    raise missing


async def listing(
    who: Principal, *, status: str | None = None, page: int = 1, page_size: int = 50
) -> ApplicationPage:
    district, own = await visible(who)
    qs = Application.all()
    if own is not None:
        qs = qs.filter(kind=own.kind.value, subject_code=own.code)
    elif district is not None:
        qs = qs.filter(district_id=district.id)
    if status:
        try:
            qs = qs.filter(status=ApplicationStatus(status))
        except ValueError:
            choices = ", ".join(s.value for s in ApplicationStatus)
            raise InvalidInput(
                "Unknown status", [FieldError("status", f"must be one of {choices}")]
            ) from None
    total = await qs.count()
    rows = await qs.order_by("-submitted_at", "-id").offset((page - 1) * page_size).limit(page_size)
    return ApplicationPage([summary(a) for a in rows], total, page, page_size)


def summary(a: Application) -> ApplicationSummary:
    return ApplicationSummary(
        a.id,
        SubjectOut(a.kind, a.subject_code, a.subject_name),
        a.status.value,
        a.submitted_at,
        a.notice_ends_at,
    )


def objection_out(o: Objection, *, with_contact: bool = False) -> ObjectionOut:
    return ObjectionOut(
        id=o.id,
        text=o.text,
        lodged_at=o.lodged_at,
        outcome=o.outcome.value if o.outcome else None,
        reply=o.reply,
        answered_at=o.answered_at,
        contact=(o.contact or None) if with_contact else None,
    )


async def out(a: Application, who: Principal | None = None) -> ApplicationOut:
    official = who is not None and who.role in OFFICIAL_ROLES
    mats = await Material.filter(application_id=a.id).order_by("id")
    steps = await ApplicationEvent.filter(application_id=a.id).order_by("at", "id")
    checks = await Inspection.filter(application_id=a.id).order_by("visited_at", "id")
    objections = await Objection.filter(application_id=a.id).order_by("lodged_at", "id")
    return ApplicationOut(
        id=a.id,
        subject=SubjectOut(a.kind, a.subject_code, a.subject_name),
        status=a.status.value,
        applicant=a.applicant_name,
        statement=a.statement,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
        decision_reason=a.decision_reason,
        notice_starts_at=a.notice_starts_at,
        notice_ends_at=a.notice_ends_at,
        certificate_serial=a.certificate_serial,
        materials=[
            MaterialOut(m.id, m.filename, m.media_type, m.size, m.sha256, m.uploaded_at)
            for m in mats
        ],
        timeline=[
            StepOut(
                s.at,
                s.old_status.value if s.old_status else None,
                s.new_status.value,
                s.actor,
                s.reason,
            )
            for s in steps
        ],
        inspections=[inspection_out(i) for i in checks],
        objections=[objection_out(o, with_contact=official) for o in objections],
    )


def inspection_out(i: Inspection) -> InspectionOut:
    raw = i.checklist.get("items") if isinstance(i.checklist, dict) else None
    items: list[object] = raw if isinstance(raw, list) else []
    return InspectionOut(
        id=i.id,
        kind=i.kind.value,
        visited_at=i.visited_at,
        checklist=[
            ChecklistItemOut(str(e["item"]), bool(e["passed"]), str(e.get("note", "")))
            for e in items
            if isinstance(e, dict)
        ],
        passed=i.passed,
        note=i.note,
        recorded_by=i.recorded_by,
        recorded_at=i.recorded_at,
    )


async def material_for(application_id: int, material_id: int, who: Principal) -> Material:
    await get_for(application_id, who)
    m = await Material.get_or_none(id=material_id, application_id=application_id)
    if m is None:
        raise NotFound(f"No material {material_id}")
    return m


# --- officials' steps ------------------------------------------------------------------------


async def record_inspection(
    application_id: int, data: InspectionIn, *, who: Principal, now: datetime | None = None
) -> Inspection:
    """An inspection, materials check or mystery-shopping visit, with every checklist item;
    the first one puts a submitted application under review."""
    now = now or datetime.now(UTC)
    application = await get_for(application_id, who)
    visited, items, note, errors = inspections.check(data, now)
    if errors:
        raise InvalidInput("The inspection is not valid", errors)
    async with in_transaction() as tx:
        application = (
            await Application.filter(id=application.id).using_db(tx).select_for_update().get()
        )
        if application.status not in (S.SUBMITTED, S.UNDER_REVIEW):
            raise Conflict(f"Application {application.id} is {application.status.value}: decided")
        inspection = await Inspection.create(
            using_db=tx,
            application=application,
            kind=InspectionKind(data.kind),
            visited_at=visited,
            checklist={
                "items": [{"item": c.item, "passed": c.passed, "note": c.note} for c in items]
            },
            passed=data.passed,
            note=note,
            recorded_by=str(who.actor),
            recorded_at=now,
        )
        await audit.record(
            tx,
            who.actor,
            "application.inspected",
            f"application:{application.id}",
            {
                "inspection": inspection.id,
                "kind": data.kind,
                "passed": data.passed,
                "failed_items": [c.item for c in items if not c.passed],
            },
        )
        if application.status == S.SUBMITTED:
            await transitions.move(
                tx, application, S.UNDER_REVIEW, actor=who.actor, reason="", now=now
            )
    return inspection


def notice_window(start: datetime, policy: Policy) -> tuple[datetime, datetime]:
    return start, start + timedelta(days=policy.notice_days)


async def decide(
    application_id: int,
    data: ApplicationDecisionIn,
    *,
    who: Principal,
    policy: Policy,
    now: datetime | None = None,
) -> Application:
    """Approve (the public notice starts at once, for the policy's days) or refuse, with a
    reason. Approval needs an inspection on record whose result was a pass, the latest."""
    now = now or datetime.now(UTC)
    application = await get_for(application_id, who)
    errors: list[FieldError] = []
    if data.decision not in ("approve", "refuse"):
        errors.append(FieldError("decision", "must be approve or refuse"))
    reason = check_text(errors, "reason", data.reason, REASON_MAX)
    if errors:
        raise InvalidInput("The decision is not valid", errors)
    async with in_transaction() as tx:
        application = (
            await Application.filter(id=application.id).using_db(tx).select_for_update().get()
        )
        if data.decision == "refuse":
            await transitions.move(
                tx, application, S.REFUSED, actor=who.actor, reason=reason, now=now
            )
        else:
            latest = (
                await Inspection.filter(application_id=application.id)
                .using_db(tx)
                .order_by("-visited_at", "-id")
                .first()
            )
            if application.status == S.SUBMITTED or latest is None:
                raise Conflict("Approve only after an inspection is on record")
            if not latest.passed:
                raise Conflict("The latest inspection failed: inspect again before approving")
            await transitions.move(
                tx, application, S.APPROVED, actor=who.actor, reason=reason, now=now
            )
            start, end = notice_window(now, policy)
            application.notice_starts_at, application.notice_ends_at = start, end
            await transitions.move(
                tx,
                application,
                S.IN_NOTICE,
                actor=who.actor,
                reason="",
                now=now,
                details={"notice_ends_at": end.isoformat(), "days": policy.notice_days},
            )
        application.decided_at, application.decided_by = now, str(who.actor)
        application.decision_reason = reason
        await application.save(
            using_db=tx,
            update_fields=[
                "decided_at",
                "decided_by",
                "decision_reason",
                "notice_starts_at",
                "notice_ends_at",
            ],
        )
    return application


async def why_not_issuable(application: Application, now: datetime) -> str | None:
    """Why the application cannot be issued now, or None when it can: its notice must have
    ended with every objection answered and none upheld."""
    if application.status != S.IN_NOTICE or application.notice_ends_at is None:
        return f"the application is {application.status.value}, not in notice"
    if now < application.notice_ends_at:
        return f"the public notice runs until {application.notice_ends_at.isoformat()}"
    objections = Objection.filter(application_id=application.id)
    if await objections.filter(outcome__isnull=True).exists():
        return "an objection is not answered yet"
    if await objections.filter(outcome=ObjectionOutcome.UPHELD).exists():
        return "an objection was upheld"
    return None


async def issue(
    application_id: int,
    *,
    who: Principal,
    settings: Settings,
    policy: Policy,
    credit_rules: Rules,
    now: datetime | None = None,
) -> Application:
    """Issue the certificate, through the very issuance that ``POST /api/v1/certificates``
    uses (eligibility checked there), once the notice ended without an upheld objection;
    before that a Conflict saying why."""
    now = now or datetime.now(UTC)
    application = await get_for(application_id, who)
    why = await why_not_issuable(application, now)
    if why is not None:
        raise Conflict(f"Not issued: {why}")
    # Issuing and recording it are two transactions (the PDF is signed in between): a retry
    # after the first committed finds the certificate issued since the notice ended and only
    # records it, instead of a 409 "already holds" that would leave the application in notice.
    assert application.notice_ends_at is not None  # why_not_issuable checked it
    cert = (
        await Certificate.filter(
            kind=Kind(application.kind),
            subject_code=application.subject_code,
            status=Status.ACTIVE,
            issued_at__gte=application.notice_ends_at,
        )
        .order_by("-issued_at")
        .first()
    )
    if cert is None:
        (cert,) = await documents.issue_signed(
            [issuance.Request(Kind(application.kind), application.subject_code)],
            settings=settings,
            actor=who.actor,
            policy=policy,
            credit_rules=credit_rules,
            district=await scope.district_of(who),
            is_demo=application.is_demo,
        )
    async with in_transaction() as tx:
        application = (
            await Application.filter(id=application.id).using_db(tx).select_for_update().get()
        )
        application.certificate_serial = cert.serial
        await application.save(using_db=tx, update_fields=["certificate_serial"])
        await transitions.move(
            tx,
            application,
            S.ISSUED,
            actor=who.actor,
            reason=cert.serial,
            now=now,
            details={"serial": cert.serial},
        )
    return application


async def move_notice(application_id: int, starts_at: datetime, policy: Policy) -> Application:
    """Set when an application's notice started (and so ends): for tests and demonstrations
    that cannot wait a week. Audited like every change."""
    async with in_transaction() as tx:
        application = await Application.filter(id=application_id).using_db(tx).get()
        if application.status != S.IN_NOTICE:
            raise Conflict(f"Application {application_id} is not in notice")
        application.notice_starts_at, application.notice_ends_at = notice_window(starts_at, policy)
        await application.save(using_db=tx, update_fields=["notice_starts_at", "notice_ends_at"])
        await audit.record(
            tx,
            Actor("system", "clock"),
            "application.notice_moved",
            f"application:{application_id}",
            {"starts_at": starts_at.isoformat()},
        )
    return application
