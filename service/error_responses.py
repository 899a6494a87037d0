"""How errors leave the service: every exception a request meets becomes problem+json for
the API (and a client asking for JSON) or an error page for a browser, never a trace.

``service.kernel.errors`` defines the family of errors a user can cause and is imported by every
package; this module maps those, Litestar's and the database's to responses, and
``service.app`` installs ``handle_error`` as the one exception handler."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import asyncpg
import structlog
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException
from litestar.response import Redirect, Template
from tortoise.exceptions import ValidationError as TortoiseValidationError

from service.kernel.disk import DiskFull, disk_full, full_detail
from service.kernel.errors import FangxinError, SessionsUnavailable
from service.kernel.schemas import FieldErrorOut, Problem
from service.kernel.validation import NotAnInteger, plain_problem

log = structlog.get_logger("fangxin")


def wants_html(request: Request[Any, Any, Any]) -> bool:
    """Pages answer errors with a page; the API (and a client asking for JSON) with JSON."""
    path = request.url.path
    if path.startswith(("/api/", "/schema", "/healthz", "/readyz", "/metrics")):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "json" not in accept


def _problem(
    request: Request[Any, Any, Any],
    status: int,
    title: str,
    detail: str,
    errors: list[FieldErrorOut] | None = None,
    headers: dict[str, str] | None = None,
    reason: str | None = None,
) -> Response[Any]:
    request_id = request.scope.get("state", {}).get("request_id")
    if wants_html(request):
        return Template(
            template_name="error.html",
            context={
                "status": status,
                "title": title,
                "detail": detail,
                "request_id": request_id,
                # Which known trouble this is, for a page that says more than "try later".
                "reason": reason,
            },
            status_code=status,
            headers=headers,
        )
    body = Problem(
        type="about:blank",
        title=title,
        status=status,
        detail=detail,
        errors=errors or [],
        request_id=request_id,
    )
    return Response(
        body, status_code=status, media_type="application/problem+json", headers=headers
    )


def _database_refused_the_data(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(5):  # the driver's error, possibly wrapped by the ORM
        if seen is None:
            return False
        if isinstance(seen, asyncpg.exceptions.DataError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def handle_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every error leaves as problem+json (API) or as a page (browser), never as a trace."""
    if isinstance(exc, SessionsUnavailable):
        return _problem(
            request,
            exc.status,
            exc.title,
            exc.detail,
            headers={"retry-after": str(exc.retry_after)},
            reason="sessions",
        )
    if isinstance(exc, FangxinError):
        return _problem(
            request,
            exc.status,
            exc.title,
            exc.detail,
            [FieldErrorOut(e.field, e.message) for e in exc.errors],
            headers=exc.headers or None,
        )
    if isinstance(exc, NotAuthorizedException) and wants_html(request):
        query = urlencode({"next": request.url.path})
        return Redirect(path=f"/login?{query}", status_code=303)
    if isinstance(exc, ValidationException):
        errors = [
            FieldErrorOut(
                str(e.get("key") or e.get("source") or "body"), plain_problem(str(e.get("message")))
            )
            for e in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(e, dict)
        ]
        status = 422 if errors else 400
        return _problem(
            request, status, "Invalid input" if errors else "Bad request", exc.detail, errors
        )
    if isinstance(exc, NotAnInteger):
        # Every door reads numbers with parse_int and names the field; one that forgot to
        # still answers as the input's fault, not the service's.
        return _problem(request, 422, "Invalid input", f"A number {exc}")
    if isinstance(exc, UnicodeDecodeError):
        # msgspec meets bytes that are not UTF-8 in a request body before any handler runs.
        return _problem(request, 400, "Bad request", "The request body is not valid UTF-8")
    if isinstance(exc, RecursionError):
        # msgspec refuses JSON nested deeper than it can follow.
        return _problem(request, 400, "Bad request", "The request body is nested too deeply")
    if _database_refused_the_data(exc):
        # PostgreSQL's class 22 (data exception): a NUL character, a number out of range...
        # The request carried a value no column can hold.
        return _problem(request, 422, "Invalid input", "A value cannot be stored as given")
    if isinstance(exc, TortoiseValidationError):
        # A value longer than its column, met in a lookup or a write no schema bounded: the
        # input is wrong, not the service. The value itself is not echoed.
        return _problem(request, 422, "Invalid input", "A value is longer than allowed")
    if disk_full(exc):
        # A write found the disk (or the database's) full: the operators' to fix, not a bug,
        # and reads go on working meanwhile. DiskFull names what was not saved; a write no
        # helper wrapped (the database's) is "this change".
        cause = exc.__cause__ if isinstance(exc, DiskFull) else exc
        log.error("disk full", path=request.url.path, error=f"{type(cause).__name__}: {cause}")
        detail = exc.detail if isinstance(exc, DiskFull) else full_detail("this change")
        return _problem(request, DiskFull.status, DiskFull.title, detail)
    if isinstance(exc, HTTPException):
        headers = dict(exc.headers or {})
        return _problem(
            request, exc.status_code, _title(exc.status_code), exc.detail, headers=headers
        )
    log.exception("unhandled error", path=request.url.path)
    return _problem(
        request,
        500,
        "Internal server error",
        "Something went wrong on our side; the request id identifies it in our logs.",
    )


def _title(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
