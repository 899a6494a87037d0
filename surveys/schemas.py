"""Wire shapes of the surveys API (names as in design.md)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from service.kernel.validation import Text
from surveys.models import FlagKind, FlagStatus, TargetKind


class ChoiceOut(msgspec.Struct):
    key: str
    text: str


class QuestionOut(msgspec.Struct):
    key: str
    type: str
    required: bool
    text: str
    dimension: str | None
    weight: float | None
    choices: list[ChoiceOut]
    min: int | None = None
    max: int | None = None


class DimensionOut(msgspec.Struct):
    key: str
    name: str
    weight: float


class SurveyOut(msgspec.Struct):
    slug: str
    title: str
    target_kind: TargetKind
    version: int
    opens_at: datetime
    closes_at: datetime | None
    questions: list[QuestionOut]
    dimensions: list[DimensionOut] = msgspec.field(default_factory=list)
    # Only when asked for a target: send it back as ``start_token`` with the response.
    start_token: str | None = None


class SurveyList(msgspec.Struct):
    items: list[SurveyOut]
    total: int
    page: int = 1
    page_size: int = 50


class SubmittedOut(msgspec.Struct):
    id: int
    client_submission_id: uuid.UUID
    created: bool


class ResponseOut(msgspec.Struct):
    id: int
    version: int
    target_kind: TargetKind
    target_code: str
    submitted_at: datetime
    duration_ms: int | None
    channel: str
    invited: bool
    excluded: bool
    flags: list[str]
    answers: dict[str, float | str | list[str]]


class ResponsePage(msgspec.Struct):
    items: list[ResponseOut]
    total: int
    page: int
    page_size: int


class FlagDecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    decision: FlagStatus
    reason: Text


class FlagOut(msgspec.Struct):
    response_id: int
    kind: FlagKind
    status: FlagStatus
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None


class TargetCount(msgspec.Struct):
    target_code: str
    responses: int
    excluded: int


class DayCount(msgspec.Struct):
    day: str
    responses: int


class SurveyStats(msgspec.Struct):
    survey: str
    responses: int
    excluded: int
    exclusion_rate: float
    flags: dict[str, int]
    per_target: list[TargetCount]
    per_day: list[DayCount]
