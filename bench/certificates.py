"""Certificates: render + sign one, a batch of 200 in a process pool, and /verify under load.

    .venv/bin/python bench/certificates.py [--batch 200] [--seconds 10] [--concurrency 20]
                                           [--runs 20]

1. One certificate, warm (WeasyPrint imported, fonts loaded, key read): median of 20
   render + sign, and each part.
2. A batch in a pool of one process per core (WeasyPrint imported inside each worker).
3. ``GET /verify/{serial}`` through ``fangxin serve`` (2 workers, SQLite) with keep-alive
   clients: requests/s, p50 and p99, beside a bare ``GET /healthz`` on the same server.
Targets (issue 6): under 0.5 s per certificate, at least 8 per second in a batch, verify
p50 under 10 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from bench.env import REDIS_URL  # noqa: E402
from bench.figures import record  # noqa: E402
from certificates.render import CertificateDoc, certificate_pdf  # noqa: E402
from certificates.signing import SignerConfig, fingerprint, issuing_key, sign  # noqa: E402

FANGXIN = str(Path(sys.executable).parent / "fangxin")
HOST = "127.0.0.1"
DOC = CertificateDoc(
    serial="ZMD-2026-M-000001-O",
    kind="merchant",
    title_zh="放心消费承诺单位",
    title_en="Trusted-consumption merchant",
    subject_name="驿城区老王烩面馆",
    subject_code="9144030071526726XG",
    address="驻马店市驿城区解放路1号",
    issuer_zh="驻马店市市场监督管理局",
    issuer_en="Zhumadian Administration for Market Regulation",
    policy_version="2026.1",
    issued_at="2026-11-28",
    valid_from="2026-11-28",
    valid_until="2028-11-28",
    verify_url="http://127.0.0.1:8000/verify/ZMD-2026-M-000001-O",
    demo=False,
    issuer_fingerprint="",  # the bench's own key's, filled in by _doc
)


def _doc(config: SignerConfig) -> CertificateDoc:
    """The certificate as issued ones print it: with its issuing key's SHA-256 fingerprint
    (certificates/documents.py computes it the same way, before rendering)."""
    return replace(DOC, issuer_fingerprint=fingerprint(issuing_key(config).certificate))


def _one(args: tuple[CertificateDoc, SignerConfig]) -> int:
    doc, config = args
    return len(sign(certificate_pdf(doc), config))


def _warm(config: SignerConfig) -> None:
    _one((_doc(config), config))


def single(config: SignerConfig, runs: int = 20) -> dict[str, float]:
    doc = _doc(config)
    _one((doc, config))
    render, signing, total = [], [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        pdf = certificate_pdf(doc)
        t1 = time.perf_counter()
        sign(pdf, config)
        t2 = time.perf_counter()
        render.append(t1 - t0)
        signing.append(t2 - t1)
        total.append(t2 - t0)
    return {
        "render": statistics.median(render),
        "sign": statistics.median(signing),
        "total": statistics.median(total),
    }


def batch(config: SignerConfig, n: int) -> tuple[float, int]:
    workers = os.cpu_count() or 1
    doc = _doc(config)
    docs = [
        (replace(doc, serial=f"ZMD-2026-M-{i:06d}-X", subject_name=f"商户{i}号"), config)
        for i in range(n)
    ]
    with ProcessPoolExecutor(workers, initializer=_warm, initargs=(config,)) as pool:
        list(pool.map(_warm, [config] * workers))  # every worker warm before timing
        t0 = time.perf_counter()
        sizes = list(pool.map(_one, docs, chunksize=4))
        elapsed = time.perf_counter() - t0
    return n / elapsed, sum(sizes)


async def _setup_db(home: Path) -> str:
    env = {**os.environ, "FANGXIN_DATA_DIR": str(home), "FANGXIN_ENV": "production"}
    env.pop("FANGXIN_DATABASE_URL", None)
    subprocess.run([FANGXIN, "migrate"], env=env, check=True, capture_output=True)  # noqa: S603, ASYNC221 - set-up, before any load
    from certificates.models import Certificate, Status, StatusChange
    from certificates.policy import Kind
    from service.kernel import db
    from service.kernel.settings import load_settings

    now = datetime.now(UTC)
    async with db.database(load_settings(env)):
        cert = await Certificate.create(
            serial=DOC.serial,
            kind=Kind.MERCHANT,
            subject_code=DOC.subject_code,
            subject_name=DOC.subject_name,
            policy_version="2026.1",
            issued_by="bench",
            issued_at=now,
            valid_from=now,
            valid_until=now + timedelta(days=730),
            status=Status.ACTIVE,
            status_changed_at=now,
        )
        await StatusChange.create(
            certificate=cert, at=now, new_status=Status.ACTIVE, reason="issued", actor="bench"
        )
    return DOC.serial


async def _drive(
    port: int, path: str, seconds: float, concurrency: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{port}", limits=limits) as client:

        async def one() -> None:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                r = await client.get(path, headers={"accept": "text/html"})
                latencies.append(time.perf_counter() - t0)
                r.raise_for_status()

        t0 = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return len(latencies) / elapsed, sorted(latencies)


def _wrk(port: int, path: str, seconds: float, concurrency: int) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) by wrk: a C client, so the client is not what is timed."""
    from bench.submit import _ms

    out = subprocess.run(  # noqa: S603
        [
            shutil.which("wrk") or "wrk",
            "-t2",
            f"-c{concurrency}",
            f"-d{int(seconds)}s",
            "--latency",
            "-H",
            "Accept: text/html",
            f"http://{HOST}:{port}{path}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1))  # type: ignore[union-attr]
    if re.search(r"Non-2xx or 3xx responses", out):
        raise RuntimeError(f"{path} answered errors under load:\n{out}")
    return rate, p50, p99


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def verify_load(seconds: float, concurrency: int, port: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fangxin-bench-cert-") as tmp:
        home = Path(tmp)
        serial = await _setup_db(home)
        env = {
            **os.environ,
            "FANGXIN_DATA_DIR": str(home),
            "FANGXIN_ENV": "production",
            "FANGXIN_RATE_LIMIT_PER_MINUTE": "100000000",
        }
        env.pop("FANGXIN_DATABASE_URL", None)
        # Several workers share sessions and rate limits through Redis, as in production (the
        # service refuses more than one worker without it).
        env["FANGXIN_REDIS_URL"] = REDIS_URL
        server = subprocess.Popen(  # noqa: S603, ASYNC220 - the server under test
            [FANGXIN, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(100):
                try:
                    _, w = await asyncio.open_connection(HOST, port)
                    w.close()
                    break
                except OSError:
                    await asyncio.sleep(0.2)
            await _drive(port, f"/verify/{serial}", 2, concurrency)  # warm-up
            if shutil.which("wrk"):
                client = "wrk"
                bare_rate, bare_p50, bare_p99 = _wrk(port, "/healthz", seconds, concurrency)
                rate, p50, p99 = _wrk(port, f"/verify/{serial}", seconds, concurrency)
            else:
                client = "httpx (shares the CPU: install wrk with make bench)"
                bare_rate, bare = await _drive(port, "/healthz", seconds, concurrency)
                bare_p50, bare_p99 = _pct(bare, 0.5), _pct(bare, 0.99)
                rate, lat = await _drive(port, f"/verify/{serial}", seconds, concurrency)
                p50, p99 = _pct(lat, 0.5), _pct(lat, 0.99)
        finally:
            server.terminate()
            server.wait(timeout=20)
    return {
        "client": client,
        "rate": rate,
        "p50": p50,
        "p99": p99,
        "bare_rate": bare_rate,
        "bare_p50": bare_p50,
        "bare_p99": bare_p99,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--runs", type=int, default=20, help="timed runs of one certificate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fangxin-key-") as keys:
        config = SignerConfig(Path(keys), "驻马店市市场监督管理局")
        one = single(config, args.runs)
        rate, size = batch(config, args.batch)
    load = asyncio.run(verify_load(args.seconds, args.concurrency, args.port))
    print(f"machine: {os.cpu_count()} cores; ECDSA P-256 key; PDF/A-3b, Noto Serif CJK")
    print(
        f"one certificate, warm: {one['total'] * 1000:.0f} ms median of {args.runs} "
        f"(render {one['render'] * 1000:.0f} ms, sign {one['sign'] * 1000:.0f} ms)"
    )
    print(
        f"batch of {args.batch} in {os.cpu_count()} processes: {rate:.1f} certificates/s "
        f"({size / args.batch / 1024:.0f} KB each)"
    )
    print(
        f"GET /verify/{{serial}} (2 workers, SQLite, {args.concurrency} connections, "
        f"client {load['client']}, "
        f"{args.seconds:.0f} s): {load['rate']:.0f} req/s, p50 {load['p50']:.1f} ms, "
        f"p99 {load['p99']:.1f} ms; bare GET /healthz: {load['bare_rate']:.0f} req/s, "
        f"p50 {load['bare_p50']:.1f} ms"
    )
    met = one["total"] < 0.5 and rate >= 8 and load["p50"] < 10
    print(f"targets (< 0.5 s, >= 8/s, verify p50 < 10 ms): {'met' if met else 'NOT met'}")
    record(
        "certificates.py",
        "one certificate, render + sign",
        f"{one['total'] * 1000:.0f} ms",
        "< 0.5 s",
        one["total"] < 0.5,
    )
    record(
        "certificates.py",
        f"batch of {args.batch} certificates",
        f"{rate:.1f}/s",
        "≥ 8/s",
        rate >= 8,
    )
    record(
        "certificates.py",
        f"GET /verify/{{serial}}, {args.concurrency} connections",
        f"{load['rate']:,.0f} req/s, p50 {load['p50']:.1f} ms, p99 {load['p99']:.1f} ms",
        "p50 < 10 ms",
        load["p50"] < 10,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
