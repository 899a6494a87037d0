"""Synthetic survey responses for the demo city: a year of answers, made and stored in seconds.

Plain data first (``plan_targets`` then ``generate``, no connection needed, same seed → same
batch), then one bulk ``insert``. Each target has a latent quality that drives its answers,
so scores, rankings and maps look like a real city's. A few deliberately bad responses are
planted, each exactly of one kind and recorded in the batch, so that screening
(``surveys.quality``) has something to catch and a test can check it caught all of them.
"""

from __future__ import annotations

import hashlib
import math
import random
import statistics
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import accumulate, islice
from typing import Any, Protocol

from tortoise.transactions import in_transaction

from service.kernel.db import connection
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus
from service.register.demo_city import SHOWCASE_AREAS
from surveys.models import FlagKind, Survey, SurveyVersion, TargetKind
from surveys.questionnaire import SCALES, Question, VersionedQuestions

DEFAULT_COUNT = 60_000
DEFAULT_SEED = 20260315
WINDOW_DAYS = 365
CHINA = timezone(timedelta(hours=8), "CST")

# --- targets' latent quality ------------------------------------------------------------------

# Beta(8, 2.4) has mean ≈ 0.77: most shops are decent, as in real satisfaction surveys.
_MERCHANT_BETA = (8.0, 2.4)
_AREA_BETA = (6.0, 2.2)
# Shops that are simply bad; with the pull below, about 8% of merchants end under 0.45.
_POOR_SHARE = 0.085
_POOR_RANGE = (0.05, 0.38)
# A shop on a well-run street or in a well-run scenic spot tends to be better run too.
_AREA_PULL = 0.3
# Showcase areas (service.register.demo_city.SHOWCASE_AREAS) and their merchants: at least
# this good, and at least this popular, so that their merchants pass n ≥ 30 within the year.
_SHOWCASE_AREA_QUALITY = 0.95
_SHOWCASE_QUALITY = 0.9
_SHOWCASE_POPULARITY = 3.0

# --- popularity and respondents -----------------------------------------------------------------

# Log-normal popularity: a few shops collect hundreds of responses, many fewer than 16.
_POPULARITY_SIGMA = 1.25
_UNRATED_SHARE = 0.08  # merchants nobody rated this year
# A whole street or scenic spot draws many more respondents than one shop, and steadily.
_AREA_POPULARITY = 25.0
_AREA_POPULARITY_SIGMA = 0.5
_RECENT_SHARE = 0.3  # this share is skewed recent: the service grew over the year
# People answer when they shop: little at night, peaks at lunch and in the evening (UTC+8).
_HOUR_WEIGHTS = (1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 5, 6,
                 7, 6, 5, 5, 5, 6, 8, 9, 9, 7, 4, 2)  # fmt: skip
_HOURS = tuple(range(24))
_HOUR_CUM = tuple(accumulate(_HOUR_WEIGHTS))

_MEDIAN_DURATION_MS = 45_000
_DURATION_SIGMA = 0.45
# Honest respondents are never this fast: screening's speeder line is a third of the median
# (15 s), so every speeder it finds is one we planted.
_MIN_HONEST_MS = 18_000
_REGULAR_SHARE = 0.12  # answers from a phone that also rated other targets
_SHARED_IP_SHARE = 0.35  # mobile carriers' NAT: many people behind one address
_INVITED_SHARE = 0.04
_FORM_SHARE = 0.85

# --- answers ----------------------------------------------------------------------------------

_RESPONDENT_SD = 0.10  # leniency: some people rate everything higher
_ITEM_SD = 0.14
_TARGET_ITEM_SD = 0.07  # a shop good on quality may still be dear
_NPS_SD = 1.2
_OPTIONAL_SCALE_RATE = 0.85
_OPTIONAL_CHOICE_RATE = 0.70
_OPTIONAL_TEXT_RATE = 0.10
# The default questionnaires ask who the respondent is: scenic spots draw mostly visitors.
_CHOICE_LEAN: dict[TargetKind, dict[str, float]] = {
    TargetKind.MERCHANT: {"resident": 2.0},
    TargetKind.STREET: {"resident": 1.5},
    TargetKind.SCENIC_SPOT: {"tourist": 3.0},
}

# --- planted low-quality responses ---------------------------------------------------------------

_SPEEDER_SHARE = 0.03
_SPEEDER_MS = (3_000, 9_000)
# Screening ignores speed until a survey has 100 timed responses; keep a margin.
_SPEEDER_MIN_SURVEY = 200
_STRAIGHTLINER_SHARE = 0.025
_STRAIGHTLINE_MIN_ITEMS = 5  # screening's battery length
_STRAIGHTLINE_POSITIONS = (1.0, 0.0, 0.25, 0.5, 0.75)  # on the scale: all top, all bottom, …
_STRAIGHTLINE_WEIGHTS = (45, 30, 5, 10, 10)
_DUPLICATE_SHARE = 0.01
_DUPLICATE_GAP = (timedelta(hours=1), timedelta(days=29))  # inside the 30-day device rule
_BURST_EVERY = 7_500  # one burst per this many responses, at least two
_BURST_MIN_COUNT = 500  # smaller batches get none
_BURST_SIZE = (5, 12)
_BURST_SPAN_S = 570  # under the 10-minute window

# fmt: off
_COMMENTS: dict[TargetKind, tuple[tuple[str, ...], tuple[str, ...]]] = {
    TargetKind.MERCHANT: (
        ("老板很实在，价格公道，下次还来。", "服务热情周到，环境也干净。",
         "明码标价，没有乱收费，买得放心。", "东西新鲜，分量足，性价比高。",
         "店员态度很好，有问题马上就给解决了。", "退换货很痛快，一点都不推诿。",
         "卫生做得好，带孩子来也放心。", "扫码就能看到价格，很方便。",
         "老字号了，味道一直没变。", "整体不错，就是人有点多，排了会儿队。"),
        ("价格标得不清楚，结账时比说的贵。", "服务态度一般，喊了几遍才有人理。",
         "卫生需要加强，桌子油乎乎的。", "买的东西有质量问题，要求退换被拒绝了。",
         "有强制消费的感觉，不买不让走。", "缺斤少两，建议查查他家的秤。",
         "宣传的和实际不一样，有点失望。", "办的会员卡说不让退就不让退。",
         "找商家投诉没人管，只能打12315。", "排队太久，也没人维持秩序。"),
    ),
    TargetKind.STREET: (
        ("街区很热闹，小吃种类多，逛着舒服。", "路面干净，垃圾桶也多。",
         "晚上灯光好，逛夜市很安全。", "商户基本都明码标价，不怕被宰。",
         "服务点的工作人员很热心，帮忙找到了丢的手机。", "停车比以前方便多了。"),
        ("步行街里电动车太多，走路不安全。", "公共厕所太少，找了半天。",
         "停车难，周边指示牌不清楚。", "个别摊位占道经营，太挤了。",
         "投诉点不好找，问了好几个人。", "夜市散场后垃圾没人收拾。"),
    ),
    TargetKind.SCENIC_SPOT: (
        ("风景很美，步道修得好，值得一来。", "导游讲解很专业，收获很大。",
         "厕所干净，休息的地方也多。", "门票价格合理，还有学生优惠。",
         "工作人员很耐心，给老人指路送到门口。", "景区秩序很好，节假日也不乱。"),
        ("景区里吃饭太贵，一瓶水卖十块。", "节假日人太多，索道排了两个小时。",
         "景区内有人拉客推销，体验不好。", "退票规则不清楚，临时有事退不了。",
         "指示牌太少，差点走错路。", "观光车等太久，也没人解释。"),
    ),
}
# fmt: on


@dataclass(frozen=True, slots=True)
class DemoTarget:
    kind: TargetKind
    code: str  # merchant USCC or area code
    quality: float  # latent quality in [0, 1]: drives the answers
    showcase: bool = False  # in a well-run demo area: good and much rated


@dataclass(frozen=True, slots=True)
class ResponseColumns:
    """The ``response`` table, one list per column (ids are given at insert)."""

    survey_id: list[int] = field(default_factory=list)
    version: list[int] = field(default_factory=list)
    target_kind: list[TargetKind] = field(default_factory=list)
    target_code: list[str] = field(default_factory=list)
    client_submission_id: list[uuid.UUID] = field(default_factory=list)
    started_at: list[datetime] = field(default_factory=list)
    submitted_at: list[datetime] = field(default_factory=list)
    duration_ms: list[int] = field(default_factory=list)
    device_hash: list[str] = field(default_factory=list)
    ip_hash: list[str] = field(default_factory=list)
    invited: list[bool] = field(default_factory=list)
    channel: list[str] = field(default_factory=list)
    excluded: list[bool] = field(default_factory=list)
    is_demo: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.survey_id)


@dataclass(frozen=True, slots=True)
class AnswerColumns:
    """The ``answer`` table, one list per column; ``response`` is a position in the batch."""

    response: list[int] = field(default_factory=list)
    question_key: list[str] = field(default_factory=list)
    value_num: list[float | None] = field(default_factory=list)
    value_norm: list[float | None] = field(default_factory=list)
    value_text: list[str | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.response)


@dataclass(frozen=True, slots=True)
class DemoBatch:
    responses: ResponseColumns
    answers: AnswerColumns
    # Planted low-quality responses per FlagKind value, and their positions in the batch: for
    # a duplicate device it is the later of the pair, the one screening flags.
    planted: dict[str, int]
    planted_positions: dict[str, list[int]]
    bursts: int  # how many bursts the "burst" responses make up


# --- targets ------------------------------------------------------------------------------------


def plan_targets(
    merchants: Sequence[tuple[str, str | None, str | None]],
    areas: Sequence[tuple[str, str]],
    seed: int,
) -> list[DemoTarget]:
    """Streets and scenic spots (``areas``: (code, kind); other kinds are skipped), then
    merchants ((uscc, street code, scenic spot code)), each with a latent quality."""
    rng = random.Random(seed)  # noqa: S311 - demo data; reproducibility is the point
    targets: list[DemoTarget] = []
    area_quality: dict[str, float] = {}
    for code, kind in areas:
        if kind not in (TargetKind.STREET, TargetKind.SCENIC_SPOT):
            continue
        quality = rng.betavariate(*_AREA_BETA)
        showcase = code in SHOWCASE_AREAS
        if showcase:
            quality = max(quality, _SHOWCASE_AREA_QUALITY)
        area_quality[code] = quality
        targets.append(DemoTarget(TargetKind(kind), code, quality, showcase))
    for uscc, street, spot in merchants:
        if rng.random() < _POOR_SHARE:
            own = rng.uniform(*_POOR_RANGE)
        else:
            own = rng.betavariate(*_MERCHANT_BETA)
        local = [area_quality[c] for c in (street, spot) if c is not None and c in area_quality]
        quality = own
        if local:
            quality = (1 - _AREA_PULL) * own + _AREA_PULL * statistics.fmean(local)
        showcase = street in SHOWCASE_AREAS or spot in SHOWCASE_AREAS
        if showcase:
            quality = max(quality, _SHOWCASE_QUALITY + 0.05 * own)
        targets.append(DemoTarget(TargetKind.MERCHANT, uscc, _clamp(quality), showcase))
    return targets


# --- responses ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Draft:
    """One response before it has answers and an identity."""

    target: int  # position in the rated targets
    submitted_at: datetime
    duration_ms: int
    device: str
    ip: str
    defect: FlagKind | None = None
    stuffed: bool = False  # a burst: someone rating their own shop from one place


@dataclass(frozen=True, slots=True)
class _Item:
    """One question, with what the answer loop would otherwise look up half a million times."""

    question: Question
    rating: bool  # likert5 or scale10
    nps: bool
    low: int
    span: int
    norms: tuple[float, ...]  # value_norm of each value from low, by Question.normalise

    @classmethod
    def of(cls, q: Question) -> _Item:
        low, high = SCALES.get(q.type, (0, 0))
        norms = tuple(q.normalise(v) for v in range(low, high + 1)) if q.scale else ()
        return cls(q, q.type in ("likert5", "scale10"), q.type == "nps", low, high - low, norms)


@dataclass(frozen=True, slots=True)
class _Plan:
    """One survey version, prepared for the answer loop."""

    survey_id: int
    version: int
    items: tuple[_Item, ...]
    scored: tuple[int, ...]  # positions of the scored questions


def generate(
    targets: Sequence[DemoTarget],
    versions: Mapping[TargetKind, tuple[int, int, VersionedQuestions]],
    count: int,
    seed: int,
    now: datetime,
) -> DemoBatch:
    """``count`` responses over the year before ``now``, on the targets of a kind that has a
    survey (``versions``: kind → (survey id, version, questions)); ordered by time."""
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    if now.tzinfo is None:
        raise ValueError("now needs a time zone")
    rated = [t for t in targets if t.kind in versions]
    if count and not rated:
        raise ValueError("no target has a survey of its kind in versions")
    plans = {
        kind: _Plan(
            sid,
            number,
            tuple(_Item.of(q) for q in vq.questions),
            tuple(i for i, q in enumerate(vq.questions) if q.scored),
        )
        for kind, (sid, number, vq) in versions.items()
    }
    rng = random.Random(seed)  # noqa: S311 - demo data; reproducibility is the point
    clock = _Clock(rng, now.astimezone(UTC))
    ids = _Identities(rng)

    weights = _popularity(rng, rated)
    n_dup = round(count * _DUPLICATE_SHARE)
    bursts = _bursts(rng, rated, weights, clock, ids, count)
    n_main = count - n_dup - len(bursts)
    if n_main < n_dup:  # a tiny batch: no room for pairs
        n_dup, n_main = 0, count - len(bursts)

    drafts: list[_Draft] = []
    for t in rng.choices(range(len(rated)), weights=weights, k=n_main) if n_main > 0 else ():
        drafts.append(_Draft(t, clock.moment(), _honest_duration(rng), ids.device_for(t), ids.ip()))
    _plant_speeders(rng, drafts, rated, count)
    _plant_straightliners(rng, drafts, rated, plans, count)
    drafts += _duplicates(rng, drafts, n_dup, clock, ids)
    drafts += bursts
    drafts.sort(key=lambda d: d.submitted_at)

    batch = DemoBatch(
        ResponseColumns(),
        AnswerColumns(),
        {},
        {k.value: [] for k in FlagKind},
        len({(b.target, b.ip) for b in bursts}),
    )
    writer = _AnswerWriter(rng, rated, plans, batch.answers)
    r = batch.responses
    for i, d in enumerate(drafts):
        target = rated[d.target]
        plan = plans[target.kind]
        submitted = d.submitted_at
        r.survey_id.append(plan.survey_id)
        r.version.append(plan.version)
        r.target_kind.append(target.kind)
        r.target_code.append(target.code)
        r.client_submission_id.append(uuid.UUID(int=rng.getrandbits(128), version=4))
        r.started_at.append(submitted - timedelta(milliseconds=d.duration_ms))
        r.submitted_at.append(submitted)
        r.duration_ms.append(d.duration_ms)
        r.device_hash.append(d.device)
        r.ip_hash.append(d.ip)
        r.invited.append(rng.random() < _INVITED_SHARE)
        r.channel.append("form" if rng.random() < _FORM_SHARE else "api")
        r.excluded.append(False)
        r.is_demo.append(True)
        writer.answer(i, d)
        if d.defect is not None:
            batch.planted_positions[d.defect.value].append(i)
    batch.planted.update({k: len(v) for k, v in batch.planted_positions.items()})
    return batch


class _Clock:
    """When people answered: over the year before ``now``, by day and by hour of day."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now
        self.today = now.astimezone(CHINA).date()

    def moment(self) -> datetime:
        rng = self.rng
        u = min(rng.random(), rng.random()) if rng.random() < _RECENT_SHARE else rng.random()
        day: date = self.today - timedelta(days=int(u * WINDOW_DAYS))
        hour = rng.choices(_HOURS, cum_weights=_HOUR_CUM)[0]
        at = datetime.combine(
            day,
            time(hour, rng.randrange(60), rng.randrange(60), rng.randrange(1000) * 1000),
            tzinfo=CHINA,
        ).astimezone(UTC)
        # Later today has not happened yet: the same hour yesterday has.
        return at if at <= self.now else at - timedelta(days=1)


class _Identities:
    """Hashed devices and addresses. A phone rates a target at most once, so the only
    duplicate devices are the planted ones; addresses are shared across targets only."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.regulars: list[str] = []
        self.shared_ips: list[str] = []
        self.used: set[tuple[str, int]] = set()

    def fresh(self, purpose: bytes) -> str:
        return hashlib.sha256(purpose + self.rng.getrandbits(64).to_bytes(8, "big")).hexdigest()

    def device_for(self, target: int) -> str:
        rng = self.rng
        if rng.random() < _REGULAR_SHARE:
            # The pool grows with use so each regular rates a handful of targets.
            if len(self.regulars) < 50 or rng.random() < 0.2:
                self.regulars.append(self.fresh(b"device:"))
            device = rng.choice(self.regulars)
            if (device, target) not in self.used:
                self.used.add((device, target))
                return device
        device = self.fresh(b"device:")
        self.used.add((device, target))
        return device

    def ip(self) -> str:
        rng = self.rng
        if rng.random() < _SHARED_IP_SHARE:
            if len(self.shared_ips) < 50 or rng.random() < 0.15:
                self.shared_ips.append(self.fresh(b"ip:"))
            return rng.choice(self.shared_ips)
        return self.fresh(b"ip:")


def _popularity(rng: random.Random, rated: Sequence[DemoTarget]) -> list[float]:
    weights = []
    for t in rated:
        # Every draw is made for every target, so that showcasing leaves the rest unchanged.
        unrated = t.kind == TargetKind.MERCHANT and rng.random() < _UNRATED_SHARE
        if unrated and not t.showcase:
            weights.append(0.0)
            continue
        if t.kind == TargetKind.MERCHANT:
            w = rng.lognormvariate(0.0, _POPULARITY_SIGMA) if not unrated else 0.0
            if t.showcase:
                w = max(w, _SHOWCASE_POPULARITY)
        else:
            w = _AREA_POPULARITY * rng.lognormvariate(0.0, _AREA_POPULARITY_SIGMA)
        # Good places are a little more popular (and people like to praise them).
        weights.append(w * (0.5 + t.quality))
    if rated and not any(weights):
        weights = [1.0] * len(rated)
    return weights


def _honest_duration(rng: random.Random) -> int:
    mu = math.log(_MEDIAN_DURATION_MS)
    while True:
        ms = rng.lognormvariate(mu, _DURATION_SIGMA)
        if ms >= _MIN_HONEST_MS:
            return int(ms)


def _plant_speeders(
    rng: random.Random, drafts: list[_Draft], rated: Sequence[DemoTarget], count: int
) -> None:
    per_kind: dict[TargetKind, int] = {}
    for d in drafts:
        per_kind[rated[d.target].kind] = per_kind.get(rated[d.target].kind, 0) + 1
    eligible = [
        i for i, d in enumerate(drafts) if per_kind[rated[d.target].kind] >= _SPEEDER_MIN_SURVEY
    ]
    n = min(round(count * _SPEEDER_SHARE), len(eligible) // 4)
    for i in rng.sample(eligible, n):
        drafts[i].defect = FlagKind.SPEEDER
        drafts[i].duration_ms = rng.randint(*_SPEEDER_MS)


def _plant_straightliners(
    rng: random.Random,
    drafts: list[_Draft],
    rated: Sequence[DemoTarget],
    plans: Mapping[TargetKind, _Plan],
    count: int,
) -> None:
    eligible = [
        i
        for i, d in enumerate(drafts)
        if d.defect is None and len(plans[rated[d.target].kind].scored) >= _STRAIGHTLINE_MIN_ITEMS
    ]
    n = min(round(count * _STRAIGHTLINER_SHARE), len(eligible) // 4)
    for i in rng.sample(eligible, n):
        drafts[i].defect = FlagKind.STRAIGHTLINER


def _duplicates(
    rng: random.Random, drafts: list[_Draft], n: int, clock: _Clock, ids: _Identities
) -> list[_Draft]:
    """A second answer from the same phone for the same target, within the period."""
    clean = [d for d in drafts if d.defect is None]
    extra = []
    lo, hi = (g.total_seconds() for g in _DUPLICATE_GAP)
    for first in rng.sample(clean, min(n, len(clean))):
        gap = timedelta(seconds=rng.uniform(lo, hi))
        at = first.submitted_at + gap
        second = _Draft(first.target, at, _honest_duration(rng), first.device, ids.ip())
        if at > clock.now:  # too recent for a later one: the copy came first
            second.submitted_at = first.submitted_at - gap
            first.defect = FlagKind.DUPLICATE_DEVICE
        else:
            second.defect = FlagKind.DUPLICATE_DEVICE
        extra.append(second)
    return extra


def _bursts(
    rng: random.Random,
    rated: Sequence[DemoTarget],
    weights: Sequence[float],
    clock: _Clock,
    ids: _Identities,
    count: int,
) -> list[_Draft]:
    """Someone filling the form again and again from one place for one (usually their own)
    shop, each time on another phone."""
    if count < _BURST_MIN_COUNT:
        return []
    candidates = [i for i, t in enumerate(rated) if weights[i] and t.kind == TargetKind.MERCHANT]
    candidates = candidates or [i for i in range(len(rated)) if weights[i]]
    drafts: list[_Draft] = []
    for _ in range(max(2, round(count / _BURST_EVERY))):
        target = rng.choice(candidates)
        start = clock.moment()
        if start + timedelta(seconds=_BURST_SPAN_S) > clock.now:
            start -= timedelta(days=1)
        ip = ids.fresh(b"ip:")
        size = rng.randint(*_BURST_SIZE)
        for offset in sorted(rng.uniform(0, _BURST_SPAN_S) for _ in range(size)):
            device = ids.fresh(b"device:")
            ids.used.add((device, target))
            at = start + timedelta(seconds=round(offset, 3))
            drafts.append(
                _Draft(target, at, _honest_duration(rng), device, ip, FlagKind.BURST, stuffed=True)
            )
    return drafts


class _AnswerWriter:
    """Appends one response's answers, in questionnaire order, to the answer columns."""

    def __init__(
        self,
        rng: random.Random,
        rated: Sequence[DemoTarget],
        plans: Mapping[TargetKind, _Plan],
        out: AnswerColumns,
    ) -> None:
        self.rng = rng
        self.rated = rated
        self.plans = plans
        self.out = out
        self.offsets: dict[int, list[float]] = {}
        self.choice_weights: dict[tuple[int, int], list[float]] = {}

    def _offsets(self, target: int, plan: _Plan) -> list[float]:
        found = self.offsets.get(target)
        if found is None:
            found = [self.rng.gauss(0.0, _TARGET_ITEM_SD) for _ in plan.items]
            self.offsets[target] = found
        return found

    def answer(self, position: int, d: _Draft) -> None:
        rng = self.rng
        gauss, chance = rng.gauss, rng.random
        target = self.rated[d.target]
        plan = self.plans[target.kind]
        offsets = self._offsets(d.target, plan)
        line: float | None = None
        if d.defect == FlagKind.STRAIGHTLINER:
            line = rng.choices(_STRAIGHTLINE_POSITIONS, weights=_STRAIGHTLINE_WEIGHTS)[0]
        # Someone stuffing the box rates their own shop near the top.
        mean, sd = (0.93, 0.04) if d.stuffed else (target.quality, _RESPONDENT_SD)
        base = mean + gauss(0.0, sd)
        # A speeder clicks through without reading: noisier, but not straight-lined.
        noise = _ITEM_SD * (2.0 if d.defect == FlagKind.SPEEDER else 1.0)

        values: list[int | None] = [None] * len(plan.items)
        total, answered = 0.0, 0
        for j, it in enumerate(plan.items):
            if not it.rating or (not it.question.required and chance() >= _OPTIONAL_SCALE_RATE):
                continue
            if line is not None:
                values[j] = it.low + round(line * it.span)
                continue
            x = base + offsets[j] + gauss(0.0, noise)
            x = 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
            total += x
            answered += 1
            values[j] = it.low + round(x * it.span)
        if line is None:
            self._break_straight_line(plan, values)
            mood = total / answered if answered else _clamp(base)
        else:
            mood = line

        out = self.out
        for j, it in enumerate(plan.items):
            q = it.question
            if it.nps:
                if not q.required and chance() >= _OPTIONAL_SCALE_RATE:
                    continue
                if line is not None:
                    values[j] = round(line * 10)
                else:
                    values[j] = min(10, max(0, round(10 * mood + 0.6 + gauss(0.0, _NPS_SD))))
            value = values[j]
            if value is not None:
                out.response.append(position)
                out.question_key.append(q.key)
                out.value_num.append(float(value))
                out.value_norm.append(it.norms[value - it.low])
                out.value_text.append(None)
            elif q.type in ("single_choice", "multi_choice"):
                if not q.required and chance() >= _OPTIONAL_CHOICE_RATE:
                    continue
                for key in self._choose(d.target, j, q, target.kind):
                    self._text_row(position, q.key, key)
            elif q.type == "text":
                if not q.required and chance() >= _OPTIONAL_TEXT_RATE:
                    continue
                self._text_row(position, q.key, _comment(rng, target.kind, mood))

    def _text_row(self, position: int, key: str, text: str) -> None:
        out = self.out
        out.response.append(position)
        out.question_key.append(key)
        out.value_num.append(None)
        out.value_norm.append(None)
        out.value_text.append(text)

    def _break_straight_line(self, plan: _Plan, values: list[int | None]) -> None:
        """Honest answers never straight-line, so screening's finds are the planted ones."""
        answered = [(j, v) for j in plan.scored if (v := values[j]) is not None]
        if len(answered) < 2:
            return
        norms = {plan.items[j].norms[v - plan.items[j].low] for j, v in answered}
        if len(norms) != 1:
            return
        j, v = self.rng.choice(answered)
        low, span = plan.items[j].low, plan.items[j].span
        step = -1 if v == low + span else 1 if v == low else self.rng.choice((-1, 1))
        values[j] = v + step

    def _choose(self, target: int, j: int, q: Question, kind: TargetKind) -> list[str]:
        rng = self.rng
        weights = self.choice_weights.get((target, j))
        if weights is None:
            lean = _CHOICE_LEAN.get(kind, {})
            # Dirichlet(1) per target: shops differ in who comes, the lean sets the usual mix.
            weights = [rng.gammavariate(1.0, 1.0) * lean.get(c.key, 1.0) + 1e-3 for c in q.choices]
            self.choice_weights[(target, j)] = weights
        keys = [c.key for c in q.choices]
        if q.type == "single_choice":
            return [rng.choices(keys, weights=weights)[0]]
        n = min(len(keys), rng.choices((1, 2, 3), weights=(5, 3, 1))[0])
        pool = list(range(len(keys)))
        picked: set[int] = set()
        for _ in range(n):
            k = rng.choices(pool, weights=[weights[p] for p in pool])[0]
            pool.remove(k)
            picked.add(k)
        return [keys[k] for k in sorted(picked)]


def _comment(rng: random.Random, kind: TargetKind, mood: float) -> str:
    praise, complaints = _COMMENTS[kind]
    p_praise = 0.9 if mood >= 0.65 else 0.5 if mood >= 0.45 else 0.1
    return rng.choice(praise if rng.random() < p_praise else complaints)


def _clamp(x: float) -> float:
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


# --- inserting ----------------------------------------------------------------------------------

RESPONSE_COLUMNS = (
    "id", "survey_id", "version", "target_kind", "target_code", "client_submission_id",
    "started_at", "submitted_at", "duration_ms", "device_hash", "ip_hash", "invited", "channel",
    "excluded", "is_demo",
)  # fmt: skip
# Answer ids are left to the database: nothing refers to them.
ANSWER_COLUMNS = ("response_id", "question_key", "value_num", "value_norm", "value_text")
_SQLITE_CHUNK = 20_000


class _BulkWriter(Protocol):
    """One dialect's fastest way to append many rows inside the open transaction."""

    async def highest_response_id(self) -> int: ...

    def when(self, at: datetime) -> object: ...

    def uid(self, value: uuid.UUID) -> object: ...

    async def write(
        self, table: str, columns: Sequence[str], rows: Iterator[tuple[object, ...]]
    ) -> None: ...

    async def finish(self) -> None: ...


class _SqliteWriter:
    """executemany in chunks: SQLite's C loop, one prepared statement, one transaction."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def highest_response_id(self) -> int:
        # A write that changes nothing takes SQLite's write lock now, so no other process can
        # insert between reading the highest id and using the ones after it.
        await self._run("DELETE FROM response WHERE 0")
        rows = await self.raw.execute_fetchall(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM response), 0),"
            " COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'response'), 0))"
        )
        return int(rows[0][0])

    def when(self, at: datetime) -> object:
        # What Tortoise's sqlite3 adapter writes, so the ORM reads these rows back alike.
        return at.isoformat(" ")

    def uid(self, value: uuid.UUID) -> object:
        return str(value)  # the CHAR(36) Tortoise's UUIDField uses on SQLite

    async def write(
        self, table: str, columns: Sequence[str], rows: Iterator[tuple[object, ...]]
    ) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        while chunk := list(islice(rows, _SQLITE_CHUNK)):
            cursor = await self.raw.executemany(sql, chunk)
            await cursor.close()

    async def finish(self) -> None:
        return None  # AUTOINCREMENT already moved past our explicit ids

    async def _run(self, sql: str) -> None:
        cursor = await self.raw.execute(sql)
        await cursor.close()


class _PostgresWriter:
    """asyncpg's binary COPY: one streamed command per table instead of a statement per row."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def highest_response_id(self) -> int:
        # Until commit, others may read but not insert: no one takes an id we are about to use.
        await self.raw.execute("LOCK TABLE response IN EXCLUSIVE MODE")
        # Past the sequence too, so ids of deleted responses are never handed out again.
        highest = await self.raw.fetchval(
            "SELECT GREATEST(COALESCE(MAX(id), 0), COALESCE(pg_sequence_last_value("
            "pg_get_serial_sequence('response', 'id')::regclass), 0)) FROM response"
        )
        return int(highest)

    def when(self, at: datetime) -> object:
        return at

    def uid(self, value: uuid.UUID) -> object:
        return value

    async def write(
        self, table: str, columns: Sequence[str], rows: Iterator[tuple[object, ...]]
    ) -> None:
        await self.raw.copy_records_to_table(table, records=rows, columns=list(columns))

    async def finish(self) -> None:
        # Explicit ids do not advance the sequence; the next ORM insert would collide.
        await self.raw.execute(
            "SELECT setval(pg_get_serial_sequence('response', 'id'), MAX(id)) FROM response"
        )
        # Half a million new rows: plan the next queries on fresh statistics.
        await self.raw.execute("ANALYZE response; ANALYZE answer;")


def _writer_for(dialect: str, raw: Any) -> _BulkWriter:
    if dialect == "postgres":
        return _PostgresWriter(raw)
    if dialect == "sqlite":
        return _SqliteWriter(raw)
    # Settings accept only SQLite and PostgreSQL URLs, so this is a configuration error.
    raise ValueError(f"unsupported database dialect {dialect!r}")


def _response_rows(
    r: ResponseColumns, first_id: int, w: _BulkWriter
) -> Iterator[tuple[object, ...]]:
    return zip(
        range(first_id, first_id + len(r)),
        r.survey_id,
        r.version,
        (k.value for k in r.target_kind),
        r.target_code,
        map(w.uid, r.client_submission_id),
        map(w.when, r.started_at),
        map(w.when, r.submitted_at),
        r.duration_ms,
        r.device_hash,
        r.ip_hash,
        r.invited,
        r.channel,
        r.excluded,
        r.is_demo,
        strict=True,
    )


def _answer_rows(a: AnswerColumns, first_id: int) -> Iterator[tuple[object, ...]]:
    return zip(
        (first_id + p for p in a.response),
        a.question_key,
        a.value_num,
        a.value_norm,
        a.value_text,
        strict=True,
    )


async def insert(batch: DemoBatch) -> int:
    """Store the batch in one transaction on the open connection; returns the responses
    stored. Response ids follow the highest in use, in the batch's (time) order."""
    if not len(batch.responses):
        return 0
    conn = connection()
    async with in_transaction(conn.connection_name) as tx, tx.acquire_connection() as raw:
        writer = _writer_for(conn.capabilities.dialect, raw)
        first_id = await writer.highest_response_id() + 1
        rows = _response_rows(batch.responses, first_id, writer)
        await writer.write("response", RESPONSE_COLUMNS, rows)
        await writer.write("answer", ANSWER_COLUMNS, _answer_rows(batch.answers, first_id))
        await writer.finish()
    return len(batch.responses)


# --- from the database --------------------------------------------------------------------------


async def registry_inputs() -> tuple[
    list[tuple[str, str | None, str | None]], list[tuple[str, str]]
]:
    """``plan_targets``' inputs from the registry: active merchants, streets, scenic spots."""
    kinds = [AreaKind.STREET, AreaKind.SCENIC_SPOT]
    area_rows: Iterable[tuple[Any, ...]] = (
        await Area.filter(kind__in=kinds).order_by("code").values_list("id", "code", "kind")
    )
    codes: dict[int, str] = {}
    areas: list[tuple[str, str]] = []
    for area_id, code, kind in area_rows:
        codes[int(area_id)] = str(code)
        areas.append((str(code), AreaKind(kind).value))
    merchant_rows: Iterable[tuple[Any, ...]] = (
        await Merchant.filter(status=MerchantStatus.ACTIVE)
        .order_by("uscc")
        .values_list("uscc", "street_id", "scenic_spot_id")
    )
    merchants = [
        (str(uscc), codes.get(street) if street else None, codes.get(spot) if spot else None)
        for uscc, street, spot in merchant_rows
    ]
    return merchants, areas


async def current_versions() -> dict[TargetKind, tuple[int, int, VersionedQuestions]]:
    """For each target kind, the latest version of its first survey (by id)."""
    found: dict[TargetKind, tuple[int, int, VersionedQuestions]] = {}
    for survey in await Survey.all().order_by("id"):
        if survey.target_kind in found:
            continue
        row = await SurveyVersion.filter(survey_id=survey.id).order_by("-version").first()
        if row is not None:
            found[survey.target_kind] = (survey.id, row.version, VersionedQuestions.from_row(row))
    return found


async def populate(
    count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED, *, now: datetime | None = None
) -> DemoBatch:
    """Generate and store demo responses for the registry's targets and surveys."""
    merchants, areas = await registry_inputs()
    targets = plan_targets(merchants, areas, seed)
    batch = generate(targets, await current_versions(), count, seed, now or datetime.now(UTC))
    await insert(batch)
    return batch
