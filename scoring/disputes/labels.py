"""What a complaint's codes read as on every page, for every party: one table per code, so
the consumer, the merchant and the official never see the same step under two names. Marked
for translation here; the pages translate them as they render."""

from __future__ import annotations

from typing import Any, Final

from scoring.disputes import rules
from scoring.disputes.rules import MediationMode, OfferKind, Outcome
from service.kernel.i18n import N_

CATEGORIES: Final = {
    "quality": N_("Quality of goods"),
    "price": N_("Price"),
    "service": N_("Service"),
    "contract": N_("Contract or prepaid card"),
    "false_advertising": N_("False advertising"),
    "safety": N_("Safety"),
    "other": N_("Something else"),
}
WANTS: Final = {
    "refund": N_("A refund"),
    "exchange": N_("An exchange"),
    "repair": N_("A repair"),
    "apology": N_("An apology"),
    "other": N_("Something else"),
}
STATUSES: Final = {
    "submitted": N_("Filed"),
    "with_merchant": N_("With the merchant"),
    "offered": N_("The merchant made an offer"),
    "settled": N_("Settled with the merchant"),
    "escalated": N_("With the bureau"),
    "closed": N_("Closed by the bureau"),
    "withdrawn": N_("Withdrawn"),
}
# Who took a step is shown beside it, so each reads the same to every party.
STEPS: Final = {
    "filed": N_("Complaint filed"),
    "sent_to_merchant": N_("Sent to the merchant"),
    "offered": N_("The merchant made an offer"),
    "refused": N_("The merchant refused"),
    "accepted": N_("Offer accepted"),
    "rejected": N_("Offer rejected"),
    "withdrawn": N_("Withdrawn"),
    "escalated": N_("Passed to the bureau"),
    "bureau_accepted": N_("The bureau accepted it"),
    "bureau_refused": N_("The bureau refused it"),
    "mediator_assigned": N_("Mediation started"),
    "outcome": N_("Mediation ended"),
    "followed_up": N_("Follow-up answered"),
    "contact_purged": N_("Telephone number deleted"),
    "linked_12315": N_("Linked to the same complaint on 12315"),
}
PARTIES: Final = {
    "consumer": N_("the consumer"),
    "merchant": N_("the merchant"),
    "official": N_("the bureau"),
    "system": N_("automatic"),
}
OFFER_KINDS: Final = {
    "refund": N_("Refund"),
    "exchange": N_("Exchange"),
    "repair": N_("Repair"),
    "explanation": N_("Explanation"),
}
FOLLOWUPS: Final = {
    "satisfied": N_("Satisfied"),
    "basically_satisfied": N_("Basically satisfied"),
    "dissatisfied": N_("Not satisfied"),
}
RESOLUTIONS: Final = {
    "merchant_odr": N_("Settled by the merchant"),
    "mediated": N_("Mediated"),
    "withdrawn": N_("Withdrawn"),
}
HANDLERS: Final = {
    "regulator": N_("the market-regulation bureau"),
    "consumer_association": N_("the consumer association"),
}
MODES: Final = {
    "bureau": N_("Mediation by the bureau"),
    "people_mediation": N_("People's mediation"),
    "court_mediation": N_("Court mediation (诉调对接)"),
    "volunteer": N_("Volunteer mediator"),
    "lawyer": N_("Lawyer mediator"),
}
OUTCOMES: Final = {"agreement": N_("Agreement"), "no_agreement": N_("No agreement")}
# Where an escalated complaint stands in the bureau's queue.
STAGES: Final = {
    "awaiting": N_("Awaiting acceptance"),
    "mediating": N_("In mediation"),
    "closed": N_("Closed"),
}


def context() -> dict[str, Any]:
    """Every table, as the complaint templates name them, and the policy's limits."""
    return {
        "categories": CATEGORIES,
        "wants": WANTS,
        "statuses": STATUSES,
        "steps": STEPS,
        "parties": PARTIES,
        "offer_kinds": OFFER_KINDS,
        "followups": FOLLOWUPS,
        "resolutions": RESOLUTIONS,
        "handlers": HANDLERS,
        "modes": MODES,
        "outcomes": OUTCOMES,
        "stages": STAGES,
        "offer_choices": [k.value for k in OfferKind],
        "mode_choices": [m.value for m in MediationMode],
        "outcome_choices": [o.value for o in Outcome],
        "policy": rules.policy(),
    }
