"""With FANGXIN_REDIS_URL, sessions and rate limits are shared by every worker.

Two app instances stand for two workers: each has its own Redis client and stores, and the
test alternates between them.
"""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from service.app import close_stores
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.conftest import BASE_URL, asgi, empty_database, make_app, redis_url_or_skip
from tests.helpers import csrf, login, make_account

pytestmark = pytest.mark.redis


async def test_a_session_opened_on_one_worker_is_valid_on_the_other(
    app_settings: Settings,
) -> None:
    settings = replace(app_settings, redis_url=redis_url_or_skip())
    await empty_database(settings)
    worker_a, worker_b = make_app(settings), make_app(settings)
    async with worker_a.lifespan():  # opens the ORM; worker B shares it, as if another process
        a = httpx.AsyncClient(transport=asgi(worker_a), base_url=BASE_URL)
        b = httpx.AsyncClient(transport=asgi(worker_b), base_url=BASE_URL)
        try:
            await make_account("shared", Role.OFFICIAL)
            assert await login(a, "shared") == 303
            b.cookies = a.cookies
            r = await b.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
            assert r.status_code == 200 and "shared" in r.text
            # Logging out on B ends the session on A as well.
            r = await b.post("/logout", data={"_csrf_token": await csrf(b)}, follow_redirects=False)
            assert r.status_code == 303
            a.cookies = b.cookies
            r = await a.get("/account", headers={"accept": "text/html"}, follow_redirects=False)
            assert r.status_code == 303
        finally:
            await a.aclose()
            await b.aclose()
            await close_stores(worker_b)


async def test_rate_limit_counts_requests_on_both_workers(app_settings: Settings) -> None:
    settings = replace(app_settings, redis_url=redis_url_or_skip(), rate_limit_per_minute=6)
    await empty_database(settings)
    worker_a, worker_b = make_app(settings), make_app(settings)
    await worker_a.stores.get("rate_limit").delete_all()
    async with worker_a.lifespan():
        a = httpx.AsyncClient(transport=asgi(worker_a), base_url=BASE_URL)
        b = httpx.AsyncClient(transport=asgi(worker_b), base_url=BASE_URL)
        try:
            statuses = []
            for i in range(8):
                c = a if i % 2 == 0 else b
                statuses.append((await c.get("/api/v1/areas")).status_code)
            # Six allowed in the minute across both workers; each alone saw only four.
            assert statuses[:6] == [200] * 6
            assert statuses[6:] == [429, 429]
        finally:
            await a.aclose()
            await b.aclose()
            await worker_a.stores.get("rate_limit").delete_all()
            await close_stores(worker_b)
