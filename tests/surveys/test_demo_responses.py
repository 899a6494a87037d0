"""Synthetic demo responses: realistic shape, planted defects, and the bulk insert per dialect."""

from __future__ import annotations

import statistics
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tortoise.transactions import in_transaction

from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, MerchantStatus
from service.kernel.settings import Settings
from service.register.demo_city import demo_areas, demo_merchants
from surveys import demo_responses as demo
from surveys import quality
from surveys.demo_responses import DemoBatch, DemoTarget
from surveys.models import Answer, FlagKind, Response, ResponseFlag, Survey, TargetKind
from surveys.questionnaire import VersionedQuestions, default_files, load_file, parse_toml
from tests.helpers import TEST_ACTOR

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
SEED = 11


def _offline_inputs() -> tuple[
    list[DemoTarget], dict[TargetKind, tuple[int, int, VersionedQuestions]]
]:
    """The demo city and the default questionnaires, without a database."""
    areas = demo_areas()
    merchants = demo_merchants(areas)
    targets = demo.plan_targets(
        [(m.uscc, m.street, m.scenic_spot) for m in merchants if m.status == "active"],
        [(a.code, a.kind) for a in areas],
        SEED,
    )
    versions = {}
    for survey_id, path in enumerate(default_files(), start=1):
        d = parse_toml(path.read_text(encoding="utf-8"))
        versions[d.target_kind] = (survey_id, 1, VersionedQuestions(1, d.dimensions, d.questions))
    return targets, versions


async def _small_city(merchants: int = 150) -> None:
    """The demo city's areas, some of its merchants, and the default questionnaires."""
    ids: dict[str, int] = {}
    areas = demo_areas()
    for a in areas:  # parents come first
        row = await Area.create(
            code=a.code,
            kind=AreaKind(a.kind),
            name_zh=a.name_zh,
            name_en=a.name_en,
            parent_id=ids[a.parent] if a.parent else None,
            is_demo=True,
        )
        ids[a.code] = row.id
    await Merchant.bulk_create(
        [
            Merchant(
                uscc=m.uscc,
                name=m.name,
                category=MerchantCategory(m.category),
                address=m.address,
                district_id=ids[m.district],
                street_id=ids[m.street] if m.street else None,
                scenic_spot_id=ids[m.scenic_spot] if m.scenic_spot else None,
                status=MerchantStatus(m.status),
                is_demo=True,
            )
            for m in demo_merchants(areas, count=merchants)
        ]
    )
    for path in default_files():
        await load_file(path, actor=TEST_ACTOR)


async def _batch(count: int, seed: int = SEED) -> DemoBatch:
    merchants, areas = await demo.registry_inputs()
    targets = demo.plan_targets(merchants, areas, seed)
    return demo.generate(targets, await demo.current_versions(), count, seed, NOW)


# --- without a database ---------------------------------------------------------------------


def test_targets_are_mostly_good_with_a_few_poor_merchants_and_areas_that_differ() -> None:
    targets, _ = _offline_inputs()
    merchants = [t.quality for t in targets if t.kind == TargetKind.MERCHANT]
    areas = [t.quality for t in targets if t.kind != TargetKind.MERCHANT]
    assert {t.kind for t in targets} == set(TargetKind)
    assert all(0.0 <= q <= 1.0 for q in merchants + areas)
    assert 0.68 <= statistics.fmean(merchants) <= 0.82
    assert 0.04 <= sum(q < 0.45 for q in merchants) / len(merchants) <= 0.13
    assert max(areas) - min(areas) > 0.2
    assert demo.plan_targets([("X", None, None)], [], 1) == demo.plan_targets(
        [("X", None, None)], [], 1
    )


def test_same_seed_same_batch_and_another_seed_another() -> None:
    targets, versions = _offline_inputs()
    first = demo.generate(targets, versions, 3_000, SEED, NOW)
    assert first == demo.generate(targets, versions, 3_000, SEED, NOW)
    other = demo.generate(targets, versions, 3_000, SEED + 1, NOW)
    assert other.responses.client_submission_id != first.responses.client_submission_id


def test_a_year_of_responses_looks_like_a_city() -> None:
    targets, versions = _offline_inputs()
    batch = demo.generate(targets, versions, 20_000, SEED, NOW)
    r = batch.responses
    assert len(r) == 20_000
    assert 8 <= len(batch.answers) / len(r) <= 10

    assert all(NOW - timedelta(days=365) < at <= NOW for at in r.submitted_at)
    assert r.submitted_at == sorted(r.submitted_at)
    assert all(at.tzinfo is not None and at.utcoffset() == timedelta(0) for at in r.submitted_at)
    last_quarter = sum(at > NOW - timedelta(days=91) for at in r.submitted_at)
    first_quarter = sum(at < NOW - timedelta(days=274) for at in r.submitted_at)
    assert last_quarter > first_quarter * 1.2
    assert all(s + timedelta(milliseconds=d) == e for s, d, e in
               zip(r.started_at, r.duration_ms, r.submitted_at, strict=True))  # fmt: skip
    assert 40_000 <= statistics.median(r.duration_ms) <= 50_000

    per_merchant = Counter(
        code for code, kind in zip(r.target_code, r.target_kind, strict=True) if kind == "merchant"
    )
    merchants = [t.code for t in targets if t.kind == TargetKind.MERCHANT]
    counts = [per_merchant.get(code, 0) for code in merchants]
    assert max(counts) >= 100
    assert sum(c < 16 for c in counts) >= len(merchants) // 4
    assert any(c == 0 for c in counts)
    assert {TargetKind.STREET, TargetKind.SCENIC_SPOT} <= set(r.target_kind)

    assert len(set(r.device_hash)) >= 0.85 * len(r)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in r.device_hash + r.ip_hash)
    assert len(set(r.client_submission_id)) == len(r)
    assert all(u.version == 4 for u in r.client_submission_id)
    assert set(r.channel) == {"form", "api"}
    assert 0 < sum(r.invited) < 0.1 * len(r)
    assert all(r.is_demo) and not any(r.excluded)

    a = batch.answers
    comments = [t for k, t in zip(a.question_key, a.value_text, strict=True) if k == "comment"]
    assert 0.07 * len(r) <= len(comments) <= 0.13 * len(r)
    assert all(t and "\u4e00" <= t[0] <= "\u9fff" for t in comments)
    visitors = sum(k == "visitor" for k in a.question_key)
    assert 0.6 * len(r) <= visitors <= 0.75 * len(r)


def test_planted_defects_are_what_screening_would_find() -> None:
    targets, versions = _offline_inputs()
    batch = demo.generate(targets, versions, 20_000, SEED, NOW)
    r = batch.responses
    planted = batch.planted
    assert planted["speeder"] == 600 and planted["straightliner"] == 500
    assert planted["duplicate_device"] == 200
    assert 2 <= batch.bursts <= 4 and 5 * batch.bursts <= planted["burst"] <= 12 * batch.bursts
    for kind, positions in batch.planted_positions.items():
        assert len(positions) == planted[kind]
    kinds = [set(p) for p in batch.planted_positions.values()]
    assert sum(map(len, kinds)) == len(set().union(*kinds)), "one defect per response"

    speeders = {i for i, d in enumerate(r.duration_ms) if d < 15_000}
    assert speeders == set(batch.planted_positions["speeder"])
    rows = [
        quality.Screened(i, r.survey_id[i], r.target_code[i], r.submitted_at[i],
                         r.duration_ms[i], r.device_hash[i], r.ip_hash[i])
        for i in range(len(r))
    ]  # fmt: skip
    assert quality.find_bursts(rows) == set(batch.planted_positions["burst"])
    assert quality.find_duplicates(rows, timedelta(days=30)) == set(
        batch.planted_positions["duplicate_device"]
    )
    scored = {kind: {q.key for q in v[2].questions if q.scored} for kind, v in versions.items()}
    norms: dict[int, list[float]] = defaultdict(list)
    a = batch.answers
    for i, key, norm in zip(a.response, a.question_key, a.value_norm, strict=True):
        if key in scored[r.target_kind[i]] and norm is not None:
            norms[i].append(norm)
    lines = {i for i, v in norms.items() if quality.is_straightliner(v)}
    assert lines == set(batch.planted_positions["straightliner"])
    assert Counter(norms[i][0] for i in lines).most_common(1)[0][0] in (0.0, 100.0)


def test_bad_arguments_are_refused() -> None:
    targets, versions = _offline_inputs()
    with pytest.raises(ValueError, match="negative"):
        demo.generate(targets, versions, -1, SEED, NOW)
    with pytest.raises(ValueError, match="time zone"):
        demo.generate(targets, versions, 10, SEED, NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="no target"):
        demo.generate(targets, {}, 10, SEED, NOW)
    assert len(demo.generate(targets, versions, 0, SEED, NOW).responses) == 0


# --- with a database --------------------------------------------------------------------------


async def test_inserted_responses_read_back_through_the_orm(db: Settings) -> None:
    await _small_city()
    batch = await _batch(2_000)
    assert await demo.insert(batch) == 2_000

    assert await Response.all().count() == 2_000
    assert await Answer.all().count() == len(batch.answers)
    assert await Response.filter(is_demo=False).count() == 0

    # Each response answers every required question of its version.
    versions = {(sid, n): vq for sid, n, vq in (await demo.current_versions()).values()}
    required = {k: {q.key for q in vq.questions if q.required} for k, vq in versions.items()}
    answered: dict[int, set[str]] = defaultdict(set)
    for rid, key in await Answer.all().values_list("response_id", "question_key"):
        answered[int(rid)].add(str(key))
    for rid, sid, number in await Response.all().values_list("id", "survey_id", "version"):
        assert required[(sid, number)] <= answered[rid], rid

    norms: list[Any] = await Answer.filter(value_norm__not_isnull=True).values_list(
        "value_norm", flat=True
    )
    assert norms and all(0.0 <= float(v) <= 100.0 for v in norms)
    fours = await Answer.filter(question_key="quality", value_num=4.0).first()
    assert fours is not None and fours.value_norm == 75.0
    nines = await Answer.filter(question_key="recommend", value_num=9.0).first()
    assert nines is not None and nines.value_norm == 90.0

    # Ids follow time, uuids and datetimes come back as generated.
    r = batch.responses
    stored = {
        row.client_submission_id: row for row in await Response.all().order_by("submitted_at")
    }
    assert set(stored) == set(r.client_submission_id)
    for i in (0, 1, 777, len(r) - 1):
        row = stored[r.client_submission_id[i]]
        assert row.submitted_at.tzinfo is not None
        assert row.submitted_at == r.submitted_at[i]
        assert row.started_at == r.started_at[i]
        assert (row.duration_ms, row.device_hash, row.ip_hash) == (
            r.duration_ms[i], r.device_hash[i], r.ip_hash[i]
        )  # fmt: skip
        assert (row.target_kind, row.target_code, row.channel) == (
            r.target_kind[i], r.target_code[i], r.channel[i]
        )  # fmt: skip
        assert isinstance(row.client_submission_id, uuid.UUID)
        assert not row.excluded and row.is_demo
    ids = [row.id for row in stored.values()]
    assert ids == sorted(ids)

    first = stored[r.client_submission_id[0]]
    mine = [
        (key, num, text)
        for p, key, num, text in zip(batch.answers.response, batch.answers.question_key,
                                     batch.answers.value_num, batch.answers.value_text,
                                     strict=True)
        if p == 0
    ]  # fmt: skip
    theirs = [
        (a.question_key, a.value_num, a.value_text)
        for a in await Answer.filter(response_id=first.id).order_by("id")
    ]
    assert theirs == mine

    assert 50 <= batch.planted["speeder"] <= 70
    assert 40 <= batch.planted["straightliner"] <= 60
    assert batch.planted["duplicate_device"] == 20
    assert 10 <= batch.planted["burst"] <= 24


async def test_screening_flags_exactly_the_planted_responses(db: Settings) -> None:
    await _small_city()
    batch = await _batch(2_000)
    await demo.insert(batch)

    report = await quality.recompute_flags()

    assert report.raised == batch.planted
    by_uuid = dict(await Response.all().values_list("client_submission_id", "id"))
    flagged = {
        (int(rid), FlagKind(kind))
        for rid, kind in await ResponseFlag.all().values_list("response_id", "kind")
    }
    planted = {
        (by_uuid[batch.responses.client_submission_id[p]], FlagKind(kind))
        for kind, positions in batch.planted_positions.items()
        for p in positions
    }
    assert flagged == planted


async def test_later_batches_and_submissions_take_ids_never_used_before(db: Settings) -> None:
    await _small_city(40)
    assert await demo.insert(await _batch(300, seed=1)) == 300
    assert await demo.insert(await _batch(200, seed=2)) == 200
    assert await demo.insert(await _batch(0)) == 0
    assert await Response.all().count() == 500
    ids = [int(i) for (i,) in await Response.all().order_by("id").values_list("id")]
    assert ids == list(range(1, 501))

    # The ORM's next id comes after ours (the sequence was moved on PostgreSQL).
    survey = await Survey.get(slug="merchant")
    row = await Response.create(
        survey=survey,
        version=1,
        target_kind=TargetKind.MERCHANT,
        target_code="X",
        client_submission_id=uuid.uuid4(),
        submitted_at=NOW,
    )
    assert row.id == 501
    await Answer.create(response=row, question_key="quality", value_num=5.0, value_norm=100.0)

    # Ids of deleted responses are not handed out again.
    await Response.filter(id__gt=450).delete()
    assert await demo.insert(await _batch(100, seed=3)) == 100
    ids = [int(i) for (i,) in await Response.filter(id__gt=450).values_list("id")]
    assert min(ids) == 502 and max(ids) == 601


async def test_insert_inside_an_outer_transaction_rolls_back_with_it(db: Settings) -> None:
    await _small_city(40)
    batch = await _batch(100)

    async def insert_then_fail() -> None:
        async with in_transaction():
            assert await demo.insert(batch) == 100
            assert await Response.all().count() == 100
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError, match="changed my mind"):
        await insert_then_fail()
    assert await Response.all().count() == 0
    assert await Answer.all().count() == 0
    assert await demo.insert(batch) == 100


async def test_fifty_thousand_responses_generate_and_insert(db: Settings) -> None:
    await _small_city(1_200)
    batch = await _batch(50_000)
    assert await demo.insert(batch) == 50_000
    assert await Response.all().count() == 50_000
    assert await Answer.all().count() == len(batch.answers) > 400_000
