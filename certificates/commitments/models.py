"""A merchant's commitment of one kind, for a period. A change never edits a row: it ends the
current one and starts another, so the history stays whole."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from service.kernel.models import Merchant


class CommitmentKind(StrEnum):
    RETURNS = "returns"  # 线下无理由退货
    PAY_FIRST = "pay_first"  # 先行赔付
    MARKED_PRICES = "marked_prices"  # 明码标价


# The return periods cities offer merchants to choose from (days).
RETURN_DAYS = (7, 15, 30)


class Commitment(Model):
    """What a merchant promises the public from valid_from until valid_until (open-ended when
    empty) or until it is ended. Ended or replaced, it stays on record as history.
    (No semicolon here: Tortoise writes this into SQLite's script.)"""

    id = fields.IntField(primary_key=True)
    merchant: fields.ForeignKeyRelation[Merchant] = fields.ForeignKeyField(
        "models.Merchant", related_name="commitments", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(CommitmentKind, max_length=16)
    # Only for returns: how many days, what is excluded (the merchant's own words), and
    # whether another branch takes the goods back (异地异店).
    returns_days = fields.IntField(null=True)
    exclusions = fields.TextField(default="")
    other_branches = fields.BooleanField(default=False)
    valid_from = fields.DatetimeField()
    valid_until = fields.DatetimeField(null=True)
    declared_by = fields.CharField(max_length=100)
    # merchant or official: shown to the public instead of a staff member's name.
    declared_as = fields.CharField(max_length=16)
    declared_at = fields.DatetimeField()
    ended_at = fields.DatetimeField(null=True)
    ended_by = fields.CharField(max_length=100, null=True)
    # The row this one replaced, if any.
    replaces_id = fields.IntField(null=True)

    merchant_id: int

    class Meta:
        table = "merchant_commitment"
        indexes = (("merchant_id", "kind"), ("kind", "ended_at"))
