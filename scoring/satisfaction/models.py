"""Score runs and the unit scores they produce."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class RunStatus(StrEnum):
    RUNNING = "running"
    DRAFT = "draft"
    PUBLISHED = "published"
    DISCARDED = "discarded"
    FAILED = "failed"


class ScoreRun(Model):
    """One computation over a window. Drafts are reviewed, and a published run is what the public
    sees until the next one is published (it then stays readable as history)."""

    id = fields.IntField(primary_key=True)
    status = fields.CharEnumField(RunStatus, max_length=16, default=RunStatus.RUNNING)
    created_at = fields.DatetimeField(auto_now_add=True)
    created_by = fields.CharField(max_length=100)
    finished_at = fields.DatetimeField(null=True)
    published_at = fields.DatetimeField(null=True)
    published_by = fields.CharField(max_length=100, null=True)
    superseded_at = fields.DatetimeField(null=True)
    discarded_reason = fields.CharField(max_length=500, null=True)
    error = fields.TextField(null=True)
    window_since = fields.DatetimeField()
    window_until = fields.DatetimeField()
    params: dict[str, object] = fields.JSONField(default=dict)
    code_version = fields.CharField(max_length=64, default="")
    counts: dict[str, object] = fields.JSONField(default=dict)
    priors: dict[str, object] = fields.JSONField(default=dict)
    timings: dict[str, object] = fields.JSONField(default=dict)
    fingerprint = fields.CharField(max_length=64, default="")
    # While it runs, the process computing it (host:pid) renews this lease; a run still
    # running past it was cut short (its process killed or crashed) and is marked failed.
    lease_until = fields.DatetimeField(null=True)
    held_by = fields.CharField(max_length=100, null=True)

    class Meta:
        table = "score_run"


class UnitScore(Model):
    id = fields.BigIntField(primary_key=True)
    run: fields.ForeignKeyRelation[ScoreRun] = fields.ForeignKeyField(
        "models.ScoreRun", related_name="scores", on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16)
    code = fields.CharField(max_length=32)
    parent = fields.CharField(max_length=32, null=True)
    n = fields.IntField()
    n_excluded = fields.IntField(default=0)
    mean = fields.FloatField(null=True)
    sd = fields.FloatField(null=True)
    ci_low = fields.FloatField(null=True)
    ci_high = fields.FloatField(null=True)
    score = fields.FloatField(null=True)
    nps = fields.FloatField(null=True)
    nps_se = fields.FloatField(null=True)
    insufficient_data = fields.BooleanField()
    rank = fields.IntField(null=True)
    tie_group = fields.IntField(null=True)
    # Streets and scenic spots: merchants with a shown score, and the share of them at or
    # above the certification threshold.
    merchants_scored = fields.IntField(null=True)
    share_certifiable = fields.FloatField(null=True)
    dimensions: dict[str, object] = fields.JSONField(default=dict)

    run_id: int

    class Meta:
        table = "unit_score"
        unique_together = (("run", "kind", "code"),)
        indexes = (("run_id", "kind", "rank"),)
