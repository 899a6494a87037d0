"""The 12315 intake made whole (issue 19): consultations and reports beside complaints, their
time limits, channel, handling body and district, resolution and follow-up; records about
parties not in the register, linked when the merchant is registered; counter visit tallies;
Red Shield spot checks and the credit events of failed batches. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from scoring.credit import complaints, feed_files, links, spot_checks, visits
from scoring.credit import store as credit_store
from scoring.credit.models import (
    Complaint,
    CounterVisit,
    CreditEvent,
    CreditStanding,
    Handler,
    IntakeKind,
    SpotCheckBatch,
    SpotCheckCampaign,
)
from scoring.credit.schemas import (
    ComplaintIn,
    SpotCheckBatchIn,
    SpotCheckCampaignIn,
    SpotCheckRoundIn,
    VisitTallyIn,
)
from service.kernel.errors import InvalidInput
from service.kernel.models import Area, Merchant, MerchantCategory, Role
from service.kernel.settings import Settings
from service.kernel.tables import ImportRejected
from service.register import imports
from service.register import store as registry
from service.register.schemas import MerchantIn
from service.register.uscc import generate
from tests.helpers import TEST_ACTOR, make_token
from tests.scoring.credit.test_ingest import M1, M2, make_merchants

RULES = credit_store.rules_for(None)
# Monday 2026-03-09, 10:00 in Beijing.
RECEIVED = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)
LATER = datetime(2026, 9, 1, tzinfo=UTC)
# A valid code of a party that is not in the register (GB 32100 check character right).
NEWCOMER = "91411700MA44A0001R"


def record(ref: str, **fields: object) -> ComplaintIn:
    base: dict[str, object] = {
        "external_id": ref,
        "received_at": RECEIVED.isoformat(),
        "status": "received",
        "category": "quality",
    }
    return ComplaintIn(**(base | fields))  # type: ignore[arg-type]


def closed(ref: str, **fields: object) -> ComplaintIn:
    accepted = (RECEIVED + timedelta(days=1)).isoformat()
    done = (RECEIVED + timedelta(days=10)).isoformat()
    base: dict[str, object] = {"status": "closed", "accepted_at": accepted, "closed_at": done}
    return record(ref, **(base | fields))


async def ingest(*items: ComplaintIn, now: datetime = LATER) -> credit_store.IngestResult:
    return await complaints.ingest_complaints(list(items), actor=TEST_ACTOR, rules=RULES, now=now)


async def test_an_old_payload_is_a_complaint_handled_by_the_regulator_in_its_merchants_district(
    db: Settings,
) -> None:
    await make_merchants()
    await ingest(record("OLD-1", uscc=M1), now=RECEIVED)
    row = await Complaint.get(external_id="OLD-1")
    district = await Area.get(code="411702")
    assert (row.kind, row.handled_by, row.handling_district_id) == (
        IntakeKind.COMPLAINT,
        Handler.REGULATOR,
        district.id,
    )
    assert row.channel is None  # the old feed never said
    # Seven working days for a complaint: Wednesday 18 March.
    assert (row.accept_due, row.mediation_due) == (date(2026, 3, 18), None)


async def test_each_kind_keeps_its_own_time_limits_and_only_complaints_move_credit(
    db: Settings,
) -> None:
    await make_merchants()
    await ingest(
        record(
            "Z-1",
            kind="consultation",
            channel="hotline",
            status="closed",
            closed_at=RECEIVED.isoformat(),
        ),
        record("R-1", kind="report", uscc=M1, channel="web"),
        record("C-1", uscc=M2, channel="wechat", handled_by="consumer_association"),
        now=RECEIVED,
    )
    rows = {c.external_id: c for c in await Complaint.all()}
    assert rows["Z-1"].accept_due is None  # a consultation has no time limit
    # A report is decided on within 15 working days: Monday 30 March.
    assert (rows["R-1"].accept_due, rows["R-1"].mediation_due) == (date(2026, 3, 30), None)
    # The consumer association's own limits are not the regulator's.
    assert rows["C-1"].accept_due is None

    marked, _ = await _sweep(LATER)
    assert marked == 1  # the report, left undecided
    rows = {c.external_id: c for c in await Complaint.all()}
    assert rows["R-1"].overdue_since == date(2026, 3, 31)
    assert rows["C-1"].overdue_since is None
    # A report's lateness is the regulator's, not the merchant's: no credit event.
    assert await CreditEvent.all().count() == 0


async def _sweep(now: datetime) -> tuple[int, int]:
    result = await complaints.recompute(actor=TEST_ACTOR, rules=RULES, now=now)
    return result.overdue_marked, result.merchants_changed


async def test_a_record_about_an_unregistered_party_is_kept_then_linked_on_registration(
    db: Settings,
) -> None:
    links.register(RULES)
    await make_merchants()
    await ingest(
        closed(
            "U-1",
            uscc=NEWCOMER,
            party_name="新开张超市",
            party_address="驿城区解放路 1 号",
            upheld=True,
            amount_disputed=500,
            amount_recovered=450.5,
            resolution="mediated",
            followup="satisfied",
            followup_at=(RECEIVED + timedelta(days=12)).isoformat(),
            district="411702",
        ),
        record("U-2", party_name="无证摊贩", kind="report"),  # no USCC at all
    )
    kept = await Complaint.get(external_id="U-1")
    assert (kept.merchant_id, kept.party_uscc, kept.party_name) == (None, NEWCOMER, "新开张超市")
    assert (kept.resolution, kept.followup, kept.amount_recovered_fen) == (
        "mediated",
        "satisfied",
        45050,
    )
    assert await CreditEvent.all().count() == 0

    await registry.create_merchant(
        MerchantIn(
            uscc=NEWCOMER, name="新开张超市", category=MerchantCategory.RETAIL, district="411702"
        ),
        actor=TEST_ACTOR,
    )
    kept = await Complaint.get(external_id="U-1")
    assert kept.merchant_id is not None
    event = await CreditEvent.get(merchant_id=kept.merchant_id)
    assert (event.kind, event.external_ref) == ("complaint_upheld", "U-1:upheld")
    standing = await CreditStanding.get(merchant_id=kept.merchant_id)
    assert standing.score < 100.0
    assert (await Complaint.get(external_id="U-2")).merchant_id is None


async def test_malformed_records_are_named_field_by_field_and_nothing_is_stored(
    db: Settings,
) -> None:
    await make_merchants()
    batch = [
        record("OK", uscc=NEWCOMER, party_name="不在册的店"),  # not registered: fine
        record("A", kind="rumour", uscc=M1),
        record("B", uscc=M1, channel="pigeon"),
        record("C", uscc=M1, handled_by="nobody"),
        record("D", uscc=M1, district="999999"),
        record("E", uscc=M1, resolution="mediated"),  # still open
        closed("F", uscc=M1, status="rejected", accepted_at=None, resolution="mediated"),
        closed("G", uscc=M1, followup="satisfied", followup_at=RECEIVED.isoformat()),
        record(
            "H", kind="consultation", status="closed", closed_at=RECEIVED.isoformat(), upheld=True
        ),
        record("I", kind="report", uscc=M1, status="mediating", accepted_at=RECEIVED.isoformat()),
        record("J"),  # a complaint about nobody
        record("K", uscc="91411700MA44A0001X"),  # check character wrong, not registered
    ]
    with pytest.raises(InvalidInput) as caught:
        await ingest(*batch)
    assert [e.field for e in caught.value.errors] == [
        "complaints[1].kind",
        "complaints[2].channel",
        "complaints[3].handled_by",
        "complaints[4].district",
        "complaints[5].resolution",
        "complaints[6].resolution",
        "complaints[7].followup_at",
        "complaints[8].upheld",
        "complaints[9].status",
        "complaints[10].uscc",
        "complaints[11].uscc",
    ]
    assert await Complaint.all().count() == 0


def campaign(*rounds: SpotCheckRoundIn, code: str = "HD-2026") -> SpotCheckCampaignIn:
    return SpotCheckCampaignIn(code, "2026 红盾质量维权行动", 2026, "411702", list(rounds))


async def test_a_failed_spot_check_batch_is_a_credit_event_until_a_resend_passes_it(
    db: Settings,
) -> None:
    links.register(RULES)
    await make_merchants()
    first = campaign(
        SpotCheckRoundIn(
            1,
            "2026-04-15",
            [
                SpotCheckBatchIn("B1", "食品", failed=True, case_opened=True, uscc=M1),
                SpotCheckBatchIn("B2", "家电", uscc=M2),
                SpotCheckBatchIn("B3", "服装", failed=True, uscc=NEWCOMER, party_name="新店"),
            ],
        )
    )
    r = await spot_checks.ingest_spot_checks([first], actor=TEST_ACTOR, rules=RULES, now=LATER)
    assert (r.received, r.stored, r.merchants_changed) == (3, 3, 1)
    event = await CreditEvent.get(source="spot_check")
    assert (event.kind, event.external_ref) == ("spot_check_failed", "HD-2026:1:B1")
    # Beijing midnight of the day the round was held.
    assert event.occurred_at == datetime(2026, 4, 14, 16, 0, tzinfo=UTC)
    replay = await spot_checks.ingest_spot_checks([first], actor=TEST_ACTOR, rules=RULES, now=LATER)
    assert (replay.stored, replay.updated, replay.unchanged) == (0, 0, 3)

    # The re-test passed the batch: its event goes and the merchant's credit recovers.
    fixed = campaign(SpotCheckRoundIn(1, "2026-04-15", [SpotCheckBatchIn("B1", "食品", uscc=M1)]))
    r = await spot_checks.ingest_spot_checks([fixed], actor=TEST_ACTOR, rules=RULES, now=LATER)
    assert (r.updated, r.merchants_changed) == (1, 1)
    assert await CreditEvent.filter(source="spot_check").count() == 0

    # The unregistered shop's failed batch counts once the shop is registered.
    await registry.create_merchant(
        MerchantIn(uscc=NEWCOMER, name="新店", category=MerchantCategory.RETAIL, district="411702"),
        actor=TEST_ACTOR,
    )
    batch = await SpotCheckBatch.get(batch_no="B3")
    assert batch.merchant_id is not None
    assert await CreditEvent.filter(
        merchant_id=batch.merchant_id, kind="spot_check_failed"
    ).exists()


async def test_bad_spot_checks_are_named_and_refuse_the_batch(db: Settings) -> None:
    await make_merchants()
    bad = campaign(
        SpotCheckRoundIn(1, "2025-04-15", [SpotCheckBatchIn("B1", "食品", case_opened=True)]),
        SpotCheckRoundIn(1, "2026-04-16", [SpotCheckBatchIn("B2", "食品", failed=True)]),
    )
    with pytest.raises(InvalidInput) as caught:
        await spot_checks.ingest_spot_checks([bad], actor=TEST_ACTOR, rules=RULES, now=LATER)
    assert [e.field for e in caught.value.errors] == [
        "campaigns[0].rounds[0].held_on",
        "campaigns[0].rounds[0].batches[0].case_opened",
        "campaigns[0].rounds[1].number",
        "campaigns[0].rounds[1].batches[0].uscc",
    ]
    assert await SpotCheckCampaign.all().count() == 0


async def test_spot_checks_and_visits_import_from_files_with_errors_by_row(
    db: Settings, tmp_path: Path
) -> None:
    await make_merchants()
    path = tmp_path / "spot.csv"
    header = (
        "campaign",
        "campaign_name",
        "year",
        "round",
        "held_on",
        "batch_no",
        "category",
        "failed",
        "case_opened",
        "uscc",
    )
    rows = [
        ("HD", "红盾", "2026", "1", "2026-05-10", "1", "食品", "true", "true", M1),
        ("HD", "红盾", "2026", "1", "2026-05-10", "2", "食品", "false", "false", ""),
        ("HD", "红盾", "2026", "2", "2026-06-10", "1", "酒类", "false", "true", M2),
    ]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows])
    with pytest.raises(ImportRejected) as caught:
        await feed_files.import_spot_checks(path, actor=TEST_ACTOR, rules=RULES)
    assert [(e.row, e.column) for e in caught.value.errors] == [(4, "case_opened")]
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([header, *rows[:2]])
    done = await feed_files.import_spot_checks(path, actor=TEST_ACTOR, rules=RULES)
    assert (done.stored, done.merchants_changed) == (2, 1)

    path = tmp_path / "visits.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [
                ("external_id", "day", "visits", "consultations", "handled_by", "district"),
                ("D1", "2026-05-10", "12", "30", "consumer_association", "411702"),
                ("D2", "2026-05-11", "-1", "3", "regulator", ""),
            ]
        )
    with pytest.raises(ImportRejected) as caught:
        await feed_files.import_visits(path, actor=TEST_ACTOR)
    assert [(e.row, e.column) for e in caught.value.errors] == [(3, "visits")]


async def test_a_resent_tally_replaces_the_stored_one(db: Settings) -> None:
    await make_merchants()
    day = VisitTallyIn("D1", "2026-05-10", visits=12, consultations=30, district="411702")
    r = await visits.ingest_tallies([day], actor=TEST_ACTOR, now=LATER)
    assert (r.stored, r.updated) == (1, 0)
    again = VisitTallyIn("D1", "2026-05-10", visits=14, consultations=30, district="411702")
    r = await visits.ingest_tallies(
        [again, day.__class__("D2", "2026-05-11")], actor=TEST_ACTOR, now=LATER
    )
    assert (r.stored, r.updated, r.unchanged) == (1, 1, 0)
    counts = [v.visits for v in await CounterVisit.all().order_by("visits")]
    assert counts == [0, 14]


def _problem_fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


async def test_the_feed_api_takes_the_new_intake(client: httpx.AsyncClient) -> None:
    await make_merchants()
    client.headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"
    now = datetime.now(UTC)
    body = {
        "complaints": [
            {
                "external_id": "API-1",
                "kind": "consultation",
                "received_at": now.isoformat(),
                "status": "received",
                "category": "price",
                "channel": "sms",
            },
            {
                "external_id": "API-2",
                "uscc": M1,  # an old-style complaint, unchanged
                "received_at": now.isoformat(),
                "status": "received",
                "category": "price",
            },
        ]
    }
    r = await client.post("/api/v1/complaints", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 2
    body["complaints"][0]["channel"] = "pigeon"
    body["complaints"][1]["kind"] = "rumour"
    r = await client.post("/api/v1/complaints", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert _problem_fields(r.json()) == ["complaints[0].channel", "complaints[1].kind"]

    today = now.astimezone(UTC).date().isoformat()
    r = await client.post(
        "/api/v1/visits", json={"tallies": [{"external_id": "T1", "day": today, "visits": 3}]}
    )
    assert (r.status_code, r.json()["stored"]) == (200, 1)
    spot = {
        "campaigns": [
            {
                "code": "HD-API",
                "name": "红盾",
                "year": now.year,
                "rounds": [
                    {
                        "number": 1,
                        "held_on": today,
                        "batches": [
                            {"batch_no": "1", "category": "食品", "failed": True, "uscc": M2}
                        ],
                    }
                ],
            }
        ]
    }
    r = await client.post("/api/v1/spot-checks", json=spot)
    assert (r.status_code, r.json()["merchants_changed"]) == (200, 1), r.text


async def test_a_register_imported_from_a_file_links_what_waited_for_it(
    db: Settings, tmp_path: Path
) -> None:
    links.register(RULES)
    await make_merchants()
    await ingest(closed("W-1", uscc=NEWCOMER, party_name="新店", upheld=True))
    path = tmp_path / "merchants.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [("uscc", "name", "category", "district"), (NEWCOMER, "新店", "retail", "411702")]
        )
    await imports.import_merchants(path, actor=TEST_ACTOR)
    linked = await Complaint.get(external_id="W-1")
    assert linked.merchant_id is not None
    assert await CreditEvent.filter(
        merchant_id=linked.merchant_id, kind="complaint_upheld"
    ).exists()


# More new merchants than PostgreSQL binds values in one query (32,767): a prefecture's
# register holds several hundred thousand market entities.
BIG_REGISTER = 33_000


async def test_a_register_larger_than_one_querys_bound_values_imports_and_links(
    db: Settings, tmp_path: Path
) -> None:
    links.register(RULES)
    await make_merchants()
    await ingest(closed("W-1", uscc=NEWCOMER, party_name="新店", upheld=True))
    rng = random.Random(29)
    codes = {NEWCOMER}
    while len(codes) < BIG_REGISTER:
        codes.add(generate(rng, "411702"))
    path = tmp_path / "merchants.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(("uscc", "name", "category", "district"))
        writer.writerows((code, f"商户{i}", "retail", "411702") for i, code in enumerate(codes))

    result = await imports.import_merchants(path, actor=TEST_ACTOR)

    assert (result.created, result.updated) == (BIG_REGISTER, 0)
    assert await Merchant.filter(uscc__in=list(codes)[:1000]).count() == 1000
    assert await Merchant.filter(district__code="411702").count() >= BIG_REGISTER
    linked = await Complaint.get(external_id="W-1")
    assert linked.merchant_id is not None
    assert await CreditEvent.filter(
        merchant_id=linked.merchant_id, kind="complaint_upheld"
    ).exists()


async def test_feeds_read_what_they_hold_in_slices_and_decide_the_same(
    db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Slices of one value: every lookup of a feed (stored records, merchants, derived events)
    # goes through more than one query, as a register-sized feed does.
    monkeypatch.setattr("service.kernel.db.IN_LIST_LIMIT", 1)
    links.register(RULES)
    await make_merchants()
    sent = [
        closed("S-1", uscc=M1, upheld=True),
        closed("S-2", uscc=M2, upheld=True),
        closed("S-3", uscc=M2, upheld=True),
    ]
    first = await ingest(*sent)
    assert (first.stored, first.updated) == (3, 0)
    assert await CreditEvent.filter(kind="complaint_upheld").count() == 3

    again = await ingest(*sent[:2], closed("S-3", uscc=M2, upheld=False))
    assert (again.stored, again.updated, again.unchanged) == (0, 1, 2)
    upheld = await CreditEvent.filter(kind="complaint_upheld").values_list(
        "external_ref", flat=True
    )
    assert len(upheld) == 2
