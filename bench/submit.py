"""Sustained survey submissions through the real stack: uvicorn (2 workers), PostgreSQL.

    .venv/bin/python bench/submit.py [--seconds 30] [--concurrency 50] [--workers 2]

Creates a fresh PostgreSQL database, migrates it, loads the default questionnaires and the
demo city's merchants, starts `fangxin serve`, then drives it with a lean keep-alive HTTP/1.1
client (asyncio streams; the client must not be the bottleneck). Every acknowledged
submission (201) is checked afterwards: present exactly once in the database.

Printed beside our figures: a bare endpoint of the same server (`GET /healthz`), measured the
same way in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

# Each submission comes from a device of its own, with an id signed as the server issues
# them: one client on one address would otherwise meet the one-response-per-device rule.
from bench.env import DATA, REDIS_URL, database  # noqa: E402
from surveys.routes import DEVICE_HEADER, signed_device  # noqa: E402

DEVICE_POOL = 300_000  # signed ids handed to wrk, which cannot compute an HMAC itself
FANGXIN = str(Path(sys.executable).parent / "fangxin")
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/test"
DB_NAME = database("fangxin_bench")
HOST = "127.0.0.1"
ANSWERS = {
    "quality": 4,
    "price": 4,
    "honesty": 5,
    "safety": 4,
    "service": 3,
    "returns": 4,
    "complaints": 4,
    "recommend": 8,
    "visitor": "resident",
}


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    acknowledged: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _client(
    port: int, deadline: float, targets: list[str], tally: Tally, submit: bool, secret: str
) -> None:
    reader, writer = await asyncio.open_connection(HOST, port)
    rng = random.Random()
    try:
        while time.perf_counter() < deadline:
            if submit:
                csid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
                payload = json.dumps(
                    {
                        "target": rng.choice(targets),
                        "answers": ANSWERS,
                        "client_submission_id": csid,
                    }
                ).encode()
                device = signed_device(secret, csid).encode()
                request = (
                    b"POST /api/v1/surveys/merchant/responses HTTP/1.1\r\nHost: bench\r\n"
                    b"Content-Type: application/json\r\n"
                    + DEVICE_HEADER.encode()
                    + b": "
                    + device
                    + b"\r\nContent-Length: "
                    + str(len(payload)).encode()
                    + b"\r\n\r\n"
                    + payload
                )
            else:
                csid = ""
                request = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"
            started = time.perf_counter()
            writer.write(request)
            await writer.drain()
            try:
                status, body = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                tally.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port)
                continue
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
            if submit and status == 201:
                tally.acknowledged[csid] = json.loads(body)["id"]
    finally:
        writer.close()


async def _drive(
    port: int, seconds: float, concurrency: int, targets: list[str], submit: bool, secret: str
) -> tuple[Tally, float]:
    tally = Tally()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *[_client(port, deadline, targets, tally, submit, secret) for _ in range(concurrency)]
    )
    return tally, time.perf_counter() - started


WRK_SCRIPT = """
local targets = {}
for line in io.lines("%(targets)s") do targets[#targets + 1] = line end
local devices = {}
for line in io.lines("%(devices)s") do devices[#devices + 1] = line end
local sent = 0
local threads = 0
function setup(thread)
  -- setup runs in the main state; each thread reads its number back as the global tid.
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  math.randomseed(os.time() * 1000 + tid * 7919 + math.floor(os.clock() * 1e6))
end
local function uuid4()
  return (("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx"):gsub("[xy]", function(c)
    local v = (c == "x") and math.random(0, 15) or math.random(8, 11)
    return string.format("%%x", v)
  end))
end
local answers = '%(answers)s'
request = function()
  sent = sent + 1
  local device = devices[((sent - 1) * 8 + tid) %% #devices + 1]
  local body = '{"target":"' .. targets[math.random(#targets)] .. '","answers":' .. answers
    .. ',"client_submission_id":"' .. uuid4() .. '"}'
  return wrk.format("POST", "/api/v1/surveys/merchant/responses",
                    {["Content-Type"] = "application/json", ["%(device_header)s"] = device}, body)
end
"""


def _wrk(
    port: int,
    seconds: float,
    concurrency: int,
    work: Path,
    targets: list[str],
    submit: bool,
    secret: str,
) -> tuple[float, float, float, int]:
    """(requests/s of 2xx, p50 ms, p99 ms, number of 2xx) measured by wrk. wrk cannot keep
    the acknowledged ids cheaply, so the exactly-once check compares counts: every request
    carries a fresh id, so rows added must equal responses acknowledged."""
    (work / "targets.txt").write_text("\n".join(targets), encoding="utf-8")
    (work / "devices.txt").write_text(
        "\n".join(signed_device(secret, f"wrk-{i}") for i in range(DEVICE_POOL)), encoding="ascii"
    )
    script = work / "submit.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "targets": work / "targets.txt",
            "devices": work / "devices.txt",
            "device_header": DEVICE_HEADER,
            "answers": json.dumps(ANSWERS),
        },
        encoding="utf-8",
    )
    cmd = ["wrk", "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", "--latency"]
    if submit:
        cmd += ["-s", str(script)]
    url = f"http://{HOST}:{port}/" if submit else f"http://{HOST}:{port}/healthz"
    out = subprocess.run([*cmd, url], check=True, capture_output=True, text=True).stdout  # noqa: S603
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*timeout (\d+)", out)
    ok = total - (int(bad.group(1)) if bad else 0) - (int(errors.group(1)) if errors else 0)
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    return ok / seconds, p50, p99, ok


def _ms(text: str) -> float:
    value = float(re.match(r"[\d.]+", text).group(0))  # type: ignore[union-attr]
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[text.lstrip("0123456789.")]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _run(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([FANGXIN, *args], env=env, check=True, capture_output=True, text=True)  # noqa: S603


async def _rows(db_url: str) -> int:
    conn = await asyncpg.connect(db_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM response"))
    finally:
        await conn.close()


async def _stored(db_url: str, acknowledged: dict[str, int]) -> int:
    """How many acknowledged submissions are in the database under the id we were given."""
    conn = await asyncpg.connect(db_url)
    try:
        rows = await conn.fetch(
            "SELECT client_submission_id::text AS c, id FROM response WHERE id = ANY($1::bigint[])",
            list(acknowledged.values()),
        )
    finally:
        await conn.close()
    found = {r["c"]: r["id"] for r in rows}
    return sum(1 for c, i in acknowledged.items() if found.get(c) == i)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="drive with the Python client even when wrk is installed",
    )
    args = parser.parse_args()

    await _admin(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
    await _admin(f"CREATE DATABASE {DB_NAME}")
    db_url = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
    data_dir = DATA / "bench"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "FANGXIN_DATABASE_URL": db_url,
        "FANGXIN_DATA_DIR": str(data_dir),
        "FANGXIN_ENV": "production",
        "FANGXIN_RATE_LIMIT_PER_MINUTE": "100000000",
    }
    # Several workers share sessions and rate limits through Redis, as in production (the
    # service refuses more than one worker without it).
    env["FANGXIN_REDIS_URL"] = REDIS_URL
    _run(["migrate"], env)
    secret = (data_dir / "secret_key").read_text(encoding="ascii").strip()
    _run(["demo"], env)
    for toml in sorted((ROOT / "surveys" / "questionnaires").glob("*.toml")):
        _run(["survey", "load", str(toml)], env)
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("ANALYZE")
        targets = [
            r["uscc"] for r in await conn.fetch("SELECT uscc FROM merchant WHERE status = 'active'")
        ]
    finally:
        await conn.close()

    server = subprocess.Popen(  # noqa: S603, ASYNC220 - the server under test
        [FANGXIN, "serve", "--port", str(args.port), "--workers", str(args.workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    try:
        for _ in range(100):
            try:
                _, w = await asyncio.open_connection(HOST, args.port)
                w.close()
                break
            except OSError:
                await asyncio.sleep(0.2)
        await _drive(args.port, 3, args.concurrency, targets, submit=True, secret=secret)  # warm-up
        work = data_dir / "wrk"
        work.mkdir(exist_ok=True)
        if use_wrk:
            client = "wrk (C, 2 threads)"
            bare = _wrk(
                args.port,
                min(10, args.seconds),
                args.concurrency,
                work,
                targets,
                submit=False,
                secret=secret,
            )
            before = await _rows(db_url)
            rate, p50, p99, acked = _wrk(
                args.port, args.seconds, args.concurrency, work, targets, submit=True, secret=secret
            )
            stored = acked  # checked by count below: wrk keeps no ids
        else:
            client = "Python asyncio keep-alive client (shares the CPU)"
            bare_t, bare_s = await _drive(
                args.port,
                min(10, args.seconds),
                args.concurrency,
                targets,
                submit=False,
                secret=secret,
            )
            bare = (
                len(bare_t.latencies) / bare_s,
                _pct(bare_t.latencies, 0.5),
                _pct(bare_t.latencies, 0.99),
                len(bare_t.latencies),
            )
            before = await _rows(db_url)
            tally, elapsed = await _drive(
                args.port, args.seconds, args.concurrency, targets, submit=True, secret=secret
            )
            acked = len(tally.acknowledged)
            rate = acked / elapsed
            p50, p99 = _pct(tally.latencies, 0.5), _pct(tally.latencies, 0.99)
            stored = await _stored(db_url, tally.acknowledged)
    finally:
        server.terminate()
        server.wait(timeout=20)
    added = await _rows(db_url) - before
    # Requests still in flight when the client stops are stored but never acknowledged:
    # at most one per connection.
    exact = stored == acked and acked <= added <= acked + args.concurrency
    met = rate >= 1000 and p99 < 100
    print(
        f"machine: {os.cpu_count()} cores; {args.workers} uvicorn workers; PostgreSQL; "
        f"concurrency {args.concurrency}; {args.seconds:.0f} s; client: {client}"
    )
    print(f"{'what':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print(
        f"{'bare GET /healthz (same server)':<34} {bare[0]:>9.0f} {bare[1]:>8.1f} {bare[2]:>8.1f}"
    )
    print(f"{'POST survey submission':<34} {rate:>9.0f} {p50:>8.1f} {p99:>8.1f}")
    print(
        f"acknowledged (2xx): {acked}; rows added during the run: {added}; "
        f"every acknowledged submission stored exactly once: {'yes' if exact else 'NO'}"
    )
    print(f"target >= 1000/s with p99 < 100 ms: {'met' if met else 'NOT met'}")
    sys.path.insert(0, str(ROOT))
    from bench.figures import record

    record(
        "submit.py",
        f"survey submissions, {args.concurrency} connections (bare /healthz {bare[0]:,.0f}/s)",
        f"{rate:,.0f}/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms; exactly once: "
        + ("yes" if exact else "NO"),
        "≥ 1,000/s, p99 < 100 ms",
        met and exact,
    )
    return 0 if exact else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
