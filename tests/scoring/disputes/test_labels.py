"""One label for every code a complaint page shows, the same for every party, in Chinese."""

from __future__ import annotations

from enum import StrEnum

import pytest

from scoring.disputes import labels
from scoring.disputes.rules import (
    Category,
    DisputeStatus,
    MediationMode,
    OfferKind,
    Outcome,
    Step,
    Want,
)
from service.kernel.i18n import translations

TABLES: list[tuple[dict[str, str], type[StrEnum]]] = [
    (labels.CATEGORIES, Category),
    (labels.WANTS, Want),
    (labels.STATUSES, DisputeStatus),
    (labels.STEPS, Step),
    (labels.OFFER_KINDS, OfferKind),
    (labels.MODES, MediationMode),
    (labels.OUTCOMES, Outcome),
]


@pytest.mark.parametrize(("table", "codes"), TABLES, ids=lambda x: getattr(x, "__name__", ""))
def test_every_code_has_one_label_and_a_chinese_one(
    table: dict[str, str], codes: type[StrEnum]
) -> None:
    assert set(table) == {c.value for c in codes}
    zh = translations("zh_CN").gettext
    untranslated = [label for label in table.values() if zh(label) == label]
    assert untranslated == []
