"""An application, its timeline, its materials, its inspections and the objections to its
public notice."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.kernel.models import Account, Area


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    REFUSED = "refused"
    APPROVED = "approved"
    IN_NOTICE = "in_notice"
    ISSUED = "issued"
    BLOCKED = "blocked"  # an objection to its notice was upheld


class InspectionKind(StrEnum):
    MATERIALS = "materials"  # the materials checked
    ONSITE = "onsite"  # an announced visit
    MYSTERY = "mystery_shopping"  # 暗访


class ObjectionOutcome(StrEnum):
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class Application(Model):
    """One applicant's request for a certificate of one subject (a merchant, street or scenic
    spot), from submission to issue or refusal."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # merchant, street, scenic_spot
    subject_code = fields.CharField(max_length=32, db_index=True)
    subject_name = fields.CharField(max_length=200)
    # The district the subject lies in, so that a district's official finds its own.
    district: fields.ForeignKeyRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="applications", on_delete=fields.RESTRICT
    )
    applicant: fields.ForeignKeyNullableRelation[Account] = fields.ForeignKeyField(
        "models.Account", related_name="applications", null=True, on_delete=fields.SET_NULL
    )
    applicant_name = fields.CharField(max_length=100)
    statement = fields.TextField()
    status = fields.CharEnumField(ApplicationStatus, max_length=16, db_index=True)
    submitted_at = fields.DatetimeField()
    decided_at = fields.DatetimeField(null=True)
    decided_by = fields.CharField(max_length=100, null=True)
    decision_reason = fields.TextField(null=True)
    notice_starts_at = fields.DatetimeField(null=True)
    notice_ends_at = fields.DatetimeField(null=True)
    certificate_serial = fields.CharField(max_length=40, null=True)
    is_demo = fields.BooleanField(default=False)

    district_id: int
    applicant_id: int | None

    class Meta:
        table = "cert_application"
        # Besides: a partial unique index on (kind, subject_code) where the status is not final
        # (migration 0019, raw SQL: Tortoise's partial indexes know only "=" conditions).
        indexes = (("kind", "subject_code"),)


class ApplicationEvent(Model):
    """One step of an application's timeline: the status it moved to, who moved it and why."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="events", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    old_status = fields.CharEnumField(ApplicationStatus, max_length=16, null=True)
    new_status = fields.CharEnumField(ApplicationStatus, max_length=16)
    actor = fields.CharField(max_length=100)
    reason = fields.TextField(default="")

    application_id: int

    class Meta:
        table = "cert_application_event"


class Material(Model):
    """A file the applicant sent, kept under the data directory by the hash of its content."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="materials", on_delete=fields.CASCADE
    )
    filename = fields.CharField(max_length=200)
    media_type = fields.CharField(max_length=32)
    size = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    uploaded_at = fields.DatetimeField()

    application_id: int

    class Meta:
        table = "cert_application_material"


class Inspection(Model):
    """An official's check of the materials, a visit or a mystery-shopping visit (暗访): each
    item of the fixed checklist passed or failed with a note, and an overall result."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="inspections", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(InspectionKind, max_length=20)
    visited_at = fields.DatetimeField()
    checklist: dict[str, object] = fields.JSONField()
    passed = fields.BooleanField()
    note = fields.TextField(default="")
    recorded_by = fields.CharField(max_length=100)
    recorded_at = fields.DatetimeField()

    application_id: int

    class Meta:
        table = "cert_application_inspection"


class Objection(Model):
    """An objection anyone lodged against a notice, and the official's answer. The objector is
    known only by a keyed hash of the address it came from (for the rate limit) and the
    contact it chose to give, if any."""

    id = fields.IntField(primary_key=True)
    application: fields.ForeignKeyRelation[Application] = fields.ForeignKeyField(
        "models.Application", related_name="objections", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    text_hash = fields.CharField(max_length=64, db_index=True)
    contact = fields.CharField(max_length=100, default="")
    address_hash = fields.CharField(max_length=64, null=True, db_index=True)
    lodged_at = fields.DatetimeField()
    outcome = fields.CharEnumField(ObjectionOutcome, max_length=16, null=True)
    reply = fields.TextField(null=True)
    answered_by = fields.CharField(max_length=100, null=True)
    answered_at = fields.DatetimeField(null=True)

    application_id: int

    class Meta:
        table = "cert_application_objection"
