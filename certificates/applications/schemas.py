"""Wire shapes of applications, notices and objections."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from service.kernel.validation import Text, Timestamp


class ChecklistItemIn(msgspec.Struct, forbid_unknown_fields=True):
    item: str  # a key of certificates.applications.inspections.CHECKLIST
    passed: bool
    note: Annotated[Text, msgspec.Meta(max_length=500)] = ""


class InspectionIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: str  # materials, onsite, mystery_shopping
    checklist: Annotated[list[ChecklistItemIn], msgspec.Meta(max_length=50)]
    passed: bool  # the overall result
    note: Text = ""
    visited_at: Timestamp | None = None  # default: now


class ApplicationDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: str  # approve, refuse
    reason: Text


class ObjectionIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Text
    contact: Text = ""  # optional: a telephone or e-mail the objector chooses to give


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    outcome: str  # upheld, dismissed
    reply: Text


class SubjectOut(msgspec.Struct):
    kind: str
    code: str
    name: str


class MaterialOut(msgspec.Struct):
    id: int
    filename: str
    media_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class StepOut(msgspec.Struct):
    at: datetime
    old_status: str | None
    new_status: str
    actor: str
    reason: str


class ChecklistItemOut(msgspec.Struct):
    item: str
    passed: bool
    note: str


class InspectionOut(msgspec.Struct):
    id: int
    kind: str
    visited_at: datetime
    checklist: list[ChecklistItemOut]
    passed: bool
    note: str
    recorded_by: str
    recorded_at: datetime


class ObjectionOut(msgspec.Struct):
    id: int
    text: str
    lodged_at: datetime
    outcome: str | None
    reply: str | None
    answered_at: datetime | None
    contact: str | None = None  # officials only


class ApplicationOut(msgspec.Struct):
    id: int
    subject: SubjectOut
    status: str
    applicant: str
    statement: str
    submitted_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    notice_starts_at: datetime | None
    notice_ends_at: datetime | None
    certificate_serial: str | None
    materials: list[MaterialOut]
    timeline: list[StepOut]
    inspections: list[InspectionOut]
    objections: list[ObjectionOut]


class ApplicationSummary(msgspec.Struct):
    id: int
    subject: SubjectOut
    status: str
    submitted_at: datetime
    notice_ends_at: datetime | None


class ApplicationPage(msgspec.Struct):
    items: list[ApplicationSummary]
    total: int
    page: int
    page_size: int


class NoticeOut(msgspec.Struct):
    id: int  # the application's
    subject: SubjectOut
    status: str  # in_notice, issued, blocked
    notice_starts_at: datetime
    notice_ends_at: datetime
    open: bool  # objections may be lodged now
    objections: list[ObjectionOut]
