"""The column catalog of every export: for each kind of export, each machine name (the
snake_case name programs read, stable across releases) with the label people read in the
spreadsheet (a gettext string: Chinese by default, English with the English interface), a
description and a unit.

``service.kernel.exports`` renames every CSV/XLSX column through it and writes the XLSX data
dictionary sheet from it; a column an export writes that has no entry here is an error
(``UnlabelledColumn``), so a new column cannot reach a spreadsheet in snake_case. The small
API other modules use: ``label(kind, name, locale)``, ``describe(kind, name)`` and
``sheet_name(kind, locale)``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from service.kernel.i18n import N_, translations

# Units (gettext strings; empty: a count, a code or text, which needs none).
YUAN: Final = N_("yuan")
PERCENT: Final = N_("percent")
FRACTION: Final = N_("fraction (0–1)")
POINTS: Final = N_("points (0–100)")
MILLISECONDS: Final = N_("milliseconds")
DAYS: Final = N_("days")


@dataclass(frozen=True, slots=True)
class Column:
    label: str  # gettext msgid
    description: str = ""  # gettext msgid
    unit: str = ""  # gettext msgid: YUAN, PERCENT, …


class UnlabelledColumn(KeyError):
    """An export wrote a column the catalog does not know: add it to ``CATALOG``."""


def _c(label: str, description: str = "", unit: str = "") -> Column:
    return Column(label, description, unit)


# Columns that mean the same in every export that has them.
_CODE = _c(N_("Code"), N_("The subject's code: a merchant's USCC, a place's or district's code"))
_NAME = _c(N_("Name"), N_("The registered or official name"))
_DISTRICT = _c(N_("District"), N_("The code of the district"))
_DISTRICT_NAME = _c(N_("District name"), N_("The name of the district"))
_SUBJECT_KIND = _c(N_("Kind"), N_("merchant, street, scenic_spot or district"))
_CI_LOW = _c(N_("95% interval, low"), N_("Lower end of the 95% interval"))
_CI_HIGH = _c(N_("95% interval, high"), N_("Upper end of the 95% interval"))
_PARENT = _c(N_("Belongs to"), N_("The code of the street, scenic spot or district above it"))
_SCORE_FIGURES: Final = {
    "n": _c(N_("Responses"), N_("Valid responses counted in the score")),
    "n_excluded": _c(N_("Responses excluded"), N_("Responses set aside by the screening")),
    "mean": _c(N_("Mean rating"), N_("Mean of the weighted answers, 1–5")),
    "sd": _c(N_("Standard deviation"), N_("Standard deviation of the weighted answers")),
    "ci_low": _CI_LOW,
    "ci_high": _CI_HIGH,
    "score": _c(N_("Score"), N_("Satisfaction score"), POINTS),
    "nps": _c(N_("Net promoter score"), N_("Promoters less detractors, of those who answered")),
    "nps_se": _c(N_("NPS standard error"), N_("Standard error of the net promoter score")),
    "insufficient_data": _c(
        N_("Too few responses"), N_("True when the responses are too few for a score")
    ),
    "rank": _c(N_("Rank"), N_("Rank among its kind, best first")),
    "tie_group": _c(N_("Tie group"), N_("Subjects whose intervals overlap share a tie group")),
}
# Criteria of the certificate policy (eligibility): the value each subject has.
CRITERIA: Final = {
    "score": _c(N_("Published score"), N_("The published satisfaction score"), POINTS),
    "n": _c(N_("Responses"), N_("Valid responses behind the score")),
    "credit_class": _c(N_("Credit class"), N_("Credit class A–D")),
    "serious_listed": _c(
        N_("On the serious violation list"), N_("On the list of serious violations")
    ),
    "abnormal_listed": _c(
        N_("On the abnormal operations list"), N_("On the list of abnormal operations")
    ),
    "major_penalty": _c(N_("Major penalty"), N_("Day of the last major administrative penalty")),
    "returns_commitment": _c(
        N_("Returns commitment (days)"), N_("Days of the returns commitment in force"), DAYS
    ),
    "certified_share": _c(
        N_("Merchants certified"), N_("Share of its active merchants certified"), FRACTION
    ),
    "closure_rate": _c(
        N_("Complaint closure rate"), N_("Share of complaints closed, last twelve months"), FRACTION
    ),
    "committed_share": _c(
        N_("Merchants committed to returns"),
        N_("Share of its active merchants with a returns commitment in force"),
        FRACTION,
    ),
}

CATALOG: Final[dict[str, dict[str, Column]]] = {
    "responses": {
        "id": _c(N_("Response number"), N_("The response's number")),
        "version": _c(N_("Questionnaire version"), N_("Version of the questionnaire answered")),
        "target_kind": _c(N_("Rated kind"), N_("merchant, street or scenic_spot")),
        "target_code": _c(N_("Rated code"), N_("Code of the merchant or place rated")),
        "submitted_at": _c(N_("Submitted at"), N_("When it was submitted (Beijing time)")),
        "duration_ms": _c(N_("Time taken"), N_("Time from opening to submitting"), MILLISECONDS),
        "channel": _c(N_("Channel"), N_("How the respondent reached the questionnaire")),
        "invited": _c(N_("Invited"), N_("Answered with an invitation code")),
        "excluded": _c(N_("Excluded"), N_("Set aside by the screening, not counted")),
        "flags": _c(N_("Flags"), N_("Screening flags raised, separated by semicolons")),
    },
    "audit": {
        "id": _c(N_("Event number"), N_("The audit event's number")),
        "at": _c(N_("Time"), N_("When it was recorded (Beijing time)")),
        "actor": _c(N_("Actor"), N_("Who did it")),
        "action": _c(N_("Action"), N_("What was done, e.g. certificate.revoke")),
        "subject": _c(N_("Subject"), N_("What it was done to")),
        "details": _c(N_("Details"), N_("The recorded details")),
    },
    "flags": {
        "response_id": _c(N_("Response number"), N_("The response flagged")),
        "kind": _c(N_("Flag"), N_("What the screening found")),
        "detail": _c(N_("Details"), N_("What the screening recorded")),
        "raised_at": _c(N_("Raised at"), N_("When the flag was raised (Beijing time)")),
        "target_kind": _c(N_("Rated kind"), N_("merchant, street or scenic_spot")),
        "target_code": _c(N_("Rated code"), N_("Code of the merchant or place rated")),
    },
    "appeals": {
        "reply_id": _c(N_("Reply number"), N_("The holder's reply")),
        "serial": _c(N_("Serial"), N_("The certificate's serial number")),
        "subject": _c(N_("Holder"), N_("The certificate holder's name")),
        "status": _c(N_("Status"), N_("The status the certificate was changed to")),
        "reason": _c(N_("Reason"), N_("The reason code of the change")),
        "text": _c(N_("Reply"), N_("What the holder wrote")),
        "submitted_at": _c(N_("Submitted at"), N_("When it was submitted (Beijing time)")),
        "decision": _c(N_("Decision"), N_("upheld or reversed; empty while open")),
        "decision_note": _c(N_("Decision note"), N_("The official's note on the decision")),
        "decided_by": _c(N_("Decided by"), N_("The official who decided")),
    },
    "eligibility": {
        "kind": _SUBJECT_KIND,
        "code": _CODE,
        "name": _NAME,
        "eligible": _c(N_("Eligible"), N_("Meets every criterion of the policy")),
        **CRITERIA,
    },
    "score_runs": {
        "id": _c(N_("Run number"), N_("The score run's number")),
        "status": _c(N_("Status"), N_("running, draft, published, discarded or failed")),
        "created_at": _c(N_("Started at"), N_("When the run started (Beijing time)")),
        "created_by": _c(N_("Started by"), N_("Who started it")),
        "published_at": _c(N_("Published at"), N_("When it was published (Beijing time)")),
        "published_by": _c(N_("Published by"), N_("Who published it")),
        "discarded_reason": _c(N_("Reason discarded"), N_("Why it was discarded")),
        "responses": _c(N_("Responses read"), N_("Responses the run read")),
        "excluded": _c(N_("Responses excluded"), N_("Responses set aside by the screening")),
        "fingerprint": _c(N_("Fingerprint"), N_("Digest of the inputs: equal inputs, equal runs")),
    },
    "rankings": {"code": _CODE, "name": _NAME, "parent": _PARENT, **_SCORE_FIGURES},
    "run_export": {
        "kind": _SUBJECT_KIND,
        "code": _CODE,
        "parent": _PARENT,
        **_SCORE_FIGURES,
        "merchants_scored": _c(N_("Merchants scored"), N_("Merchants with a score within it")),
        "share_certifiable": _c(
            N_("Share certifiable"), N_("Share of its merchants that could be certified"), FRACTION
        ),
    },
    "complaint_figures": {
        "period": _c(N_("Period"), N_("Year, quarter (2025-Q1) or month (2025-01) of receipt")),
        "district": _DISTRICT,
        "district_name": _DISTRICT_NAME,
        "received": _c(N_("Received"), N_("Complaints received in the period")),
        "closed": _c(N_("Closed"), N_("Of those, closed")),
        "closure_rate": _c(N_("Closure rate"), N_("closed of received"), FRACTION),
        "overdue": _c(N_("Overdue"), N_("Handled past the legal time limit")),
        "upheld": _c(N_("Upheld"), N_("Found to be well founded")),
        "amount_disputed": _c(N_("Amount in dispute"), N_("Money in dispute"), YUAN),
        "amount_recovered": _c(N_("Amount recovered"), N_("Money recovered for consumers"), YUAN),
    },
    "credit_classes": {
        "kind": _c(N_("Kind"), N_("street or scenic_spot")),
        "code": _CODE,
        "name": _NAME,
        "district": _DISTRICT,
        "merchants": _c(N_("Active merchants"), N_("Active merchants in it")),
        "A": _c(N_("Class A"), N_("Merchants in credit class A")),
        "B": _c(N_("Class B"), N_("Merchants in credit class B")),
        "C": _c(N_("Class C"), N_("Merchants in credit class C")),
        "D": _c(N_("Class D"), N_("Merchants in credit class D")),
        "share_cd": _c(N_("Share in C or D"), N_("Share of merchants in class C or D"), FRACTION),
        "abnormal_listed": _c(
            N_("On the abnormal operations list"), N_("Merchants on the abnormal operations list")
        ),
        "serious_listed": _c(
            N_("On the serious violation list"), N_("Merchants on the serious violation list")
        ),
        "complaints_12m": _c(N_("Complaints, 12 months"), N_("Complaints, last twelve months")),
        "upheld_12m": _c(N_("Upheld, 12 months"), N_("Complaints upheld, last twelve months")),
    },
    "annual_summary": {
        "district": _c(N_("District"), N_("The district, or the whole report's scope")),
        "ca_complaints_received": _c(
            N_("Complaints to consumer associations"),
            N_("Complaints the consumer associations received"),
        ),
        "ca_complaints_closed": _c(
            N_("Closed by consumer associations"), N_("Of those, investigated and mediated")
        ),
        "ca_amount_recovered": _c(
            N_("Recovered by consumer associations"),
            N_("Losses the consumer associations recovered for consumers"),
            YUAN,
        ),
        "consultations": _c(N_("Consultations"), N_("Consultations on every channel")),
        "complaints": _c(N_("Complaints"), N_("Complaints on every channel")),
        "reports": _c(N_("Reports"), N_("Reports on every channel")),
        "total": _c(N_("Total"), N_("Consultations, complaints and reports")),
        "amount_disputed": _c(N_("Amount in dispute"), N_("Money in dispute"), YUAN),
        "amount_recovered": _c(N_("Amount recovered"), N_("Money recovered for consumers"), YUAN),
        "visits_and_consultations": _c(
            N_("Visits and consultations"), N_("Visits and consultations received")
        ),
        "spot_check_batches": _c(N_("Batches sampled"), N_("Batches of goods sampled")),
        "spot_check_cases": _c(N_("Cases opened"), N_("Cases opened after the spot checks")),
    },
    "annual_followups": {
        "district": _c(N_("District"), N_("The district, or the whole report's scope")),
        "handled_by": _c(N_("Handled by"), N_("all, regulator, consumer_association or merchant")),
        "satisfied": _c(N_("Satisfied"), N_("Answered satisfied")),
        "basically_satisfied": _c(N_("Basically satisfied"), N_("Answered basically satisfied")),
        "dissatisfied": _c(N_("Dissatisfied"), N_("Answered not satisfied")),
        "not_reached": _c(N_("Not reached"), N_("Could not be reached; in no denominator")),
        "answered": _c(N_("Answered"), N_("Answered the follow-up: the rate's n")),
        "satisfaction_rate": _c(
            N_("Satisfaction rate"), N_("Satisfied or basically satisfied, of answered"), PERCENT
        ),
        "ci_low": _c(N_("95% interval, low"), N_("Lower end of the 95% interval"), PERCENT),
        "ci_high": _c(N_("95% interval, high"), N_("Upper end of the 95% interval"), PERCENT),
        "too_few": _c(N_("Too few answers"), N_("True when the answers are too few for a rate")),
    },
    "annual_channels": {
        "channel": _c(N_("Channel"), N_("hotline, web, wechat, sms, qq, walk_in, letter, other")),
        "consultations": _c(N_("Consultations"), N_("Consultations on the channel")),
        "complaints": _c(N_("Complaints"), N_("Complaints on the channel")),
        "reports": _c(N_("Reports"), N_("Reports on the channel")),
        "total": _c(N_("Total"), N_("Consultations, complaints and reports")),
        "share": _c(N_("Share"), N_("Share of all records"), PERCENT),
    },
    "annual_months": {
        "month": _c(N_("Month"), N_("Month of receipt, YYYY-MM")),
        "consultations": _c(N_("Consultations"), N_("Consultations received in the month")),
        "complaints": _c(N_("Complaints"), N_("Complaints received in the month")),
        "reports": _c(N_("Reports"), N_("Reports received in the month")),
        "total": _c(N_("Total"), N_("Consultations, complaints and reports")),
        "amount_recovered": _c(N_("Amount recovered"), N_("Money recovered for consumers"), YUAN),
    },
    "public_lists": {
        "board": _c(N_("List"), N_("red, black or none (a certificate that expired)")),
        "section": _c(N_("Section"), N_("entered, improved, withdrawn or exited")),
        "kind": _SUBJECT_KIND,
        "code": _CODE,
        "name": _NAME,
        "serial": _c(N_("Serial"), N_("The certificate's serial number")),
        "reasons": _c(N_("Reason codes"), N_("Reason codes, separated by commas")),
        "reasons_text": _c(N_("Reasons"), N_("The reasons in words")),
        "at": _c(N_("Time"), N_("When it happened (Beijing time)")),
        "score_before": _c(N_("Score before"), N_("Score of the year before"), POINTS),
        "score_after": _c(N_("Score after"), N_("Score of the year"), POINTS),
    },
    "complaint_records": {
        "uscc": _c(N_("USCC"), N_("The merchant's unified social credit code")),
        "name": _c(N_("Name"), N_("The merchant's registered name")),
        "district": _c(N_("District"), N_("The code of the district it trades in")),
        "window_start": _c(N_("Window start"), N_("First day of the rolling window of receipt")),
        "window_end": _c(N_("Window end"), N_("Last day of the window: the day computed")),
        "published": _c(N_("Complaints published"), N_("Handled and not excluded")),
        "mediated": _c(N_("Mediated"), N_("Mediation reached an agreement")),
        "terminated": _c(N_("Mediation terminated"), N_("Mediation ended without agreement")),
        "merchant_settled": _c(
            N_("Settled by the merchant"), N_("Settled first by the merchant online")
        ),
        "still_open": _c(N_("Still open"), N_("Accepted and not yet ended")),
        "under_correction": _c(N_("Under correction"), N_("The merchant asked to correct them")),
        "by_category": _c(N_("By category"), N_("category=count, separated by semicolons")),
        "excluded": _c(
            N_("Not published"), N_("Complaints in the window not published, in all (no reasons)")
        ),
        "ratings": _c(
            N_("Ratings"), N_("Ratings received over the same days; empty below the minimum")
        ),
        "per_100_ratings": _c(
            N_("Complaints per 100 ratings"),
            N_("published × 100 / ratings, one decimal; empty below the minimum of ratings"),
        ),
        "last_update": _c(N_("Last update"), N_("The latest day any complaint changed")),
        "min_cases": _c(N_("Minimum of cases"), N_("Below this n no rate is shown")),
        "policy_version": _c(N_("Policy version"), N_("The disclosure policy followed")),
    },
}

# Sheet names (at most 31 characters in a workbook).
SHEETS: Final = {
    "responses": N_("Survey responses"),
    "audit": N_("Audit log"),
    "flags": N_("Flagged responses"),
    "appeals": N_("Holders' replies"),
    "eligibility": N_("Eligibility"),
    "score_runs": N_("Score runs"),
    "rankings": N_("Rankings"),
    "run_export": N_("Unit scores"),
    "complaint_figures": N_("Complaint figures"),
    "credit_classes": N_("Credit classes"),
    "annual_summary": N_("Summary"),
    "annual_followups": N_("Follow-ups"),
    "annual_channels": N_("By channel"),
    "annual_months": N_("By month"),
    "public_lists": N_("Public lists"),
    "complaint_records": N_("Complaint records"),
}
DICTIONARY_SHEET: Final = N_("Data dictionary")
# The data dictionary sheet's header row, in order.
DICTIONARY_HEADER: Final = (
    N_("Sheet"),
    N_("Column"),
    N_("Machine name"),
    N_("Type"),
    N_("Unit of measure"),
    N_("Description"),
)

_RATE_PARTS: Final = {
    "k": (N_("%(rate)s: k"), N_("Cases counted in the rate's numerator")),
    "n": (N_("%(rate)s: n"), N_("Cases in the rate's denominator")),
    "percent": (N_("%(rate)s (%%)"), N_("The rate; empty below the minimum of cases")),
    "ci_low": (N_("%(rate)s: 95%% low"), N_("Lower end of its 95% Wilson interval")),
    "ci_high": (N_("%(rate)s: 95%% high"), N_("Upper end of its 95% Wilson interval")),
}
_RATES: Final = {
    "mediation_success": N_("Mediation success"),
    "merchant_first": N_("Settled first by the merchant"),
}
# Reason codes of complaints left out of the public record (scoring.disclosure.rules).
EXCLUSIONS: Final = {
    "corrected": N_("Corrected"),
    "withdrawn": N_("Withdrawn by the consumer"),
    "not_accepted": N_("Not accepted"),
    "awaiting_acceptance": N_("Awaiting acceptance"),
    "professional_claim": N_("Professional claim"),
    "personal_data": N_("Personal data"),
    "excluded_by_rules": N_("Excluded by the rules"),
}

Resolved = tuple[str, str, str]  # label, description, unit: translated
Pattern = tuple[re.Pattern[str], Callable[[re.Match[str], Callable[[str], str]], Resolved]]


def _passed(m: re.Match[str], _: Callable[[str], str]) -> Resolved:
    return (
        _("%(criterion)s: met") % {"criterion": _(CRITERIA[m[1]].label)},
        _("Whether the criterion is met"),
        "",
    )


def _rate(m: re.Match[str], _: Callable[[str], str]) -> Resolved:
    label, description = _RATE_PARTS[m[2]]
    unit = _(PERCENT) if m[2] in ("percent", "ci_low", "ci_high") else ""
    return _(label) % {"rate": _(_RATES[m[1]])}, _(description), unit


# Columns named after something else (a criterion, a rate, a reason code).
PATTERNS: Final[dict[str, tuple[Pattern, ...]]] = {
    "eligibility": ((re.compile(rf"({'|'.join(CRITERIA)})_passed"), _passed),),
    "complaint_records": (
        (re.compile(rf"({'|'.join(_RATES)})_(k|n|percent|ci_low|ci_high)"), _rate),
    ),
}


def _gettext(locale: str) -> Callable[[str], str]:
    return translations(locale).gettext


def resolve(kind: str, name: str, locale: str, extra: Mapping[str, str] | None = None) -> Resolved:
    """The column's label, description and unit in ``locale``; ``extra``: labels the export
    knows itself (a survey's questions), used as they are."""
    _ = _gettext(locale)
    if extra and name in extra:
        return extra[name], _("An answer to this question"), ""
    column = CATALOG[kind].get(name)
    if column is not None:
        return _(column.label), _(column.description), _(column.unit) if column.unit else ""
    for pattern, make in PATTERNS.get(kind, ()):
        if m := pattern.fullmatch(name):
            return make(m, _)
    raise UnlabelledColumn(f"{kind}: no label for column {name!r} in service.kernel.columns")


def label(kind: str, name: str, locale: str) -> str:
    """The column's header in ``locale`` (e.g. ``label("complaint_figures", "received",
    "zh_CN")``)."""
    return resolve(kind, name, locale)[0]


def describe(kind: str, name: str, locale: str) -> str:
    return resolve(kind, name, locale)[1]


def sheet_name(kind: str, locale: str) -> str:
    return _gettext(locale)(SHEETS[kind])[:31]


def sheet_name_of(locale: str) -> str:
    """The data dictionary sheet's name in ``locale``."""
    return _gettext(locale)(DICTIONARY_SHEET)[:31]


def labels(
    kind: str, names: list[str], locale: str, extra: Mapping[str, str] | None = None
) -> list[str]:
    """Every header of an export; two columns with the same label keep them apart by their
    machine names."""
    found = [resolve(kind, n, locale, extra)[0] for n in names]
    return [
        f"{text} ({name})" if found.count(text) > 1 else text
        for text, name in zip(found, names, strict=True)
    ]
