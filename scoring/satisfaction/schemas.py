"""Wire shapes of satisfaction scoring: runs and scores (names as in design.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from scoring.satisfaction.models import RunStatus
from service.kernel.validation import Text


class RunIn(msgspec.Struct, forbid_unknown_fields=True):
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class DiscardIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: Text


class RunOut(msgspec.Struct):
    id: int
    status: RunStatus
    created_at: datetime
    published_at: datetime | None
    params: dict[str, Any]
    counts: dict[str, Any]
    window_since: datetime
    window_until: datetime
    fingerprint: str
    timings: dict[str, Any]
    priors: dict[str, Any]
    code_version: str
    discarded_reason: str | None = None
    error: str | None = None


class ScoreOut(msgspec.Struct):
    kind: str
    code: str
    name: str
    n: int
    n_excluded: int
    mean: float | None
    ci_low: float | None
    ci_high: float | None
    score: float | None
    rank: int | None
    tie_group: int | None
    insufficient_data: bool
    dimensions: dict[str, float]
    nps: float | None = None
    nps_se: float | None = None
    parent: str | None = None
    merchants_scored: int | None = None
    share_certifiable: float | None = None


class ScorePage(msgspec.Struct):
    items: list[ScoreOut]
    total: int
    page: int
    page_size: int
    run: int | None
