"""Credit records: 12315 complaints, credit events, each merchant's standing and its history."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.models import Merchant


class ComplaintStatus(StrEnum):
    RECEIVED = "received"  # registered, not yet accepted or rejected
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    MEDIATING = "mediating"
    CLOSED = "closed"  # mediation reached an outcome
    TERMINATED = "terminated"  # mediation ended without agreement


FINAL_STATUSES = frozenset(
    {ComplaintStatus.REJECTED, ComplaintStatus.CLOSED, ComplaintStatus.TERMINATED}
)


class Complaint(Model):
    """A complaint as the 12315 platform reports it. A feed resends a complaint as it moves
    on, so the latest report wins, keyed by (source, external id). Money is kept in fen."""

    id = fields.BigIntField(primary_key=True)
    source = fields.CharField(max_length=64)
    external_id = fields.CharField(max_length=128)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="complaints", on_delete=fields.RESTRICT
    )
    received_at = fields.DatetimeField()
    accepted_at = fields.DatetimeField(null=True)
    closed_at = fields.DatetimeField(null=True)
    status = fields.CharEnumField(ComplaintStatus, max_length=16)
    category = fields.CharField(max_length=32)
    amount_disputed_fen = fields.BigIntField(default=0)
    amount_recovered_fen = fields.BigIntField(default=0)
    upheld = fields.BooleanField(null=True)
    # Working-day deadlines (Asia/Shanghai dates), kept so figures need no calendar.
    accept_due = fields.DateField()
    mediation_due = fields.DateField(null=True)
    overdue_since = fields.DateField(null=True)
    recorded_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    merchant_id: int

    class Meta:
        table = "complaint"
        unique_together = (("source", "external_id"),)
        indexes = (("received_at",), ("merchant_id", "received_at"))


class CreditEvent(Model):
    """One fact that moves the credit of a merchant. Facts do not change: a resend with the same
    (source, external ref) is a no-op."""

    id = fields.BigIntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="credit_events", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)
    occurred_at = fields.DatetimeField()
    source = fields.CharField(max_length=64)
    external_ref = fields.CharField(max_length=128)
    note = fields.TextField(default="")
    risk_class = fields.CharField(max_length=1, null=True)  # external_class only
    recorded_at = fields.DatetimeField(auto_now_add=True)

    merchant_id: int

    class Meta:
        table = "credit_event"
        unique_together = (("source", "external_ref"),)
        indexes = (("merchant_id", "occurred_at"),)


class CreditStanding(Model):
    """The current credit of a merchant. No row means no events yet, so the starting score."""

    # Its own key: Tortoise's migration detector keeps re-altering a one-to-one primary key.
    id = fields.IntField(primary_key=True)
    merchant: fields.OneToOneRelation[Merchant] = fields.OneToOneField(
        "models.Merchant", related_name="credit", on_delete=fields.CASCADE
    )
    score = fields.FloatField()
    risk_class = fields.CharField(max_length=1)
    abnormal_listed = fields.BooleanField(default=False)
    serious_listed = fields.BooleanField(default=False)
    external_class = fields.CharField(max_length=1, null=True)
    rules_version = fields.CharField(max_length=32)
    updated_at = fields.DatetimeField()

    merchant_id: int

    class Meta:
        table = "credit_standing"
        indexes = (("risk_class",),)


class CreditChange(Model):
    """Every change of the score or class of a merchant, with the events that came with it."""

    id = fields.BigIntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="credit_changes", on_delete=fields.CASCADE
    )
    changed_at = fields.DatetimeField()
    old_score = fields.FloatField()
    old_class = fields.CharField(max_length=1)
    new_score = fields.FloatField()
    new_class = fields.CharField(max_length=1)
    cause = fields.CharField(max_length=16)  # events, recompute
    event_ids: list[int] = fields.JSONField(default=list)
    rules_version = fields.CharField(max_length=32)

    merchant_id: int

    class Meta:
        table = "credit_change"
        indexes = (("merchant_id", "changed_at"),)
