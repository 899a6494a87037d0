"""The merchant's right to a correct record (申请更正): a merchant asks to correct an entry of
its public complaint record with a reason and evidence; an official of the city, or of the
merchant's district, accepts or refuses it with a note, within the policy's working days.
Meanwhile the record says "更正中"; accepted, the entry leaves the published figures (the
intake record is kept as it came). Each request and each decision is audited in the same
transaction as the change it describes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from scoring.credit import workdays
from scoring.credit.models import Complaint, IntakeKind
from scoring.disclosure.models import (
    ComplaintCorrection,
    ComplaintCorrectionFile,
    CorrectionStatus,
)
from scoring.disclosure.rules import Policy
from service.kernel import audit, uploads
from service.kernel.accounts import Principal
from service.kernel.audit import Actor
from service.kernel.db import serialise
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.models import Merchant, Role
from service.kernel.validation import check_text

NO_ENTRY = "No complaint of this merchant with this id"
NO_CORRECTION = "No such correction request"
FILES_DIR = "correction-files"
NO_FILES = N_("Attach at least one PDF, JPEG or PNG file")
_MB = 1024 * 1024


class Decision(StrEnum):
    ACCEPTED = "accepted"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class Request:
    complaint_id: int
    reason: str
    evidence: str


def files_store(data_dir: Path) -> uploads.FileStore:
    return uploads.FileStore(data_dir / FILES_DIR)


def _checked(
    files: Sequence[uploads.Upload], p: Policy, errors: list[FieldError], room: int
) -> list[uploads.CheckedFile]:
    kept, problems = uploads.check(
        files, field="files", max_files=room, max_bytes=p.file_max_mb * _MB, strip=True
    )
    errors += problems
    return kept


async def _keep(
    tx: BaseDBAsyncClient,
    correction: ComplaintCorrection,
    kept: Sequence[uploads.CheckedFile],
    now: datetime,
) -> None:
    for f in kept:
        await ComplaintCorrectionFile.create(
            using_db=tx, correction=correction, **uploads.row_of(f, now)
        )


async def request(
    merchant_id: int,
    data: Request,
    *,
    actor: Actor,
    p: Policy,
    now: datetime,
    files: Sequence[uploads.Upload] = (),
    data_dir: Path | None = None,
) -> ComplaintCorrection:
    """The merchant's request about one of its complaints (404 for anyone else's, 409 while
    one is pending or once one was accepted), due ``decide_days`` working days after the day
    it was made; with up to ``files_max`` files of evidence (kept under ``data_dir``)."""
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", data.reason, p.reason_max)
    evidence = check_text(errors, "evidence", data.evidence, p.evidence_max)
    kept = _checked(files, p, errors, p.files_max)
    if errors:
        raise InvalidInput("Bad correction request", errors)
    if kept:
        if data_dir is None:
            raise ValueError("files need the data directory")
        for f in kept:
            files_store(data_dir).store(f)
    async with in_transaction() as tx:
        complaint = (
            await Complaint.filter(
                id=data.complaint_id, merchant_id=merchant_id, kind=IntakeKind.COMPLAINT
            )
            .using_db(tx)
            .first()
        )
        if complaint is None:
            raise NotFound(NO_ENTRY)
        # One request at a time per entry: two at once would both see none pending.
        await serialise(tx, ComplaintCorrection, str(complaint.id))
        open_or_done = (
            await ComplaintCorrection.filter(
                complaint_id=complaint.id,
                status__in=(CorrectionStatus.PENDING, CorrectionStatus.ACCEPTED),
            )
            .using_db(tx)
            .first()
        )
        if open_or_done is not None:
            raise Conflict(
                "A correction of this entry is pending"
                if open_or_done.status == CorrectionStatus.PENDING
                else "This entry was corrected already"
            )
        due = workdays.add_working_days(workdays.local_date(now), p.decide_days)
        correction = await ComplaintCorrection.create(
            complaint_id=complaint.id,
            merchant_id=merchant_id,
            status=CorrectionStatus.PENDING,
            reason=reason,
            evidence=evidence,
            requested_at=now,
            requested_by=str(actor),
            due=due,
            using_db=tx,
        )
        await _keep(tx, correction, kept, now)
        await audit.record(
            tx,
            actor,
            "complaint_correction.request",
            f"complaint_correction:{correction.id}",
            {
                "complaint": complaint.id,
                "merchant": merchant_id,
                "due": due.isoformat(),
                "files": [f.sha256 for f in kept],
            },
        )
    return correction


async def attach(
    correction_id: int,
    files: Sequence[uploads.Upload],
    *,
    who: Principal,
    p: Policy,
    data_dir: Path,
    now: datetime,
) -> ComplaintCorrection:
    """More evidence for the merchant's own pending request, up to ``files_max`` files in
    all (409 once it is decided: what an official decided on stays what it was)."""
    if who.role != Role.MERCHANT:
        raise NotFound(NO_CORRECTION)
    await _visible(who, correction_id)
    async with in_transaction() as tx:
        correction = (
            await ComplaintCorrection.filter(id=correction_id)
            .using_db(tx)
            .select_for_update()
            .get()
        )
        if correction.status != CorrectionStatus.PENDING:
            raise Conflict("This request was decided already")
        held = (
            await ComplaintCorrectionFile.filter(correction_id=correction.id).using_db(tx).count()
        )
        errors: list[FieldError] = []
        kept = _checked(files, p, errors, max(p.files_max - held, 0))
        if not kept and not errors:
            errors.append(FieldError("files", gettext(NO_FILES)))
        if errors:
            raise InvalidInput("Bad evidence", errors)
        for f in kept:
            files_store(data_dir).store(f)
        await _keep(tx, correction, kept, now)
        await audit.record(
            tx,
            who.actor,
            "complaint_correction.files",
            f"complaint_correction:{correction.id}",
            {"files": [f.sha256 for f in kept]},
        )
    return correction


async def files_of(
    corrections: Sequence[ComplaintCorrection],
) -> dict[int, list[ComplaintCorrectionFile]]:
    """Each request's files, in the order they came."""
    found: dict[int, list[ComplaintCorrectionFile]] = {c.id: [] for c in corrections}
    rows = await ComplaintCorrectionFile.filter(correction_id__in=list(found)).order_by("id")
    for f in rows:
        found[f.correction_id].append(f)
    return found


async def file_for(correction_id: int, file_id: int, who: Principal) -> ComplaintCorrectionFile:
    """A file of a request the caller may see (a merchant its own, officials their
    district's), else NotFound."""
    correction = await _visible(who, correction_id)
    f = await ComplaintCorrectionFile.get_or_none(id=file_id, correction_id=correction.id)
    if f is None:
        raise NotFound(f"No file {file_id}")
    return f


def _scoped(query: QuerySet[ComplaintCorrection], who: Principal) -> QuerySet[ComplaintCorrection]:
    if who.role == Role.MERCHANT:
        return query.filter(merchant_id=who.merchant_id or 0)  # no merchant: nothing
    if who.district_id is not None:
        return query.filter(merchant__district_id=who.district_id)
    return query


async def _visible(who: Principal, correction_id: int) -> ComplaintCorrection:
    """The request as this caller may see it: a merchant its own, a district official its
    district's merchants', a city official any; anything else is not found."""
    found = await _scoped(ComplaintCorrection.filter(id=correction_id), who).first()
    if found is None:
        raise NotFound(NO_CORRECTION)
    return found


async def decide(
    correction_id: int,
    decision: Decision,
    note: str,
    *,
    who: Principal,
    p: Policy,
    now: datetime,
) -> ComplaintCorrection:
    """An official accepts or refuses a pending request, saying why (409 once decided)."""
    errors: list[FieldError] = []
    note = check_text(errors, "note", note, p.reason_max)
    if errors:
        raise InvalidInput("Bad decision", errors)
    await _visible(who, correction_id)
    async with in_transaction() as tx:
        correction = (
            await ComplaintCorrection.filter(id=correction_id)
            .using_db(tx)
            .select_for_update()
            .get()
        )
        if correction.status != CorrectionStatus.PENDING:
            raise Conflict("This request was decided already")
        correction.status = CorrectionStatus(decision.value)
        correction.decided_at = now
        correction.decided_by = str(who.actor)
        correction.decision_note = note
        await correction.save(using_db=tx)
        await audit.record(
            tx,
            who.actor,
            "complaint_correction.decide",
            f"complaint_correction:{correction.id}",
            {
                "decision": decision.value,
                "complaint": correction.complaint_id,
                "merchant": correction.merchant_id,
                "late": workdays.local_date(now) > correction.due,
            },
        )
    return correction


async def listing(
    who: Principal, status: CorrectionStatus | None = None
) -> list[ComplaintCorrection]:
    """The requests this caller may see, oldest due first."""
    query = _scoped(ComplaintCorrection.all(), who)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("due", "id")


async def merchant_of(correction: ComplaintCorrection) -> Merchant:
    return await Merchant.get(id=correction.merchant_id)
