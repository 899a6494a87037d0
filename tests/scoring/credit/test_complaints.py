"""12315 complaints: ingest and updates, working-day time limits, the credit events they give
rise to, the periodic sweep, file import, and incremental = batch, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import csv
import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.credit import complaints, feed_files
from scoring.credit import store as credit_store
from scoring.credit.models import Complaint, CreditEvent, CreditStanding
from scoring.credit.schemas import ComplaintIn, CreditEventIn
from service.kernel import db as dbm
from service.kernel.errors import InvalidInput
from service.kernel.models import AuditEvent
from service.kernel.settings import Settings
from service.kernel.tables import ImportRejected
from tests.conftest import _empty_all_tables
from tests.helpers import TEST_ACTOR
from tests.scoring.credit.test_ingest import M1, M2, make_merchants

RULES = credit_store.rules_for(None)
# Monday 2026-03-09, 10:00 in Beijing. Seven working days later is Wednesday 03-18.
RECEIVED = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)


def complaint(ref: str, uscc: str = M1, **changes: object) -> ComplaintIn:
    base: dict[str, object] = {
        "external_id": ref,
        "uscc": uscc,
        "received_at": RECEIVED.isoformat(),
        "status": "received",
        "category": "quality",
        "amount_disputed": 120.5,
    }
    return ComplaintIn(**(base | changes))  # type: ignore[arg-type]


async def standing(uscc: str) -> tuple[float, str] | None:
    s = await CreditStanding.get_or_none(merchant__uscc=uscc)
    return None if s is None else (s.score, s.risk_class)


async def test_a_complaint_moves_on_and_its_credit_events_follow(db: Settings) -> None:
    await make_merchants()
    accepted = (RECEIVED + timedelta(days=1)).isoformat()
    closed = (RECEIVED + timedelta(days=10)).isoformat()
    day = RECEIVED + timedelta(days=2)  # inside every time limit

    r = await complaints.ingest_complaints(
        [complaint("K-1")], actor=TEST_ACTOR, rules=RULES, now=day
    )
    assert (r.stored, r.updated, r.unchanged, r.merchants_changed) == (1, 0, 0, 0)
    row = await Complaint.get(external_id="K-1")
    assert (row.accept_due, row.overdue_since) == (date(2026, 3, 18), None)

    upheld = complaint(
        "K-1",
        status="closed",
        accepted_at=accepted,
        closed_at=closed,
        upheld=True,
        amount_recovered=100,
    )
    later = RECEIVED + timedelta(days=11)
    r = await complaints.ingest_complaints([upheld], actor=TEST_ACTOR, rules=RULES, now=later)
    assert (r.stored, r.updated, r.merchants_changed) == (0, 1, 1)
    # Upheld a day ago: −5 · 0.5^(1/365) = −4.99 → 95.0 at one decimal, class A.
    assert await standing(M1) == (95.0, "A")
    event = await CreditEvent.get(merchant__uscc=M1)
    assert (event.kind, event.source, event.external_ref) == (
        "complaint_upheld",
        "complaint:12315",
        "K-1:upheld",
    )
    stored = await Complaint.get(external_id="K-1")
    assert (stored.amount_disputed_fen, stored.amount_recovered_fen) == (12050, 10000)
    assert stored.mediation_due is not None

    # The same report again changes nothing; a later report that overturns it takes the
    # deduction back.
    r = await complaints.ingest_complaints([upheld], actor=TEST_ACTOR, rules=RULES, now=later)
    assert (r.stored, r.updated, r.unchanged, r.merchants_changed) == (0, 0, 1, 0)
    overturned = complaint(
        "K-1", status="closed", accepted_at=accepted, closed_at=closed, upheld=False
    )
    r = await complaints.ingest_complaints([overturned], actor=TEST_ACTOR, rules=RULES, now=later)
    assert (r.updated, r.merchants_changed) == (1, 1)
    assert await CreditEvent.all().count() == 0
    assert await standing(M1) == (100.0, "A")
    assert await AuditEvent.filter(action="complaints.ingest").count() == 4


async def test_a_complaint_left_unanswered_becomes_overdue_by_the_periodic_sweep(
    db: Settings,
) -> None:
    await make_merchants()
    await complaints.ingest_complaints(
        [complaint("K-2", uscc=M2)], actor=TEST_ACTOR, rules=RULES, now=RECEIVED
    )
    # Due Wednesday 03-18 (end of day in Beijing): on the 18th nothing happens…
    on_due = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
    result = await complaints.recompute(actor=TEST_ACTOR, rules=RULES, now=on_due)
    assert (result.overdue_marked, result.merchants_changed) == (0, 0)
    # …from Thursday 03-19 00:00 Beijing (03-18 16:00 UTC) it is overdue: −3, fading from then.
    after = datetime(2026, 3, 18, 16, 30, tzinfo=UTC)
    result = await complaints.recompute(actor=TEST_ACTOR, rules=RULES, now=after)
    assert (result.overdue_marked, result.merchants_changed) == (1, 1)
    assert (await Complaint.get(external_id="K-2")).overdue_since.isoformat() == "2026-03-19"  # type: ignore[union-attr]
    assert await standing(M2) == (97.0, "A")
    event = await CreditEvent.get(merchant__uscc=M2)
    assert (event.kind, event.occurred_at) == (
        "complaint_overdue",
        datetime(2026, 3, 18, 16, 0, tzinfo=UTC),
    )
    # The sweep is idempotent.
    again = await complaints.recompute(actor=TEST_ACTOR, rules=RULES, now=after)
    assert (again.overdue_marked, again.merchants_changed) == (0, 0)


async def test_a_bad_complaint_batch_names_each_item_and_stores_nothing(db: Settings) -> None:
    await make_merchants()
    batch = [
        complaint("OK"),
        complaint("A", uscc="914117007676543210"),
        complaint("B", status="lost"),
        complaint("C", status="closed"),  # no closed_at
        complaint("D", amount_disputed=1.234),
        complaint("E", accepted_at=(RECEIVED - timedelta(days=1)).isoformat(), status="accepted"),
        complaint("F", upheld=True),
    ]
    with pytest.raises(InvalidInput) as caught:
        await complaints.ingest_complaints(batch, actor=TEST_ACTOR, rules=RULES, now=RECEIVED)
    assert [e.field for e in caught.value.errors] == [
        "complaints[1].uscc",
        "complaints[2].status",
        "complaints[3].closed_at",
        "complaints[4].amount_disputed",
        "complaints[5].accepted_at",
        "complaints[6].upheld",
    ]
    assert await Complaint.all().count() == 0


def test_money_is_kept_in_whole_fen() -> None:
    assert complaints.to_fen(4_200_000.07) == 420_000_007
    assert complaints.to_fen(0) == 0
    for bad in (-1.0, 0.001, float("nan")):
        with pytest.raises(ValueError, match=r"."):
            complaints.to_fen(bad)


async def test_files_import_with_errors_named_by_spreadsheet_row(
    db: Settings, tmp_path: Path
) -> None:
    await make_merchants()
    path = tmp_path / "credit.csv"
    rows = [
        ("uscc", "kind", "occurred_at", "source", "external_ref", "note", "class"),
        (M1, "penalty_minor", "2026-03-01T09:00:00+08:00", "sfgs", "P-1", "price tags", ""),
        (M2, "external_class", "2026-03-01T09:00:00+08:00", "credit-china", "X-1", "", "C"),
        (M1, "nonsense", "2026-03-01T09:00:00+08:00", "sfgs", "P-2", "", ""),
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    with pytest.raises(ImportRejected) as caught:
        await feed_files.import_events(path, actor=TEST_ACTOR, rules=RULES)
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "kind")]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows[:3])
    dry = await feed_files.import_events(path, actor=TEST_ACTOR, rules=RULES, dry_run=True)
    assert (dry.stored, dry.merchants_changed) == (2, 2)
    assert await CreditEvent.all().count() == 0
    done = await feed_files.import_events(path, actor=TEST_ACTOR, rules=RULES)
    assert (done.stored, done.merchants_changed) == (2, 2)
    assert (await standing(M2)) == (100.0, "C")

    path = tmp_path / "complaints.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [
                ("external_id", "uscc", "received_at", "status", "category", "upheld"),
                ("Q-1", M1, "2026-03-09T10:00:00+08:00", "received", "price", ""),
                ("Q-2", M2, "2026-03-09T10:00:00+08:00", "closed", "price", "true"),
            ]
        )
    with pytest.raises(ImportRejected) as caught:
        await feed_files.import_complaints(path, actor=TEST_ACTOR, rules=RULES)
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "closed_at")]


KINDS = sorted(RULES.kinds - {"external_class"})


@settings(max_examples=12, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.sampled_from([M1, M2]), st.sampled_from(KINDS), st.integers(0, 1500)),
        min_size=1,
        max_size=25,
    ),
    cuts=st.lists(st.integers(1, 24), max_size=4),
)
def test_incremental_batches_agree_with_a_full_recompute(
    migrated: Settings, events: list[tuple[str, str, int]], cuts: list[int]
) -> None:
    """However the events are cut into batches, a full recompute at the same moment finds
    nothing to change. (Synchronous: hypothesis drives the examples, each on a fresh loop.)"""
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    items = [
        CreditEventIn(u, k, (now - timedelta(days=d)).isoformat(), "hyp", f"E-{i}")
        for i, (u, k, d) in enumerate(events)
    ]
    bounds = sorted({0, len(items), *(c for c in cuts if c < len(items))})

    async def example() -> int:
        await dbm.init_db(migrated)
        try:
            await _empty_all_tables()
            await make_merchants()
            for lo, hi in itertools.pairwise(bounds):
                await credit_store.ingest_events(
                    items[lo:hi], actor=TEST_ACTOR, rules=RULES, now=now
                )
            # On PostgreSQL the full rescore reads events as Arrow, as the CLI does.
            url = migrated.database_url if migrated.is_postgres else None
            result = await complaints.recompute(
                actor=TEST_ACTOR, rules=RULES, now=now, database_url=url
            )
            return result.merchants_changed
        finally:
            await dbm.close_db()

    assert asyncio.run(example()) == 0


async def test_two_feeds_may_use_the_same_external_id(db: Settings) -> None:
    await make_merchants()
    closed = (RECEIVED + timedelta(days=3)).isoformat()
    later = RECEIVED + timedelta(days=4)
    upheld = {"status": "closed", "accepted_at": closed, "closed_at": closed, "upheld": True}
    await complaints.ingest_complaints(
        [complaint("SAME", uscc=M2, source="hotline", **upheld)],
        actor=TEST_ACTOR,
        rules=RULES,
        now=later,
    )
    # A batch with the 12315 platform's own complaint SAME (a different complaint) and another
    # hotline complaint must leave the hotline's SAME and its credit event alone.
    await complaints.ingest_complaints(
        [
            complaint("SAME", uscc=M1, source="12315"),
            complaint("OTHER", uscc=M1, source="hotline"),
        ],
        actor=TEST_ACTOR,
        rules=RULES,
        now=later,
    )
    assert await CreditEvent.filter(source="complaint:hotline").count() == 1
    assert await standing(M2) == (95.0, "A")


async def test_the_service_recomputes_credit_when_its_daily_run_was_missed(
    app_settings: Settings, tmp_path: Path
) -> None:
    from service import jobs
    from service.kernel.models import JobOutcome, JobRun
    from tests.conftest import empty_database, make_app, serve_in_process

    # Outside production the web process runs the job schedule itself (service/jobs.py).
    jobs_file = tmp_path / "jobs.toml"
    jobs_file.write_text("embedded = true\n", encoding="utf-8")
    settings = replace(app_settings, jobs_file=jobs_file)
    schedule = jobs.schedule_for(settings)
    daily = schedule.job("credit_recompute")
    missed = daily.previous_slot(schedule.timezone, datetime.now(UTC))
    assert missed is not None
    await empty_database(settings)
    # The recompute last ran the day before its latest slot, which went by with no worker up.
    await dbm.init_db(settings)
    try:
        before = missed - timedelta(days=1)
        await JobRun.create(
            job="credit_recompute",
            slot=before,
            worker="gone:1",
            started_at=before,
            lease_until=before,
            finished_at=before,
            outcome=JobOutcome.OK,
        )
    finally:
        await dbm.close_db()
    async with serve_in_process(make_app(settings), "http://test"):
        for _ in range(50):
            if await AuditEvent.filter(action="credit.recompute").exists():
                break
            await asyncio.sleep(0.1)
        assert await AuditEvent.filter(action="credit.recompute").count() == 1
        assert await JobRun.filter(job="credit_recompute", slot=missed).exists()
    # A second start within the day: that slot has run, nothing runs.
    async with serve_in_process(make_app(settings), "http://test"):
        await asyncio.sleep(0.5)
        assert await AuditEvent.filter(action="credit.recompute").count() == 1
