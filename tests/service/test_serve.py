"""The real entry point: `fangxin migrate`, `fangxin demo`, then `fangxin serve` answering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

FANGXIN = str(Path(sys.executable).parent / "fangxin")


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    env = {**os.environ, "FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "production"}
    env.pop("FANGXIN_DATABASE_URL", None)
    for cmd in (["migrate"], ["demo"]):
        subprocess.run([FANGXIN, *cmd], env=env, check=True, capture_output=True, text=True)
    port = free_port()
    proc = subprocess.Popen(
        [FANGXIN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /healthz within 30 s")
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_served_demo_city_answers_health_and_pages(
    served_demo: tuple[str, subprocess.Popen[str]],
) -> None:
    base, proc = served_demo
    assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
    home = httpx.get(f"{base}/")
    assert home.status_code == 200
    assert "驻马店市" in home.text and "嵖岈山" in home.text
    merchants = httpx.get(f"{base}/api/v1/merchants", params={"page_size": 1}).json()
    assert merchants["total"] >= 1000
    r = httpx.get(f"{base}/healthz", headers={"x-request-id": "trace-me-12345"})
    assert r.headers["x-request-id"] == "trace-me-12345"
    assert "max-age" in r.headers["strict-transport-security"]
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    # Production logs are JSON lines carrying the request id.
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    traced = [entry for entry in lines if entry.get("request_id") == "trace-me-12345"]
    assert traced and traced[0]["path"] == "/healthz" and traced[0]["status"] == 200
