"""What pages show of advisories: their categories' names (for gettext)."""

from __future__ import annotations

from typing import Final

from service.i18n import N_

ADVISORY_CATEGORIES: Final = {
    "price": N_("Prices"),
    "quality": N_("Quality of goods"),
    "safety": N_("Safety"),
    "prepaid": N_("Prepaid cards and memberships"),
    "online": N_("Online shopping"),
    "travel": N_("Travel"),
    "fraud": N_("Consumer traps"),
    "other": N_("Other"),
}
