"""Health and readiness, for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.datastructures import State
from litestar.response import Response
from litestar.types import ControllerRouterHandler

from service.kernel import db, disk
from service.kernel.schemas import Problem
from service.kernel.security import PUBLIC
from service.kernel.settings import Settings


@get("/healthz", opt=PUBLIC, tags=["health"], cache_control=None)
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, tags=["health"], responses={})
async def readyz(state: State) -> Response[dict[str, Any] | Problem]:
    """The database answers, every migration is applied and the data dir has room
    (``disk``: its free bytes, and ``ok``, or ``low`` below FANGXIN_DISK_WARN_MB); 503 with
    the reason otherwise. With the data dir full, pages and downloads are still served but
    nothing can be saved: another machine should take the traffic."""
    try:
        await db.connection().execute_query("SELECT 1")
        pending = await db.pending_migrations()
    except Exception as exc:
        return _not_ready(f"database unreachable: {type(exc).__name__}: {exc}")
    if pending:
        return _not_ready(f"migrations pending: {', '.join(pending)} (run `fangxin migrate`)")
    settings: Settings = state.settings
    room = disk.space(settings.data_dir, settings.disk_warn_bytes)
    if room.state == disk.SpaceState.FULL:
        return _not_ready(
            f"data disk full: {room.free_bytes} bytes free in {room.path} "
            f"(below {disk.FULL_BELOW}); nothing can be saved"
        )
    return Response(
        {"status": "ready", "disk": {"free_bytes": room.free_bytes, "state": room.state.value}}
    )


def _not_ready(detail: str) -> Response[dict[str, str] | Problem]:
    return Response(
        Problem(type="about:blank", title="Not ready", status=503, detail=detail),
        status_code=503,
        media_type="application/problem+json",
    )


ROUTES: list[ControllerRouterHandler] = [healthz, readyz]
