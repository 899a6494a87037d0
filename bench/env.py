"""Where a bench run keeps its state. `make bench` uses the defaults; the benches' tests
(tests/bench) move each run to its own results folder, Redis database and PostgreSQL database
names, so a test run never meets a `make bench`, another checkout's test run, or the figures
of the last real run:

    FANGXIN_BENCH_RESULTS    the folder of figures.jsonl and figures.md (bench/results)
    FANGXIN_BENCH_DATA       the parent of the served benches' data folders (var)
    FANGXIN_BENCH_REDIS_URL  the Redis of the servers under test (redis://127.0.0.1:6379/0)
    FANGXIN_BENCH_DB_SUFFIX  appended to each bench's PostgreSQL database name (nothing)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(os.environ.get("FANGXIN_BENCH_RESULTS") or ROOT / "bench" / "results")
DATA = Path(os.environ.get("FANGXIN_BENCH_DATA") or ROOT / "var")
REDIS_URL = os.environ.get("FANGXIN_BENCH_REDIS_URL") or "redis://127.0.0.1:6379/0"


def database(name: str) -> str:
    """A bench's PostgreSQL database name, with this run's suffix (a plain identifier)."""
    full = name + os.environ.get("FANGXIN_BENCH_DB_SUFFIX", "")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", full):
        raise ValueError(f"not a plain database name: {full!r}")
    return full
