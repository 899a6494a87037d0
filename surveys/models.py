"""Questionnaires, their immutable versions, responses, answers, flags and invitation codes."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class TargetKind(StrEnum):
    MERCHANT = "merchant"
    STREET = "street"
    SCENIC_SPOT = "scenic_spot"


class FlagKind(StrEnum):
    SPEEDER = "speeder"
    STRAIGHTLINER = "straightliner"
    DUPLICATE_DEVICE = "duplicate_device"
    BURST = "burst"
    SURGE = "surge"


class FlagStatus(StrEnum):
    RAISED = "raised"  # found by screening; excluded until an official decides
    CONFIRMED = "confirmed"  # an official agrees: stays excluded
    CLEARED = "cleared"  # an official disagrees: counts again


class Survey(Model):
    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    title_zh = fields.CharField(max_length=200)
    title_en = fields.CharField(max_length=200)
    target_kind = fields.CharEnumField(TargetKind, max_length=16)
    opens_at = fields.DatetimeField()
    closes_at = fields.DatetimeField(null=True)
    # One response per device per target within this many days.
    period_days = fields.IntField(default=30)
    is_demo = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "survey"


class SurveyVersion(Model):
    """A published version, never changed: an edit of the questions makes a new one."""

    id = fields.IntField(primary_key=True)
    survey: fields.ForeignKeyRelation[Survey] = fields.ForeignKeyField(
        "models.Survey", related_name="versions", on_delete=fields.RESTRICT
    )
    version = fields.IntField()
    # The questionnaire as loaded: dimensions (with weights) and questions.
    definition: dict[str, object] = fields.JSONField()
    content_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)

    survey_id: int

    class Meta:
        table = "survey_version"
        unique_together = (("survey", "version"),)


class Response(Model):
    id = fields.BigIntField(primary_key=True)
    survey: fields.ForeignKeyRelation[Survey] = fields.ForeignKeyField(
        "models.Survey", related_name="responses", on_delete=fields.RESTRICT
    )
    version = fields.IntField()
    target_kind = fields.CharEnumField(TargetKind, max_length=16)
    target_code = fields.CharField(max_length=32)
    # The client's idempotency key: a retry finds its first response instead of a second.
    client_submission_id = fields.UUIDField(unique=True)
    started_at = fields.DatetimeField(null=True)
    submitted_at = fields.DatetimeField(db_index=True)
    duration_ms = fields.IntField(null=True)
    # Salted hashes only: we never keep an address or a device id itself.
    device_hash = fields.CharField(max_length=64, null=True)
    ip_hash = fields.CharField(max_length=64, null=True)
    invited = fields.BooleanField(default=False)
    channel = fields.CharField(max_length=16, default="api")
    # Denormalised from the flags so that scoring reads one column.
    excluded = fields.BooleanField(default=False)
    is_demo = fields.BooleanField(default=False)

    survey_id: int

    class Meta:
        table = "response"
        indexes = (
            ("survey_id", "target_code", "device_hash"),
            ("target_code", "ip_hash", "submitted_at"),
        )


class Answer(Model):
    """One answer in long format: a number (and its 0–100 normalisation) or a text/choice."""

    id = fields.BigIntField(primary_key=True)
    response: fields.ForeignKeyRelation[Response] = fields.ForeignKeyField(
        "models.Response", related_name="answers", on_delete=fields.CASCADE
    )
    question_key = fields.CharField(max_length=64)
    value_num = fields.FloatField(null=True)
    value_norm = fields.FloatField(null=True)
    value_text = fields.TextField(null=True)

    response_id: int

    class Meta:
        table = "answer"
        indexes = (("response_id",),)


class ResponseFlag(Model):
    id = fields.BigIntField(primary_key=True)
    response: fields.ForeignKeyRelation[Response] = fields.ForeignKeyField(
        "models.Response", related_name="flags", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(FlagKind, max_length=24)
    status = fields.CharEnumField(FlagStatus, max_length=16, default=FlagStatus.RAISED)
    detail = fields.CharField(max_length=200, default="")
    raised_at = fields.DatetimeField(auto_now_add=True)
    decided_by = fields.CharField(max_length=100, null=True)
    decided_at = fields.DatetimeField(null=True)
    reason = fields.CharField(max_length=500, null=True)

    response_id: int

    class Meta:
        table = "response_flag"
        unique_together = (("response", "kind"),)


class InviteCode(Model):
    id = fields.IntField(primary_key=True)
    survey: fields.ForeignKeyRelation[Survey] = fields.ForeignKeyField(
        "models.Survey", related_name="invites", on_delete=fields.CASCADE
    )
    code_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    used_at = fields.DatetimeField(null=True)
    response: fields.ForeignKeyNullableRelation[Response] = fields.ForeignKeyField(
        "models.Response", related_name="invite", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "invite_code"
