"""The yearly review (后评价) kept: building a year's draft from the live records, officials
excluding a proposed withdrawal, confirming (which revokes in one transaction), and reading
a review back — whole for officials (their district's lines for a district's official), its
public lists once confirmed. One function each for the API, the pages, the CLI and the tests.

A year is a calendar year on the bureau's clock (Asia/Shanghai). "This year's" and "the
previous year's" scores are those of the last score run published in each year; the
holders are judged by today's policy and today's facts (``certificates.eligibility``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from certificates import eligibility
from certificates.models import (
    Certificate,
    ReviewItem,
    ReviewStatus,
    Section,
    Status,
    StatusChange,
    YearlyReview,
)
from certificates.policy import Kind, Policy
from certificates.revocation import change_status
from certificates.schemas import ReviewItemOut, ReviewOut
from certificates.yearly_review.judge import Holder, Movement, Proposal, Scores, propose
from scoring.credit.rules import Rules
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel import audit, scope
from service.kernel.audit import Actor
from service.kernel.db import chunked
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.localtime import to_local, year_bounds
from service.kernel.models import Area
from service.kernel.settings import Settings
from service.kernel.validation import check_text

FIRST_YEAR: Final = 2000
NOTE_MAX: Final = 2000
REVOCATION_REASON: Final = "yearly_review"
HELD: Final = (Status.ACTIVE, Status.SUSPENDED)
EXIT: Final = (Status.REVOKED, Status.EXPIRED)
REVIEW_LOCK_KEY: Final = 0x46585952  # "FXYR": one change to the reviews at a time


async def _lock(conn: BaseDBAsyncClient) -> None:
    """Building, excluding and confirming queue behind one another, across workers."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [REVIEW_LOCK_KEY])
    else:  # a write that changes nothing takes SQLite's write lock now
        await conn.execute_query("DELETE FROM yearly_review WHERE 0")


def check_year(year: int, now: datetime) -> None:
    """A year that has begun: the current one (a review in December) or any before."""
    latest = to_local(now).year
    if not FIRST_YEAR <= year <= latest:
        raise InvalidInput(
            "No review for that year",
            [FieldError("year", f"a year from {FIRST_YEAR} to {latest}")],
        )


async def _run_of_year(year: int) -> ScoreRun | None:
    start, end = year_bounds(year)
    return (
        await ScoreRun.filter(
            status=RunStatus.PUBLISHED, published_at__gte=start, published_at__lt=end
        )
        .order_by("-published_at", "-id")
        .first()
    )


async def _scores(run: ScoreRun | None) -> dict[tuple[Kind, str], float | None]:
    if run is None:
        return {}
    rows = await UnitScore.filter(run_id=run.id, kind__in=[k.value for k in Kind]).values_list(
        "kind", "code", "score", "insufficient_data"
    )
    # A score shown as "insufficient data" was not published as a score.
    return {(Kind(k), str(c)): None if low else s for k, c, s, low in rows}


async def _holders(now: datetime) -> list[Holder]:
    # One past its validity is expired whatever its stored status (the sweep records it).
    return [
        Holder(c.serial, c.kind, c.subject_code, c.subject_name, c.status.value)
        for c in await Certificate.filter(status__in=HELD, valid_until__gt=now).order_by("serial")
    ]


async def _entered(year: int) -> list[Movement]:
    start, end = year_bounds(year)
    return [
        Movement(c.serial, c.kind, c.subject_code, c.subject_name, c.issued_at)
        for c in await Certificate.filter(issued_at__gte=start, issued_at__lt=end)
    ]


async def _exited(year: int, now: datetime) -> list[Movement]:
    """Certificates revoked or expired during the year, each at its first exit, with the
    reason recorded; one past its validity that no sweep recorded yet exits on that date."""
    start, end = year_bounds(year)
    found: dict[int, Movement] = {}
    for ch in (
        await StatusChange.filter(new_status__in=EXIT, at__gte=start, at__lt=end)
        .order_by("at", "id")
        .select_related("certificate")
    ):
        c = ch.certificate
        if c.id not in found:
            found[c.id] = Movement(
                c.serial,
                c.kind,
                c.subject_code,
                c.subject_name,
                ch.at,
                ch.reason,
                ch.new_status.value,
            )
    for c in await Certificate.filter(
        status__in=HELD, valid_until__gte=start, valid_until__lt=min(end, now)
    ):
        found.setdefault(
            c.id,
            Movement(
                c.serial,
                c.kind,
                c.subject_code,
                c.subject_name,
                c.valid_until,
                "validity_ended",
                Status.EXPIRED.value,
            ),
        )
    return list(found.values())


async def proposal_for(
    year: int, policy: Policy, credit_rules: Rules, now: datetime
) -> tuple[Proposal, ScoreRun | None, ScoreRun | None]:
    """The proposed list of the year from the records as they stand, with the runs whose
    scores it compared."""
    evaluations = {
        (e.kind, e.code): e for e in await eligibility.evaluate_all(policy, credit_rules, now)
    }
    this_run, last_run = await _run_of_year(year), await _run_of_year(year - 1)
    this_year: Scores = await _scores(this_run)
    last_year: Scores = await _scores(last_run)
    proposal = propose(
        await _holders(now),
        evaluations,
        entered=await _entered(year),
        exited=await _exited(year, now),
        this_year=this_year,
        last_year=last_year,
        improved_by=policy.improved_by,
    )
    return proposal, this_run, last_run


def _items(review_id: int, p: Proposal) -> list[ReviewItem]:
    items = [
        ReviewItem(
            review_id=review_id,
            section=section,
            serial=o.holder.serial,
            kind=o.holder.kind,
            code=o.holder.code,
            name=o.holder.name,
            reasons=list(o.reasons),
            detail={"status": o.holder.status, "failing": dict(o.failing)},
        )
        for section, outcomes in ((Section.RETAINED, p.retained), (Section.WITHDRAWN, p.withdrawn))
        for o in outcomes
    ]
    items += [
        ReviewItem(
            review_id=review_id,
            section=section,
            serial=m.serial,
            kind=m.kind,
            code=m.code,
            name=m.name,
            reasons=[m.reason] if m.reason else [],
            detail={"status": m.status} if m.status else {},
            at=m.at,
        )
        for section, moves in ((Section.ENTERED, p.entered), (Section.EXITED, p.exited))
        for m in moves
    ]
    items += [
        ReviewItem(
            review_id=review_id,
            section=Section.IMPROVED,
            serial=i.holder.serial,
            kind=i.holder.kind,
            code=i.holder.code,
            name=i.holder.name,
            detail={"before": i.before, "after": i.after, "rise": round(i.after - i.before, 1)},
        )
        for i in p.improved
    ]
    return items


async def build(
    year: int,
    *,
    actor: Actor,
    policy: Policy,
    credit_rules: Rules,
    now: datetime | None = None,
    is_demo: bool = False,
) -> ReviewOut:
    """The year's draft, built anew (a draft built before is replaced, its exclusions with
    it); a confirmed year is frozen: 409."""
    now = now or datetime.now(UTC)
    check_year(year, now)
    if await YearlyReview.exists(year=year, status=ReviewStatus.CONFIRMED):
        raise Conflict(f"The review of {year} is confirmed: it cannot be built again")
    proposal, this_run, last_run = await proposal_for(year, policy, credit_rules, now)
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        await _lock(tx)
        deleted = (
            await YearlyReview.filter(year=year, status=ReviewStatus.DRAFT).using_db(tx).delete()
        )
        if await YearlyReview.exists(year=year, status=ReviewStatus.CONFIRMED, using_db=tx):
            raise Conflict(f"The review of {year} is confirmed: it cannot be built again")
        review = await YearlyReview.create(
            using_db=tx,
            year=year,
            policy_version=policy.version,
            improved_by=policy.improved_by,
            built_by=str(actor),
            built_at=now,
            score_run_id=this_run.id if this_run else None,
            previous_run_id=last_run.id if last_run else None,
            is_demo=is_demo,
        )
        await ReviewItem.bulk_create(_items(review.id, proposal), batch_size=1000, using_db=tx)
        await audit.record(
            tx,
            actor,
            "review.drafted",
            f"review:{year}",
            {
                "policy": policy.version,
                "replaced_draft": bool(deleted),
                "counts": _counts_of(proposal),
            },
        )
    return await get(year)


def _counts_of(p: Proposal) -> dict[str, int]:
    return {
        "retained": len(p.retained),
        "withdrawn": len(p.withdrawn),
        "entered": len(p.entered),
        "exited": len(p.exited),
        "improved": len(p.improved),
    }


async def _review(year: int, conn: BaseDBAsyncClient | None = None) -> YearlyReview:
    qs = YearlyReview.filter(year=year)
    review = await (qs.using_db(conn) if conn else qs).first()
    if review is None:
        raise NotFound(f"No review of {year}")
    return review


async def get(
    year: int, district: Area | None = None, *, confirmed_only: bool = False
) -> ReviewOut:
    """The review of the year with its lines (a district's official: its district's lines
    only); ``confirmed_only``: a draft answers as missing, as to the public."""
    review = await _review(year)
    if confirmed_only and review.status != ReviewStatus.CONFIRMED:
        raise NotFound(f"No confirmed review of {year}")
    items = await ReviewItem.filter(review_id=review.id).order_by("id")
    if district is not None:
        inside: dict[Kind, set[str]] = {}
        for kind in Kind:
            inside[kind] = await scope.codes(district, kind.value) or set()
        items = [i for i in items if i.code in inside[i.kind]]
    return review_out(review, items)


def review_out(review: YearlyReview, items: Sequence[ReviewItem]) -> ReviewOut:
    counts = dict.fromkeys((s.value for s in Section), 0)
    for i in items:
        if not i.excluded:
            counts[i.section.value] += 1
    return ReviewOut(
        year=review.year,
        status=review.status.value,
        policy_version=review.policy_version,
        improved_by=review.improved_by,
        built_at=review.built_at,
        built_by=review.built_by,
        confirmed_at=review.confirmed_at,
        confirmed_by=review.confirmed_by,
        counts=counts,
        items=[
            ReviewItemOut(
                id=i.id,
                section=i.section.value,
                serial=i.serial,
                kind=i.kind,
                code=i.code,
                name=i.name,
                reasons=list(i.reasons),
                detail=dict(i.detail),
                at=i.at,
                excluded=i.excluded,
                excluded_note=i.excluded_note,
            )
            for i in items
        ],
    )


async def exclude(
    year: int, item_id: int, note: str, *, actor: Actor, now: datetime | None = None
) -> ReviewOut:
    """Officials keep a proposed withdrawal from being made, saying why (audited)."""
    now = now or datetime.now(UTC)
    errors: list[FieldError] = []
    note = check_text(errors, "note", note, NOTE_MAX)
    if errors:
        raise InvalidInput("The exclusion needs a note", errors)
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        await _lock(tx)
        review = await _review(year, tx)
        if review.status != ReviewStatus.DRAFT:
            raise Conflict(f"The review of {year} is confirmed: it is frozen")
        item = await ReviewItem.filter(id=item_id, review_id=review.id).using_db(tx).first()
        if item is None:
            raise NotFound(f"No line {item_id} in the review of {year}")
        if item.section != Section.WITHDRAWN:
            raise InvalidInput(
                "Only a proposed withdrawal can be excluded",
                [FieldError("item", f"line {item_id} is {item.section.value}")],
            )
        if item.excluded:
            raise Conflict(f"Line {item_id} is excluded already")
        item.excluded, item.excluded_note = True, note
        item.excluded_by, item.excluded_at = str(actor), now
        await item.save(
            using_db=tx, update_fields=["excluded", "excluded_note", "excluded_by", "excluded_at"]
        )
        await audit.record(
            tx,
            actor,
            "review.excluded",
            f"review:{year}",
            {"serial": item.serial, "reasons": item.reasons, "note": note},
        )
    return await get(year)


async def confirm(
    year: int, *, actor: Actor, now: datetime | None = None, read: datetime | None = None
) -> ReviewOut:
    """The draft confirmed and frozen: every withdrawal not excluded revokes its certificate
    (reason ``yearly_review``, the criteria's codes in the note and evidence), all with their
    audit records in one transaction. A second confirm is a 409. ``read``: when the draft the
    official read was built; one built again since is not confirmed unseen (409)."""
    now = now or datetime.now(UTC)
    who = str(actor)
    conn = connections.get("default")
    async with in_transaction(conn.connection_name) as tx:
        await _lock(tx)
        review = await _review(year, tx)
        if read is not None and review.built_at != read:
            raise Conflict(f"The draft of {year} was built again since it was read: read it again")
        # The status flips first and only from draft: of two confirms at once, one wins.
        flipped = (
            await YearlyReview.filter(id=review.id, status=ReviewStatus.DRAFT)
            .using_db(tx)
            .update(status=ReviewStatus.CONFIRMED, confirmed_by=who, confirmed_at=now)
        )
        if not flipped:
            raise Conflict(f"The review of {year} is confirmed already")
        withdrawals = (
            await ReviewItem.filter(review_id=review.id, section=Section.WITHDRAWN, excluded=False)
            .using_db(tx)
            .order_by("serial")
        )
        certs: dict[str, Certificate] = {}
        for serials in chunked([i.serial for i in withdrawals]):
            for c in (
                await Certificate.filter(serial__in=serials)
                .using_db(tx)
                .select_for_update()
                .order_by("id")
            ):
                certs[c.serial] = c
        revoked, gone = [], []
        for item in withdrawals:
            cert = certs.get(item.serial)
            if cert is None or cert.status not in HELD:
                gone.append(item.serial)  # revoked or expired since the draft: nothing to do
                continue
            await change_status(
                tx,
                cert,
                Status.REVOKED,
                REVOCATION_REASON,
                at=now,
                actor=who,
                note=", ".join(item.reasons),
                evidence={
                    "review_year": year,
                    "criteria": list(item.reasons),
                    "failing": item.detail.get("failing", {}),
                },
            )
            revoked.append(item.serial)
        await audit.record(
            tx,
            actor,
            "review.confirmed",
            f"review:{year}",
            {"revoked": revoked, "already_gone": gone, "policy": review.policy_version},
        )
    return await get(year)


async def confirmed_years() -> list[int]:
    """Years with a confirmed review, latest first."""
    rows = await YearlyReview.filter(status=ReviewStatus.CONFIRMED).order_by("-year").values("year")
    return [int(r["year"]) for r in rows]


async def latest_years(limit: int = 10) -> list[tuple[int, str]]:
    """The reviews there are (year, status), latest first: what the officials' page lists."""
    return [
        (int(y), str(s))
        for y, s in await YearlyReview.all()
        .order_by("-year")
        .limit(limit)
        .values_list("year", "status")
    ]


async def demo_review(settings: Settings, actor: Actor) -> ReviewOut:
    """The demo city's year-end review of this year, confirmed, so that /lists names the
    year's holders: the demo's certificates were all issued this year, which is where its
    entries and exits are (a review of last year would name none). A proposed withdrawal of a
    certificate on hold is excluded, as an official would: its grace period is still running
    (and the demo keeps its area on hold to show)."""
    from certificates.policy import policy_for
    from scoring.credit import store as credit_store

    policy = policy_for(settings.certificate_policy)
    rules = credit_store.rules_for(settings.credit_rules)
    year = to_local(datetime.now(UTC)).year
    draft = await build(year, actor=actor, policy=policy, credit_rules=rules, is_demo=True)
    for item in draft.items:
        if item.section == Section.WITHDRAWN.value and item.detail.get("status") == "suspended":
            await exclude(year, item.id, "演示：暂停中，整改期未满，期满后再定", actor=actor)
    return await confirm(year, actor=actor)
