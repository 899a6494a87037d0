"""Officials' rankings with filters, and the drill-down to one unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Subquery

from scoring.credit import figures as credit_figures
from scoring.credit.rules import Rules
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel import scope
from service.kernel.models import Area, Merchant, MerchantCategory
from service.register import store as registry
from surveys.models import Answer, Response, ResponseFlag, TargetKind

KINDS = ("merchant", "street", "scenic_spot", "district")


@dataclass(frozen=True, slots=True)
class RankingFilter:
    kind: str = "merchant"
    district: str | None = None
    area: str | None = None  # a street or scenic spot
    category: MerchantCategory | None = None


async def ranking(
    run: ScoreRun, f: RankingFilter, offset: int, limit: int, within: Area | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A page of the run's ranking of one kind, and how many match (``within`` a district:
    only its units, whatever the filters ask)."""
    qs = UnitScore.filter(run_id=run.id, kind=f.kind).filter(
        scope.targets(within, code="code", kind="kind", units=True)
    )
    if f.kind == "merchant" and (f.district or f.area or f.category):
        merchants = registry.merchants_within(f.district, f.area, f.category)
        # A subquery, not a list: a district holds more merchants than a query may bind values.
        qs = qs.filter(code__in=Subquery(merchants.values("uscc")))
    elif f.kind in ("street", "scenic_spot") and f.district:
        qs = qs.filter(parent=f.district)
    total = await qs.count()
    rows = await qs.order_by("rank", "-score", "code").offset(offset).limit(limit)
    names = await names_of(f.kind, [r.code for r in rows])
    return [{"unit": r, "name": names.get(r.code, r.code)} for r in rows], total


async def names_of(kind: str, codes: list[str]) -> dict[str, str]:
    if kind == "merchant":
        pairs = await Merchant.filter(uscc__in=codes).values_list("uscc", "name")
    else:
        pairs = await Area.filter(code__in=codes).values_list("code", "name_zh")
    return {str(c): str(n) for c, n in pairs}


async def trend(kind: str, code: str) -> list[dict[str, Any]]:
    """The unit across every published run, oldest first."""
    published = await ScoreRun.filter(status=RunStatus.PUBLISHED).order_by("published_at")
    by_run = {
        u.run_id: u
        for u in await UnitScore.filter(run_id__in=[r.id for r in published], kind=kind, code=code)
    }
    return [{"run": r, "unit": by_run[r.id]} for r in published if r.id in by_run]


async def answer_distribution(kind: str, code: str, run: ScoreRun) -> dict[str, dict[str, int]]:
    """How often each value was chosen, per question, in the run's window (valid responses
    about the unit itself)."""
    if kind not in (
        TargetKind.MERCHANT.value,
        TargetKind.STREET.value,
        TargetKind.SCENIC_SPOT.value,
    ):
        return {}
    ids = Response.filter(
        target_code=code,
        excluded=False,
        submitted_at__gte=run.window_since,
        submitted_at__lt=run.window_until,
    ).values("id")
    counts: dict[str, dict[str, int]] = {}
    rows = await Answer.filter(
        response_id__in=Subquery(ids), value_num__not_isnull=True
    ).values_list("question_key", "value_num")
    for key, value in rows:
        bucket = counts.setdefault(str(key), {})
        label = str(int(value))
        bucket[label] = bucket.get(label, 0) + 1
    return {
        k: dict(sorted(v.items(), key=lambda kv: int(kv[0]))) for k, v in sorted(counts.items())
    }


async def excluded_count(code: str, run: ScoreRun) -> int:
    return await Response.filter(
        target_code=code,
        excluded=True,
        submitted_at__gte=run.window_since,
        submitted_at__lt=run.window_until,
    ).count()


SET_ASIDE_LIMIT = 100


async def set_aside(code: str, run: ScoreRun, limit: int = SET_ASIDE_LIMIT) -> list[dict[str, Any]]:
    """The responses about the unit that screening set aside in the run's window, newest first,
    each with its flags, so an official can confirm or clear them."""
    rows = (
        await Response.filter(
            target_code=code,
            excluded=True,
            submitted_at__gte=run.window_since,
            submitted_at__lt=run.window_until,
        )
        .order_by("-submitted_at", "-id")
        .limit(limit)
    )
    flags: dict[int, list[ResponseFlag]] = {}
    for f in await ResponseFlag.filter(response_id__in=[r.id for r in rows]).order_by("kind"):
        flags.setdefault(f.response_id, []).append(f)
    return [{"response": r, "flags": flags.get(r.id, [])} for r in rows]


async def area_credit(kind: str, code: str, rules: Rules) -> dict[str, Any] | None:
    """A street's or scenic spot's merchants by credit class and its recent complaints."""
    if kind not in ("street", "scenic_spot"):
        return None
    classes = await credit_figures.classes_report(rules, kind)
    row = classes.filter(classes["code"] == code)
    return row.to_dicts()[0] if row.height else None
