"""Survey submissions under load against a served Fangxin: shared by tests/load (a modest
size, in CI) and bench/submissions.py (20,000 at concurrency 100).

Each submission carries its own client_submission_id and is retried with the same id on a
timeout, a dropped connection or a 5xx, as a phone on a bad network would: the server must
store each acknowledged submission exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from surveys.routes import signed_device

FANGXIN = str(Path(sys.executable).with_name("fangxin"))
LIKERT = ("quality", "price", "honesty", "safety", "service", "returns", "complaints")
MAX_ATTEMPTS = 30


@dataclass
class LoadResult:
    sent: int = 0
    acknowledged: set[str] = field(default_factory=set)
    retries: int = 0
    refused: list[str] = field(default_factory=list)  # unexpected 4xx: a bug, not load
    latencies: list[float] = field(default_factory=list)  # seconds, acknowledged attempts
    elapsed: float = 0.0

    @property
    def throughput(self) -> float:
        return len(self.acknowledged) / self.elapsed if self.elapsed else 0.0

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0

    def summary(self) -> str:
        return (
            f"{len(self.acknowledged)} acknowledged of {self.sent} in {self.elapsed:.1f} s: "
            f"{self.throughput:.0f}/s, p50 {self.percentile(0.5):.0f} ms, "
            f"p99 {self.percentile(0.99):.0f} ms, {self.retries} retries"
        )


def _answers(rng: random.Random) -> dict[str, int]:
    base = rng.randint(2, 5)
    answers = {k: max(1, min(5, base + rng.choice((-1, 0, 0, 1)))) for k in LIKERT}
    answers["recommend"] = rng.randint(0, 10)
    return answers


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await reader.readexactly(length) if length else b""


def secret_of(env: dict[str, str]) -> str:
    """The secret a server started with ``env`` signs with (its data dir's, once migrated)."""
    return env.get("FANGXIN_SECRET_KEY") or (
        (Path(env["FANGXIN_DATA_DIR"]) / "secret_key").read_text(encoding="ascii").strip()
    )


async def submit_load(
    base: str,
    targets: list[str],
    count: int,
    concurrency: int,
    *,
    request_timeout: float = 5.0,
    secret: str,
    seed: int = 315,
    halfway: Callable[[], None] | None = None,
) -> LoadResult:
    """``count`` submissions at ``concurrency`` keep-alive connections; ``halfway`` runs once a
    third have been sent. The client is plain asyncio streams, so that it is not what is timed
    on a machine it shares with the server."""
    host, port = base.removeprefix("http://").split(":")
    rng = random.Random(seed)
    # Each submission from a device of its own (ids signed as the server would issue them):
    # otherwise the one-response-per-device rule would refuse all but one per target.
    plan = [
        (
            str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            rng.choice(targets),
            _answers(rng),
            signed_device(secret, f"load-{seed}-{i}"),
        )
        for i in range(count)
    ]
    result = LoadResult()
    queue = iter(plan)
    triggered = False

    async def worker() -> None:
        nonlocal triggered
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        for csid, target, answers, device in queue:
            result.sent += 1
            if halfway and not triggered and result.sent >= count // 3:
                triggered = True
                halfway()
            payload = json.dumps(
                {"target": target, "answers": answers, "client_submission_id": csid}
            ).encode()
            request = (
                b"POST /api/v1/surveys/merchant/responses HTTP/1.1\r\nHost: load\r\n"
                b"Content-Type: application/json\r\nX-Device-Id: %s\r\n"
                b"Content-Length: %d\r\n\r\n" % (device.encode(), len(payload))
            ) + payload
            for attempt in range(MAX_ATTEMPTS):
                if attempt:
                    result.retries += 1
                    await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
                t0 = time.perf_counter()
                try:
                    if conn is None:
                        conn = await asyncio.open_connection(host, int(port))
                    reader, writer = conn
                    writer.write(request)
                    await writer.drain()
                    status, body = await asyncio.wait_for(_read_response(reader), request_timeout)
                except (TimeoutError, asyncio.IncompleteReadError, OSError):
                    # Timed out, reset or refused: a new connection, the same id again.
                    if conn is not None:
                        conn[1].close()
                    conn = None
                    continue
                if status in (200, 201):
                    result.latencies.append(time.perf_counter() - t0)
                    result.acknowledged.add(csid)
                    break
                if status >= 500 or status == 429:
                    continue
                result.refused.append(f"{status}: {body[:200]!r}")
                break
        if conn is not None:
            conn[1].close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    result.elapsed = time.perf_counter() - t0
    return result


def workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn's supervisor ``pid`` runs (not multiprocessing's
    resource tracker, its other child)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"spawn_main" in cmdline:
                found.append(int(child))
    return found


def kill_one_worker(pid: int) -> int:
    victim = workers_of(pid)[0]
    os.kill(victim, signal.SIGKILL)
    return victim


def wait_until(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (httpx.TransportError, OSError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} within {seconds:.0f} s")


@contextmanager
def served(env: dict[str, str], port: int, workers: int, log: Path) -> Iterator[int]:
    """``fangxin serve --workers N`` on ``port``; yields the supervisor's pid once ready."""
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [
                FANGXIN,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(
            lambda: (
                httpx.get(f"{base}/readyz", timeout=2).status_code == 200
                and (workers == 1 or len(workers_of(proc.pid)) == workers)
            ),
            60,
            "the server was not ready",
        )
        yield proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
