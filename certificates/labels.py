"""What a certificate's statuses and the reasons for its changes are called on pages, lists
and PDFs (gettext ids: Chinese by default, English on request)."""

from __future__ import annotations

from service.kernel.i18n import N_

# Labels marked for translation here and translated in the template only when shown: a
# verify page is the busiest page of all, and each translation costs.
STATUS_LABELS = {
    "active": N_("Valid"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
    "expired": N_("Expired"),
}
REASON_LABELS = {
    "issued": N_("Issued"),
    "credit_below_threshold": N_("Credit score fell below the standard"),
    "credit_class_d": N_("Credit class D"),
    "serious_violation_list": N_("Put on the serious violation list"),
    "criteria_failed": N_("No longer meets the criteria"),
    "criteria_recovered": N_("Meets the criteria again"),
    "grace_expired": N_("Did not recover within the grace period"),
    "validity_ended": N_("Validity ended"),
    "appeal_upheld": N_("Reinstated on appeal"),
    "mystery_shopping": N_("Found at fault by mystery shopping"),
    "false_advertising": N_("False advertising"),
    "price_fraud": N_("Price fraud"),
    "unsafe_goods": N_("Unsafe or counterfeit goods"),
    "complaints_unresolved": N_("Complaints left unresolved"),
    "corrected": N_("Put right after inspection"),
    "yearly_review": N_("Withdrawn in the yearly review"),
}
# The review's own reason codes (certificates.yearly_review.judge.REASON_CODES), for people.
REVIEW_REASONS = {
    "score_below": N_("Satisfaction score below the standard"),
    "too_few_responses": N_("Too few survey responses to judge"),
    "credit_class": N_("Credit class below the standard"),
    "serious_listed": N_("On the serious violation list"),
    "abnormal_listed": N_("On the abnormal operations list"),
    "major_penalty": N_("A major administrative penalty"),
    "certified_share": N_("Too few of its merchants certified"),
    "closure_rate": N_("Complaints about its merchants left unclosed"),
    "no_returns_commitment": N_("No longer commits to no-reason returns"),
    "committed_share": N_("Too few of its merchants commit to no-reason returns"),
    "not_operating": N_("No longer operating"),
}
