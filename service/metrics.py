"""Prometheus metrics at ``GET /metrics``: requests by route and status class, and the
bureau's queues and job ages, read from the database when Prometheus scrapes.

Requests are counted in an ASGI wrapper around the whole application, so the 404s and 405s
that the router answers before any middleware runs are counted too. Their ``route`` label is
the route's template (``/verify/{serial}``), never the path asked for: a scanner trying a
million paths adds one series (``unmatched``), not a million.

Several workers: ``fangxin serve`` turns on prometheus_client's multiprocess mode
(service.metrics_dir) before any worker starts. Each worker then counts into files of its
own in one directory, and a scrape, whichever worker answers it, adds up the files of all:
the totals do not depend on which worker Prometheus happens to reach. Without it (one
process, e.g. the tests) the counts live in the process, which is then the whole truth.
The bureau gauges are not counted anywhere: each scrape reads them from the database.

Access: officials and admins (session or API token), or a scraper holding
``FANGXIN_METRICS_TOKEN`` as its bearer token, a credential that can read metrics and
nothing else. That token is not an API token, so the authentication middleware would refuse
it: the wrapper answers such a scrape itself, before the application's stack.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

import structlog
from litestar import Request, get
from litestar.enums import ScopeType
from litestar.response import Response
from litestar.types import ASGIApp, HTTPResponseStartEvent, HTTPScope, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client import values as prometheus_values
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.mmap_dict import _INITIAL_MMAP_SIZE, MmapedDict
from prometheus_client.multiprocess import MultiProcessCollector

from certificates.models import Reply
from scoring.satisfaction.models import RunStatus, ScoreRun
from service.kernel.models import AuditEvent, OutboxMessage
from service.kernel.security import CITY_OFFICIALS, bearer_token
from service.kernel.settings import Settings
from surveys.models import FlagStatus, ResponseFlag

METRICS_PATH: Final = "/metrics"
UNMATCHED: Final = "unmatched"  # no route: an unknown path, or a method the route lacks
# Methods are a label too: anything else a client invents is one value, not one each.
METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; from a cached public page (~ms) to a PDF batch or an export (seconds).
LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
CREDIT_RECOMPUTE_ACTION: Final = "credit.recompute"  # what service.app's daily job audits
_PARAM_TYPE = re.compile(r"\{(\w+):[^}]*\}")

# ``_created`` series exist only in the in-process mode; without them, one worker and many
# expose the same series.
disable_created_metrics()  # type: ignore[no-untyped-call]
log = structlog.get_logger("fangxin")
# After a metrics file could not be written (a full disk), the next try after this long.
METRICS_RETRY_SECONDS: Final = 60.0


class ReservedMmapedDict(MmapedDict):
    """prometheus_client's per-process file of values, with its disk blocks reserved
    (``posix_fallocate``) before any byte is mapped.

    The client sizes its file with ``truncate``: a sparse file, whose blocks the file system
    finds only when a page of the mapping is first written. On a full disk that write cannot
    be refused, so the kernel kills the process with SIGBUS: every web worker died the same
    way, and uvicorn restarted them into the same death. With the blocks reserved up front a
    full disk shows at creation or growth, as an ``OSError`` the caller handles
    (``RequestMetrics.observe``), and writing through the mapping can no longer fail."""

    def __init__(self, filename: str, read_mode: bool = False) -> None:
        if not read_mode:
            _reserve_new_file(filename, _INITIAL_MMAP_SIZE)
        super().__init__(filename, read_mode)  # type: ignore[no-untyped-call]

    def _init_value(self, key: str) -> None:
        # The entry's size as the file format lays it out (see MmapedDict): a 4-byte length,
        # the key padded to 8-byte alignment, two doubles.
        encoded = len(key.encode("utf-8"))
        size = 4 + encoded + (8 - (encoded + 4) % 8) + 16
        capacity = self._capacity
        while self._used + size > capacity:
            capacity *= 2
        if capacity != self._capacity:
            os.posix_fallocate(self._f.fileno(), 0, capacity)  # grows the file: no sparse tail
        super()._init_value(key)  # type: ignore[no-untyped-call]


def _reserve_new_file(filename: str, size: int) -> None:
    fd = os.open(filename, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size == 0:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError:
                # An empty file would break every scrape (the collector reads its header).
                os.unlink(filename)
                raise
    finally:
        os.close(fd)


# The client looks its file class up here each time a process opens its file.
prometheus_values.MmapedDict = ReservedMmapedDict  # type: ignore[attr-defined]


def multiprocess() -> bool:
    """Whether prometheus_client counts in shared files (decided when it was imported)."""
    return bool(getattr(prometheus_values.ValueClass, "_multiprocess", False))


def route_label(template: str) -> str:
    """``/verify/{serial:str}`` → ``/verify/{serial}``: the route as people write it."""
    return _PARAM_TYPE.sub(r"{\1}", template) or "/"


class RequestMetrics:
    """The request counter and latency histogram of one application."""

    def __init__(self) -> None:
        # A registry per application: tests build many apps in one process, and each starts
        # from zero (in multiprocess mode the files, not this registry, are exposed).
        self.registry = CollectorRegistry(auto_describe=True)
        labels = ("method", "route", "status")
        self.requests = Counter(
            "fangxin_http_requests",
            "HTTP requests answered, by method, route template and status class.",
            labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "fangxin_http_request_duration_seconds",
            "Time from the request's arrival to its response's end, by method, route "
            "template and status class.",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.paused_until = 0.0  # while a full disk keeps the metrics file from growing
        self._redis_unavailable = Counter(
            "fangxin_redis_unavailable",
            "Store operations done without Redis, by use: rate_limit (counted in this "
            "process's memory instead), sessions (signed-in requests refused with 503, "
            "public ones served as anonymous), readiness (a failed /readyz check).",
            ("use",),
            registry=self.registry,
        )

    def redis_unavailable(self, use: str) -> None:
        """One store operation went without Redis (service.kernel.stores)."""
        # A full disk: observe() says so and pauses; this count never fails the request.
        with contextlib.suppress(OSError):
            self._redis_unavailable.labels(use).inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one request; when the metrics file cannot grow (a full disk), stop counting
        for a while, saying so once, rather than fail the request."""
        if self.paused_until and time.monotonic() < self.paused_until:
            return
        method = method if method in METHODS else "OTHER"
        status_class = f"{status // 100}xx" if 100 <= status < 600 else "5xx"
        try:
            self.requests.labels(method, route, status_class).inc()
            self.latency.labels(method, route, status_class).observe(seconds)
        except OSError as exc:
            self.paused_until = time.monotonic() + METRICS_RETRY_SECONDS
            log.warning(
                "request metrics paused: their file cannot be written",
                error=f"{type(exc).__name__}: {exc}",
                retry_in_seconds=METRICS_RETRY_SECONDS,
            )


class _Collected:
    """Metric families already in hand (the gauges read before the scrape is rendered)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


def _gauge(name: str, documentation: str, value: float | None) -> GaugeMetricFamily:
    """A gauge; with no value (the job never ran) the family is exposed without a sample,
    so that an alert reads ``absent(...)`` rather than a made-up age."""
    family = GaugeMetricFamily(name, documentation)
    if value is not None:
        family.add_metric([], value)
    return family


async def bureau_gauges(now: datetime | None = None) -> list[Metric]:
    """The queues officials and other systems wait on, and how long ago the periodic jobs
    last ran, as the database says now."""
    now = now or datetime.now(UTC)
    recompute = (
        await AuditEvent.filter(action=CREDIT_RECOMPUTE_ACTION)
        .order_by("-id")
        .first()
        .values_list("at", flat=True)
    )
    # The newest run that produced scores (a failed run computed none).
    scored = (
        await ScoreRun.filter(finished_at__isnull=False, status__not=RunStatus.FAILED)
        .order_by("-finished_at")
        .first()
        .values_list("finished_at", flat=True)
    )
    published = (
        await ScoreRun.filter(published_at__isnull=False)
        .order_by("-published_at")
        .first()
        .values_list("published_at", flat=True)
    )
    return [
        _gauge(
            "fangxin_outbox_backlog",
            "Notifications written but not yet delivered to the webhook.",
            await OutboxMessage.filter(delivered_at__isnull=True).count(),
        ),
        _gauge(
            "fangxin_credit_recompute_age_seconds",
            "Seconds since the last credit recompute (audit action credit.recompute).",
            _age(now, _as_datetime(recompute)),
        ),
        _gauge(
            "fangxin_score_run_age_seconds",
            "Seconds since the newest score run that produced scores finished.",
            _age(now, _as_datetime(scored)),
        ),
        _gauge(
            "fangxin_score_run_published_age_seconds",
            "Seconds since a score run was last published.",
            _age(now, _as_datetime(published)),
        ),
        _gauge(
            "fangxin_flags_waiting",
            "Response-quality flags raised by screening and not yet decided by an official.",
            await ResponseFlag.filter(status=FlagStatus.RAISED).count(),
        ),
        _gauge(
            "fangxin_appeals_waiting",
            "Holders' replies to a revocation or suspension still without a decision.",
            await Reply.filter(decision__isnull=True).count(),
        ),
    ]


def _as_datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


async def exposition(metrics: RequestMetrics, accept: str) -> tuple[bytes, str]:
    """The scrape's body and content type (the text format Prometheus asks for)."""
    registry = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(metrics.registry)
    registry.register(_Collected(await bureau_gauges()))
    encoder, content_type = choose_encoder(accept)
    return encoder(registry), content_type


def _metrics_of(app: Any) -> RequestMetrics:
    metrics = app.state.get("metrics")
    if not isinstance(metrics, RequestMetrics):
        raise RuntimeError("the application was built without request metrics")
    return metrics


@get(
    METRICS_PATH,
    opt=CITY_OFFICIALS,
    tags=["monitoring"],
    media_type="text/plain",
    cache_control=None,
    summary="Prometheus metrics",
)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format: ``fangxin_http_requests_total`` and
    ``fangxin_http_request_duration_seconds`` by method, route template and status class
    (summed over every worker), and gauges read from the database at scrape time: outbox
    backlog, seconds since the last credit recompute and score run, flags and appeals
    waiting. Officials and admins, or the bearer token set in ``FANGXIN_METRICS_TOKEN``."""
    body, content_type = await exposition(
        _metrics_of(request.app), request.headers.get("accept", "")
    )
    return Response(body, media_type=content_type, headers={"cache-control": "no-store"})


ROUTES = [metrics_endpoint]


class MeasuredApp:
    """Counts and times every HTTP request the application answers; answers a scrape that
    holds the metrics token."""

    def __init__(self, app: ASGIApp, metrics: RequestMetrics, settings: Settings) -> None:
        self.app = app
        self.metrics = metrics
        self.token = settings.metrics_token.encode() if settings.metrics_token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if nothing is sent at all

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        scrape = self._holds_metrics_token(scope)
        try:
            if scrape:
                await self._scrape(scope, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            # The router writes the matched route's template into this very scope.
            template = METRICS_PATH if scrape else scope.get("path_template")
            self.metrics.observe(
                scope["method"],
                route_label(template) if isinstance(template, str) else UNMATCHED,
                status,
                time.perf_counter() - started,
            )

    def _holds_metrics_token(self, scope: HTTPScope) -> bool:
        if self.token is None or scope["path"] != METRICS_PATH or scope["method"] != "GET":
            return False
        given = bearer_token(scope)
        return given is not None and hmac.compare_digest(given.encode(), self.token)

    async def _scrape(self, scope: HTTPScope, send: Send) -> None:
        accept = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"accept"), "")
        body, content_type = await exposition(self.metrics, accept)
        start: HTTPResponseStartEvent = {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
        await send(start)
        await send({"type": "http.response.body", "body": body, "more_body": False})
