"""Wire shapes of certificates (names as in design.md)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import msgspec

from certificates.models import Status
from certificates.policy import Kind
from service.kernel.validation import Text


class Subject(msgspec.Struct):
    kind: Kind
    code: str
    name: str


class CertificateOut(msgspec.Struct):
    serial: str
    kind: Kind
    subject: Subject
    status: Status
    reason: str | None
    status_changed_at: datetime
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    pdf_sha256: str | None
    policy_version: str
    is_demo: bool


class IssueIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Kind
    subject: str  # a USCC or an area code


class StatusEntry(msgspec.Struct):
    serial: str
    status: Status
    reason: str | None
    changed_at: datetime


class StatusList(msgspec.Struct):
    generated_at: datetime
    certificates: list[StatusEntry]


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text  # a reason code, e.g. "false_advertising"
    note: Text = ""


class Verdict(StrEnum):
    GENUINE = "genuine"  # our key, intact, covering the whole file, matching our register
    ALTERED = "altered"  # ours, but changed or extended after signing: not to be trusted
    DAMAGED = "damaged"  # a signature that cannot be read or does not verify under any key
    NOT_OURS = "not_ours"  # a signature that holds, but under another key than ours
    UNSIGNED = "unsigned"
    NOT_A_PDF = "not_a_pdf"


class PdfCheck(msgspec.Struct):
    serial: str | None  # the certificate this file is, vouched for only when genuine
    signature_valid: bool  # signed, the signature holds, and the signed bytes are unchanged
    issued_by_us: bool  # signed with our issuing key
    unaltered: bool  # nothing changed or added since we signed it: our signature covers the file
    matches_register: bool  # the signed data says what our register says of that certificate
    status: Status | None  # that certificate's live status, only when genuine
    verdict: Verdict
    signed_serial: str | None  # the certificate our intact signed part names
    detail: str  # the verdict in a sentence

    def __post_init__(self) -> None:
        # The one rule no code path may break: "genuine" only beside every check passed.
        vouched = (self.signature_valid, self.issued_by_us, self.unaltered, self.matches_register)
        if self.verdict == Verdict.GENUINE and not all(vouched):
            raise ValueError("a genuine verdict beside a failed check")
        if self.verdict != Verdict.GENUINE and (self.serial is not None or self.status is not None):
            raise ValueError("a serial or status vouched for beside a verdict that is not genuine")


class ReplyIn(msgspec.Struct, forbid_unknown_fields=True):
    text: Text


class ReplyDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: str  # upheld or dismissed
    note: Text


class ReplyOut(msgspec.Struct):
    id: int
    serial: str
    text: str
    submitted_at: datetime
    decision: str | None
    decision_note: str
    decided_at: datetime | None


class ReviewIn(msgspec.Struct, forbid_unknown_fields=True):
    year: int  # the year reviewed (后评价), e.g. 2025


class ExcludeIn(msgspec.Struct, forbid_unknown_fields=True):
    note: Text  # why this proposed withdrawal is not made


class ReviewItemOut(msgspec.Struct):
    id: int
    section: str  # retained, withdrawn, entered, exited, improved
    serial: str
    kind: Kind
    code: str
    name: str
    reasons: list[str]  # reason codes (withdrawn, exited)
    detail: dict[str, object]  # failing criteria (withdrawn), scores (improved)
    at: datetime | None  # when it entered or exited
    excluded: bool
    excluded_note: str


class ReviewOut(msgspec.Struct):
    year: int
    status: str  # draft, confirmed
    policy_version: str
    improved_by: float
    built_at: datetime
    built_by: str
    confirmed_at: datetime | None
    confirmed_by: str | None
    counts: dict[str, int]  # items per section (withdrawals excluded not counted)
    items: list[ReviewItemOut]


class ListEntry(msgspec.Struct):
    # red (红榜: entered, improved), black (黑榜: withdrawn, revoked during the year) or none
    # (expired during the year: no blame)
    board: str
    section: str
    serial: str
    kind: Kind
    code: str
    name: str
    reasons: list[str]
    reasons_text: str  # the reasons in the reader's language
    at: datetime | None
    score_before: float | None
    score_after: float | None


class PublicList(msgspec.Struct):
    year: int
    confirmed_at: datetime
    items: list[ListEntry]
