"""Counter visits and consultations received in person (接待来访、咨询): daily tallies per desk.

They sit beside the 12315 intake because the bureau reports them with it; they weigh nothing
in credit (a visitor names no merchant until a complaint is registered, and that arrives as
an intake record). A resent tally replaces the stored one, keyed by (source, external id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.credit.feeds import Feed, IngestResult, ingest
from scoring.credit.models import CounterVisit, Handler
from scoring.credit.schemas import VisitTallyIn
from service.kernel.audit import Actor
from service.kernel.db import in_slices
from service.kernel.errors import FieldError
from service.kernel.localtime import to_local
from service.kernel.validation import check_text
from service.register import store as registry

MAX_PER_DAY = 100_000  # people one desk can see in a day, with room: above is a typo


@dataclass(frozen=True, slots=True)
class TallyRow:
    source: str
    external_id: str
    day: date
    handled_by: Handler
    district_id: int | None
    visits: int
    consultations: int

    def fields(self) -> dict[str, object]:
        return {
            "day": self.day,
            "handled_by": self.handled_by,
            "district_id": self.district_id,
            "visits": self.visits,
            "consultations": self.consultations,
        }


def check_tallies(
    items: Sequence[VisitTallyIn], districts: dict[str, int], now: datetime
) -> tuple[list[TallyRow], list[FieldError]]:
    today = to_local(now).date()
    rows: list[TallyRow] = []
    errors: list[FieldError] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        at = f"tallies[{i}]"
        bad: list[FieldError] = []
        check_text(bad, f"{at}.external_id", item.external_id, 128)
        check_text(bad, f"{at}.source", item.source, 64)
        day: date | None = None
        try:
            day = date.fromisoformat(item.day)
            if day > today:
                bad.append(FieldError(f"{at}.day", "is in the future"))
        except ValueError:
            bad.append(FieldError(f"{at}.day", "is not a date (YYYY-MM-DD)"))
        for name, count in (("visits", item.visits), ("consultations", item.consultations)):
            if not 0 <= count <= MAX_PER_DAY:
                bad.append(FieldError(f"{at}.{name}", f"must be between 0 and {MAX_PER_DAY}"))
        handled_by: Handler | None = None
        try:
            handled_by = Handler(item.handled_by)
        except ValueError:
            choices = ", ".join(h.value for h in Handler)
            bad.append(FieldError(f"{at}.handled_by", f"must be one of {choices}"))
        district_id = None
        if item.district is not None:
            district_id = districts.get(item.district)
            if district_id is None:
                bad.append(FieldError(f"{at}.district", f"no district with code {item.district!r}"))
        key = (item.source, item.external_id)
        if key in seen:
            bad.append(FieldError(f"{at}.external_id", f"repeats item {seen[key]} of this batch"))
        seen.setdefault(key, i)
        if bad or day is None or handled_by is None:
            errors.extend(bad)
            continue
        rows.append(
            TallyRow(
                item.source,
                item.external_id,
                day,
                handled_by,
                district_id,
                item.visits,
                item.consultations,
            )
        )
    return rows, errors


async def ingest_tallies(
    items: Sequence[VisitTallyIn],
    *,
    actor: Actor,
    now: datetime | None = None,
    origin: str = "api",
    dry_run: bool = False,
) -> IngestResult:
    """A batch of tallies: all of it or none of it, audited."""
    feed = TallyFeed(items, now or datetime.now(UTC))
    return await ingest(feed, actor=actor, origin=origin, dry_run=dry_run)


@dataclass(frozen=True, slots=True)
class TallyFeed(Feed[list[TallyRow]]):
    """Tallies take no lock: they weigh nothing in credit."""

    action = "visits.ingest"
    subject = "counter_visits"
    counts = ("received", "stored", "updated")

    items: Sequence[VisitTallyIn]
    now: datetime

    async def check(self, tx: BaseDBAsyncClient) -> tuple[list[TallyRow], list[FieldError]]:
        districts = await registry.district_ids(tx)
        return check_tallies(self.items, districts, self.now)

    async def write(self, tx: BaseDBAsyncClient, checked: list[TallyRow]) -> IngestResult:
        existing = await _stored(tx, checked)
        creates: list[CounterVisit] = []
        updated = 0
        for row in checked:
            old = existing.get((row.source, row.external_id))
            if old is None:
                creates.append(
                    CounterVisit(source=row.source, external_id=row.external_id, **row.fields())
                )
            elif any(getattr(old, k) != v for k, v in row.fields().items()):
                old.update_from_dict(row.fields())
                await old.save(using_db=tx)
                updated += 1
        if creates:
            await CounterVisit.bulk_create(creates, batch_size=1000, using_db=tx)
        unchanged = len(checked) - len(creates) - updated
        return IngestResult(len(checked), len(creates), updated, unchanged, 0)


async def _stored(
    tx: BaseDBAsyncClient, rows: Sequence[TallyRow]
) -> dict[tuple[str, str], CounterVisit]:
    sources = {r.source for r in rows}
    found = await in_slices(
        lambda ids: CounterVisit.filter(source__in=sources, external_id__in=ids).using_db(tx),
        {r.external_id for r in rows},
    )
    return {(v.source, v.external_id): v for v in found}
