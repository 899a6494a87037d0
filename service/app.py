"""The composition root: ``create_app()`` composes the shell's routes with every plugin's
(``service.plugins``), its template folders and its wiring."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
import structlog
from litestar import Litestar, Request
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.middleware import DefineMiddleware
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.stores.base import Store
from litestar.stores.memory import MemoryStore
from litestar.template.config import TemplateConfig

from certificates.anchor import anchor_for
from service import admin_api, health, imports_api, jobs, plugins
from service.error_responses import handle_error
from service.kernel import accounts, db, i18n, localtime, numbers
from service.kernel.security import (
    CSRF_COOKIE,
    PUBLIC,
    SESSION_COOKIE,
    AuthenticationMiddleware,
    FangxinCSRFMiddleware,
    RotatingSessionConfig,
    principal_of,
    role_guard,
)
from service.kernel.settings import Settings, get_settings
from service.kernel.stores import guard_of, redis_stores
from service.logs import configure_logging
from service.metrics import ROUTES as METRICS_ROUTES
from service.metrics import MeasuredApp, RequestMetrics
from service.middleware import (
    HeadAsGet,
    RequestContextMiddleware,
    behind_proxies,
    private_when_setting_cookies,
    private_when_signed_in,
    security_headers,
)
from service.openapi import openapi_config
from service.portal.accounts import PAGES as ACCOUNT_PAGES
from service.portal.home import PAGES as HOME_PAGES
from service.portal.imports import PAGES as IMPORT_PAGES
from service.portal.jobs import PAGES as JOB_PAGES
from service.portal.login import PAGES as LOGIN_PAGES
from service.portal.merchant import PAGES as MERCHANT_PAGES
from service.portal.official import PAGES as OFFICIAL_PAGES
from service.portal.oidc import PAGES as OIDC_PAGES
from service.portal.passwords import PAGES as PASSWORD_PAGES
from service.portal.places import PAGES as PLACE_PAGES
from service.portal.second_factor import PAGES as SECOND_FACTOR_PAGES
from service.portal.storefront import PAGES as STOREFRONT_PAGES
from service.worker import JobScheduler

WEB = Path(__file__).parent / "web"
# The shell's own pages and API; the domains' come from their plugins.
SHELL_ROUTES = [
    *health.ROUTES,
    *admin_api.ROUTES,
    *imports_api.ROUTES,
    *LOGIN_PAGES,
    *SECOND_FACTOR_PAGES,
    *OIDC_PAGES,
    *HOME_PAGES,
    *PLACE_PAGES,
    *STOREFRONT_PAGES,
    *MERCHANT_PAGES,
    *OFFICIAL_PAGES,
    *JOB_PAGES,
    *ACCOUNT_PAGES,
    *IMPORT_PAGES,
    *PASSWORD_PAGES,
    *METRICS_ROUTES,
]
log = structlog.get_logger("fangxin")
SESSION_MAX_AGE = 12 * 3600


def _stores(settings: Settings, metrics: RequestMetrics) -> dict[str, Store]:
    """Sessions and rate limits: Redis when configured, so every worker sees the same ones;
    guarded, so that without Redis public pages still work (service.kernel.stores)."""
    if settings.redis_url:
        return redis_stores(settings.redis_url, metrics.redis_unavailable)
    return {"sessions": MemoryStore(), "rate_limit": MemoryStore()}


def _template_engine(settings: Settings) -> JinjaTemplateEngine:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([WEB / "templates", *plugins.template_dirs()]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=i18n.gettext, ngettext=i18n.ngettext, newstyle=True
    )
    env.globals["current_locale"] = i18n.current_locale
    localtime.install(env)  # every date on a page in Asia/Shanghai
    numbers.install(env)  # money in 万元, rates and counts as officials write them
    env.globals["lang_url"] = _lang_url
    # Printed on the verify and methodology pages: what a verifier pins to check a PDF offline.
    env.globals["trust_anchor"] = anchor_for(settings)
    # The footer's bureau, contact lines and filing numbers (FANGXIN_BUREAU_*, FANGXIN_ICP_NUMBER,
    # FANGXIN_PUBLIC_SECURITY_NUMBER): the settings' small public part, not the settings.
    env.globals["site"] = settings.site
    return JinjaTemplateEngine.from_environment(env)


def _lang_url(request: Request[Any, Any, Any], lang: str) -> str:
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    params.append(("lang", lang))
    # From the path alone, and never starting "//" or "/\\": a request for "//evil.example/x"
    # must not become a link off the site (browsers read both as another host).
    path = "/" + quote(request.url.path, safe="/:@!$&'()*+,;=~-._").lstrip("/\\")
    return f"{path}?{urlencode(params)}"


API_BODY_TYPES = ("application/json", "multipart/form-data")


async def require_api_content_type(request: Request[Any, Any, Any]) -> None:
    """The API reads JSON (and one upload): a body of another type is a 415, not a guess.
    text/plain, which a cross-site form may send without asking, is never read as JSON."""
    if request.method not in ("POST", "PUT", "PATCH") or not request.url.path.startswith("/api/"):
        return
    if request.headers.get("content-length", "0") == "0" and "transfer-encoding" not in (
        request.headers
    ):
        return
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type not in API_BODY_TYPES:
        raise HTTPException(
            status_code=415,
            detail=f"Send the body as application/json (got {media_type or 'no type'})",
        )


@asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    # A bad FANGXIN_JOBS stops the start here, whether or not this process runs the jobs.
    schedule = jobs.schedule_for(settings)
    await db.init_db(settings)
    accounts.equaliser_hash()
    # Everything loaded so far lives as long as the process: keep it out of the cyclic
    # collector's scans, whose full passes otherwise show up as latency spikes under load.
    gc.collect()
    gc.freeze()
    # The periodic jobs run in `fangxin worker`; outside production a web process runs the
    # schedule too, so `make run` is one command (the slots' leases keep runs single).
    scheduler = JobScheduler(settings, schedule) if schedule.embedded else None
    try:
        if scheduler is not None:
            await scheduler.start()
        yield
    finally:
        if scheduler is not None:
            await scheduler.stop(grace=EMBEDDED_STOP_GRACE)
        await db.close_db()
        await close_stores(app)


# A web process stopping does not wait long for a job: one cut short is recorded as
# interrupted, and its next slot runs as usual.
EMBEDDED_STOP_GRACE = 2.0


async def close_stores(app: Litestar) -> None:
    """Close the Redis connections behind the shared stores (Litestar leaves them open)."""
    guard = guard_of(app.stores.get("sessions"))
    if guard is not None:
        await guard.aclose()


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings)
    # Every plugin's listeners and hooks (a bad working-day calendar file stops here).
    plugins.wire(settings)
    csrf = CSRFConfig(
        secret=settings.secret_key,
        cookie_name=CSRF_COOKIE,
        cookie_secure=settings.production,
        cookie_samesite="strict",
        header_name="x-csrftoken",
    )
    session = RotatingSessionConfig(
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        secure=settings.production,
        samesite="lax",
        store="sessions",
    )
    rate_limit = RateLimitConfig(
        rate_limit=("minute", settings.rate_limit_per_minute),
        store="rate_limit",
        exclude=["/healthz", "/readyz", "/static/"],
    )
    metrics = RequestMetrics()
    static = create_static_files_router(
        path="/static",
        directories=[WEB / "static"],
        opt=PUBLIC,
        include_in_schema=False,
        cache_control=None,
    )
    app = Litestar(
        route_handlers=[
            *SHELL_ROUTES,
            *(handler for plugin in plugins.PLUGINS for handler in plugin.routes()),
            static,
        ],
        guards=[role_guard],
        middleware=[
            RequestContextMiddleware(production=settings.production),
            # Before authentication: requests with bad credentials count too (token guessing).
            rate_limit.middleware,
            session.middleware,
            AuthenticationMiddleware(),
            DefineMiddleware(FangxinCSRFMiddleware, config=csrf),
        ],
        before_send=[
            security_headers(settings.production),
            private_when_setting_cookies,
            private_when_signed_in,
        ],
        stores=_stores(settings, metrics),
        template_config=TemplateConfig(engine=_template_engine(settings)),
        openapi_config=openapi_config(),
        exception_handlers={Exception: handle_error},
        before_request=require_api_content_type,
        lifespan=[_lifespan],
        state=State({"settings": settings, "metrics": metrics}),
        request_max_body_size=2 * 1024 * 1024,
        debug=False,
        logging_config=None,
    )
    # Outside the router, which would answer HEAD with 405 on every GET-only route.
    # Inside HEAD's rewrite, which hands the router a copy of the scope: the route matched
    # is written into the scope this wrapper holds.
    app.asgi_handler = HeadAsGet(MeasuredApp(app.asgi_handler, metrics, settings), app.asgi_router)
    if settings.trusted_proxies:
        # Here rather than in uvicorn's options, so that the app a test builds and the one
        # `fangxin serve` runs decide the client's address alike; outermost, so every
        # middleware sees the client, not the proxy.
        app.asgi_handler = behind_proxies(app.asgi_handler, settings.trusted_proxies)
    return app


__all__ = ["create_app", "principal_of"]
