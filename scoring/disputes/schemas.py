"""Wire shapes of complaints filed online: what each party sends, and what each sees.

Money is in fen (integers) on the way out; on the way in, amounts are yuan with at most two
decimals, as a number or its text (a form sends text)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from service.kernel.validation import Text as KernelText

Yuan = Annotated[
    float | str, msgspec.Meta(description="yuan, at most two decimals", examples=["128.50"])
]
# Refused at the door as the kernel's one text rule says; the policy's limits are checked after.
Text = Annotated[KernelText, msgspec.Meta(max_length=20_000)]


class DisputeIn(msgspec.Struct, forbid_unknown_fields=True):
    """A complaint as the consumer files it (the form's fields, or a multipart API call's)."""

    merchant: Annotated[str, msgspec.Meta(max_length=64, description="the merchant's USCC")]
    category: Annotated[str, msgspec.Meta(max_length=32)]
    description: Text
    occurred_on: Annotated[str, msgspec.Meta(max_length=32, examples=["2026-10-02"])]
    wants: Annotated[str, msgspec.Meta(max_length=32)]
    phone: Annotated[str, msgspec.Meta(max_length=64)]
    client_submission_id: Annotated[
        str, msgspec.Meta(max_length=64, description="a UUID the client makes once per complaint")
    ]
    amount: Yuan = "0"
    wants_detail: Text = ""
    consent_contact: bool = False  # to be contacted about this complaint: required
    share_contact: bool = False  # to give the number to the merchant


class OfferIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[str, msgspec.Meta(max_length=32)]  # refund, exchange, repair, explanation
    amount: Yuan = 0  # a refund's amount
    note: Text = ""


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """The consumer's rejection of an offer, or withdrawal, with an optional reason."""

    reason: Text = ""


class FollowupIn(msgspec.Struct, forbid_unknown_fields=True):
    answer: Annotated[str, msgspec.Meta(max_length=32)]  # satisfied, basically_satisfied, ...
    comment: Text = ""


class MediatorIn(msgspec.Struct, forbid_unknown_fields=True):
    # bureau, people_mediation, court_mediation, volunteer, lawyer
    mode: Annotated[str, msgspec.Meta(max_length=32)]
    mediator: Text = ""  # a volunteer's or lawyer's name: required for those


class OutcomeIn(msgspec.Struct, forbid_unknown_fields=True):
    outcome: Annotated[str, msgspec.Meta(max_length=32)]  # agreement, no_agreement
    amount_recovered: Yuan = 0
    upheld: bool | None = None
    note: Text = ""


class LeaveIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text = ""


# --- out -------------------------------------------------------------------------------------


class MerchantRef(msgspec.Struct):
    uscc: str
    name: str


class FiledOut(msgspec.Struct):
    """The receipt: the code and the tracking secret, shown once."""

    code: str
    secret: str
    tracking_path: str  # /track/{code}?k={secret}
    status: str
    merchant_due: date | None
    created: bool  # false: a retry of an earlier filing, answered as it was


class OfferOut(msgspec.Struct):
    round: int
    kind: str
    amount_fen: int
    note: str
    offered_at: datetime
    answer: str | None
    answered_at: datetime | None
    answer_note: str


class IntakeOut(msgspec.Struct):
    """The bureau's record of an escalated complaint, as its officials work it."""

    status: str
    handled_by: str
    received_at: datetime
    accept_due: date | None
    accepted_at: datetime | None
    mediation_due: date | None
    closed_at: datetime | None
    resolution: str | None
    upheld: bool | None
    overdue_since: date | None


class FileOut(msgspec.Struct):
    id: int
    filename: str
    media_type: str
    size: int


class StepOut(msgspec.Struct):
    at: datetime
    step: str
    status: str
    by: str  # consumer, merchant, official, system
    note: str
    actor: str | None = None  # who exactly: officials only


class FollowupOut(msgspec.Struct):
    answer: str
    comment: str
    answered_at: datetime


class DisputeOut(msgspec.Struct):
    """A complaint as one of its parties sees it: the consumer (with the secret), the merchant
    concerned, an official of its district. Fields for officials only are null otherwise."""

    code: str
    status: str
    merchant: MerchantRef
    category: str
    description: str
    occurred_on: date
    amount_fen: int
    wants: str
    wants_detail: str
    contact: str | None  # masked, 138****1234; null once purged
    contact_purged_at: datetime | None
    share_contact: bool
    filed_at: datetime
    merchant_due: date | None
    answer_due: date | None
    refusal_reason: str
    offer: OfferOut | None  # the latest
    offers: list[OfferOut]  # every round, oldest first
    escalated_at: datetime | None
    escalation_reason: str | None
    intake: IntakeOut | None
    mediation_mode: str | None
    mediator: str
    outcome_note: str
    closed_at: datetime | None
    resolution: str | None
    amount_recovered_fen: int
    files: list[FileOut]
    timeline: list[StepOut]
    followup: FollowupOut | None
    followup_open: bool
    flag_many: bool | None = None  # officials: the 职业索赔 pattern, a flag, never a refusal
    participating: bool | None = None
    feed_ref: str | None = None


class DisputeSummary(msgspec.Struct):
    code: str
    status: str
    merchant: MerchantRef
    category: str
    filed_at: datetime
    due: date | None  # the next deadline: the merchant's, the consumer's or the bureau's
    flag_many: bool | None = None


class DisputePage(msgspec.Struct):
    items: list[DisputeSummary]
    total: int
    page: int
    page_size: int


class ContactOut(msgspec.Struct):
    phone: str


class ParticipationOut(msgspec.Struct):
    joined_at: datetime
    left_at: datetime | None
    leave_reason: str


class OdrOut(msgspec.Struct):
    uscc: str
    participating: bool
    since: datetime | None
    history: list[ParticipationOut]


class DeadlineRun(msgspec.Struct):
    reminded: int
    escalated: int
