"""A real server on the demo city and Debian's Chromium driven by Playwright.

The server runs as `fangxin serve` would for a newcomer: migrated, the demo loaded, on a port
of its own, against a fresh database of the dialect under test (PostgreSQL when
FANGXIN_TEST_DATABASE=postgres). Screenshots of each scenario's last state go to a folder
printed at the end of the run."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_ADMIN_URL, _pg_admin, _pg_reachable, dialect, unavailable
from tests.helpers import free_port

FANGXIN = str(Path(sys.executable).with_name("fangxin"))
CHROMIUM = os.environ.get("FANGXIN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SHOTS = Path(
    os.environ.get(
        "FANGXIN_E2E_SCREENSHOTS",
        Path("var") / "e2e-screenshots" / datetime.now(UTC).strftime("%Y%m%dT%H%M%S"),
    )
).absolute()


@dataclass
class Server:
    base: str
    env: dict[str, str]
    passwords: dict[str, str]
    feed_token: str
    official_token: str
    log: Path
    shots: Path = field(default=SHOTS)

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [FANGXIN, *args], env=self.env, check=True, capture_output=True, text=True
        )
        return done.stdout

    def add_merchant_account(self, username: str, uscc: str) -> str:
        """A merchant's account made as the bureau makes one, its password kept with the rest."""
        password = f"shop-{secrets.token_urlsafe(12)}"
        subprocess.run(
            [FANGXIN, "user", "add", username, "--role", "merchant", "--merchant", uscc,
             "--password-stdin"],
            env=self.env, input=password + "\n", check=True, capture_output=True, text=True,
        )  # fmt: skip
        self.passwords[username] = password
        return username

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base,
            headers={"authorization": f"Bearer {self.official_token}"},
            timeout=30,
        )


@contextmanager
def served_demo(home: Path, **settings: str) -> Iterator[Server]:
    """The demo city served from ``home`` on a fresh database of the dialect under test, with
    any further ``FANGXIN_*`` settings given."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {"FANGXIN_DATA_DIR": str(home), "FANGXIN_BASE_URL": base, "FANGXIN_ENV": "test"}
    env |= settings
    pg_name = None
    if dialect() == "postgres":
        problem = _pg_reachable()
        if problem:
            unavailable(problem)
        pg_name = f"fangxin_e2e_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{pg_name}"'))
        env["FANGXIN_DATABASE_URL"] = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{pg_name}"

    def run(*args: str) -> str:
        return subprocess.run(
            [FANGXIN, *args], env=env, check=True, capture_output=True, text=True
        ).stdout

    log = home / "server.log"
    proc = None
    try:
        run("migrate")
        demo = run("demo")
        passwords = dict(re.findall(r"^\s+(demo-\w+)\s+\w+\s+(\S+)$", demo, re.M))
        assert set(passwords) == {
            "demo-admin",
            "demo-official",
            "demo-district",
            "demo-merchant",
            "demo-area",
        }, demo
        feed = run("token", "add", "e2e-feed", "--role", "feed").strip()
        official = run("token", "add", "e2e-official", "--role", "official").strip()
        with log.open("w") as out:
            proc = subprocess.Popen(
                [FANGXIN, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None:
                pytest.fail(f"the server exited: {log.read_text()[-3000:]}")
            time.sleep(0.25)
        else:
            pytest.fail("the server was not ready within 60 s")
        SHOTS.mkdir(parents=True, exist_ok=True)
        yield Server(base, env, passwords, feed, official, log)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        if pg_name:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The journeys' server: its state runs on from one journey to the next."""
    with served_demo(tmp_path_factory.mktemp("e2e")) as served:
        yield served


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium under Playwright. Its sync API keeps an event loop running in this
    thread while it is open: start what needs ``asyncio.run`` (a PostgreSQL database) first,
    and close it with the module, so that the async tests elsewhere get their loop."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        unavailable(f"no Chromium at {CHROMIUM}: `make test` installs Debian's package")

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[object]:
    with chromium() as launched:
        yield launched


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SHOTS.exists() and any(SHOTS.iterdir()):
        terminalreporter.write_line(f"browser screenshots: {SHOTS}")
