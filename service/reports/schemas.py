"""Wire shape of the annual report. Money is yuan as a decimal string with two decimals
("4205799.00"): exact, where a float would not be; rates are percent with one decimal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import msgspec


class ConsumerAssociation(msgspec.Struct):
    """Complaints the consumer associations (消协) received in the year."""

    complaints_received: int
    complaints_closed: int
    closure_rate: float | None  # percent
    amount_recovered: Decimal  # yuan


class AllChannels(msgspec.Struct):
    """Consultations, complaints and reports through every channel and handler."""

    consultations: int
    complaints: int
    reports: int
    total: int
    amount_disputed: Decimal
    amount_recovered: Decimal


class FollowUps(msgspec.Struct):
    """The follow-up visits (回访) of the year's records: what consumers said of the handling.

    满意率 = (satisfied + basically satisfied) / answered, where answered = satisfied + basically
    satisfied + not satisfied; "not reached" is counted apart and is in no denominator. With
    fewer than ``MIN_ANSWERS`` answers ``too_few`` is true and rate and interval are null.

    By handling body (``followups_by_handler``): ``regulator``, ``consumer_association``, and
    ``merchant`` for complaints the merchant settled itself (``merchant_odr``) before the
    regulator accepted them; the three add up to the whole. A record's answer counts in the
    year the record was received (a complaint filed online and settled: the day it was filed)."""

    satisfied: int
    basically_satisfied: int
    dissatisfied: int
    not_reached: int
    satisfaction_rate: float | None  # percent of those answered: satisfied or basically
    answered: int = 0  # n of the rate
    ci_low: float | None = None  # 95% Wilson interval, percent with one decimal
    ci_high: float | None = None
    too_few: bool = True


class OnlineSettlement(msgspec.Struct):
    """Complaints filed online and closed in the year; how many the merchant settled itself
    (先行和解, ``merchant_odr``). Closed counts every ending: settled, mediated, refused,
    withdrawn, terminated."""

    closed: int
    merchant_odr: int
    merchant_odr_share: float | None  # percent of closed


class SpotChecks(msgspec.Struct):
    """Red Shield spot checks held in the year."""

    rounds: int
    categories: int  # distinct product categories sampled
    batches: int
    batches_failed: int
    cases_opened: int


class Satisfaction(msgspec.Struct):
    """The satisfaction index of the year's last published score run (0–100, 95% interval)."""

    index: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    run_id: int | None


class CertificateFigures(msgspec.Struct):
    """Certificates of one kind: by status as the year ended, issued and withdrawn in it."""

    active: int
    suspended: int
    revoked: int
    expired: int
    issued_in_year: int
    withdrawn_in_year: int


class CreditRepairs(msgspec.Struct, frozen=True):
    """Credit repair (信用修复) in the year: applications submitted, and decisions made
    (approved: the record no longer counts; refused), by the merchant's district."""

    submitted: int
    approved: int
    refused: int


def no_repairs() -> CreditRepairs:
    return CreditRepairs(0, 0, 0)


class DistrictFigures(msgspec.Struct):
    district: str  # "" for the city bureau's own (市本级)
    district_name: str
    consumer_association: ConsumerAssociation
    all_channels: AllChannels
    followups: FollowUps
    visits_and_consultations: int
    spot_checks: SpotChecks
    satisfaction: Satisfaction
    certificates: dict[str, CertificateFigures]
    followups_by_handler: dict[str, FollowUps]  # regulator, consumer_association, merchant
    online: OnlineSettlement
    # A factory, not an instance: the OpenAPI schema cannot write a struct as a default.
    repairs: CreditRepairs = msgspec.field(default_factory=no_repairs)


class ChannelFigures(msgspec.Struct):
    channel: str  # hotline, web, wechat, sms, qq, walk_in, letter, other, unstated
    consultations: int
    complaints: int
    reports: int
    total: int
    share: float | None  # percent of all records


class MonthFigures(msgspec.Struct):
    month: str  # YYYY-MM
    consultations: int
    complaints: int
    reports: int
    total: int
    amount_recovered: Decimal


class AnnualReport(msgspec.Struct):
    year: int
    district: str | None  # None: the whole city
    district_name: str | None
    generated_at: datetime
    consumer_association: ConsumerAssociation
    all_channels: AllChannels
    followups: FollowUps
    visits_and_consultations: int  # 接待来访、咨询 (person-times)
    spot_checks: SpotChecks
    satisfaction: Satisfaction
    certificates: dict[str, CertificateFigures]  # by kind: merchant, street, scenic_spot
    by_district: list[DistrictFigures]
    by_channel: list[ChannelFigures]
    by_month: list[MonthFigures]
    followups_by_handler: dict[str, FollowUps]  # regulator, consumer_association, merchant
    online: OnlineSettlement
    # A factory, not an instance: the OpenAPI schema cannot write a struct as a default.
    repairs: CreditRepairs = msgspec.field(default_factory=no_repairs)
