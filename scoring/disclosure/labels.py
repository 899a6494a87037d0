"""What the complaint record's codes read as on its pages: marked for translation here, the
pages translate them as they render. Categories are the complaint pages' own
(scoring.disputes.labels); a 12315 category outside them is shown as it came."""

from __future__ import annotations

from typing import Final

from scoring.disclosure.rules import Exclusion
from scoring.disputes.labels import CATEGORIES
from service.kernel.i18n import N_

EXCLUSIONS: Final = {
    Exclusion.CORRECTED.value: N_("corrected on the merchant's request"),
    Exclusion.WITHDRAWN.value: N_("withdrawn by the consumer"),
    Exclusion.NOT_ACCEPTED.value: N_("not accepted"),
    Exclusion.AWAITING_ACCEPTANCE.value: N_("not yet accepted"),
    Exclusion.PROFESSIONAL_CLAIM.value: N_("professional-claim pattern"),
    Exclusion.PERSONAL_DATA.value: N_("about personal data"),
    Exclusion.EXCLUDED_BY_RULES.value: N_("excluded by the rules"),
}

CORRECTION_STATUSES: Final = {
    "pending": N_("Correction in progress"),
    "accepted": N_("Corrected"),
    "refused": N_("Correction refused"),
}

__all__ = ["CATEGORIES", "CORRECTION_STATUSES", "EXCLUSIONS"]
