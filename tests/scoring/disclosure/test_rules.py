"""The public complaint record, pure, against figures worked out by hand."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from scoring.credit.models import ComplaintStatus as S
from scoring.credit.models import IntakeKind, Resolution
from scoring.disclosure.rules import (
    Case,
    Exclusion,
    Policy,
    PolicyError,
    city_figures,
    complaint_record,
    exclusion,
    months_before,
    policy,
    window,
)

P = policy()
# 2026-12-08 09:00 in Beijing: the window is 2025-12-09 – 2026-12-08 (local dates).
NOW = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def case(
    status: S,
    resolution: Resolution | None = None,
    *,
    category: str = "quality",
    days_ago: float = 30,
    accepted: bool = True,
    flagged: bool = False,
    kind: IntakeKind = IntakeKind.COMPLAINT,
) -> Case:
    received = NOW - days_ago * DAY
    return Case(
        kind=kind,
        received_at=received,
        accepted_at=received + DAY if accepted else None,
        status=status,
        resolution=resolution,
        category=category,
        updated_at=received + 2 * DAY,
        flagged=flagged,
    )


def mediated(n: int, **kw: object) -> list[Case]:
    return [case(S.CLOSED, Resolution.MEDIATED, **kw) for _ in range(n)]  # type: ignore[arg-type]


def test_the_shipped_policy() -> None:
    assert (P.window_months, P.min_cases, P.per_ratings, P.min_ratings) == (12, 30, 100, 30)
    assert P.professional_claims
    assert P.excluded_categories["personal_information"] == Exclusion.PERSONAL_DATA


def test_the_window_is_twelve_months_of_local_days() -> None:
    assert window(NOW, P) == (date(2025, 12, 9), date(2026, 12, 8))
    # 2026-12-07 17:00 UTC is already the 8th in Beijing.
    assert window(datetime(2026, 12, 7, 17, tzinfo=UTC), P)[1] == date(2026, 12, 8)
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)


def test_below_the_minimum_only_counts() -> None:
    """Three complaints: 2 mediated, 1 terminated, so 2 of 3 — a rate of 66.7% that would say
    more than three cases can. No rate is shown, only k and n."""
    record = complaint_record(
        [*mediated(2), case(S.TERMINATED, Resolution.TERMINATED)], NOW, P, ratings=None
    )
    assert (record.published, record.mediated, record.terminated) == (3, 2, 1)
    assert (record.merchant_settled, record.still_open) == (0, 0)
    for rate in (record.mediation_success, record.merchant_first):
        assert not rate.shown
        assert (rate.percent, rate.ci_low, rate.ci_high) == (None, None, None)
    assert (record.mediation_success.k, record.mediation_success.n) == (2, 3)
    assert (record.merchant_first.k, record.merchant_first.n) == (0, 3)
    assert record.per_100_ratings is None and record.ratings is None
    assert record.by_category == {"quality": 3}
    assert record.excluded == 0


def test_exclusions_each_under_its_reason() -> None:
    """Nine records in the window, six of them not published, each under one reason; one
    outside the window and one consultation not counted at all."""
    cases = [
        case(S.CLOSED, Resolution.MEDIATED),  # published
        case(S.MEDIATING),  # published, still open
        # published, settled by the merchant first
        case(S.CLOSED, Resolution.MERCHANT_ODR, accepted=False, category="price"),
        case(S.CLOSED, Resolution.WITHDRAWN),  # withdrawn
        case(S.REJECTED, Resolution.REFUSED),  # not accepted
        case(S.RECEIVED, accepted=False),  # awaiting acceptance
        case(S.CLOSED, Resolution.MEDIATED, flagged=True),  # professional claim
        case(S.ACCEPTED, category="personal_information"),  # personal data
        # Withdrawn comes first: a flagged complaint the consumer withdrew is "withdrawn".
        case(S.CLOSED, Resolution.WITHDRAWN, flagged=True),
        case(S.CLOSED, Resolution.MEDIATED, days_ago=400),  # received before the window
        case(S.CLOSED, kind=IntakeKind.CONSULTATION),  # not a complaint
    ]
    record = complaint_record(cases, NOW, P)
    assert record.published == 3
    assert (record.mediated, record.merchant_settled, record.still_open) == (1, 1, 1)
    reasons = Counter(exclusion(c, P) for c in cases[:9])
    assert reasons == {
        None: 3,
        Exclusion.WITHDRAWN: 2,
        Exclusion.NOT_ACCEPTED: 1,
        Exclusion.AWAITING_ACCEPTANCE: 1,
        Exclusion.PROFESSIONAL_CLAIM: 1,
        Exclusion.PERSONAL_DATA: 1,
    }
    # The merchant's record holds the total only, never the reasons.
    assert record.excluded == 6
    assert record.by_category == {"quality": 2, "price": 1}
    # The latest change of a record in the window: the newest received 30 days ago, changed
    # two days later (the one 400 days old does not count).
    assert record.last_update == date(2026, 11, 10)


def test_a_city_may_publish_flagged_complaints() -> None:
    open_policy = dataclasses.replace(P, professional_claims=False)
    flagged = case(S.CLOSED, Resolution.MEDIATED, flagged=True)
    assert exclusion(flagged, open_policy) is None
    assert exclusion(flagged, P) == Exclusion.PROFESSIONAL_CLAIM


def test_above_the_minimum_exact_rates_and_wilson_bounds() -> None:
    """50 published: 10 settled by the merchant first, 27 mediated, 9 terminated, 4 open.

    Mediation success 27 of 36 (p = 0.75), z = 1.959964, z² = 3.841459:
      denominator = 1 + z²/n = 1 + 3.841459/36 = 1.106707
      centre = (p + z²/2n) / denominator = (0.75 + 0.053354) / 1.106707 = 0.725896
      half = z·√(p(1−p)/n + z²/4n²) / denominator
           = 1.959964·√(0.005208333 + 0.000741022) / 1.106707 = 0.151176 / 1.106707 = 0.136600
      → 58.93% – 86.25%: 75.0% (58.9–86.2)
    Merchant-first 10 of 50 (p = 0.2):
      denominator = 1 + 3.841459/50 = 1.076829
      centre = (0.2 + 0.038415) / 1.076829 = 0.221404
      half = 1.959964·√(0.0032 + 0.000384146) / 1.076829 = 0.117339 / 1.076829 = 0.108967
      → 11.24% – 33.04%: 20.0% (11.2–33.0)
    Per 100 ratings with 400 ratings: 50·100/400 = 12.5."""
    cases = [
        *[case(S.CLOSED, Resolution.MERCHANT_ODR, accepted=False) for _ in range(10)],
        *mediated(20),
        *[case(S.CLOSED, Resolution.PEOPLE_MEDIATION, category="service") for _ in range(4)],
        *[case(S.CLOSED, Resolution.COURT_MEDIATION, category="service") for _ in range(3)],
        *[case(S.TERMINATED, Resolution.TERMINATED, category="price") for _ in range(9)],
        *[case(S.ACCEPTED) for _ in range(2)],
        *[case(S.MEDIATING) for _ in range(2)],
    ]
    record = complaint_record(cases, NOW, P, ratings=400)
    assert record.published == 50
    assert (record.mediated, record.terminated) == (27, 9)
    assert (record.merchant_settled, record.still_open) == (10, 4)
    success = record.mediation_success
    assert (success.k, success.n, success.percent) == (27, 36, 75.0)
    assert (success.ci_low, success.ci_high) == (58.9, 86.2)
    first = record.merchant_first
    assert (first.k, first.n, first.percent) == (10, 50, 20.0)
    assert (first.ci_low, first.ci_high) == (11.2, 33.0)
    assert record.per_100_ratings == 12.5 and record.ratings == 400
    assert record.by_category == {"quality": 34, "price": 9, "service": 7}


def test_the_minimum_is_inclusive() -> None:
    """Exactly 30 ended mediations: 30 of 30 mediated, shown — Wilson keeps a width at the
    edge: low = (1 + z²/60 − z·√(z²/3600)) / (1 + z²/30) = (1.064024 − 0.064024)/1.128049."""
    record = complaint_record(mediated(30), NOW, P)
    assert record.mediation_success.percent == 100.0
    assert record.mediation_success.ci_low == 88.6  # 1/1.128049 = 0.886486
    assert record.mediation_success.ci_high == 100.0
    assert not complaint_record(mediated(29), NOW, P).mediation_success.shown


def test_a_bad_policy_names_its_key(tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("[window]\nmonths = 0\n[rates]\nmin_cases = 30\nper_ratings = 100\n")
    with pytest.raises(PolicyError, match=r"\[window\] months"):
        Policy.load(bad)
    bad.write_text(
        "[window]\nmonths = 12\n[rates]\nmin_cases = 30\nper_ratings = 100\n"
        '[exclusions.categories]\nrude = ["x"]\n'
    )
    with pytest.raises(PolicyError, match="unknown reason 'rude'"):
        Policy.load(bad)


def test_the_city_views() -> None:
    """Window 2025-12-09 – 2026-12-08, quarter 2026-Q4 (from 1 Oct). Published: 3 quality in
    district A this quarter, 1 price in B on 2026-01-15, 1 service in B on 2025-12-10 (the
    window's first, partial month); not: a withdrawn one, and one before the window."""

    def on(day: tuple[int, int, int], **kw: object) -> Case:
        return dataclasses.replace(case(**kw), received_at=datetime(*day, 4, tzinfo=UTC))  # type: ignore[arg-type]

    cases = [
        *[on((2026, 11, 2), status=S.CLOSED, resolution=Resolution.MEDIATED) for _ in range(3)],
        on((2026, 1, 15), status=S.MEDIATING, category="price"),
        on((2025, 12, 10), status=S.MEDIATING, category="service"),
        on((2026, 10, 1), status=S.CLOSED, resolution=Resolution.WITHDRAWN),
        on((2025, 12, 8), status=S.MEDIATING),
    ]
    cases = [
        dataclasses.replace(c, district="A" if c.category == "quality" else "B") for c in cases
    ]
    city = city_figures(cases, NOW, P)
    assert city.published == 5 and city.excluded["withdrawn"] == 1
    assert city.by_category == {"quality": 3, "price": 1, "service": 1}
    assert city.by_district == {"A": 3, "B": 2}
    assert list(city.by_month) == [
        "2025-12",
        *(f"2026-{m:02d}" for m in range(1, 13)),
    ]
    assert city.by_month["2025-12"] == 1 and city.by_month["2026-01"] == 1
    assert city.by_month["2026-11"] == 3 and sum(city.by_month.values()) == 5
    assert city.quarter == "2026-Q4" and city.hot == {"quality": 3}


def test_a_record_closed_without_an_acceptance_date_was_handled() -> None:
    """A feed's record may end with no acceptance date (a handler that keeps none): it was
    handled, so it is published; only one still merely received awaits acceptance."""
    closed = case(S.CLOSED, Resolution.MEDIATED, accepted=False)
    assert exclusion(closed, P) is None
    assert exclusion(case(S.RECEIVED, accepted=False), P) == Exclusion.AWAITING_ACCEPTANCE


def test_no_figure_per_100_ratings_below_the_minimum_of_ratings() -> None:
    """One published complaint over 2 ratings would read "50.0 per 100 ratings": the stall
    that sold twice. Below min_ratings (30) no figure, and no count of ratings either; at 30:
    1·100/30 = 3.33… → 3.3."""
    one = [case(S.MEDIATING)]
    for few in (2, 29):
        record = complaint_record(one, NOW, P, ratings=few)
        assert (record.ratings, record.per_100_ratings) == (None, None)
    at_minimum = complaint_record(one, NOW, P, ratings=30)
    assert (at_minimum.ratings, at_minimum.per_100_ratings) == (30, 3.3)
    assert complaint_record(one, NOW, P, ratings=0).per_100_ratings is None


def test_the_last_update_follows_what_the_record_shows() -> None:
    """A published complaint changed on 2026-11-10 (received 30 days ago, changed 2 days
    later). A withdrawn one touched on 2026-12-01 changes nothing published: it does not move
    the date. A correction decided on 2026-12-03 (accepted: an entry left the figures) and a
    request on 2026-12-05 about a published one (更正中 appeared) each do."""
    published = case(S.MEDIATING)
    withdrawn = dataclasses.replace(
        case(S.CLOSED, Resolution.WITHDRAWN), updated_at=datetime(2026, 12, 1, 3, tzinfo=UTC)
    )
    assert complaint_record([published, withdrawn], NOW, P).last_update == date(2026, 11, 10)
    corrected = dataclasses.replace(
        case(S.CLOSED, Resolution.MEDIATED),
        correction="accepted",
        correction_at=datetime(2026, 12, 3, 3, tzinfo=UTC),
    )
    record = complaint_record([published, withdrawn, corrected], NOW, P)
    assert (record.published, record.excluded, record.last_update) == (1, 2, date(2026, 12, 3))
    # 2026-12-04 20:00 UTC is already the 5th in Beijing.
    asked = dataclasses.replace(
        published, correction="pending", correction_at=datetime(2026, 12, 4, 20, tzinfo=UTC)
    )
    record = complaint_record([asked, withdrawn, corrected], NOW, P)
    assert (record.under_correction, record.last_update) == (1, date(2026, 12, 5))
