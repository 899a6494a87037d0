"""A year of the 12315 intake, counter visits and Red Shield spot checks whose figures add up
exactly to chosen totals — by default the bureau's 2017 report (the seed): 746 complaints to
the consumer associations, 721 closed, ¥4,205,799 recovered; 37,534 consultations, complaints
and reports through all channels, ¥18,142,000 in dispute, ¥5,254,900 recovered; 22,857
visits and consultations; 9 rounds of sampling, 306 batches, 105 cases.

Plain data from a seed, stored by the caller through the real ingest (the demo city, the
report's acceptance test). Records may name registered merchants; the rest name parties not
in the register, as most of a real city's complaints do.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import msgspec

from scoring.credit.schemas import (
    ComplaintIn,
    SpotCheckBatchIn,
    SpotCheckCampaignIn,
    SpotCheckRoundIn,
    VisitTallyIn,
)
from service.kernel.localtime import LOCAL_TZ
from service.register.uscc import generate

SEED = 2017


@dataclass(frozen=True, slots=True)
class Targets:
    ca_complaints: int = 746
    ca_closed: int = 721
    ca_recovered_fen: int = 420_579_900
    total: int = 37_534
    regulator_complaints: int = 9_812
    reports: int = 2_105
    disputed_fen: int = 1_814_200_000
    recovered_fen: int = 525_490_000
    visits: int = 22_857
    rounds: int = 9
    categories: int = 12
    batches: int = 306
    batches_failed: int = 118
    cases: int = 105

    @property
    def consultations(self) -> int:
        return self.total - self.ca_complaints - self.regulator_complaints - self.reports


SEED_REPORT = Targets()

CHANNELS = ("hotline", "web", "wechat", "sms", "qq", "walk_in", "letter", "other")
CHANNEL_WEIGHTS = (44, 31, 10, 3, 2, 6, 2, 2)
COMPLAINT_CATEGORIES = ("quality", "price", "service", "contract", "false_advertising", "safety")
PRODUCT_CATEGORIES = (
    "食品",
    "酒类",
    "儿童用品",
    "家用电器",
    "电线电缆",
    "建材",
    "化肥农资",
    "服装鞋帽",
    "化妆品",
    "汽车配件",
    "眼镜",
    "成品油",
    "珠宝首饰",
    "文具",
)
SHOP_WORDS = ("百货", "超市", "家电", "饭庄", "手机店", "建材", "药房", "服饰", "农资", "酒行")
PLACE_WORDS = ("驿城", "遂平", "西平", "上蔡", "汝南", "平舆", "新蔡", "正阳", "确山", "泌阳")


@dataclass(slots=True)
class YearIntake:
    records: list[ComplaintIn] = field(default_factory=list)
    tallies: list[VisitTallyIn] = field(default_factory=list)
    campaigns: list[SpotCheckCampaignIn] = field(default_factory=list)


def split(total: int, n: int, rng: random.Random) -> list[int]:
    """``n`` non-negative whole numbers of uneven size that add up to exactly ``total``."""
    if n == 0:
        return []
    weights = [rng.lognormvariate(0, 0.8) for _ in range(n)]
    scale = total / sum(weights)
    parts = [int(w * scale) for w in weights]
    for i in range(total - sum(parts)):
        parts[i % n] += 1
    return parts


def _at(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _party(rng: random.Random, region: str) -> tuple[str, str | None]:
    name = rng.choice(PLACE_WORDS) + rng.choice("金鑫华利民兴隆顺发") + rng.choice(SHOP_WORDS)
    return name, generate(rng, region) if rng.random() < 0.6 else None


def plan_year(
    year: int,
    districts: Sequence[str],
    registered: Sequence[str] = (),
    *,
    targets: Targets = SEED_REPORT,
    seed: int = SEED,
    region: str = "411700",
    source: str = "12315",
) -> YearIntake:
    """The year's records, tallies and campaigns. ``registered``: USCCs of merchants that a
    share of complaints and failed batches may name; ``districts``: the district codes that
    handle them (one in eight records stays with the city bureau)."""
    rng = random.Random(f"{seed}-{year}")  # noqa: S311 - demo data, reproducible on purpose
    out = YearIntake()
    start = datetime(year, 1, 1, tzinfo=LOCAL_TZ)
    days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
    handlers = [*districts, None]
    handler_weights = [7.0] * len(districts) + [1.0]

    def received() -> datetime:
        # Within the year, on office hours; a month's margin keeps closures in it too.
        day = rng.randrange(days - 40)
        return start + timedelta(days=day, hours=8.5 + rng.uniform(0, 9))

    def common(ref: str) -> dict[str, object]:
        return {
            "external_id": ref,
            "source": source,
            "channel": rng.choices(CHANNELS, weights=CHANNEL_WEIGHTS)[0],
            "district": rng.choices(handlers, weights=handler_weights)[0],
            "category": rng.choice(COMPLAINT_CATEGORIES),
        }

    def party(fields: dict[str, object]) -> None:
        if registered and rng.random() < 0.3:
            fields["uscc"] = rng.choice(registered)
        else:
            fields["party_name"], fields["uscc"] = _party(rng, region)
            fields["party_address"] = f"{rng.choice(PLACE_WORDS)}县（区）{rng.randint(1, 300)}号"

    def complaints(prefix: str, handler: str, n: int, closed: int, recovered_fen: int) -> None:
        # Of the closed: 2% refused, 2% withdrawn or terminated, the rest settled with money.
        refused = max(1, closed // 50)
        ended = max(1, closed // 50)
        settled = closed - refused - ended
        recovered = split(recovered_fen, settled, rng)
        for i in range(n):
            f = common(f"{prefix}-{i:05d}") | {"handled_by": handler}
            party(f)
            at = received()
            accepted = at + timedelta(days=rng.uniform(0.2, 4))
            done = accepted + timedelta(days=rng.uniform(1, 30))
            f["received_at"] = _at(at)
            if i < settled:
                f |= {
                    "status": "closed",
                    "accepted_at": _at(accepted),
                    "closed_at": _at(done),
                    "resolution": rng.choices(
                        ("mediated", "merchant_odr", "people_mediation", "court_mediation"),
                        weights=(80, 12, 6, 2),
                    )[0],
                    "upheld": True,
                    "amount_recovered": recovered[i] / 100,
                    "followup": rng.choices(
                        ("satisfied", "basically_satisfied", "dissatisfied", "not_reached"),
                        weights=(70, 18, 4, 8),
                    )[0],
                    "followup_at": _at(done + timedelta(days=3)),
                }
            elif i < settled + refused:
                f |= {"status": "rejected", "closed_at": _at(accepted), "resolution": "refused"}
            elif i < closed:
                f |= {
                    "status": "terminated",
                    "accepted_at": _at(accepted),
                    "closed_at": _at(done),
                    "resolution": rng.choice(("withdrawn", "terminated")),
                    "upheld": False,
                }
            else:
                f |= {"status": "mediating", "accepted_at": _at(accepted)}
            out.records.append(ComplaintIn(**f))  # type: ignore[arg-type]

    t = targets
    complaints(
        f"{year}-XH", "consumer_association", t.ca_complaints, t.ca_closed, t.ca_recovered_fen
    )
    regulator_closed = t.regulator_complaints * 97 // 100
    complaints(
        f"{year}-TS",
        "regulator",
        t.regulator_complaints,
        regulator_closed,
        t.recovered_fen - t.ca_recovered_fen,
    )
    # What is in dispute: what was recovered, and more, over every complaint.
    recovered_of = [round(float(r.amount_recovered) * 100) for r in out.records]
    extra = split(t.disputed_fen - sum(recovered_of), len(out.records), rng)
    out.records = [
        _with_disputed(r, (got + more) / 100)
        for r, got, more in zip(out.records, recovered_of, extra, strict=True)
    ]
    for i in range(t.reports):
        f = common(f"{year}-JB-{i:05d}") | {"kind": "report", "category": "violation"}
        party(f)
        at = received()
        decided = at + timedelta(days=rng.uniform(1, 14))
        f["received_at"] = _at(at)
        r = rng.random()
        if r < 0.55:
            f |= {
                "status": "closed",
                "accepted_at": _at(decided),
                "closed_at": _at(decided + timedelta(days=rng.uniform(5, 25))),
            }
        elif r < 0.85:
            f |= {"status": "rejected", "closed_at": _at(decided)}
        else:
            f |= {"status": "accepted", "accepted_at": _at(decided)}
        out.records.append(ComplaintIn(**f))  # type: ignore[arg-type]
    for i in range(t.consultations):
        f = common(f"{year}-ZX-{i:05d}") | {"kind": "consultation"}
        at = received()
        f |= {
            "received_at": _at(at),
            "status": "closed",
            "closed_at": _at(at + timedelta(minutes=rng.uniform(3, 40))),
        }
        out.records.append(ComplaintIn(**f))  # type: ignore[arg-type]

    # Counter tallies: each handling desk, every Monday of the year.
    mondays = [
        d for d in (date(year, 1, 1) + timedelta(days=i) for i in range(days)) if d.weekday() == 0
    ]
    desks = [(d, h) for d in mondays for h in handlers]
    for (day, district), people in zip(desks, split(t.visits, len(desks), rng), strict=True):
        visits = people * 2 // 5
        out.tallies.append(
            VisitTallyIn(
                external_id=f"{year}-{district or 'city'}-{day.isoformat()}",
                day=day.isoformat(),
                visits=visits,
                consultations=people - visits,
                handled_by=rng.choice(("regulator", "consumer_association")),
                district=district,
            )
        )

    # One city-wide Red Shield campaign of t.rounds rounds.
    categories = list(PRODUCT_CATEGORIES[: t.categories])
    per_round = split(t.batches - t.rounds, t.rounds, rng)  # at least one batch a round
    failed = set(rng.sample(range(t.batches), t.batches_failed))
    cases = set(rng.sample(sorted(failed), t.cases))
    rounds = []
    n = 0
    for r in range(t.rounds):
        held = date(year, 1, 1) + timedelta(days=(days - 20) * (r + 1) // (t.rounds + 1))
        batches = []
        for _ in range(per_round[r] + 1):
            is_failed = n in failed
            uscc: str | None = None
            name = ""
            if is_failed:
                if registered and rng.random() < 0.25:
                    uscc = rng.choice(registered)
                else:
                    name, uscc = _party(rng, region)
            batches.append(
                SpotCheckBatchIn(
                    batch_no=f"{r + 1:02d}-{n:04d}",
                    category=categories[n % len(categories)],
                    failed=is_failed,
                    case_opened=n in cases,
                    uscc=uscc,
                    party_name=name,
                )
            )
            n += 1
        rounds.append(SpotCheckRoundIn(r + 1, held.isoformat(), batches))
    out.campaigns.append(
        SpotCheckCampaignIn(f"HD-{year}", f"{year}年红盾质量维权行动", year, None, rounds)
    )
    return out


def _with_disputed(record: ComplaintIn, yuan: float) -> ComplaintIn:
    return msgspec.structs.replace(record, amount_disputed=yuan)
