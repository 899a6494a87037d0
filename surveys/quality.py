"""Response-quality screening: speeders, straight-liners, duplicate devices, bursts from one
address and surges on one target.

Flags are computed on submission and can be recomputed in bulk. A flagged response is kept
and excluded from scoring until an official clears the flag (or confirms it); every decision
is audited.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Subquery
from tortoise.transactions import in_transaction

from service.kernel import audit, scope
from service.kernel.audit import Actor
from service.kernel.db import chunked, connection
from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_
from service.kernel.models import Area
from service.kernel.validation import check_text
from surveys.models import FlagKind, FlagStatus, Response, ResponseFlag, Survey, SurveyVersion
from surveys.questionnaire import VersionedQuestions


@dataclass(frozen=True, slots=True)
class QualityRules:
    """Thresholds of the screening, after common survey practice (see domain.md)."""

    speeder_fraction: float = 1 / 3  # faster than ⅓ of the median total time
    speeder_min_responses: int = 100  # the median means something only past this
    straightline_min_items: int = 5  # no variance over a battery of at least 5 items
    burst_count: int = 5  # this many responses for one target from one address …
    burst_minutes: int = 10  # … within this many minutes
    # A surge: many responses about one target in a short time, from any addresses, far above
    # that target's own usual rate. It catches what the other rules cannot see one response
    # at a time: a script clearing its cookies, rotating addresses and varying its answers.
    surge_count: int = 20  # at least this many responses about one target …
    surge_minutes: int = 60  # … within this many minutes …
    surge_factor: float = 10.0  # … and this many times its usual rate for such a span …
    surge_baseline_days: int = 28  # … over the days before


RULES = QualityRules()
# What officials read for each kind of flag (translated where shown).
FLAG_LABELS = {
    FlagKind.SPEEDER.value: N_("Too fast"),
    FlagKind.STRAIGHTLINER.value: N_("Same answer to every item"),
    FlagKind.DUPLICATE_DEVICE.value: N_("Same device again"),
    FlagKind.BURST.value: N_("Burst from one address"),
    FlagKind.SURGE.value: N_("Surge on one target"),
}
FLAG_STATUS_LABELS = {
    FlagStatus.RAISED.value: N_("Raised: set aside until decided"),
    FlagStatus.CONFIRMED.value: N_("Confirmed: set aside"),
    FlagStatus.CLEARED.value: N_("Cleared: counted"),
}
# The median changes slowly; recomputing it per submission would cost a query each time.
_MEDIAN_TTL_S = 300.0
_median_cache: dict[int, tuple[float, int, float | None]] = {}


def is_straightliner(scored_values: Sequence[float], rules: QualityRules = RULES) -> bool:
    return len(scored_values) >= rules.straightline_min_items and (
        min(scored_values) == max(scored_values)
    )


def is_speeder(
    duration_ms: int | None, median_ms: float | None, n: int, rules: QualityRules = RULES
) -> bool:
    if duration_ms is None or median_ms is None or n < rules.speeder_min_responses:
        return False
    return duration_ms < median_ms * rules.speeder_fraction


async def median_duration(survey_id: int) -> tuple[int, float | None]:
    """(responses with a duration, their median in ms), cached for a few minutes."""
    cached = _median_cache.get(survey_id)
    now = time.monotonic()
    if cached and now - cached[0] < _MEDIAN_TTL_S:
        return cached[1], cached[2]
    conn = connection()
    n_rows = await conn.execute_query_dict(
        "SELECT COUNT(*) AS n FROM response WHERE survey_id = ? AND duration_ms IS NOT NULL"
        if conn.capabilities.dialect == "sqlite"
        else "SELECT COUNT(*) AS n FROM response WHERE survey_id = $1 AND duration_ms IS NOT NULL",
        [survey_id],
    )
    n = int(n_rows[0]["n"])
    median: float | None = None
    if n:
        ph = "?" if conn.capabilities.dialect == "sqlite" else "$1"
        offset = (n - 1) // 2
        rows = await conn.execute_query_dict(
            f"SELECT duration_ms FROM response WHERE survey_id = {ph} "  # noqa: S608
            f"AND duration_ms IS NOT NULL ORDER BY duration_ms LIMIT {2 - n % 2} "
            f"OFFSET {offset}",
            [survey_id],
        )
        median = statistics.fmean(float(r["duration_ms"]) for r in rows)
    _median_cache[survey_id] = (now, n, median)
    return n, median


def forget_medians() -> None:
    _median_cache.clear()


# --- bulk recomputation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Screened:
    response_id: int
    survey_id: int
    target_code: str
    submitted_at: datetime
    duration_ms: int | None
    device_hash: str | None
    ip_hash: str | None


def find_duplicates(rows: Iterable[Screened], period: timedelta) -> set[int]:
    """Responses from a device that already answered the same target within the period."""
    last: dict[tuple[int, str, str], datetime] = {}
    found: set[int] = set()
    for r in sorted(rows, key=lambda r: (r.submitted_at, r.response_id)):
        if r.device_hash is None:
            continue
        key = (r.survey_id, r.target_code, r.device_hash)
        before = last.get(key)
        if before is not None and r.submitted_at - before < period:
            found.add(r.response_id)
        else:
            last[key] = r.submitted_at
    return found


def find_bursts(rows: Iterable[Screened], rules: QualityRules = RULES) -> set[int]:
    """Every response in a run of ≥ burst_count for one target from one address whose
    span fits in burst_minutes."""
    window = timedelta(minutes=rules.burst_minutes)
    groups: dict[tuple[str, str], list[Screened]] = {}
    for r in rows:
        if r.ip_hash is not None:
            groups.setdefault((r.target_code, r.ip_hash), []).append(r)
    found: set[int] = set()
    for members in groups.values():
        if len(members) < rules.burst_count:
            continue
        members.sort(key=lambda r: (r.submitted_at, r.response_id))
        start = 0
        for end in range(len(members)):
            while members[end].submitted_at - members[start].submitted_at > window:
                start += 1
            if end - start + 1 >= rules.burst_count:
                found.update(m.response_id for m in members[start : end + 1])
    return found


def find_surges(rows: Iterable[Screened], rules: QualityRules = RULES) -> set[int]:
    """Every response in a span of surge_minutes holding ≥ surge_count responses about one
    target and ≥ surge_factor times what that target usually receives in such a span (its
    responses of the surge_baseline_days before the span, scaled to the span's length).

    A busy scenic spot's ordinary rush stays below ten times its own usual rate; a merchant
    rated twice a week does not receive twenty ratings in an hour unless someone is scripting
    them. A real crowd at a quiet place (a 3·15 campaign, a festival) is a surge too: its
    responses are set aside for an official to look at and clear, never deleted."""
    window = timedelta(minutes=rules.surge_minutes)
    baseline = timedelta(days=rules.surge_baseline_days)
    spans_in_baseline = (baseline - window) / window
    per_target: dict[tuple[int, str], list[Screened]] = {}
    for r in rows:
        per_target.setdefault((r.survey_id, r.target_code), []).append(r)
    found: set[int] = set()
    for members in per_target.values():
        if len(members) < rules.surge_count:
            continue
        members.sort(key=lambda r: (r.submitted_at, r.response_id))
        start = base = 0
        for end, last in enumerate(members):
            while last.submitted_at - members[start].submitted_at >= window:
                start += 1
            count = end - start + 1
            if count < rules.surge_count:
                continue
            while last.submitted_at - members[base].submitted_at > baseline:
                base += 1
            usual = (start - base) / spans_in_baseline
            if count >= rules.surge_factor * usual:
                found.update(m.response_id for m in members[start : end + 1])
    return found


@dataclass(frozen=True, slots=True)
class RecomputeReport:
    responses: int
    raised: dict[str, int]
    excluded: int

    def details(self) -> dict[str, int | str]:
        """What a scheduled screening reports (see the plugin's job labels)."""
        return {
            "screened": self.responses,
            "flags_raised": sum(self.raised.values()),
            "excluded": self.excluded,
        }


async def recompute_flags(
    survey_slug: str | None = None, rules: QualityRules = RULES
) -> RecomputeReport:
    """Screen every response again. Decisions already taken by officials are kept; new
    findings are raised; a raised flag whose condition no longer holds is withdrawn."""
    surveys = await (Survey.filter(slug=survey_slug) if survey_slug else Survey.all())
    if survey_slug and not surveys:
        raise NotFound(f"No survey {survey_slug}")
    found: dict[FlagKind, set[int]] = {k: set() for k in FlagKind}
    total = 0
    for survey in surveys:
        rows = [
            Screened(
                r["id"],
                survey.id,
                r["target_code"],
                r["submitted_at"],
                r["duration_ms"],
                r["device_hash"],
                r["ip_hash"],
            )
            for r in await Response.filter(survey_id=survey.id).values(
                "id", "target_code", "submitted_at", "duration_ms", "device_hash", "ip_hash"
            )
        ]
        total += len(rows)
        durations = [r.duration_ms for r in rows if r.duration_ms is not None]
        median = statistics.median(durations) if durations else None
        found[FlagKind.SPEEDER] |= {
            r.response_id for r in rows if is_speeder(r.duration_ms, median, len(durations), rules)
        }
        found[FlagKind.DUPLICATE_DEVICE] |= find_duplicates(
            rows, timedelta(days=survey.period_days)
        )
        found[FlagKind.BURST] |= find_bursts(rows, rules)
        found[FlagKind.SURGE] |= find_surges(rows, rules)
        found[FlagKind.STRAIGHTLINER] |= await _straightliners(survey.id, rules)
    async with in_transaction() as conn:
        existing = {
            (f["response_id"], FlagKind(f["kind"])): FlagStatus(f["status"])
            for f in await ResponseFlag.all().using_db(conn).values("response_id", "kind", "status")
        }
        in_scope: set[int] | None = None
        if survey_slug:
            in_scope = _ints(
                await Response.filter(survey__slug=survey_slug)
                .using_db(conn)
                .values_list("id", flat=True)
            )
        stale = [
            key
            for key, status in existing.items()
            if status == FlagStatus.RAISED
            and key[0] not in found[key[1]]
            and (in_scope is None or key[0] in in_scope)
        ]
        for rid, kind in stale:
            await ResponseFlag.filter(response_id=rid, kind=kind).using_db(conn).delete()
        new = [
            ResponseFlag(
                response_id=rid, kind=kind, status=FlagStatus.RAISED, detail="bulk screening"
            )
            for kind, rids in found.items()
            for rid in sorted(rids)
            if (rid, kind) not in existing
        ]
        await ResponseFlag.bulk_create(new, batch_size=1000, using_db=conn)
        excluded = await _refresh_excluded(conn, in_scope)
    return RecomputeReport(total, {k.value: len(v) for k, v in found.items()}, excluded)


async def _straightliners(survey_id: int, rules: QualityRules) -> set[int]:
    conn = connection()
    # Scored items are those with a dimension in the version answered; read them per version.
    scored: dict[int, set[str]] = {}
    for v in await SurveyVersion.filter(survey_id=survey_id):
        vq = VersionedQuestions.from_row(v)
        scored[v.version] = {q.key for q in vq.questions if q.scored}
    result: set[int] = set()
    for version, keys in scored.items():
        if len(keys) < rules.straightline_min_items:
            continue
        marks = ", ".join(
            "?" if conn.capabilities.dialect == "sqlite" else f"${i + 3}" for i in range(len(keys))
        )
        p1, p2 = ("?", "?") if conn.capabilities.dialect == "sqlite" else ("$1", "$2")
        found = await conn.execute_query_dict(
            "SELECT a.response_id AS rid FROM answer a JOIN response r ON r.id = a.response_id "  # noqa: S608
            f"WHERE r.survey_id = {p1} AND r.version = {p2} AND a.question_key IN ({marks}) "
            "GROUP BY a.response_id "
            f"HAVING COUNT(*) >= {int(rules.straightline_min_items)} "
            "AND MIN(a.value_norm) = MAX(a.value_norm)",
            [survey_id, version, *sorted(keys)],
        )
        result |= {int(r["rid"]) for r in found}
    return result


async def _refresh_excluded(conn: BaseDBAsyncClient, scope: set[int] | None) -> int:
    """excluded = the response has a flag that is raised or confirmed."""
    active = [FlagStatus.RAISED.value, FlagStatus.CONFIRMED.value]
    flagged = _ints(
        await ResponseFlag.filter(status__in=active)
        .using_db(conn)
        .values_list("response_id", flat=True)
    )
    qs = Response.all().using_db(conn)
    if scope is not None:
        flagged &= scope
    currently = _ints(await qs.filter(excluded=True).values_list("id", flat=True))
    if scope is not None:
        currently &= scope
    to_exclude = sorted(flagged - currently)
    to_include = sorted(currently - flagged)
    for chunk in chunked(to_exclude, 900):
        await Response.filter(id__in=chunk).using_db(conn).update(excluded=True)
    for chunk in chunked(to_include, 900):
        await Response.filter(id__in=chunk).using_db(conn).update(excluded=False)
    return len(flagged)


def _ints(values: Iterable[Any]) -> set[int]:
    return {int(v) for v in values}


# --- officials' decisions ---------------------------------------------------------------------


REASON_MAX = 500


def _check_decision(decision: FlagStatus, reason: str) -> str:
    """The reason as kept; InvalidInput naming what is wrong."""
    if decision not in (FlagStatus.CONFIRMED, FlagStatus.CLEARED):
        raise InvalidInput("Bad decision", [FieldError("decision", "confirmed or cleared")])
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", reason, REASON_MAX)
    if errors:
        raise InvalidInput("A reason is required", errors)
    return reason


async def _decide(
    conn: BaseDBAsyncClient, flag: ResponseFlag, decision: FlagStatus, reason: str, actor: Actor
) -> None:
    """One flag decided on ``conn`` (locked by the caller); the response's exclusion follows,
    audited."""
    before = flag.status
    flag.status = decision
    flag.decided_by = str(actor)
    flag.decided_at = datetime.now(UTC)
    flag.reason = reason
    await flag.save(using_db=conn)
    active = (
        await ResponseFlag.filter(
            response_id=flag.response_id,
            status__in=[FlagStatus.RAISED, FlagStatus.CONFIRMED],
        )
        .using_db(conn)
        .exists()
    )
    await Response.filter(id=flag.response_id).using_db(conn).update(excluded=active)
    await audit.record(
        conn,
        actor,
        f"response_flag.{decision.value}",
        f"response:{flag.response_id}",
        {"kind": flag.kind.value, "from": before.value, "reason": reason, "excluded": active},
    )


async def decide_flag(
    response_id: int,
    kind: FlagKind,
    decision: FlagStatus,
    reason: str,
    *,
    actor: Actor,
    district: Area | None = None,
) -> ResponseFlag:
    """An official confirms or clears a flag; the response's exclusion follows, audited.
    ``district``: a district's official, to whom a response about a target elsewhere is
    missing."""
    reason = _check_decision(decision, reason)
    missing = f"Response {response_id} has no {kind.value} flag"
    if district is not None:
        target = await Response.filter(id=response_id).values_list("target_kind", "target_code")
        if not target:
            raise NotFound(missing)
        await scope.require(district, str(target[0][0]), str(target[0][1]), missing)
    async with in_transaction() as conn:
        flag = await (
            ResponseFlag.filter(response_id=response_id, kind=kind)
            .using_db(conn)
            .select_for_update()
            .first()
        )
        if flag is None:
            raise NotFound(missing)
        if flag.status == decision:
            raise Conflict(f"The flag is already {decision.value}")
        await _decide(conn, flag, decision, reason, actor)
    return flag


async def decide_raised_flags(
    target_code: str,
    kind: FlagKind,
    decision: FlagStatus,
    reason: str,
    *,
    actor: Actor,
    district: Area | None = None,
) -> int:
    """Every raised flag of one kind on responses about one target, decided at once (a surge
    of a real crowd is hundreds of them), each audited as if decided alone. Returns how many.
    ``district``: a district's official, to whom a target elsewhere has no flags."""
    reason = _check_decision(decision, reason)
    missing = f"No raised {kind.value} flag about {target_code}"
    await scope.require(district, None, target_code, missing)
    async with in_transaction() as conn:
        flags = (
            await ResponseFlag.filter(
                kind=kind,
                status=FlagStatus.RAISED,
                # A subquery, not a join: PostgreSQL locks no row of a join's nullable side.
                response_id__in=Subquery(Response.filter(target_code=target_code).values("id")),
            )
            .using_db(conn)
            .select_for_update()
            .order_by("id")
        )
        if not flags:
            raise NotFound(missing)
        for flag in flags:
            await _decide(conn, flag, decision, reason, actor)
    return len(flags)
