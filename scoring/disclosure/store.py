"""The complaint records read from the database: one merchant's, or a page of the city's.

Only what disclosure needs is read (kind, dates, status, resolution, category, the
professional-claim flag of a complaint filed online) — never a party's name, address or a
consumer's contact. The per-100 figure is over the ratings behind the merchant's published
score (the current published run's n): the register keeps no date of establishment, and the
date a merchant entered Fangxin's register is not the day it began trading, so no per-year
figure is made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from tortoise.queryset import QuerySet

from scoring.credit.models import Complaint, ComplaintStatus, IntakeKind, Resolution
from scoring.credit.workdays import LOCAL_TZ
from scoring.disclosure.models import ComplaintCorrection, CorrectionStatus
from scoring.disclosure.rules import (
    Case,
    CityFigures,
    ComplaintRecord,
    Policy,
    city_figures,
    complaint_record,
    exclusion,
    window,
)
from scoring.disputes.models import Dispute
from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from service.kernel.db import in_slices
from service.kernel.models import Merchant

FIELDS = (
    "id",
    "merchant_id",
    "kind",
    "received_at",
    "accepted_at",
    "status",
    "resolution",
    "category",
    "updated_at",
)


def _window_start(now: datetime, p: Policy) -> datetime:
    """The first instant of the window (its first local day's midnight, in UTC)."""
    first, _ = window(now, p)
    return datetime.combine(first, time(), tzinfo=LOCAL_TZ).astimezone(UTC)


def _in_window(now: datetime, p: Policy) -> QuerySet[Complaint]:
    return Complaint.filter(
        kind=IntakeKind.COMPLAINT,
        merchant_id__isnull=False,
        received_at__gte=_window_start(now, p),
        received_at__lt=now + timedelta(days=1),
    )


async def _cases(merchant_ids: Sequence[int], now: datetime, p: Policy) -> dict[int, list[Case]]:
    """The merchants' complaints received in the window, as disclosure reads them."""
    rows = await in_slices(
        lambda ids: _in_window(now, p).filter(merchant_id__in=ids).values_list(*FIELDS),
        merchant_ids,
    )
    ids = [r[0] for r in rows]
    return _read(rows, await _flagged(ids), await _corrections(ids))


async def _corrections(complaint_ids: Sequence[int]) -> dict[int, str]:
    """The correction that bears on each complaint: pending or accepted (there is at most one
    of either: a request waits for no other, and an accepted one ends the entry's record)."""

    async def bearing(ids: Sequence[int]) -> list[tuple[int, str]]:
        found = await ComplaintCorrection.filter(
            complaint_id__in=ids,
            status__in=(CorrectionStatus.PENDING, CorrectionStatus.ACCEPTED),
        ).values_list("complaint_id", "status")
        return cast("list[tuple[int, str]]", found)

    out: dict[int, str] = {}
    for cid, status in await in_slices(bearing, complaint_ids):
        # Accepted outranks pending, should a stale pending one remain beside it.
        if out.get(cid) != CorrectionStatus.ACCEPTED:
            out[cid] = CorrectionStatus(status).value
    return out


async def _flagged(complaint_ids: Sequence[int]) -> set[int]:
    """Which of these complaints were filed online from a contact flagged for the 职业索赔
    pattern."""

    async def flagged(ids: Sequence[int]) -> list[int]:
        found = await Dispute.filter(complaint_id__in=ids, flag_many=True).values_list(
            "complaint_id", flat=True
        )
        return cast("list[int]", found)

    return set(await in_slices(flagged, complaint_ids))


def _read(
    rows: Sequence[tuple[Any, ...]], flagged: set[int], corrections: dict[int, str]
) -> dict[int, list[Case]]:
    out: dict[int, list[Case]] = defaultdict(list)
    for (
        cid,
        mid,
        kind,
        received,
        accepted,
        status,
        resolution,
        category,
        updated,
        *district,
    ) in rows:
        out[mid].append(
            Case(
                kind=IntakeKind(kind),
                received_at=received,
                accepted_at=accepted,
                status=ComplaintStatus(status),
                resolution=Resolution(resolution) if resolution else None,
                category=category,
                updated_at=updated,
                flagged=cid in flagged,
                district=district[0] if district else "",
                correction=corrections.get(cid),
            )
        )
    return out


async def _ratings(usccs: Sequence[str]) -> dict[str, int]:
    """The ratings behind each merchant's published score (none without a published run)."""
    run = await runs.current_run()
    if run is None or not usccs:
        return {}
    found = await in_slices(
        lambda codes: UnitScore.filter(run_id=run.id, kind="merchant", code__in=codes).values_list(
            "code", "n"
        ),
        usccs,
    )
    return dict(found)


async def merchant_record(merchant_id: int, uscc: str, now: datetime, p: Policy) -> ComplaintRecord:
    cases = await _cases([merchant_id], now, p)
    ratings = await _ratings([uscc])
    return complaint_record(cases.get(merchant_id, []), now, p, ratings.get(uscc))


@dataclass(frozen=True, slots=True)
class CityPage:
    total: int  # merchants in the register
    records: list[tuple[Merchant, ComplaintRecord]]  # by USCC


async def city_records(now: datetime, p: Policy, *, page: int, page_size: int) -> CityPage:
    """One page of every registered merchant's record, by USCC (a merchant with no complaint
    has a record of zeros: that, too, is a fact the public may read)."""
    merchants = (
        await Merchant.all()
        .order_by("uscc")
        .offset((page - 1) * page_size)
        .limit(page_size)
        .select_related("district")
    )
    cases = await _cases([m.id for m in merchants], now, p)
    ratings = await _ratings([m.uscc for m in merchants])
    return CityPage(
        total=await Merchant.all().count(),
        records=[
            (m, complaint_record(cases.get(m.id, []), now, p, ratings.get(m.uscc)))
            for m in merchants
        ],
    )


async def city_views(now: datetime, p: Policy) -> CityFigures:
    """The city's published complaints about registered merchants, by category, district and
    month: every record of the window read once (the window is a year of one city's 12315
    complaints about registered merchants, tens of thousands of small rows at most)."""
    rows = await _in_window(now, p).values_list(*FIELDS, "merchant__district__code")
    ids = [r[0] for r in rows]
    cases = _read(rows, await _flagged(ids), await _corrections(ids))
    return city_figures((c for group in cases.values() for c in group), now, p)


@dataclass(frozen=True, slots=True)
class Entry:
    """One of the merchant's complaints in the window, as the merchant sees it to ask for a
    correction: published or why not, and the correction bearing on it."""

    id: int
    received_at: datetime
    category: str
    status: str
    excluded: str | None  # the reason code, None: published
    correction: str | None


async def entries(merchant_id: int, now: datetime, p: Policy) -> list[Entry]:
    """The merchant's complaints received in the window, newest first."""
    rows = (
        await _in_window(now, p)
        .filter(merchant_id=merchant_id)
        .order_by("-received_at", "-id")
        .values_list(*FIELDS)
    )
    ids = [r[0] for r in rows]
    flagged, fixes = await _flagged(ids), await _corrections(ids)
    out = []
    for row, case in zip(rows, _read(rows, flagged, fixes).get(merchant_id, []), strict=True):
        reason = exclusion(case, p)
        out.append(
            Entry(
                row[0],
                case.received_at,
                case.category,
                case.status.value,
                reason.value if reason else None,
                case.correction,
            )
        )
    return out
