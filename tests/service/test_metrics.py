"""/metrics: requests counted by route template and status class, the bureau's gauges read
from the database at scrape time, closed to the public, and summed over the workers of
`fangxin serve --workers 2`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from prometheus_client.parser import text_string_to_metric_families
from tortoise.transactions import in_transaction

from certificates.models import Decision, Reply, StatusChange
from certificates.policy import Kind
from scoring.satisfaction.models import RunStatus, ScoreRun
from service import metrics_dir
from service.kernel import audit
from service.kernel.models import AuditEvent, OutboxMessage, Role
from service.kernel.settings import Settings
from service.metrics import CREDIT_RECOMPUTE_ACTION, route_label
from surveys.models import FlagKind, FlagStatus, Response, ResponseFlag, Survey, TargetKind
from tests.certificates.test_cascade import _certificate
from tests.conftest import (
    BASE_URL,
    empty_database,
    make_app,
    redis_url_or_skip,
    serve_in_process,
    with_env,
)
from tests.helpers import TEST_ACTOR, free_port, make_token
from tests.load.harness import FANGXIN
from tests.surveys.conftest import make_city

METRICS_TOKEN = "scrape-" + "m" * 40
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def labels(method: str, route: str, status: str) -> frozenset[tuple[str, str]]:
    return frozenset({("method", method), ("route", route), ("status", status)})


def requests_total(scraped: Samples, method: str, route: str, status: str) -> float:
    return scraped.get(("fangxin_http_requests_total", labels(method, route, status)), 0.0)


def test_route_labels_drop_parameter_types() -> None:
    assert route_label("/verify/{serial:str}") == "/verify/{serial}"
    assert route_label("/official/flags/{response_id:int}/{kind:str}") == (
        "/official/flags/{response_id}/{kind}"
    )
    assert route_label("/static/{file_path:path}") == "/static/{file_path}"
    assert route_label("") == "/"


async def test_requests_are_counted_by_route_template_and_status_class(
    client: httpx.AsyncClient,
) -> None:
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for _ in range(3):
        assert (await client.get("/healthz")).status_code == 200
    for uscc in ("91411700MA44XE2L5B", "91411700MA44XE2L6C"):
        assert (await client.get(f"/api/v1/merchants/{uscc}")).status_code == 404
    assert (await client.get("/no/such/page", headers={"accept": "text/html"})).status_code == 404
    assert (await client.post("/api/v1/areas", json={})).status_code == 401

    first = await client.get("/metrics", headers=official)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert first.headers["cache-control"] == "no-store"
    scraped = samples(first.text)
    assert requests_total(scraped, "GET", "/healthz", "2xx") == 3
    assert requests_total(scraped, "GET", "/api/v1/merchants/{uscc}", "4xx") == 2
    assert requests_total(scraped, "GET", "unmatched", "4xx") == 1
    assert requests_total(scraped, "POST", "/api/v1/areas", "4xx") == 1
    # The raw paths never become label values: one series per route, however many asked.
    assert "91411700MA44XE2L5B" not in first.text and "/no/such/page" not in first.text

    histogram = "fangxin_http_request_duration_seconds"
    healthz = labels("GET", "/healthz", "2xx")
    assert scraped[(f"{histogram}_count", healthz)] == 3
    assert scraped[(f"{histogram}_bucket", healthz | {("le", "+Inf")})] == 3
    assert 0 < scraped[(f"{histogram}_sum", healthz)] < 3 * 30
    buckets = sorted(
        (float(dict(key)["le"]), value)
        for (name, key), value in scraped.items()
        if name == f"{histogram}_bucket" and key - {("le", dict(key)["le"])} == healthz
    )
    assert len(buckets) == 13 and buckets[-1] == (float("inf"), 3)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative

    # A scrape is a request too, counted once it has been answered.
    again = samples((await client.get("/metrics", headers=official)).text)
    assert requests_total(again, "GET", "/metrics", "2xx") == 1
    assert requests_total(again, "GET", "/healthz", "2xx") == 3


async def test_the_public_gets_401_and_other_roles_403(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/metrics", headers={"accept": "text/plain"})
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    assert "fangxin_" not in anonymous.text
    feed = {"authorization": f"Bearer {await make_token(Role.FEED)}"}
    assert (await client.get("/metrics", headers=feed)).status_code == 403
    admin = {"authorization": f"Bearer {await make_token(Role.ADMIN, 'admin')}"}
    assert (await client.get("/metrics", headers=admin)).status_code == 200


async def test_the_metrics_token_reads_metrics_and_nothing_else(app_settings: Settings) -> None:
    await empty_database(app_settings)
    app = make_app_with_token(app_settings)
    async with serve_in_process(app, BASE_URL) as c:
        scraper = {"authorization": f"Bearer {METRICS_TOKEN}"}
        scraped = await c.get("/metrics", headers=scraper)
        assert scraped.status_code == 200
        assert "fangxin_outbox_backlog 0.0" in scraped.text
        wrong = {"authorization": f"Bearer {METRICS_TOKEN[:-1]}x"}
        assert (await c.get("/metrics", headers=wrong)).status_code == 401
        # Not an API token: everywhere else it is refused.
        assert (await c.get("/api/v1/credit/classes", headers=scraper)).status_code == 401
        # Its scrapes are counted like any other.
        again = samples((await c.get("/metrics", headers=scraper)).text)
        assert requests_total(again, "GET", "/metrics", "2xx") == 1
        assert requests_total(again, "GET", "/metrics", "4xx") == 1


def make_app_with_token(settings: Settings) -> Litestar:
    return make_app(with_env(settings, metrics_token=METRICS_TOKEN))


async def _response(survey: Survey, target: str) -> Response:
    return await Response.create(
        survey=survey,
        version=1,
        target_kind=TargetKind.MERCHANT,
        target_code=target,
        client_submission_id=uuid.uuid4(),
        submitted_at=datetime.now(UTC),
    )


async def _run(
    status: RunStatus, finished_at: datetime | None = None, published_at: datetime | None = None
) -> None:
    now = datetime.now(UTC)
    await ScoreRun.create(
        status=status,
        created_by="test",
        finished_at=finished_at,
        published_at=published_at,
        window_since=now - timedelta(days=365),
        window_until=now,
    )


def _gauges(scraped: Samples) -> dict[str, float]:
    return {name: value for (name, key), value in scraped.items() if not key}


async def test_bureau_gauges_are_read_from_the_database(client: httpx.AsyncClient) -> None:
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    empty = _gauges(samples((await client.get("/metrics", headers=official)).text))
    assert empty == {
        "fangxin_outbox_backlog": 0,
        "fangxin_flags_waiting": 0,
        "fangxin_appeals_waiting": 0,
    }, "the ages of jobs that never ran are absent, not made up"

    now = datetime.now(UTC)
    for delivered in (None, None, now):
        await OutboxMessage.create(
            topic="certificate.revoked",
            payload={},
            created_at=now,
            next_attempt_at=now,
            delivered_at=delivered,
        )
    async with in_transaction() as tx:
        event = await audit.record(tx, TEST_ACTOR, CREDIT_RECOMPUTE_ACTION, "credit_standing")
    await AuditEvent.filter(id=event.id).update(at=now - timedelta(hours=2))
    async with in_transaction() as tx:  # a newer event of another action
        await audit.record(tx, TEST_ACTOR, "credit.ingest", "credit_standing")

    await _run(RunStatus.PUBLISHED, now - timedelta(hours=6), now - timedelta(hours=5))
    await _run(RunStatus.DRAFT, now - timedelta(hours=3))
    # Newer, but produced no scores; and one still running.
    await _run(RunStatus.FAILED, now - timedelta(minutes=5))
    await _run(RunStatus.RUNNING)

    city = await make_city()
    survey = await Survey.get(slug="merchant")
    for kind, status in (
        (FlagKind.SPEEDER, FlagStatus.RAISED),
        (FlagKind.BURST, FlagStatus.RAISED),
        (FlagKind.STRAIGHTLINER, FlagStatus.RAISED),
        (FlagKind.SPEEDER, FlagStatus.CLEARED),
        (FlagKind.SURGE, FlagStatus.CONFIRMED),
    ):
        await ResponseFlag.create(
            response=await _response(survey, city.merchant), kind=kind, status=status
        )

    for serial, decision in (("ZMD-2026-M-000011-J", None), ("ZMD-2026-M-000012-K", "upheld")):
        cert = await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", serial, now)
        change = await StatusChange.get(certificate=cert)
        await Reply.create(
            certificate=cert,
            change=change,
            text="已整改",
            submitted_by="laowang",
            submitted_at=now,
            decision=Decision(decision) if decision else None,
        )

    gauges = _gauges(samples((await client.get("/metrics", headers=official)).text))
    ages = {
        "fangxin_credit_recompute_age_seconds": 2 * 3600,
        "fangxin_score_run_age_seconds": 3 * 3600,
        "fangxin_score_run_published_age_seconds": 5 * 3600,
    }
    for name, expected in ages.items():
        # Seconds have passed since the rows were written, never a minute.
        assert expected <= gauges.pop(name) < expected + 60, name
    assert gauges == {
        "fangxin_outbox_backlog": 2,
        "fangxin_flags_waiting": 3,
        "fangxin_appeals_waiting": 1,
    }


def test_prepare_clears_directories_of_servers_that_are_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(metrics_dir.MULTIPROC_ENV, raising=False)
    root = tmp_path / metrics_dir.METRICS_DIR
    gone = root / "4194305"  # above Linux's largest pid: no such process
    alive = root / str(os.getppid())
    for d in (gone, alive):
        d.mkdir(parents=True)
        (d / "counter_1.db").write_bytes(b"x")
    mine = metrics_dir.prepare(tmp_path)
    assert mine == root / str(os.getpid()) and mine.is_dir() and not any(mine.iterdir())
    assert os.environ[metrics_dir.MULTIPROC_ENV] == str(mine)
    assert not gone.exists()
    assert (alive / "counter_1.db").exists(), "another running server's files stay"


REQUESTS = 60
REDIS_DB = 5  # a database of its own for this server's sessions and rate limits


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    redis_url = f"{redis_url_or_skip().rsplit('/', 1)[0]}/{REDIS_DB}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(tmp_path),
        "FANGXIN_ENV": "production",
        "FANGXIN_REDIS_URL": redis_url,
        "FANGXIN_METRICS_TOKEN": METRICS_TOKEN,
        "FANGXIN_RATE_LIMIT_PER_MINUTE": "100000",
    }
    subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [FANGXIN, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()[-3000:]}")
        else:
            pytest.fail("the server did not answer within 60 s")
        yield base, tmp_path / metrics_dir.METRICS_DIR / str(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_counts_add_up_over_the_workers(two_workers: tuple[str, Path]) -> None:
    base, files = two_workers
    # The readiness probe above was answered (and counted) before anything here.
    before = samples(_scrape(base))
    probes = requests_total(before, "GET", "/healthz", "2xx")

    async def burst() -> None:
        # A connection each, many at once: both workers take some.
        async def one() -> None:
            async with httpx.AsyncClient(base_url=base) as c:
                assert (await c.get("/healthz")).status_code == 200

        await asyncio.gather(*(one() for _ in range(REQUESTS)))

    # The first worker to answer the readiness probe may take a whole burst while the other
    # is still starting (a loaded machine starts them seconds apart): burst again until both
    # have counted, and count every request sent.
    sent = 0
    deadline = time.monotonic() + 60
    while True:
        asyncio.run(burst())
        sent += REQUESTS
        workers_counting = {p.name for p in files.glob("counter_*.db")}
        if len(workers_counting) == 2 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert len(workers_counting) == 2, f"one worker took every request: {workers_counting}"
    # Whichever worker answers a scrape, it tells the total of both.
    for scrape in range(1, 7):
        scraped = samples(_scrape(base))
        assert requests_total(scraped, "GET", "/healthz", "2xx") == probes + sent
        assert requests_total(scraped, "GET", "/metrics", "2xx") == scrape


def _scrape(base: str) -> str:
    # A fresh connection each time, so successive scrapes reach either worker.
    r = httpx.get(f"{base}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200, r.text
    return r.text
