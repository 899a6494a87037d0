"""Health and readiness, for load balancers and orchestrators.

``/healthz`` is liveness: the process is up and its event loop answers. It asks no other
server, on purpose: a supervisor restarts a process whose liveness fails, and restarting
every web process because Redis or the database is away would only add a restart storm to
the outage. ``/readyz`` is readiness: what this process needs from other servers, each
check named, so monitoring says which one is missing."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, get
from litestar.datastructures import State
from litestar.response import Response
from litestar.types import ControllerRouterHandler

from service.kernel import db, disk
from service.kernel.schemas import Problem
from service.kernel.security import PUBLIC
from service.kernel.settings import Settings
from service.kernel.stores import guard_of


class NotReady(Problem, omit_defaults=True):
    """A 503 from /readyz: every failing check by name (``database``, ``migrations``,
    ``redis``, ``disk``), with what went wrong."""

    checks: dict[str, str] = msgspec.field(default_factory=dict)


@get("/healthz", opt=PUBLIC, tags=["health"], cache_control=None)
async def healthz() -> dict[str, str]:
    """The process is up (liveness: no other server is asked)."""
    return {"status": "ok"}


@get("/readyz", opt=PUBLIC, tags=["health"], responses={})
async def readyz(request: Request[object, object, State]) -> Response[dict[str, Any] | NotReady]:
    """The database answers, every migration is applied, Redis (when configured) answers and
    the data dir has room (``disk``: its free bytes, and ``ok``, or ``low`` below
    FANGXIN_DISK_WARN_MB); 503 naming each failing check otherwise. Without Redis public
    pages and survey submissions still work (rate limits per process), but nobody can sign
    in; with the data dir full, pages and downloads are served but nothing can be saved."""
    failed: dict[str, str] = {}
    try:
        await db.connection().execute_query("SELECT 1")
        pending = await db.pending_migrations()
    except Exception as exc:
        failed["database"] = f"database unreachable: {type(exc).__name__}: {exc}"
    else:
        if pending:
            failed["migrations"] = (
                f"migrations pending: {', '.join(pending)} (run `fangxin migrate`)"
            )
    guard = guard_of(request.app.stores.get("sessions"))
    if guard is not None:
        error = await guard.ping()
        if error is not None:
            failed["redis"] = (
                f"redis unreachable: {error} (signed-in pages answer 503; public pages "
                "and survey submissions go on, rate limits per process)"
            )
    settings: Settings = request.app.state.settings
    room = disk.space(settings.data_dir, settings.disk_warn_bytes)
    if room.state == disk.SpaceState.FULL:
        failed["disk"] = (
            f"data disk full: {room.free_bytes} bytes free in {room.path} "
            f"(below {disk.FULL_BELOW}); nothing can be saved"
        )
    if failed:
        return _not_ready(failed)
    return Response(
        {"status": "ready", "disk": {"free_bytes": room.free_bytes, "state": room.state.value}}
    )


def _not_ready(failed: dict[str, str]) -> Response[dict[str, Any] | NotReady]:
    return Response(
        NotReady(
            type="about:blank",
            title="Not ready",
            status=503,
            detail="; ".join(failed.values()),
            checks=failed,
        ),
        status_code=503,
        media_type="application/problem+json",
    )


ROUTES: list[ControllerRouterHandler] = [healthz, readyz]
