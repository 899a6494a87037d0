from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient


async def test_healthz_and_readyz(client: AsyncTestClient[Litestar]) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready"}
