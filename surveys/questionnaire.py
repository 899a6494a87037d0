"""Questionnaires: their TOML definition, its validation, and loading into versions.

A definition lists dimensions (weights summing to 1) and questions. Scored questions carry a
dimension and a weight; within a dimension the weights sum to 1. A version, once stored, is
never changed: loading an edited file stores the next version.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import anyio
import msgspec
from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import FieldError, InvalidInput, NotFound, field_error_from
from service.kernel.validation import NotText, clean_text
from surveys.models import Survey, SurveyVersion, TargetKind

QuestionType = Literal["likert5", "scale10", "nps", "single_choice", "multi_choice", "text"]
SCALES: dict[str, tuple[int, int]] = {"likert5": (1, 5), "scale10": (1, 10), "nps": (0, 10)}
SCORED_TYPES = ("likert5", "scale10")
TEXT_LIMIT = 500
KEY_RE = re.compile(r"[a-z][a-z0-9_]{0,63}")
WEIGHT_TOLERANCE = 1e-9
DEFAULTS_DIR = Path(__file__).parent / "questionnaires"


class Choice(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    text_zh: str
    text_en: str


class Question(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    type: str
    text_zh: str
    text_en: str
    required: bool = True
    dimension: str | None = None
    weight: float | None = None
    choices: list[Choice] = msgspec.field(default_factory=list)

    @property
    def scale(self) -> tuple[int, int] | None:
        return SCALES.get(self.type)

    @property
    def scored(self) -> bool:
        return self.type in SCORED_TYPES and self.dimension is not None

    def normalise(self, value: float) -> float:
        """Item score on 0–100: (x − min)/(max − min)·100."""
        low, high = SCALES[self.type]
        return (value - low) / (high - low) * 100.0


class Dimension(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    name_zh: str
    name_en: str
    weight: float


class Definition(msgspec.Struct, forbid_unknown_fields=True):
    slug: str
    title_zh: str
    title_en: str
    target_kind: TargetKind
    opens_at: datetime
    closes_at: datetime | None = None
    period_days: int = 30
    dimensions: list[Dimension] = msgspec.field(default_factory=list)
    questions: list[Question] = msgspec.field(default_factory=list)

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    def content(self) -> dict[str, Any]:
        """What a version freezes: dimensions and questions."""
        return {
            "dimensions": msgspec.to_builtins(self.dimensions),
            "questions": msgspec.to_builtins(self.questions),
        }

    def content_hash(self) -> str:
        blob = json.dumps(self.content(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class VersionedQuestions:
    """One stored version, as submission and scoring use it."""

    version: int
    dimensions: list[Dimension]
    questions: list[Question]

    def question(self, key: str) -> Question | None:
        return next((q for q in self.questions if q.key == key), None)

    @classmethod
    def from_row(cls, row: SurveyVersion) -> VersionedQuestions:
        content = row.definition
        return cls(
            version=row.version,
            dimensions=msgspec.convert(content["dimensions"], list[Dimension]),
            questions=msgspec.convert(content["questions"], list[Question]),
        )


def _texts(d: Definition) -> list[tuple[str, str]]:
    """Every text of a definition that a respondent or an official reads, by where it is."""
    texts = [("title_zh", d.title_zh), ("title_en", d.title_en)]
    for dim in d.dimensions:
        texts += [(f"dimensions.{dim.key}.name_zh", dim.name_zh)]
        texts += [(f"dimensions.{dim.key}.name_en", dim.name_en)]
    for i, q in enumerate(d.questions):
        texts += [(f"questions[{i}].text_zh", q.text_zh), (f"questions[{i}].text_en", q.text_en)]
        for j, c in enumerate(q.choices):
            where = f"questions[{i}].choices[{j}]"
            texts += [(f"{where}.text_zh", c.text_zh), (f"{where}.text_en", c.text_en)]
    return texts


def _bad_texts(d: Definition) -> list[FieldError]:
    """The kernel's text rule over every text (checked here rather than in the structs, which
    also read the versions stored before the rule)."""
    errors = []
    for where, text in _texts(d):
        try:
            clean_text(text)
        except NotText as exc:
            errors.append(FieldError(where, str(exc)))
    return errors


def check_definition(d: Definition) -> list[FieldError]:
    """Every problem of a definition, each naming where it is."""
    errors: list[FieldError] = _bad_texts(d)
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,63}", d.slug):
        errors.append(FieldError("slug", "2–64 lower-case letters, digits or '-'"))
    if d.closes_at is not None and d.closes_at <= d.opens_at:
        errors.append(FieldError("closes_at", "must be after opens_at"))
    if d.opens_at.tzinfo is None:
        errors.append(FieldError("opens_at", "needs a time zone, e.g. 2026-01-01T00:00:00+08:00"))
    if not 1 <= d.period_days <= 3650:
        errors.append(FieldError("period_days", "between 1 and 3650"))
    dims = {dim.key: dim for dim in d.dimensions}
    if len(dims) != len(d.dimensions):
        errors.append(FieldError("dimensions", "duplicate dimension key"))
    if d.dimensions and not math.isclose(
        sum(x.weight for x in d.dimensions), 1.0, abs_tol=WEIGHT_TOLERANCE
    ):
        errors.append(FieldError("dimensions", "dimension weights must sum to 1"))
    if not d.questions:
        errors.append(FieldError("questions", "a questionnaire needs at least one question"))
    seen: set[str] = set()
    per_dimension: dict[str, float] = {}
    for i, q in enumerate(d.questions):
        where = f"questions[{i}]" + (f" ({q.key})" if q.key else "")
        if not KEY_RE.fullmatch(q.key):
            errors.append(FieldError(where, "key: lower-case letters, digits, '_'"))
        if q.key in seen:
            errors.append(FieldError(where, f"duplicate key {q.key!r}"))
        seen.add(q.key)
        if q.type not in (*SCALES, "single_choice", "multi_choice", "text"):
            errors.append(FieldError(where, f"unknown type {q.type!r}"))
            continue
        if not q.text_zh.strip() or not q.text_en.strip():
            errors.append(FieldError(where, "needs text_zh and text_en"))
        if q.type in ("single_choice", "multi_choice"):
            keys = [c.key for c in q.choices]
            if len(keys) < 2:
                errors.append(FieldError(where, "a choice question needs at least 2 choices"))
            if len(set(keys)) != len(keys):
                errors.append(FieldError(where, "duplicate choice key"))
        elif q.choices:
            errors.append(FieldError(where, f"a {q.type} question has no choices"))
        if q.dimension is not None:
            if q.type not in SCORED_TYPES:
                errors.append(FieldError(where, f"a {q.type} question is not scored"))
            elif q.dimension not in dims:
                errors.append(FieldError(where, f"unknown dimension {q.dimension!r}"))
            elif q.weight is None or q.weight <= 0:
                errors.append(FieldError(where, "a scored question needs a positive weight"))
            else:
                per_dimension[q.dimension] = per_dimension.get(q.dimension, 0.0) + q.weight
        elif q.weight is not None:
            errors.append(FieldError(where, "a weight needs a dimension"))
    for key, total in sorted(per_dimension.items()):
        if not math.isclose(total, 1.0, abs_tol=WEIGHT_TOLERANCE):
            errors.append(
                FieldError(f"dimensions.{key}", f"question weights sum to {total:g}, not 1")
            )
    for key in dims:
        if key not in per_dimension:
            errors.append(FieldError(f"dimensions.{key}", "no question is scored in it"))
    return errors


def parse_toml(text: str) -> Definition:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"Not valid TOML: {exc}") from exc
    dims = raw.get("dimensions", {})
    if isinstance(dims, dict):  # [dimensions.supply] tables read better than a list
        raw["dimensions"] = [{"key": k, **v} for k, v in dims.items()]
    try:
        definition = msgspec.convert(raw, Definition)
    except msgspec.ValidationError as exc:
        raise InvalidInput(
            "The questionnaire is not valid", [field_error_from(exc, "file")]
        ) from exc
    errors = check_definition(definition)
    if errors:
        raise InvalidInput("The questionnaire is not valid", errors)
    return definition


@dataclass(frozen=True, slots=True)
class LoadResult:
    slug: str
    version: int
    created_survey: bool
    new_version: bool


async def load_definition(
    definition: Definition, *, actor: Actor, is_demo: bool = False
) -> LoadResult:
    """Store a definition: a new survey, a new version of an edited one, or nothing new."""
    digest = definition.content_hash()
    async with in_transaction() as conn:
        survey = await Survey.filter(slug=definition.slug).using_db(conn).first()
        created = survey is None
        meta = {
            "title_zh": definition.title_zh,
            "title_en": definition.title_en,
            "opens_at": definition.opens_at,
            "closes_at": definition.closes_at,
            "period_days": definition.period_days,
        }
        if survey is None:
            survey = await Survey.create(
                using_db=conn,
                slug=definition.slug,
                target_kind=definition.target_kind,
                is_demo=is_demo,
                **meta,
            )
        elif survey.target_kind != definition.target_kind:
            raise InvalidInput(
                "The questionnaire is not valid",
                [FieldError("target_kind", f"{definition.slug} rates {survey.target_kind.value}s")],
            )
        else:
            await Survey.filter(id=survey.id).using_db(conn).update(**meta)
        latest = (
            await SurveyVersion.filter(survey_id=survey.id)
            .using_db(conn)
            .order_by("-version")
            .first()
        )
        if latest is not None and latest.content_hash == digest:
            return LoadResult(definition.slug, latest.version, created, False)
        version = (latest.version + 1) if latest else 1
        await SurveyVersion.create(
            using_db=conn,
            survey_id=survey.id,
            version=version,
            definition=definition.content(),
            content_hash=digest,
        )
        await audit.record(
            conn,
            actor,
            "survey.version_published",
            f"survey:{definition.slug}",
            {"version": version, "content_hash": digest},
        )
    return LoadResult(definition.slug, version, created, True)


async def load_file(path: Path, *, actor: Actor, is_demo: bool = False) -> LoadResult:
    text = await anyio.Path(path).read_text(encoding="utf-8")
    return await load_definition(parse_toml(text), actor=actor, is_demo=is_demo)


async def current_version(survey: Survey) -> VersionedQuestions:
    row = await SurveyVersion.filter(survey_id=survey.id).order_by("-version").first()
    if row is None:
        raise NotFound(f"Survey {survey.slug} has no published version")
    return VersionedQuestions.from_row(row)


def default_files() -> list[Path]:
    return sorted(DEFAULTS_DIR.glob("*.toml"))
