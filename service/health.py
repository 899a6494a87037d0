"""Health and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from litestar import get
from litestar.datastructures import State
from litestar.response import Response
from litestar.types import ControllerRouterHandler

from service.kernel import db
from service.kernel.schemas import Problem
from service.kernel.security import PUBLIC


@get("/healthz", opt=PUBLIC, tags=["health"], cache_control=None)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, tags=["health"], responses={})
async def readyz(state: State) -> Response[dict[str, str] | Problem]:
    """The database answers and every migration is applied; 503 with the reason otherwise."""
    try:
        await db.connection().execute_query("SELECT 1")
        pending = await db.pending_migrations()
    except Exception as exc:
        return _not_ready(f"database unreachable: {type(exc).__name__}: {exc}")
    if pending:
        return _not_ready(f"migrations pending: {', '.join(pending)} (run `fangxin migrate`)")
    return Response({"status": "ready"})


def _not_ready(detail: str) -> Response[dict[str, str] | Problem]:
    return Response(
        Problem(type="about:blank", title="Not ready", status=503, detail=detail),
        status_code=503,
        media_type="application/problem+json",
    )


ROUTES: list[ControllerRouterHandler] = [healthz, readyz]
