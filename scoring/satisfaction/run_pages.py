"""Officials' pages: the score runs, a draft's review, publishing and discarding."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import polars as pl
from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import PathParameter, QueryParameter, URLEncodedBody
from litestar.response import Redirect, Response, Template
from litestar.types import ControllerRouterHandler

from scoring.credit import store as credit_store
from scoring.satisfaction import charts, drilldown, runs
from scoring.satisfaction import run_review as review
from scoring.satisfaction.models import ScoreRun, UnitScore
from scoring.satisfaction.routes import compute_in_background
from service.kernel import i18n, scope
from service.kernel.db import MAX_BIG_ID, MAX_ID
from service.kernel.errors import FangxinError, NotFound
from service.kernel.exports import Headers, figures_response
from service.kernel.localtime import to_local
from service.kernel.models import MerchantCategory
from service.kernel.notices import error_notice, error_redirect, redirect_after
from service.kernel.security import CITY_OFFICIALS, OFFICIALS, require_principal
from service.kernel.settings import Settings
from surveys import quality
from surveys.models import FlagKind, FlagStatus

RunId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
PAGE_SIZE = 50


RUNS_PAGE_SIZE = 50


@get("/official/runs", opt=OFFICIALS, include_in_schema=False)
async def runs_page(
    request: Request[Any, Any, State],
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    format: Annotated[Literal["html", "csv", "xlsx"], QueryParameter()] = "html",
    header_row: Headers = "label",
) -> Template | Response[Any]:
    """Every score run, newest first; the whole list as CSV/XLSX."""
    await runs.fail_stopped()  # a run whose process died shows as failed, not running forever
    if format != "html":
        rows = [
            {
                "id": r.id,
                "status": r.status.value,
                "created_at": r.created_at,
                "created_by": r.created_by,
                "published_at": r.published_at,
                "published_by": r.published_by,
                "discarded_reason": r.discarded_reason,
                "responses": r.counts.get("responses"),
                "excluded": r.counts.get("excluded"),
                "fingerprint": r.fingerprint,
            }
            for r in await ScoreRun.all().order_by("-id")
        ]
        return await figures_response(
            pl.DataFrame(rows, infer_schema_length=None),
            format,
            "score-runs",
            "score_runs",
            header_row,
        )
    total = await ScoreRun.all().count()
    pages = max(1, -(-total // RUNS_PAGE_SIZE))
    recent = (
        await ScoreRun.all()
        .order_by("-id")
        .offset((page - 1) * RUNS_PAGE_SIZE)
        .limit(RUNS_PAGE_SIZE)
    )
    return Template(
        "satisfaction/runs.html",
        context={"runs": recent, "page": page, "pages": pages, "query": ""},
    )


@post("/official/runs", opt=CITY_OFFICIALS, include_in_schema=False, status_code=303)
async def start_run_form(request: Request[Any, Any, State]) -> Redirect:
    actor = require_principal(request).actor
    run = await runs.start_run(runs.parse_params({}), actor=actor)
    settings: Settings = request.app.state.settings
    return Redirect(
        f"/official/runs/{run.id}",
        status_code=303,
        background=BackgroundTask(compute_in_background, run.id, settings, actor),
    )


async def _review_context(
    request: Request[Any, Any, State], run: ScoreRun, error: str | None = None
) -> dict[str, Any]:
    current = await runs.current_run()
    comparison = None
    if run.status.value in ("draft", "published"):
        comparison = await review.compare(
            run, current if current and current.id != run.id else None, await scope.of(request)
        )
    return {"run": run, "current": current, "comparison": comparison, "error": error}


@get("/official/runs/{run_id:int}", opt=OFFICIALS, include_in_schema=False)
async def run_page(request: Request[Any, Any, State], run_id: RunId) -> Template:
    run = await runs.get_run(run_id)
    return Template("satisfaction/run.html", context=await _review_context(request, run))


@post(
    "/official/runs/{run_id:int}/publish",
    opt=CITY_OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def publish_form(request: Request[Any, Any, State], run_id: RunId) -> Redirect | Template:
    try:
        await runs.publish_run(run_id, actor=require_principal(request).actor)
    except FangxinError as exc:
        run = await runs.get_run(run_id)
        return Template(
            "satisfaction/run.html",
            context=await _review_context(request, run, exc.detail),
            status_code=exc.status,
        )
    return Redirect(f"/official/runs/{run_id}", status_code=303)


@post(
    "/official/runs/{run_id:int}/discard",
    opt=CITY_OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def discard_form(
    request: Request[Any, Any, State], run_id: RunId, data: URLEncodedBody[dict[str, str]]
) -> Redirect | Template:
    try:
        await runs.discard_run(
            run_id, data.get("reason", ""), actor=require_principal(request).actor
        )
    except FangxinError as exc:
        run = await runs.get_run(run_id)
        message = exc.errors[0].message if exc.errors else exc.detail
        return Template(
            "satisfaction/run.html",
            context=await _review_context(request, run, message),
            status_code=exc.status,
        )
    return Redirect(f"/official/runs/{run_id}", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    runs_page,
    start_run_form,
    run_page,
    publish_form,
    discard_form,
]


RANKING_COLUMNS = (
    "parent",
    "n",
    "n_excluded",
    "mean",
    "sd",
    "ci_low",
    "ci_high",
    "score",
    "nps",
    "nps_se",
    "insufficient_data",
    "rank",
    "tie_group",
)


@get("/official/scores", opt=OFFICIALS, include_in_schema=False)
async def rankings_page(
    request: Request[Any, Any, State],
    kind: Annotated[
        Literal["merchant", "street", "scenic_spot", "district"], QueryParameter()
    ] = "merchant",
    district: Annotated[str | None, QueryParameter(max_length=32)] = None,
    area: Annotated[str | None, QueryParameter(max_length=32)] = None,
    category: Annotated[MerchantCategory | None, QueryParameter()] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    format: Annotated[Literal["html", "csv", "xlsx"], QueryParameter()] = "html",
    header_row: Headers = "label",
) -> Template | Response[Any]:
    """The published run's rankings for officials, filtered by place and category; the whole
    filtered list as CSV/XLSX."""
    run = await runs.current_run()
    within = await scope.of(request)
    f = drilldown.RankingFilter(
        kind,
        scope.district_filter(within, district),
        await scope.place_filter(within, area),
        category,
    )
    rows: list[dict[str, Any]] = []
    total = 0
    if format != "html":
        everything = (await drilldown.ranking(run, f, 0, 1_000_000, within))[0] if run else []
        frame = pl.DataFrame(
            [
                {
                    "code": r["unit"].code,
                    "name": r["name"],
                    **{c: getattr(r["unit"], c) for c in RANKING_COLUMNS},
                }
                for r in everything
            ],
            infer_schema_length=None,
            schema_overrides={"score": pl.Float64, "ci_low": pl.Float64, "ci_high": pl.Float64},
        )
        return await figures_response(frame, format, f"rankings-{kind}", "rankings", header_row)
    if run is not None:
        rows, total = await drilldown.ranking(run, f, (page - 1) * PAGE_SIZE, PAGE_SIZE, within)
    districts = await scope.districts(within).order_by("code")
    areas = await scope.places(within).order_by("code")
    return Template(
        "satisfaction/rankings.html",
        context={
            "run": run,
            "rows": rows,
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "f": f,
            "districts": districts,
            "areas": areas,
            "categories": list(MerchantCategory),
            "query": urlencode(
                {
                    k: v
                    for k, v in (
                        ("kind", kind),
                        ("district", district),
                        ("area", area),
                        ("category", category),
                    )
                    if v
                }
            ),
        },
    )


@get("/official/scores/{kind:str}/{code:str}", opt=OFFICIALS, include_in_schema=False)
async def unit_page(
    request: Request[Any, Any, State],
    kind: Annotated[
        Literal["merchant", "street", "scenic_spot", "district", "city"], PathParameter()
    ],
    code: Annotated[str, PathParameter(max_length=32)],
) -> Template:
    """One unit: score with interval, dimensions, answers given, trend, set-aside count."""
    run = await runs.current_run()
    if run is None:
        raise NotFound("No published score run yet")
    missing = f"No score for {kind} {code} in the published run"
    await scope.require(await scope.of(request), kind, code, missing)
    unit = await UnitScore.get_or_none(run_id=run.id, kind=kind, code=code)
    if unit is None:
        raise NotFound(missing)
    names = await drilldown.names_of(kind, [code])
    trend = await drilldown.trend(kind, code)
    distribution = await drilldown.answer_distribution(kind, code, run)
    settings: Settings = request.app.state.settings
    return Template(
        "satisfaction/unit.html",
        context={
            "run": run,
            "unit": unit,
            "name": names.get(code, code),
            "trend": trend,
            "trend_chart": trend_chart(trend),
            "distribution": distribution,
            "distribution_chart": _distribution_chart(distribution),
            "excluded": await drilldown.excluded_count(code, run),
            "set_aside": await drilldown.set_aside(code, run),
            "flag_labels": quality.FLAG_LABELS,
            "flag_statuses": quality.FLAG_STATUS_LABELS,
            "error": error_notice(request),
            "area_credit": await drilldown.area_credit(
                kind, code, credit_store.rules_for(settings.credit_rules)
            ),
            "back": request.url.path,
        },
    )


def trend_chart(
    trend: list[dict[str, Any]], axis_title: str = "Score", date_format: str = "%Y-%m-%d %H:%M"
) -> str | None:
    """A unit's published scores (``drilldown.trend``) as a chart, or None with none."""
    points = tuple(
        (
            to_local(t["run"].published_at).strftime(date_format),
            t["unit"].score,
            t["unit"].ci_low,
            t["unit"].ci_high,
        )
        for t in trend
        if t["unit"].score is not None
    )
    if not points:
        return None
    return charts.trend_chart_uri(points, i18n.gettext(axis_title), i18n.gettext("Published"))


def _distribution_chart(distribution: dict[str, dict[str, int]]) -> str | None:
    rows = tuple(
        (question, value, count)
        for question, counts in distribution.items()
        for value, count in counts.items()
    )
    if not rows:
        return None
    return charts.distribution_chart_uri(rows, i18n.gettext("Share of answers"))


@post(
    "/official/flags/{response_id:int}/{kind:str}",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def decide_flag_form(
    request: Request[Any, Any, State],
    response_id: Annotated[int, PathParameter(ge=1, le=MAX_BIG_ID)],
    kind: Annotated[FlagKind, PathParameter()],
    data: URLEncodedBody[dict[str, str]],
) -> Redirect:
    """Confirm or clear a screening flag from the drill-down, then go back to it."""
    back = data.get("back", "")
    if not back.startswith("/official/scores/") and back != "/official/flags":
        back = "/official/scores"
    try:
        decision = FlagStatus(data.get("decision", ""))
    except ValueError:
        decision = FlagStatus.RAISED  # refused below with the same message as the API
    decided = quality.decide_flag(
        response_id,
        kind,
        decision,
        data.get("reason", ""),
        actor=require_principal(request).actor,
        district=await scope.of(request),
    )
    back = f"{back}#set-aside"
    return await redirect_after(request, decided, done=back, back=back, code="not_decided")


@post("/official/flags/all", opt=OFFICIALS, include_in_schema=False, status_code=303)
async def decide_flags_form(
    request: Request[Any, Any, State], data: URLEncodedBody[dict[str, str]]
) -> Redirect:
    """Confirm or clear every raised flag of one kind about one target, from the flag queue
    filtered to them."""
    kind, target = data.get("kind", ""), data.get("target", "")[:32]
    back = f"/official/flags?{urlencode({'kind': kind, 'target': target})}"
    try:
        chosen, decision = FlagKind(kind), FlagStatus(data.get("decision", ""))
    except ValueError:
        return error_redirect(request, "/official/flags", "choose_flag")
    decided = quality.decide_raised_flags(
        target,
        chosen,
        decision,
        data.get("reason", ""),
        actor=require_principal(request).actor,
        district=await scope.of(request),
    )
    return await redirect_after(
        request,
        decided,
        done=lambda count: f"{back}&{urlencode({'decided': count})}",
        back=back,
        code="not_decided",
    )


PAGES.extend([rankings_page, unit_page, decide_flag_form, decide_flags_form])
