"""A merchant's request to correct an entry of its public complaint record (申请更正): with a
reason and its evidence, decided by an official within the policy's deadline. While it is
pending the record says so ("更正中"); an accepted one takes the entry out of the published
figures (the intake record itself is kept as it came); every step is audited."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from scoring.credit.models import Complaint
from service.kernel.models import Merchant


class CorrectionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class ComplaintCorrection(Model):
    id = fields.IntField(primary_key=True)
    complaint: fields.ForeignKeyRelation[Complaint] = fields.ForeignKeyField(
        "models.Complaint", related_name="corrections", on_delete=fields.RESTRICT
    )
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="complaint_corrections", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(CorrectionStatus, max_length=16)
    reason = fields.TextField()
    evidence = fields.TextField()  # what shows the entry is wrong: documents named, facts
    requested_at = fields.DatetimeField()
    requested_by = fields.CharField(max_length=100)
    due = fields.DateField()  # Asia/Shanghai: the last day officials have to decide
    decided_at = fields.DatetimeField(null=True)
    decided_by = fields.CharField(max_length=100, null=True)
    decision_note = fields.TextField(default="")

    complaint_id: int
    merchant_id: int

    class Meta:
        table = "complaint_correction"
        indexes = (("merchant_id", "status"), ("complaint_id", "status"), ("status", "due"))


class ComplaintCorrectionFile(Model):
    """A file of evidence for a correction request, kept under the data directory by its
    content's hash (service.kernel.uploads: sniffed, capped, cleaned of camera metadata)."""

    id = fields.IntField(primary_key=True)
    correction: fields.ForeignKeyRelation[ComplaintCorrection] = fields.ForeignKeyField(
        "models.ComplaintCorrection", related_name="files", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=200)
    media_type = fields.CharField(max_length=32)
    size = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    uploaded_at = fields.DatetimeField()

    correction_id: int

    class Meta:
        table = "complaint_correction_file"
