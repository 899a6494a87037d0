"""HTTP: score runs for officials, published scores for everyone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import anyio
import polars as pl
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from scoring.satisfaction import runs
from scoring.satisfaction.models import ScoreRun, UnitScore
from scoring.satisfaction.schemas import DiscardIn, RunIn, RunOut, ScoreOut, ScorePage
from scoring.satisfaction.scores import OUTPUT_COLUMNS
from service.kernel import scope
from service.kernel.audit import Actor
from service.kernel.conditional import cached_json, cached_responses
from service.kernel.db import MAX_ID
from service.kernel.exports import EXPORT_TYPES, Headers, export_bytes
from service.kernel.models import Area, Merchant
from service.kernel.security import CITY_OFFICIALS, OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings
from service.register.store import Page

RunId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
log = structlog.get_logger("fangxin.scoring")


def run_out(run: ScoreRun) -> RunOut:
    return RunOut(
        id=run.id,
        status=run.status,
        created_at=run.created_at,
        published_at=run.published_at,
        params=run.params,
        counts=run.counts,
        window_since=run.window_since,
        window_until=run.window_until,
        fingerprint=run.fingerprint,
        timings=run.timings,
        priors=run.priors,
        code_version=run.code_version,
        discarded_reason=run.discarded_reason,
        error=run.error,
    )


async def compute_in_background(run_id: int, settings: Settings, actor: Actor) -> None:
    # Failures are recorded on the run itself (status failed, with the error) and logged.
    try:
        await runs.compute_run(run_id, settings, actor=actor)
    except Exception:
        log.exception("score run failed", run=run_id)


class RunController(Controller):
    path = "/api/v1/scoring/runs"
    tags = ["scoring"]

    @post("/", opt=CITY_OFFICIALS, status_code=202)
    async def create_run(
        self, request: Request[Any, Any, State], data: JSONBody[RunIn]
    ) -> Response[RunOut]:
        """Start a draft run; it computes in the background (poll it until ``draft``)."""
        actor = require_principal(request).actor
        run = await runs.start_run(runs.parse_params(data.params), actor=actor)
        settings: Settings = request.app.state.settings
        return Response(
            run_out(run),
            status_code=202,
            background=BackgroundTask(compute_in_background, run.id, settings, actor),
        )

    @get("/{run_id:int}", opt=OFFICIALS)
    async def get_run(self, run_id: RunId) -> RunOut:
        return run_out(await runs.get_run(run_id))

    @post("/{run_id:int}/publish", opt=CITY_OFFICIALS, status_code=200)
    async def publish(self, request: Request[Any, Any, State], run_id: RunId) -> RunOut:
        """Publish a draft: the public sees it at once; the previous run becomes history."""
        return run_out(await runs.publish_run(run_id, actor=require_principal(request).actor))

    @post("/{run_id:int}/discard", opt=CITY_OFFICIALS, status_code=200)
    async def discard(
        self, request: Request[Any, Any, State], run_id: RunId, data: JSONBody[DiscardIn]
    ) -> RunOut:
        return run_out(
            await runs.discard_run(run_id, data.reason, actor=require_principal(request).actor)
        )


EXPORT_COLUMNS = (
    *OUTPUT_COLUMNS,
    "insufficient_data",
    "rank",
    "tie_group",
    "merchants_scored",
    "share_certifiable",
)


@get("/api/v1/scoring/runs/{run_id:int}/export", opt=OFFICIALS, tags=["scoring"])
async def export_run(
    request: Request[Any, Any, State],
    run_id: RunId,
    format: Annotated[Literal["csv", "xlsx", "parquet"], QueryParameter()] = "csv",
    header_row: Headers = "label",
) -> Response[bytes]:
    """Every unit score of a run, as CSV, XLSX or Parquet; a district's official gets its
    district's units."""
    run = await runs.get_run(run_id)
    within = scope.targets(await scope.of(request), code="code", kind="kind", units=True)
    rows = (
        await UnitScore.filter(run_id=run.id)
        .filter(within)
        .order_by("kind", "code")
        .values(*EXPORT_COLUMNS)
    )
    # Every row read for the types: the first hundred may hold only nulls in a column.
    frame = (
        pl.DataFrame(rows, infer_schema_length=None)
        if rows
        else pl.DataFrame(schema=list(EXPORT_COLUMNS))
    )
    content = await anyio.to_thread.run_sync(export_bytes, frame, format, "run_export", header_row)
    return Response(
        content,
        media_type=EXPORT_TYPES[format],
        headers={"content-disposition": f'attachment; filename="score-run-{run.id}.{format}"'},
    )


async def _names(kind: str, codes: list[str]) -> dict[str, str]:
    if kind == "merchant":
        rows = await Merchant.filter(uscc__in=codes).values_list("uscc", "name")
    else:
        rows = await Area.filter(code__in=codes).values_list("code", "name_zh")
    return {str(c): str(n) for c, n in rows}


@get(
    "/api/v1/scores",
    opt=PUBLIC,
    tags=["scoring"],
    media_type=MediaType.JSON,
    responses=cached_responses(ScorePage, "A page of the published run's scores"),
)
async def published_scores(
    request: Request[Any, Any, Any],
    kind: Annotated[
        Literal["merchant", "street", "scenic_spot", "district", "city"], QueryParameter()
    ] = "street",
    page: Annotated[int, QueryParameter()] = 1,
    page_size: Annotated[int, QueryParameter()] = 50,
) -> Response[bytes]:
    """The published run's scores, best first; units below the display threshold show
    ``insufficient_data`` and no number."""
    p = Page(page, page_size)
    run = await runs.current_run()
    if run is None:
        empty = ScorePage(items=[], total=0, page=p.page, page_size=p.page_size, run=None)
        return cached_json(request, empty)
    qs = UnitScore.filter(run_id=run.id, kind=kind)
    total = await qs.count()
    rows = await qs.order_by("rank", "-score", "code").offset(p.offset).limit(p.page_size)
    names = await _names(kind, [r.code for r in rows])
    items = []
    for r in rows:
        hide = r.insufficient_data
        items.append(
            ScoreOut(
                kind=r.kind,
                code=r.code,
                name=names.get(r.code, r.code),
                n=r.n,
                n_excluded=r.n_excluded,
                mean=None if hide else r.mean,
                ci_low=None if hide else r.ci_low,
                ci_high=None if hide else r.ci_high,
                score=None if hide else r.score,
                rank=r.rank,
                tie_group=r.tie_group,
                insufficient_data=r.insufficient_data,
                dimensions={}
                if hide
                else {k: float(v) for k, v in r.dimensions.items() if isinstance(v, int | float)},
                nps=None if hide else r.nps,
                nps_se=None if hide else r.nps_se,
                parent=r.parent,
                merchants_scored=r.merchants_scored,
                share_certifiable=r.share_certifiable,
            )
        )
    scores = ScorePage(items=items, total=total, page=p.page, page_size=p.page_size, run=run.id)
    return cached_json(request, scores)


ROUTES: list[ControllerRouterHandler] = [RunController, published_scores, export_run]
