"""A consumer advisory and the merchants and areas it names."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.kernel.models import Area


class AdvisoryCategory(StrEnum):
    PRICE = "price"  # 价格
    QUALITY = "quality"  # 商品质量
    SAFETY = "safety"  # 安全
    PREPAID = "prepaid"  # 预付式消费
    ONLINE = "online"  # 网络消费
    TRAVEL = "travel"  # 旅游消费
    FRAUD = "fraud"  # 消费陷阱
    OTHER = "other"


class Advisory(Model):
    """What officials warn consumers of, for a period. Withdrawn, it is no longer shown but
    stays on record. (No semicolon here: Tortoise writes this into SQLite's script.)"""

    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=100)
    text = fields.TextField()
    category = fields.CharEnumField(AdvisoryCategory, max_length=16)
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField(null=True)
    # The bureau that published it: a district's, or the city's (empty).
    district: fields.ForeignKeyNullableRelation[Area] = fields.ForeignKeyField(
        "models.Area", related_name="advisories", null=True, on_delete=fields.RESTRICT
    )
    published_by = fields.CharField(max_length=100)
    published_at = fields.DatetimeField()
    withdrawn_by = fields.CharField(max_length=100, null=True)
    withdrawn_at = fields.DatetimeField(null=True)

    district_id: int | None

    class Meta:
        table = "consumer_advisory"
        indexes = (("valid_from",),)


class AdvisorySubject(Model):
    """A merchant (by USCC) or an area (by code) an advisory is about."""

    id = fields.IntField(primary_key=True)
    advisory: fields.ForeignKeyRelation[Advisory] = fields.ForeignKeyField(
        "models.Advisory", related_name="subjects", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)  # merchant, area
    code = fields.CharField(max_length=32)

    advisory_id: int

    class Meta:
        table = "consumer_advisory_subject"
        unique_together = (("advisory", "kind", "code"),)
        indexes = (("kind", "code"),)
