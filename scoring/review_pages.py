"""Officials' pages: the score runs, a draft's review, publishing and discarding."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import PathParameter, URLEncodedBody
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler

from scoring import review, runs
from scoring.models import ScoreRun
from scoring.routes import compute_in_background
from service.errors import FangxinError
from service.security import OFFICIALS, require_principal
from service.settings import Settings

RunId = Annotated[int, PathParameter()]


@get("/official/runs", opt=OFFICIALS, include_in_schema=False)
async def runs_page(request: Request[Any, Any, State]) -> Template:
    recent = await ScoreRun.all().order_by("-id").limit(50)
    return Template("scoring/runs.html", context={"runs": recent})


@post("/official/runs", opt=OFFICIALS, include_in_schema=False, status_code=303)
async def start_run_form(request: Request[Any, Any, State]) -> Redirect:
    actor = require_principal(request).actor
    run = await runs.start_run(runs.parse_params({}), actor=actor)
    settings: Settings = request.app.state.settings
    return Redirect(
        f"/official/runs/{run.id}",
        status_code=303,
        background=BackgroundTask(compute_in_background, run.id, settings, actor),
    )


async def _review_context(run: ScoreRun, error: str | None = None) -> dict[str, Any]:
    current = await runs.current_run()
    comparison = None
    if run.status.value in ("draft", "published"):
        comparison = await review.compare(
            run, current if current and current.id != run.id else None
        )
    return {"run": run, "current": current, "comparison": comparison, "error": error}


@get("/official/runs/{run_id:int}", opt=OFFICIALS, include_in_schema=False)
async def run_page(request: Request[Any, Any, State], run_id: RunId) -> Template:
    run = await runs.get_run(run_id)
    return Template("scoring/run.html", context=await _review_context(run))


@post(
    "/official/runs/{run_id:int}/publish", opt=OFFICIALS, include_in_schema=False, status_code=303
)
async def publish_form(request: Request[Any, Any, State], run_id: RunId) -> Redirect | Template:
    try:
        await runs.publish_run(run_id, actor=require_principal(request).actor)
    except FangxinError as exc:
        run = await runs.get_run(run_id)
        return Template(
            "scoring/run.html",
            context=await _review_context(run, exc.detail),
            status_code=exc.status,
        )
    return Redirect(f"/official/runs/{run_id}", status_code=303)


@post(
    "/official/runs/{run_id:int}/discard", opt=OFFICIALS, include_in_schema=False, status_code=303
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
            "scoring/run.html", context=await _review_context(run, message), status_code=exc.status
        )
    return Redirect(f"/official/runs/{run_id}", status_code=303)


PAGES: list[ControllerRouterHandler] = [
    runs_page,
    start_run_form,
    run_page,
    publish_form,
    discard_form,
]
