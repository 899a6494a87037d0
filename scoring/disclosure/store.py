"""The complaint records read from the database: one merchant's, or a page of the city's.

Only what disclosure needs is read (kind, dates, status, resolution, category, the
professional-claim flag of a complaint filed online) — never a party's name, address or a
consumer's contact. The per-100 figure is over the ratings the merchant received in the same
window (the responses scoring counts: not excluded by screening), counted for a page of
merchants in one grouped query: the register keeps no date of establishment, and the date a
merchant entered Fangxin's register is not the day it began trading, so no per-year figure
is made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from tortoise.functions import Count
from tortoise.queryset import QuerySet

from scoring.credit.models import Complaint, ComplaintStatus, IntakeKind, Resolution
from scoring.credit.workdays import LOCAL_TZ
from scoring.disclosure.models import ComplaintCorrection, CorrectionStatus
from scoring.disclosure.rules import (
    NOT_PUBLISHED,
    UNNAMED,
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
from service.kernel.db import in_slices
from service.kernel.models import Merchant
from surveys.models import Response, TargetKind

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


def _edges(now: datetime, p: Policy) -> tuple[datetime, datetime]:
    """The window's first instant and the first instant after it: its first local day's
    midnight and the midnight after its last, in UTC."""
    first, last = window(now, p)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=LOCAL_TZ).astimezone(UTC)

    return midnight(first), midnight(last + timedelta(days=1))


def _in_window(now: datetime, p: Policy) -> QuerySet[Complaint]:
    start, end = _edges(now, p)
    return Complaint.filter(
        kind=IntakeKind.COMPLAINT,
        merchant_id__isnull=False,
        received_at__gte=start,
        received_at__lt=end,
    )


async def _cases(merchant_ids: Sequence[int], now: datetime, p: Policy) -> dict[int, list[Case]]:
    """The merchants' complaints received in the window, as disclosure reads them."""
    rows = await in_slices(
        lambda ids: _in_window(now, p).filter(merchant_id__in=ids).values_list(*FIELDS),
        merchant_ids,
    )
    ids = [r[0] for r in rows]
    return _read(rows, await _flagged(ids), await _corrections(ids))


@dataclass(frozen=True, slots=True)
class _Corrections:
    bearing: dict[int, str]  # complaint → the correction bearing on it: pending or accepted
    changed: dict[int, datetime]  # complaint → its corrections' latest request or decision


async def _corrections(complaint_ids: Sequence[int]) -> _Corrections:
    """The correction that bears on each complaint: pending or accepted (there is at most one
    of either: a request waits for no other, and an accepted one ends the entry's record);
    and when any correction of it was last asked for or decided (refused ones too: a refusal
    takes "更正中" off the record)."""

    async def read(ids: Sequence[int]) -> list[tuple[int, str, datetime, datetime | None]]:
        found = await ComplaintCorrection.filter(complaint_id__in=ids).values_list(
            "complaint_id", "status", "requested_at", "decided_at"
        )
        return cast("list[tuple[int, str, datetime, datetime | None]]", found)

    out = _Corrections({}, {})
    for cid, status, requested, decided in await in_slices(read, complaint_ids):
        latest = max(requested, decided) if decided is not None else requested
        if cid not in out.changed or latest > out.changed[cid]:
            out.changed[cid] = latest
        if status not in (CorrectionStatus.PENDING, CorrectionStatus.ACCEPTED):
            continue
        # Accepted outranks pending, should a stale pending one remain beside it.
        if out.bearing.get(cid) != CorrectionStatus.ACCEPTED:
            out.bearing[cid] = CorrectionStatus(status).value
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
    rows: Sequence[tuple[Any, ...]], flagged: set[int], corrections: _Corrections
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
                correction=corrections.bearing.get(cid),
                correction_at=corrections.changed.get(cid),
            )
        )
    return out


async def _ratings(usccs: Sequence[str], now: datetime, p: Policy) -> dict[str, int]:
    """The ratings each merchant received over the record's window (the same local days as
    its complaints): the responses about it that scoring counts, those no screening
    excluded. One grouped query for a page of merchants."""
    start, end = _edges(now, p)

    async def counted(codes: Sequence[str]) -> list[tuple[str, int]]:
        found = (
            await Response.filter(
                target_kind=TargetKind.MERCHANT,
                target_code__in=codes,
                excluded=False,
                submitted_at__gte=start,
                submitted_at__lt=end,
            )
            .annotate(n=Count("id"))
            .group_by("target_code")
            .values_list("target_code", "n")
        )
        return cast("list[tuple[str, int]]", found)

    return dict(await in_slices(counted, usccs)) if usccs else {}


async def merchant_record(merchant_id: int, uscc: str, now: datetime, p: Policy) -> ComplaintRecord:
    cases = await _cases([merchant_id], now, p)
    ratings = await _ratings([uscc], now, p)
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
    ratings = await _ratings([m.uscc for m in merchants], now, p)
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
    # The reason code, None: published; NOT_PUBLISHED for a reason not named (rules.UNNAMED).
    excluded: str | None
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
        code = None if reason is None else NOT_PUBLISHED if reason in UNNAMED else reason.value
        out.append(
            Entry(
                row[0],
                case.received_at,
                case.category,
                case.status.value,
                code,
                case.correction,
            )
        )
    return out
