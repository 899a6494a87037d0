"""The fixed checklist an official works through at every inspection, materials check or
mystery-shopping visit (暗访), and the check of one record of it."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from certificates.applications.models import InspectionKind
from certificates.applications.schemas import ChecklistItemOut, InspectionIn
from service.kernel.errors import FieldError
from service.kernel.i18n import N_
from service.kernel.validation import FUTURE_TOLERANCE, check_text, parse_time

# What the creation rules of Zhejiang and Ningbo check at a 放心消费 unit, in their order.
CHECKLIST: Final = {
    "licence_displayed": N_("Business licence displayed"),
    "prices_marked": N_("Prices clearly marked (明码标价)"),
    "returns_commitment": N_("Return commitment posted and honoured"),
    "goods_traceable": N_("Goods of known origin, invoices and records kept"),
    "complaint_channel": N_("Complaint channel posted and answered"),
    "measures_accurate": N_("Weights and measures accurate"),
    "staff_service": N_("Staff serve by the rules, no forced selling"),
}
KIND_LABELS: Final = {
    InspectionKind.MATERIALS.value: N_("Materials check"),
    InspectionKind.ONSITE.value: N_("On-site inspection"),
    InspectionKind.MYSTERY.value: N_("Mystery shopping (暗访)"),
}
NOTE_MAX: Final = 2000
ITEM_NOTE_MAX: Final = 500  # as the schema bounds it


def check(
    data: InspectionIn, now: datetime
) -> tuple[datetime, list[ChecklistItemOut], str, list[FieldError]]:
    """When the visit was, the checklist in its fixed order, the note as kept, and every
    problem by field: each item answered exactly once, nothing unknown."""
    errors: list[FieldError] = []
    if data.kind not in KIND_LABELS:
        errors.append(FieldError("kind", f"must be one of {', '.join(KIND_LABELS)}"))
    seen: dict[str, ChecklistItemOut] = {}
    for i, entry in enumerate(data.checklist):
        if entry.item not in CHECKLIST:
            errors.append(FieldError(f"checklist[{i}].item", "not an item of the checklist"))
        elif entry.item in seen:
            errors.append(FieldError(f"checklist[{i}].item", "answered twice"))
        else:
            note = check_text(
                errors, f"checklist[{i}].note", entry.note, ITEM_NOTE_MAX, required=False
            )
            seen[entry.item] = ChecklistItemOut(entry.item, entry.passed, note)
    missing = [k for k in CHECKLIST if k not in seen]
    if missing:
        errors.append(FieldError("checklist", f"items not answered: {', '.join(missing)}"))
    note = check_text(errors, "note", data.note, NOTE_MAX, required=False)
    visited = now
    if data.visited_at is not None:
        try:
            visited = parse_time(data.visited_at)
        except ValueError as exc:
            errors.append(FieldError("visited_at", str(exc)))
        else:
            if visited > now + FUTURE_TOLERANCE:
                errors.append(FieldError("visited_at", "must not be in the future"))
    return visited, [seen[k] for k in CHECKLIST if k in seen], note, errors
