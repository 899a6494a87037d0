"""Commitments in the certification policy and in credit (issue 20): the criteria gathered from
the commitments in force and explained like the others; an upheld complaint marked as a
broken commitment weighs twice a plain one (worked out by hand), is counted beside the
commitment, and comes in through the API and the CSV import alike."""

from __future__ import annotations

import csv
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec
import pytest

from certificates import eligibility, issuance
from certificates.commitments import store
from certificates.commitments.models import Commitment, CommitmentKind
from certificates.commitments.schemas import CommitmentIn
from certificates.policy import Kind, Policy
from scoring.credit import complaints, feed_files
from scoring.credit import store as credit_store
from scoring.credit.models import Complaint, CreditEvent, CreditStanding
from scoring.credit.schemas import ComplaintIn
from service.kernel.audit import Actor
from service.kernel.db import connection
from service.kernel.errors import InvalidInput
from service.kernel.models import Merchant, Role
from service.kernel.settings import Settings
from tests.helpers import TEST_ACTOR, login, make_account, make_token
from tests.scoring.credit.test_ingest import M1, M2, make_merchants
from tests.surveys.conftest import make_city

RULES = credit_store.rules_for(None)
POLICY = Policy.load()
OFFICIAL = Actor("account", "offi")


def test_the_complaint_marker_names_the_commitment_kinds() -> None:
    assert tuple(k.value for k in CommitmentKind) == complaints.COMMITMENT_KINDS
    assert POLICY.merchant.require_returns_days == 7
    assert {a.min_committed_share for a in POLICY.areas.values()} == {0.8}
    # Every kind fits the credit event's column (32 characters).
    assert max(len(k) for k in RULES.kinds) <= 32
    assert RULES.events["complaint_upheld_commitment"].points == 2 * (
        RULES.events["complaint_upheld"].points
    )


def _upheld(ref: str, uscc: str, closed: datetime, broken: str | None) -> ComplaintIn:
    received = closed - timedelta(days=20)
    return ComplaintIn(
        external_id=ref,
        uscc=uscc,
        received_at=received.isoformat(),
        accepted_at=(received + timedelta(days=1)).isoformat(),
        closed_at=closed.isoformat(),
        status="closed",
        category="returns",
        upheld=True,
        broken_commitment=broken,
    )


async def _score(uscc: str) -> tuple[float, str]:
    s = await CreditStanding.get(merchant__uscc=uscc)
    return s.score, s.risk_class


async def test_an_upheld_broken_commitment_weighs_twice_and_is_counted_beside_it(
    db: Settings,
) -> None:
    await make_merchants()  # M1, M2
    now = datetime.now(UTC)
    yesterday = now - timedelta(days=1)
    long_ago = now - timedelta(days=400)
    batch = [
        _upheld("K-1", M1, yesterday, "returns"),
        _upheld("K-2", M2, yesterday, None),
        _upheld("K-3", M1, long_ago, "returns"),  # past the twelve months shown
    ]
    await complaints.ingest_complaints(batch, actor=TEST_ACTOR, rules=RULES, now=now)
    # M2, plain: −5·0.5^(1/365) = −4.9905 → 95.0, class A.
    assert await _score(M2) == (95.0, "A")
    # M1: −10·0.5^(1/365) = −9.9810 and −10·0.5^(400/365) = −4.6786: 100 − 14.6596 = 85.3,
    # class B (75 ≤ 85.3 < 90).
    assert await _score(M1) == (85.3, "B")
    kinds = sorted(e.kind for e in await CreditEvent.filter(merchant__uscc=M1))
    assert kinds == ["complaint_upheld_commitment"] * 2

    for kind in ("returns", "pay_first"):
        body = CommitmentIn(kind=kind, days=7 if kind == "returns" else None)
        await store.declare(M1, body, actor=OFFICIAL, declared_as="official", district=None)
    shown = {c.kind: c.broken_upheld_12m for c in await store.in_force(M1)}
    assert shown == {"returns": 1, "pay_first": 0}  # K-3 closed 400 days ago: not counted

    # Resent without the marker, K-1 is a plain upheld complaint again: −4.9905 − 4.6786
    # = −9.6691 → 90.3, class A.
    plain = _upheld("K-1", M1, yesterday, None)
    await complaints.ingest_complaints([plain], actor=TEST_ACTOR, rules=RULES, now=now)
    assert await _score(M1) == (90.3, "A")
    assert {c.kind: c.broken_upheld_12m for c in await store.in_force(M1)}["returns"] == 0


def test_a_city_rule_table_without_the_rule_counts_it_as_a_plain_upheld_complaint() -> None:
    closed = datetime(2026, 11, 1, tzinfo=UTC)
    row = Complaint(
        source="12315",
        external_id="K-9",
        kind="complaint",
        merchant_id=1,
        received_at=closed - timedelta(days=3),
        closed_at=closed,
        status="closed",
        category="price",
        upheld=True,
        broken_commitment="marked_prices",
        handled_by="regulator",
    )
    (heavy,) = complaints.derived_events(row, None, RULES)
    assert heavy.kind == "complaint_upheld_commitment"
    assert heavy.external_ref == "K-9:upheld"  # the same event, only weighed differently
    events = {k: v for k, v in RULES.events.items() if k != "complaint_upheld_commitment"}
    older = replace(RULES, events=events)
    (plain,) = complaints.derived_events(row, None, older)
    assert plain.kind == "complaint_upheld"


async def test_a_bad_marker_is_named_and_the_csv_import_takes_the_column(
    db: Settings, tmp_path: Path
) -> None:
    await make_merchants()
    now = datetime.now(UTC)
    with pytest.raises(InvalidInput) as refused:
        await complaints.ingest_complaints(
            [_upheld("K-1", M1, now - timedelta(days=1), "gifts")],
            actor=TEST_ACTOR,
            rules=RULES,
            now=now,
        )
    assert [e.field for e in refused.value.errors] == ["complaints[0].broken_commitment"]
    closed = now - timedelta(days=1)
    received = closed - timedelta(days=20)
    path = tmp_path / "complaints.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [
                (
                    "external_id",
                    "uscc",
                    "received_at",
                    "accepted_at",
                    "closed_at",
                    "status",
                    "category",
                    "upheld",
                    "broken_commitment",
                ),
                (
                    "Q-1",
                    M1,
                    received.isoformat(),
                    (received + timedelta(days=1)).isoformat(),
                    closed.isoformat(),
                    "closed",
                    "price",
                    "true",
                    "pay_first",
                ),
            ]
        )
    done = await feed_files.import_complaints(path, actor=TEST_ACTOR, rules=RULES)
    assert done.stored == 1
    assert (await Complaint.get(external_id="Q-1")).broken_commitment == "pay_first"
    # −10·0.5^(1/365) = −9.981 → 90.0, class A (exactly at 90).
    assert await _score(M1) == (90.0, "A")


async def test_the_policy_criteria_count_only_returns_commitments_in_force(db: Settings) -> None:
    city = await make_city()  # two merchants on one street
    now = datetime.now(UTC)
    await store.declare(
        city.merchant,
        CommitmentIn(kind="returns", days=15),
        actor=OFFICIAL,
        declared_as="official",
        district=None,
    )
    other = await Merchant.get(uscc=city.other_merchant)
    # The other: a returns commitment ended, one not yet in force, and marked prices.
    for start, ended, kind in (
        (now - timedelta(days=30), now - timedelta(days=1), CommitmentKind.RETURNS),
        (now + timedelta(days=10), None, CommitmentKind.RETURNS),
        (now - timedelta(days=30), None, CommitmentKind.MARKED_PRICES),
    ):
        await Commitment.create(
            merchant_id=other.id,
            kind=kind,
            returns_days=30 if kind == CommitmentKind.RETURNS else None,
            valid_from=start,
            declared_by="t",
            declared_as="merchant",
            declared_at=start,
            ended_at=ended,
        )
    now = datetime.now(UTC)  # after the declaration, in force from its own "now"
    facts = await eligibility.gather(RULES, now)
    days = {f.uscc: f.returns_days for f in facts.merchants}
    assert days == {city.merchant: 15, city.other_merchant: None}
    (street,) = facts.areas
    assert (street.active_merchants, street.committed_merchants) == (2, 1)
    found = {(e.kind, e.code): e for e in eligibility.evaluate(facts, POLICY, now)}
    mine = {c.key: c for c in found[(Kind.MERCHANT, city.merchant)].criteria}
    theirs = {c.key: c for c in found[(Kind.MERCHANT, city.other_merchant)].criteria}
    assert (mine["returns_commitment"].value, mine["returns_commitment"].passed) == (15, True)
    assert mine["returns_commitment"].requirement == "≥ 7 days"
    assert (theirs["returns_commitment"].value, theirs["returns_commitment"].passed) == (
        None,
        False,
    )
    shared = {c.key: c for c in found[(Kind.STREET, city.street)].criteria}["committed_share"]
    assert (shared.value, shared.requirement, shared.passed) == (0.5, "≥ 80%", False)
    # Refused at issue with the criterion named, as every other.
    with pytest.raises(issuance.NotEligible) as refused:
        await issuance.issue(
            [issuance.Request(Kind.MERCHANT, city.other_merchant)],
            actor=TEST_ACTOR,
            policy=POLICY,
            credit_rules=RULES,
        )
    named = {e.field: e.message for e in refused.value.errors}
    assert named["returns_commitment"] == "none (needs ≥ 7 days)"
    assert await store.returns_days(connection(), None, now + timedelta(days=11)) == {
        (await Merchant.get(uscc=city.merchant)).id: 15,
        other.id: 30,
    }


async def test_the_eligibility_page_and_the_search_list_show_them(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await store.declare(
        city.merchant,
        CommitmentIn(kind="returns", days=30, other_branches=True),
        actor=OFFICIAL,
        declared_as="official",
        district=None,
    )
    await make_account("offi", Role.OFFICIAL)
    assert await login(client, "offi") == 303
    page = await client.get("/official/certificates/eligibility?kind=street")
    assert page.status_code == 200 and "作出无理由退货承诺的商户" in page.text
    assert "50.0%" in page.text
    merchants = await client.get("/official/certificates/eligibility?kind=merchant")
    assert "无理由退货承诺（天）" in merchants.text
    search = await client.get("/?q=老王")
    assert "线下无理由退货" in search.text and "30 天" in search.text
    assert "异地异店" in search.text
    batch = await store.in_force_many([city.merchant, city.other_merchant, "NOPE"])
    assert list(batch) == [city.merchant] and batch[city.merchant][0].days == 30


async def test_the_complaints_api_takes_the_marker(client: httpx.AsyncClient) -> None:
    await make_merchants()
    feed = {"authorization": f"Bearer {await make_token(Role.FEED)}"}
    item = msgspec.to_builtins(_upheld("A-1", M1, datetime.now(UTC) - timedelta(days=1), "x"))
    bad = await client.post("/api/v1/complaints", json={"complaints": [item]}, headers=feed)
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["complaints[0].broken_commitment"]
    good = await client.post(
        "/api/v1/complaints",
        json={"complaints": [{**item, "broken_commitment": "marked_prices"}]},
        headers=feed,
    )
    assert good.status_code == 200 and good.json()["merchants_changed"] == 1
    event = await CreditEvent.get(merchant__uscc=M1)
    assert event.kind == "complaint_upheld_commitment"
