"""Every log record — ours, uvicorn's, Tortoise's — leaves through the one structured handler:
JSON lines with the same keys in production, readable lines otherwise."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from service.kernel.models import Area
from service.kernel.settings import Settings
from service.logs import FOREIGN_WITH_HANDLERS, configure_logging
from tests.conftest import with_env
from tests.helpers import free_port
from tests.load.harness import FANGXIN

KEYS = {"timestamp", "level", "logger", "event", "request_id"}


@pytest.fixture
def restore_logging(migrated: Settings) -> Iterator[None]:
    """Leave logging as the test runs have it (each app a test builds configures it again)."""
    try:
        yield
    finally:
        configure_logging(migrated)
        structlog.contextvars.clear_contextvars()
        for name in (*FOREIGN_WITH_HANDLERS, "tortoise.db_client"):
            logging.getLogger(name).setLevel(logging.NOTSET)


def _uvicorn_configured_its_logging() -> None:
    """What uvicorn's Config does in a worker before it builds the app (its dictConfig)."""
    uvicorn.Config("service.app:create_app", log_config=LOGGING_CONFIG, log_level="info")


def _lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
async def test_uvicorn_and_tortoise_records_are_json_with_the_same_keys_in_production(
    db: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _uvicorn_configured_its_logging()
    configure_logging(with_env(db, env="production"))
    structlog.contextvars.bind_contextvars(request_id="req-log-routing-1")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    # A real record of Tortoise's: the SQL it runs, logged at debug.
    logging.getLogger("tortoise.db_client").setLevel(logging.DEBUG)
    assert await Area.filter(code="NOPE-LOG").first() is None
    logging.getLogger("tortoise.db_client").setLevel(logging.NOTSET)
    structlog.get_logger("fangxin.test").warning("our own event", answer=42)

    records = _lines(capsys.readouterr().err)  # every line is JSON, or this fails
    by_logger: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_logger.setdefault(record["logger"], []).append(record)
    # Once: uvicorn's own handler (plain text) is gone, ours is the only one.
    (served,) = by_logger["uvicorn.error"]
    assert served["event"] == "Invalid HTTP request received." and served["level"] == "warning"
    queries = by_logger["tortoise.db_client"]
    assert any("NOPE-LOG" in q["event"] for q in queries), queries
    (own,) = by_logger["fangxin.test"]
    assert own["answer"] == 42
    assert set(served) == KEYS
    assert all(set(q) == KEYS for q in queries)
    assert set(own) == KEYS | {"answer"}
    assert {r["request_id"] for r in records} == {"req-log-routing-1"}
    assert served["timestamp"].endswith("Z")


@pytest.mark.usefixtures("restore_logging")
def test_lines_are_readable_outside_production(
    migrated: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    _uvicorn_configured_its_logging()
    configure_logging(with_env(migrated, env="development"))
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")
    logging.getLogger("tortoise").warning("a tortoise warning")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    for line, logger in zip(lines, ("uvicorn.error", "tortoise"), strict=True):
        assert not line.startswith("{") and "warning" in line and f"[{logger}]" in line


@pytest.fixture
def served_in_production(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "production"}
    subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [FANGXIN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /healthz within 30 s")
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)


def test_a_served_uvicorn_warning_is_a_json_line(
    served_in_production: tuple[int, subprocess.Popen[str]],
) -> None:
    port, proc = served_in_production
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        raw.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        raw.recv(1024)  # uvicorn answers 400 and logs a warning
    r = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"x-request-id": "served-log-1"})
    assert r.status_code == 200
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    records = _lines(err)  # every line, uvicorn's included, is JSON
    (invalid,) = [r for r in records if r["event"] == "Invalid HTTP request received."]
    assert invalid["logger"] == "uvicorn.error" and invalid["level"] == "warning"
    (access,) = [r for r in records if r.get("request_id") == "served-log-1"]
    assert access["logger"] == "fangxin.access" and access["path"] == "/healthz"
    assert {"timestamp", "level", "logger", "event"} <= set(invalid) & set(access)
