"""Red Shield (红盾) spot checks: campaigns of rounds sampling goods in circulation, and the
credit events failed batches give rise to.

A campaign is resent as its rounds are held, and the latest report wins: campaigns by code,
rounds by (campaign, number), batches by (round, batch number). A batch resent no longer
failed withdraws its event. A failed batch names the merchant it was sampled from; when that
merchant is not in the register the batch keeps its name and USCC and counts in credit once a
merchant with that USCC is registered (``link_registered``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TypeAlias

from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.credit.feeds import Feed, IngestResult, ingest
from scoring.credit.models import SpotCheckBatch, SpotCheckCampaign, SpotCheckRound
from scoring.credit.rules import Rules
from scoring.credit.schemas import SpotCheckCampaignIn
from scoring.credit.store import (
    SPOT_CHECK_SOURCE,
    CreditSql,
    EventRow,
    credit_sql,
    replace_derived_events,
)
from service.kernel.audit import Actor
from service.kernel.db import in_slices
from service.kernel.errors import FieldError
from service.kernel.events import CreditChanged
from service.kernel.localtime import LOCAL_TZ, to_local
from service.kernel.models import Merchant
from service.kernel.validation import check_text
from service.register import store as registry
from service.register import uscc

CODE_MAX = 48  # a campaign code, so that campaign:round:batch fits an event reference
BATCH_NO_MAX = 64
FIRST_YEAR = 2000


@dataclass(frozen=True, slots=True)
class BatchRow:
    campaign: str
    round_number: int
    batch_no: str
    category: str
    failed: bool
    case_opened: bool
    merchant_id: int | None
    party_name: str
    party_uscc: str | None

    def fields(self) -> dict[str, object]:
        return {
            "category": self.category,
            "failed": self.failed,
            "case_opened": self.case_opened,
            "merchant_id": self.merchant_id,
            "party_name": self.party_name,
            "party_uscc": self.party_uscc,
        }


@dataclass(frozen=True, slots=True)
class RoundRow:
    number: int
    held_on: date
    batches: list[BatchRow]


@dataclass(frozen=True, slots=True)
class CampaignRow:
    code: str
    name: str
    year: int
    district_id: int | None
    rounds: list[RoundRow]


def event_ref(campaign: str, round_number: int, batch_no: str) -> str:
    return f"{campaign}:{round_number}:{batch_no}"


def _day(errors: list[FieldError], where: str, value: str, today: date) -> date | None:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        errors.append(FieldError(where, "is not a date (YYYY-MM-DD)"))
        return None
    if day > today:
        errors.append(FieldError(where, "is in the future"))
    return day


def check_campaigns(
    items: Sequence[SpotCheckCampaignIn],
    merchants: dict[str, int],
    districts: dict[str, int],
    now: datetime,
) -> tuple[list[CampaignRow], list[FieldError]]:
    today = to_local(now).date()
    errors: list[FieldError] = []
    out: list[CampaignRow] = []
    codes: dict[str, int] = {}
    for i, item in enumerate(items):
        at = f"campaigns[{i}]"
        bad: list[FieldError] = []
        check_text(bad, f"{at}.code", item.code, CODE_MAX)
        check_text(bad, f"{at}.name", item.name, 200)
        if item.code in codes:
            bad.append(FieldError(f"{at}.code", f"repeats campaign {codes[item.code]}"))
        codes.setdefault(item.code, i)
        if not FIRST_YEAR <= item.year <= today.year:
            bad.append(FieldError(f"{at}.year", f"must be between {FIRST_YEAR} and {today.year}"))
        district_id = None
        if item.district is not None:
            district_id = districts.get(item.district)
            if district_id is None:
                bad.append(FieldError(f"{at}.district", f"no district with code {item.district!r}"))
        rounds: list[RoundRow] = []
        numbers: set[int] = set()
        for j, rnd in enumerate(item.rounds):
            rat = f"{at}.rounds[{j}]"
            if rnd.number < 1:
                bad.append(FieldError(f"{rat}.number", "must be 1 or more"))
            elif rnd.number in numbers:
                bad.append(FieldError(f"{rat}.number", f"round {rnd.number} is given twice"))
            numbers.add(rnd.number)
            held_on = _day(bad, f"{rat}.held_on", rnd.held_on, today)
            if held_on is not None and held_on.year != item.year:
                bad.append(FieldError(f"{rat}.held_on", f"is not in the campaign's {item.year}"))
            batches: list[BatchRow] = []
            seen: set[str] = set()
            for k, b in enumerate(rnd.batches):
                bat = f"{rat}.batches[{k}]"
                check_text(bad, f"{bat}.batch_no", b.batch_no, BATCH_NO_MAX)
                check_text(bad, f"{bat}.category", b.category, 64)
                check_text(bad, f"{bat}.party_name", b.party_name, 200, required=False)
                if b.batch_no in seen:
                    bad.append(FieldError(f"{bat}.batch_no", "is given twice in this round"))
                seen.add(b.batch_no)
                if b.case_opened and not b.failed:
                    bad.append(FieldError(f"{bat}.case_opened", "a case follows a failed batch"))
                merchant_id = None
                if b.uscc is not None:
                    merchant_id = merchants.get(b.uscc)
                    if merchant_id is None:
                        try:
                            uscc.validate(b.uscc)
                        except uscc.USCCError as exc:
                            bad.append(FieldError(f"{bat}.uscc", str(exc)))
                elif b.failed and not b.party_name.strip():
                    bad.append(
                        FieldError(
                            f"{bat}.uscc", "a failed batch names its merchant: a USCC or party_name"
                        )
                    )
                batches.append(
                    BatchRow(
                        item.code,
                        rnd.number,
                        b.batch_no,
                        b.category.strip(),
                        b.failed,
                        b.case_opened,
                        merchant_id,
                        b.party_name.strip(),
                        b.uscc,
                    )
                )
            if held_on is not None:
                rounds.append(RoundRow(rnd.number, held_on, batches))
        if bad:
            errors.extend(bad)
            continue
        out.append(CampaignRow(item.code, item.name.strip(), item.year, district_id, rounds))
    return out, errors


def derived_event(
    batch: BatchRow | SpotCheckBatch, campaign: str, number: int, held_on: date
) -> EventRow | None:
    if not batch.failed or batch.merchant_id is None:
        return None
    start = datetime.combine(held_on, time(), tzinfo=LOCAL_TZ).astimezone(UTC)
    ref = event_ref(campaign, number, batch.batch_no)
    note = f"spot check {ref} failed ({batch.category})"
    return EventRow(
        batch.merchant_id, "spot_check_failed", start, SPOT_CHECK_SOURCE, ref, note, None
    )


# A batch with what its credit event is derived from: (batch, campaign code, round, held on).
Moved: TypeAlias = tuple[BatchRow | SpotCheckBatch, str, int, date]


async def _sync(
    sql: CreditSql,
    tx: BaseDBAsyncClient,
    batches: Sequence[Moved],
    rules: Rules,
    now: datetime,
) -> list[CreditChanged]:
    wanted = [e for b in batches if (e := derived_event(*b)) is not None]
    refs = {SPOT_CHECK_SOURCE: [event_ref(c, n, b.batch_no) for b, c, n, _ in batches]}
    return await replace_derived_events(sql, tx, wanted, refs, rules, now)


async def ingest_spot_checks(
    items: Sequence[SpotCheckCampaignIn],
    *,
    actor: Actor,
    rules: Rules,
    now: datetime | None = None,
    origin: str = "api",
    dry_run: bool = False,
) -> IngestResult:
    """Campaigns as they stand, stored whole or not at all, audited. Counts are of batches."""
    feed = SpotCheckFeed(items, rules, now or datetime.now(UTC))
    return await ingest(feed, actor=actor, origin=origin, dry_run=dry_run)


@dataclass(frozen=True, slots=True)
class SpotCheckFeed(Feed[list[CampaignRow]]):
    """Spot checks take credit exclusively before reading what is stored, as complaints do:
    two batches resending one campaign must not both find its batches missing."""

    action = "spot_checks.ingest"
    subject = "spot_checks"
    counts = ("received", "stored", "updated", "merchants_changed")
    unit = "campaign"  # problems are named by campaign, however deep in it they are

    items: Sequence[SpotCheckCampaignIn]
    rules: Rules
    now: datetime

    async def check(self, tx: BaseDBAsyncClient) -> tuple[list[CampaignRow], list[FieldError]]:
        await credit_sql(tx).lock()
        usccs = {b.uscc for c in self.items for r in c.rounds for b in r.batches if b.uscc}
        merchants = dict(
            await in_slices(
                lambda c: Merchant.filter(uscc__in=c).using_db(tx).values_list("uscc", "id"),
                usccs,
            )
        )
        districts = await registry.district_ids(tx)
        return check_campaigns(self.items, merchants, districts, self.now)

    async def write(self, tx: BaseDBAsyncClient, checked: list[CampaignRow]) -> IngestResult:
        saved = SavedBatches()
        for c in checked:
            await _save_campaign(tx, c, saved)
        sql = credit_sql(tx)  # the lock taken in check is the transaction's
        changes = await _sync(sql, tx, saved.moved, self.rules, self.now)
        unchanged = saved.received - saved.stored - saved.updated
        return IngestResult(saved.received, saved.stored, saved.updated, unchanged, len(changes))

    def audited(self, checked: list[CampaignRow]) -> dict[str, object]:
        return {"campaigns": [c.code for c in checked]}


@dataclass(slots=True)
class SavedBatches:
    """Batch counts, and the batches created or changed, as the campaigns are stored."""

    received: int = 0
    stored: int = 0
    updated: int = 0
    moved: list[Moved] = field(default_factory=list)


async def _save_campaign(tx: BaseDBAsyncClient, c: CampaignRow, saved: SavedBatches) -> None:
    campaign, _ = await SpotCheckCampaign.update_or_create(
        {"name": c.name, "year": c.year, "district_id": c.district_id}, using_db=tx, code=c.code
    )
    for r in c.rounds:
        rnd, _ = await SpotCheckRound.update_or_create(
            {"held_on": r.held_on}, using_db=tx, campaign_id=campaign.id, number=r.number
        )
        existing = {
            b.batch_no: b for b in await SpotCheckBatch.filter(round_id=rnd.id).using_db(tx)
        }
        for b in r.batches:
            saved.received += 1
            old = existing.get(b.batch_no)
            if old is None:
                await SpotCheckBatch.create(
                    using_db=tx, round_id=rnd.id, batch_no=b.batch_no, **b.fields()
                )
                saved.stored += 1
            elif any(getattr(old, k) != v for k, v in b.fields().items()):
                old.update_from_dict(b.fields())
                await old.save(using_db=tx)
                saved.updated += 1
            else:
                continue
            saved.moved.append((b, c.code, r.number, r.held_on))


async def link_registered(
    tx: BaseDBAsyncClient, merchants: dict[str, int], rules: Rules, now: datetime
) -> int:
    """Batches naming a USCC a merchant now has: linked to it, their credit events derived."""
    if not merchants:
        return 0
    waiting = await in_slices(
        lambda c: (
            SpotCheckBatch.filter(merchant_id__isnull=True, party_uscc__in=c)
            .using_db(tx)
            .prefetch_related("round__campaign")
        ),
        merchants,
    )
    if not waiting:
        return 0
    sql = credit_sql(tx)
    await sql.lock()
    moved: list[Moved] = []
    for b in waiting:
        b.merchant_id = merchants[b.party_uscc or ""]
        await b.save(using_db=tx, update_fields=["merchant_id"])
        moved.append((b, b.round.campaign.code, b.round.number, b.round.held_on))
    await _sync(sql, tx, moved, rules, now)
    return len(waiting)
