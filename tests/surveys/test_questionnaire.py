"""Questionnaires: TOML validation with clear errors, and immutable versions."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.kernel.errors import InvalidInput
from service.kernel.models import AuditEvent
from service.kernel.settings import Settings
from surveys.models import Survey, SurveyVersion
from surveys.questionnaire import default_files, load_file, parse_toml
from tests.helpers import TEST_ACTOR

MINIMAL = """
slug = "mini"
title_zh = "小问卷"
title_en = "Mini"
target_kind = "merchant"
opens_at = "2026-01-01T00:00:00+08:00"

[dimensions.supply]
name_zh = "消费供给"
name_en = "Supply"
weight = 1.0

[[questions]]
key = "quality"
type = "likert5"
dimension = "supply"
weight = 0.6
text_zh = "质量"
text_en = "Quality"

[[questions]]
key = "price"
type = "likert5"
dimension = "supply"
weight = 0.4
text_zh = "价格"
text_en = "Price"
"""


def test_the_default_questionnaires_are_valid_and_short() -> None:
    kinds = set()
    for path in default_files():
        d = parse_toml(path.read_text(encoding="utf-8"))
        kinds.add(d.target_kind.value)
        assert 8 <= len(d.questions) <= 12
        assert {dim.key for dim in d.dimensions} == {"supply", "environment", "rights"}
        assert any(q.type == "nps" for q in d.questions)
    assert kinds == {"merchant", "street", "scenic_spot"}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            ('type = "likert5"\ndimension = "supply"\nweight = 0.6', 'type = "stars"\n'),
            "questions[0] (quality)",
            "unknown type 'stars'",
        ),
        (("weight = 0.4", "weight = 0.5"), "dimensions.supply", "sum to 1.1, not 1"),
        (('key = "price"', 'key = "quality"'), "questions[1] (quality)", "duplicate key"),
        (("weight = 1.0", "weight = 0.9"), "dimensions", "dimension weights must sum to 1"),
        (
            ('dimension = "supply"\nweight = 0.4', 'dimension = "nowhere"\nweight = 0.4'),
            "questions[1] (price)",
            "unknown dimension 'nowhere'",
        ),
        (
            (
                'opens_at = "2026-01-01T00:00:00+08:00"',
                'opens_at = "2026-01-01T00:00:00+08:00"\ncloses_at = "2025-01-01T00:00:00+08:00"',
            ),
            "closes_at",
            "must be after opens_at",
        ),
    ],
)
def test_bad_definitions_are_refused_with_the_place_named(
    change: tuple[str, str], field: str, message: str
) -> None:
    text = MINIMAL.replace(change[0], change[1], 1)
    assert text != MINIMAL
    with pytest.raises(InvalidInput) as info:
        parse_toml(text)
    assert any(e.field == field and message in e.message for e in info.value.errors), [
        (e.field, e.message) for e in info.value.errors
    ]


def test_a_wrongly_typed_value_names_its_field() -> None:
    with pytest.raises(InvalidInput) as info:
        parse_toml(MINIMAL.replace('target_kind = "merchant"', 'target_kind = "planet"'))
    assert info.value.errors[0].field == "target_kind"


async def test_an_edit_publishes_a_new_version_and_leaves_the_old_one(
    db: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "mini.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    first = await load_file(path, actor=TEST_ACTOR)
    assert (first.version, first.created_survey, first.new_version) == (1, True, True)
    again = await load_file(path, actor=TEST_ACTOR)
    assert (again.version, again.new_version) == (1, False)
    v1 = await SurveyVersion.get(version=1)
    path.write_text(MINIMAL.replace('text_en = "Price"', 'text_en = "Fair price"'), "utf-8")
    edited = await load_file(path, actor=TEST_ACTOR)
    assert (edited.version, edited.new_version) == (2, True)
    assert (await SurveyVersion.get(version=1)).definition == v1.definition
    assert await SurveyVersion.filter(survey__slug="mini").count() == 2
    assert await AuditEvent.filter(action="survey.version_published").count() == 2
    assert await Survey.filter(slug="mini").count() == 1
