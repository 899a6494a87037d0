"""Wire shapes of credit: event and complaint feeds, a merchant's credit (names as in design.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from service.kernel.validation import Text, Timestamp

BATCH_MAX = 5000  # items per ingest request


class CreditEventIn(msgspec.Struct, forbid_unknown_fields=True):
    uscc: str
    kind: str
    occurred_at: Timestamp
    source: Text
    external_ref: Text
    note: Text = ""
    # The regulator's A–D class, only for kind ``external_class``.
    risk_class: str | None = msgspec.field(default=None, name="class")


class CreditEventBatch(msgspec.Struct, forbid_unknown_fields=True):
    events: Annotated[list[CreditEventIn], msgspec.Meta(min_length=1, max_length=BATCH_MAX)]


class ComplaintIn(msgspec.Struct, forbid_unknown_fields=True):
    """One record of the 12315 intake. The fields after ``source`` came with issue 19; a
    payload without them is a complaint handled by the regulator, as before."""

    external_id: Text
    received_at: Timestamp
    status: str
    category: Text
    # The party: a registered merchant by USCC, or one not (yet) in the register by name
    # (and USCC when known). A consultation may name nobody.
    uscc: str | None = None
    accepted_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    amount_disputed: float = 0.0  # yuan
    amount_recovered: float = 0.0
    upheld: bool | None = None
    source: Text = "12315"
    kind: str = "complaint"  # consultation, complaint, report
    channel: str | None = None  # hotline, web, wechat, sms, qq, walk_in, letter, other
    handled_by: str = "regulator"  # consumer_association, regulator
    # The district or county handling it (an area code); default the merchant's district.
    district: str | None = None
    resolution: str | None = None
    followup: str | None = None  # the follow-up visit: satisfied, basically_satisfied, ...
    followup_at: Timestamp | None = None
    party_name: Text = ""
    party_address: Text = ""
    # The commitment broken, if any: returns, pay_first, marked_prices (issue 20).
    broken_commitment: str | None = None
    # The receipt code of the same complaint filed through Fangxin (TS-2026-7K4M9Q), when the
    # platform carries it (issue 30): the record is linked to it, never counted twice. A record
    # whose external_id is such a code is linked the same way.
    fangxin_ref: Text | None = None


class ComplaintBatch(msgspec.Struct, forbid_unknown_fields=True):
    complaints: Annotated[list[ComplaintIn], msgspec.Meta(min_length=1, max_length=BATCH_MAX)]


class VisitTallyIn(msgspec.Struct, forbid_unknown_fields=True):
    """People received in person at one desk on one day (接待来访、咨询)."""

    external_id: Text
    day: Annotated[str, msgspec.Meta(description="a local date", examples=["2026-11-02"])]
    visits: int = 0
    consultations: int = 0
    handled_by: str = "regulator"
    district: str | None = None
    source: Text = "counter"


class VisitTallyBatch(msgspec.Struct, forbid_unknown_fields=True):
    tallies: Annotated[list[VisitTallyIn], msgspec.Meta(min_length=1, max_length=BATCH_MAX)]


class SpotCheckBatchIn(msgspec.Struct, forbid_unknown_fields=True):
    batch_no: Text
    category: Text  # the product category sampled
    failed: bool = False
    case_opened: bool = False
    uscc: str | None = None
    party_name: Text = ""


class SpotCheckRoundIn(msgspec.Struct, forbid_unknown_fields=True):
    number: int
    held_on: Annotated[str, msgspec.Meta(description="a local date", examples=["2026-05-12"])]
    batches: Annotated[list[SpotCheckBatchIn], msgspec.Meta(max_length=BATCH_MAX)] = []


class SpotCheckCampaignIn(msgspec.Struct, forbid_unknown_fields=True):
    """A Red Shield campaign as it stands: resent as rounds are held, the latest wins."""

    code: Text
    name: Text
    year: int
    district: str | None = None
    rounds: Annotated[list[SpotCheckRoundIn], msgspec.Meta(max_length=100)] = []


class SpotCheckCampaignBatch(msgspec.Struct, forbid_unknown_fields=True):
    campaigns: Annotated[list[SpotCheckCampaignIn], msgspec.Meta(min_length=1, max_length=50)]


class IngestOut(msgspec.Struct, omit_defaults=True):
    received: int
    stored: int  # new records
    updated: int  # complaints whose report moved on
    unchanged: int  # already known, identical: a replay
    merchants_changed: int  # merchants whose credit score or class changed
    # Complaints filed through Fangxin: linked to it, not stored again (shown when any).
    linked: int = 0


class CreditEventOut(msgspec.Struct):
    id: int
    kind: str
    occurred_at: datetime
    source: str
    external_ref: str
    note: str
    risk_class: str | None = msgspec.field(name="class")
    points: float  # what the event weighs today
    repaired_at: datetime | None = None  # credit repair approved: it weighs nothing since


class CreditChangeOut(msgspec.Struct):
    changed_at: datetime
    old_score: float
    old_class: str
    score: float
    risk_class: str = msgspec.field(name="class")
    cause: str
    event_ids: list[int]


class CreditOut(msgspec.Struct):
    uscc: str
    score: float
    risk_class: str = msgspec.field(name="class")
    updated_at: datetime | None
    abnormal_listed: bool
    serious_listed: bool
    external_class: str | None
    rules_version: str
    history: list[CreditChangeOut]
    events: list[CreditEventOut]


# --- credit repair (scoring/credit/repair.py) -------------------------------------------------


class RepairFileOut(msgspec.Struct):
    id: int
    filename: str
    media_type: str
    size: int


class RepairEventOut(msgspec.Struct):
    id: int
    kind: str
    occurred_at: datetime
    note: str
    repaired_at: datetime | None


class RepairOut(msgspec.Struct):
    """An application for credit repair and where it stands."""

    id: int
    uscc: str
    merchant_name: str
    event: RepairEventOut
    status: str  # pending, approved, refused
    correction: str
    signatory: str
    pledge_version: str
    pledge_sha256: str
    applicant_name: str
    submitted_at: datetime
    decide_by: date  # Asia/Shanghai, working days from submission
    overdue: bool
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str
    files: list[RepairFileOut]


class RepairableOut(msgspec.Struct):
    """One of the merchant's penalties or listings in force, and when it may be repaired."""

    event: RepairEventOut
    eligible_on: date
    may_apply: bool
    why_not: str | None  # when it may not be applied for today
    pending_id: int | None
    reapply_on: date | None


class RepairDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: Text  # approve, refuse
    reason: Text
