"""A consumer's complaint as filed online (a dispute), its timeline, the merchant's offer, the
evidence, the follow-up, and merchants' participation in online dispute resolution.

What is kept of the consumer (PIPL: only what the case needs): what happened, the evidence,
and a telephone number — encrypted (``contact_cipher``), a keyed hash of it for the "many
complaints from one contact" flag, and its mask for pages; all three purged after the
retention period. Addresses and devices only as keyed hashes (rate limits). The tracking
secret only as its hash.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from scoring.credit.models import Complaint, Followup, Resolution
from scoring.disputes.rules import (
    Category,
    DisputeStatus,
    EscalationReason,
    MediationMode,
    OfferAnswer,
    OfferKind,
    Step,
    Want,
)
from service.kernel.models import Area, Merchant

CODE_MAX = 16


class Dispute(Model):
    """One complaint filed online, from filing to its end. Once escalated it is worked as
    the intake record ``complaint`` (source ``fangxin``, external id = ``code``), which the
    overdue sweep, credit and the annual report read like any other."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=CODE_MAX, unique=True)  # the receipt code, TS-2026-7K4M9Q
    secret_hash = fields.CharField(max_length=64)  # SHA-256 of the tracking secret
    # The filer's idempotency key: a retried filing finds this row instead of a second one.
    idempotency_key = fields.UUIDField(unique=True, null=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="disputes", on_delete=fields.RESTRICT
    )
    # The merchant's district when filed: whose officials work it.
    district: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="disputes", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(DisputeStatus, max_length=16)
    category = fields.CharEnumField(Category, max_length=32)
    description = fields.TextField()
    occurred_on = fields.DateField()  # Asia/Shanghai
    amount_fen = fields.BigIntField(default=0)
    wants = fields.CharEnumField(Want, max_length=16)
    wants_detail = fields.CharField(max_length=200, default="")
    # The telephone: AES-GCM ciphertext bound to the code, keyed hash, mask; NULL once purged.
    contact_cipher = fields.TextField(null=True)
    contact_hash = fields.CharField(max_length=64, null=True)
    contact_masked = fields.CharField(max_length=16, null=True)
    share_contact = fields.BooleanField(default=False)  # consent to give it to the merchant
    contact_purged_at = fields.DatetimeField(null=True)
    ip_hash = fields.CharField(max_length=64, null=True)
    device_hash = fields.CharField(max_length=64, null=True)
    text_hash = fields.CharField(max_length=64)  # the normalised description, for duplicates
    flag_many = fields.BooleanField(default=False)  # 职业索赔 pattern at filing: officials see it
    participating = fields.BooleanField(default=False)  # the merchant was in ODR at filing
    filed_at = fields.DatetimeField()
    merchant_due = fields.DateField(null=True)  # while with the merchant
    answer_due = fields.DateField(null=True)  # while the consumer considers an offer
    reminded_at = fields.DatetimeField(null=True)  # the merchant's deadline reminder
    refusal_reason = fields.TextField(default="")  # the merchant's reasons, if it refused
    escalated_at = fields.DatetimeField(null=True)
    escalation_reason = fields.CharEnumField(EscalationReason, max_length=24, null=True)
    complaint: fields.OneToOneNullableRelation[Complaint] = fields.OneToOneField(
        "models.Complaint", related_name="dispute", null=True, on_delete=fields.RESTRICT
    )
    mediation_mode = fields.CharEnumField(MediationMode, max_length=24, null=True)
    mediator = fields.CharField(max_length=100, default="")
    outcome_note = fields.TextField(default="")
    closed_at = fields.DatetimeField(null=True)
    resolution = fields.CharEnumField(Resolution, max_length=24, null=True)
    amount_recovered_fen = fields.BigIntField(default=0)
    # The 12315 platform's record of this very complaint ("source:external id"), if its feed
    # sent one: linked here, never stored as a second intake record.
    feed_ref = fields.CharField(max_length=200, null=True)
    is_demo = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    merchant_id: int
    district_id: int
    complaint_id: int | None

    class Meta:
        table = "dispute"
        indexes = (
            ("merchant_id", "status"),
            ("district_id", "status"),
            ("status", "merchant_due"),
            ("contact_hash", "filed_at"),
            ("ip_hash", "filed_at"),
            ("device_hash", "filed_at"),
            ("closed_at",),
        )


async def find(code: str) -> Dispute | None:
    """The complaint with this receipt code; None for any text that cannot be one (longer
    than a code is looked up nowhere)."""
    code = code.strip().upper()
    if len(code) > CODE_MAX:
        return None
    return await Dispute.get_or_none(code=code)


class DisputeEvent(Model):
    """One step of a complaint's timeline, shown to the consumer, the merchant and officials
    (an official's name to officials only)."""

    id = fields.IntField(primary_key=True)
    dispute: fields.ForeignKeyRelation[Dispute] = fields.ForeignKeyField(
        "models.Dispute", related_name="events", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    step = fields.CharEnumField(Step, max_length=24)
    status = fields.CharEnumField(DisputeStatus, max_length=16)  # the status after the step
    actor_role = fields.CharField(max_length=16)  # consumer, merchant, official, system
    actor = fields.CharField(max_length=100)
    note = fields.TextField(default="")
    details: dict[str, object] = fields.JSONField(default=dict)

    dispute_id: int

    class Meta:
        table = "dispute_event"
        indexes = (("dispute_id", "at"),)


class DisputeOffer(Model):
    """One of the merchant's offers and the consumer's answer. Offers come in rounds, one open
    at a time: a rejected offer returns the complaint to the merchant while its deadline runs.
    (dispute, round) is unique, so of two offers sent at once the database keeps one."""

    id = fields.IntField(primary_key=True)
    dispute: fields.ForeignKeyRelation[Dispute] = fields.ForeignKeyField(
        "models.Dispute", related_name="offers", on_delete=fields.CASCADE
    )
    round = fields.IntField()  # 1, 2, ...
    kind = fields.CharEnumField(OfferKind, max_length=16)
    amount_fen = fields.BigIntField(default=0)
    note = fields.TextField(default="")
    offered_at = fields.DatetimeField()
    offered_by = fields.CharField(max_length=100)
    answer = fields.CharEnumField(OfferAnswer, max_length=16, null=True)
    answered_at = fields.DatetimeField(null=True)
    answer_note = fields.TextField(default="")

    dispute_id: int

    class Meta:
        table = "dispute_offer"
        unique_together = (("dispute", "round"),)


class DisputeFile(Model):
    """A file of evidence, kept under the data directory by the hash of its content."""

    id = fields.IntField(primary_key=True)
    dispute: fields.ForeignKeyRelation[Dispute] = fields.ForeignKeyField(
        "models.Dispute", related_name="files", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=200)
    media_type = fields.CharField(max_length=32)
    size = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    uploaded_at = fields.DatetimeField()

    dispute_id: int

    class Meta:
        table = "dispute_file"


class DisputeFollowup(Model):
    """The consumer's one follow-up answer (the database refuses a second)."""

    id = fields.IntField(primary_key=True)
    dispute: fields.OneToOneRelation[Dispute] = fields.OneToOneField(
        "models.Dispute", related_name="followup", on_delete=fields.CASCADE
    )
    answer = fields.CharEnumField(Followup, max_length=24)
    comment = fields.CharField(max_length=200, default="")
    answered_at = fields.DatetimeField()

    dispute_id: int

    class Meta:
        table = "dispute_followup"


class OdrParticipation(Model):
    """A merchant's taking part in online dispute resolution, from joining to leaving. A
    change never edits a row but ends it (``left_at``), so the history stays whole; at most
    one row of a merchant is open."""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="odr_participations", on_delete=fields.RESTRICT
    )
    joined_at = fields.DatetimeField()
    joined_by = fields.CharField(max_length=100)
    left_at = fields.DatetimeField(null=True)
    left_by = fields.CharField(max_length=100, null=True)
    leave_reason = fields.TextField(default="")

    merchant_id: int

    class Meta:
        table = "odr_participation"
        indexes = (("merchant_id", "left_at"),)
