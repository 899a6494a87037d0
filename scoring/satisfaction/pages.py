"""Public pages: published rankings (/scores) and how scores are made (/methodology)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
from litestar import Request, get
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Template
from litestar.types import ControllerRouterHandler

from scoring.disclosure import rules as disclosure
from scoring.satisfaction import charts, runs
from scoring.satisfaction.models import UnitScore
from scoring.satisfaction.scores import Params
from service.kernel.i18n import _, current_locale
from service.kernel.models import Area, Merchant
from service.kernel.security import PUBLIC

RANKED_KINDS = ("street", "scenic_spot")
MERCHANT_RESULTS = 30


async def area_rows(run_id: int, kind: str) -> list[dict[str, Any]]:
    rows = await UnitScore.filter(run_id=run_id, kind=kind).order_by("rank", "-score", "code")
    names = {a.code: a for a in await Area.filter(code__in=[r.code for r in rows])}
    return [{"unit": r, "area": names.get(r.code)} for r in rows]


async def _chart(rows: list[dict[str, Any]]) -> str | None:
    """The shown scores of a table as a chart (drawn off the event loop, then cached)."""
    zh = current_locale() == "zh_CN"
    points = tuple(
        (
            (r["area"].name_zh if zh else r["area"].name_en) if r["area"] else r["unit"].code,
            r["unit"].score,
            r["unit"].ci_low,
            r["unit"].ci_high,
        )
        for r in rows
        if not r["unit"].insufficient_data and r["unit"].score is not None
    )
    if not points:
        return None
    return await anyio.to_thread.run_sync(charts.score_chart_uri, points, _("Score"))


@get("/scores", opt=PUBLIC, include_in_schema=False)
async def scores_page(
    request: Request[Any, Any, State],
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    kind: Annotated[Literal["street", "scenic_spot"] | None, QueryParameter()] = None,
) -> Template:
    run = await runs.current_run()
    context: dict[str, Any] = {
        "run": run,
        "q": (q or "").strip(),
        "tables": [],
        "merchants": [],
        "params": Params(),
    }
    if run is None:
        return Template("satisfaction/scores.html", context=context)
    context["params"] = Params.from_mapping(run.params)
    for k in (kind,) if kind else RANKED_KINDS:
        rows = await area_rows(run.id, k)
        context["tables"].append((k, rows, await _chart(rows)))
    if context["q"]:
        found = (
            await Merchant.filter(name__icontains=context["q"])
            .order_by("name")
            .limit(MERCHANT_RESULTS)
        )
        by_code = {
            u.code: u
            for u in await UnitScore.filter(
                run_id=run.id, kind="merchant", code__in=[m.uscc for m in found]
            )
        }
        context["merchants"] = [{"merchant": m, "unit": by_code.get(m.uscc)} for m in found]
    return Template("satisfaction/scores.html", context=context)


@get("/methodology", opt=PUBLIC, include_in_schema=False)
async def methodology_page(request: Request[Any, Any, State]) -> Template:
    run = await runs.current_run()
    params = Params.from_mapping(run.params) if run else Params()
    context = {"run": run, "params": params, "disclosure": disclosure.policy()}
    return Template("satisfaction/methodology.html", context=context)


PAGES: list[ControllerRouterHandler] = [scores_page, methodology_page]
