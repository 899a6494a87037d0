"""Certificates and every change of their status."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model

from certificates.policy import Kind


class Status(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"  # on hold, reversible: an area whose criteria failed, in grace
    REVOKED = "revoked"  # final: re-earning means a new serial
    EXPIRED = "expired"


class Certificate(Model):
    """One certificate: what it certifies, on what evidence, and its status now."""

    id = fields.IntField(primary_key=True)
    serial = fields.CharField(max_length=32, unique=True)
    kind = fields.CharEnumField(Kind, max_length=16)
    subject_code = fields.CharField(max_length=32, db_index=True)  # a USCC or an area code
    subject_name = fields.CharField(max_length=200)
    policy_version = fields.CharField(max_length=32)
    score_run_id = fields.IntField(null=True)
    basis: dict[str, object] = fields.JSONField(default=dict)  # the criteria at issue
    issued_by = fields.CharField(max_length=100)
    issued_at = fields.DatetimeField()
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField()
    status = fields.CharEnumField(Status, max_length=16, default=Status.ACTIVE)
    status_reason = fields.CharField(max_length=64, null=True)
    status_changed_at = fields.DatetimeField()
    grace_until = fields.DatetimeField(null=True)  # a suspended area is revoked after this
    pdf_sha256 = fields.CharField(max_length=64, null=True)
    is_demo = fields.BooleanField(default=False)
    # Its bit in the published status lists (certificates/status_lists.py): fixed at issue.
    status_index = fields.IntField(unique=True)

    class Meta:
        table = "certificate"
        indexes = (("kind", "status"),)

    async def save(
        self,
        using_db: BaseDBAsyncClient | None = None,
        update_fields: Iterable[str] | None = None,
        force_create: bool = False,
        force_update: bool = False,
    ) -> None:
        # issuance.issue() allocates under its serial lock; anything else creating a
        # certificate (fixtures, benchmarks, imports) gets an unused index here.
        if not self._saved_in_db and getattr(self, "status_index", None) is None:
            from certificates import status_lists

            self.status_index = await status_lists.allocate(using_db or self._choose_db(True))
        await super().save(using_db, update_fields, force_create, force_update)


class StatusChange(Model):
    """Every change of a status, with who or what caused it and the evidence."""

    id = fields.BigIntField(primary_key=True)
    certificate: fields.ForeignKeyRelation[Certificate] = fields.ForeignKeyField(
        "models.Certificate", related_name="changes", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    old_status = fields.CharEnumField(Status, max_length=16, null=True)
    new_status = fields.CharEnumField(Status, max_length=16)
    reason = fields.CharField(max_length=64)
    note = fields.TextField(default="")
    actor = fields.CharField(max_length=100)
    evidence: dict[str, object] = fields.JSONField(default=dict)

    certificate_id: int

    class Meta:
        table = "certificate_status_change"
        indexes = (("certificate_id", "at"),)


class Decision(StrEnum):
    UPHELD = "upheld"  # the holder is right: the certificate stands again
    DISMISSED = "dismissed"


class Reply(Model):
    """A holder's reply to a revocation or suspension (an appeal), and the official decision.
    Both are shown on the verify page beside the status they answer."""

    id = fields.IntField(primary_key=True)
    certificate: fields.ForeignKeyRelation[Certificate] = fields.ForeignKeyField(
        "models.Certificate", related_name="replies", on_delete=fields.CASCADE
    )
    change: fields.ForeignKeyRelation[StatusChange] = fields.ForeignKeyField(
        "models.StatusChange", related_name="replies", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    submitted_by = fields.CharField(max_length=100)
    submitted_at = fields.DatetimeField()
    decision = fields.CharEnumField(Decision, max_length=16, null=True)
    decision_note = fields.TextField(default="")
    decided_by = fields.CharField(max_length=100, null=True)
    decided_at = fields.DatetimeField(null=True)

    certificate_id: int
    change_id: int

    class Meta:
        table = "certificate_reply"
        unique_together = (("change_id",),)


class ReviewStatus(StrEnum):
    DRAFT = "draft"  # officials' eyes only, rebuilt at will
    CONFIRMED = "confirmed"  # frozen and public: its withdrawals were carried out


class Section(StrEnum):
    RETAINED = "retained"
    WITHDRAWN = "withdrawn"
    ENTERED = "entered"
    EXITED = "exited"
    IMPROVED = "improved"


class YearlyReview(Model):
    """The yearly review (后评价) of one year: a draft officials check, then confirm, after
    which it is frozen and its list is public."""

    id = fields.IntField(primary_key=True)
    year = fields.IntField(unique=True)
    status = fields.CharEnumField(ReviewStatus, max_length=16, default=ReviewStatus.DRAFT)
    policy_version = fields.CharField(max_length=32)
    improved_by = fields.FloatField()  # the policy's threshold when built
    built_by = fields.CharField(max_length=100)
    built_at = fields.DatetimeField()
    confirmed_by = fields.CharField(max_length=100, null=True)
    confirmed_at = fields.DatetimeField(null=True)
    # The published runs the year's and the previous year's scores came from.
    score_run_id = fields.IntField(null=True)
    previous_run_id = fields.IntField(null=True)
    is_demo = fields.BooleanField(default=False)

    class Meta:
        table = "yearly_review"


class ReviewItem(Model):
    """One line of a review: a holder retained or withdrawn (with reason codes), a
    certificate that entered or exited during the year, or a holder that improved."""

    id = fields.IntField(primary_key=True)
    review: fields.ForeignKeyRelation[YearlyReview] = fields.ForeignKeyField(
        "models.YearlyReview", related_name="items", on_delete=fields.CASCADE
    )
    section = fields.CharEnumField(Section, max_length=16)
    serial = fields.CharField(max_length=32)
    kind = fields.CharEnumField(Kind, max_length=16)
    code = fields.CharField(max_length=32)  # the subject: a USCC or an area code
    name = fields.CharField(max_length=200)
    reasons: list[str] = fields.JSONField(default=list)  # reason codes
    detail: dict[str, object] = fields.JSONField(default=dict)  # failing criteria, scores
    at = fields.DatetimeField(null=True)  # when it entered or exited
    excluded = fields.BooleanField(default=False)  # a withdrawal officials chose not to make
    excluded_note = fields.TextField(default="")
    excluded_by = fields.CharField(max_length=100, null=True)
    excluded_at = fields.DatetimeField(null=True)

    review_id: int

    class Meta:
        table = "yearly_review_item"
        indexes = (("review_id", "section"),)
