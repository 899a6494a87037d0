"""Write the figures every bench recorded (bench/results/figures.jsonl) as one Markdown table,
with the machine's description, to bench/results/figures.md, and print it.

    .venv/bin/python bench/report.py
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sys
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path[0] = str(ROOT)

from bench.figures import FIGURES, RESULTS  # noqa: E402


async def _pg_version() -> str:
    conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test", timeout=5)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    try:
        pg = asyncio.run(_pg_version())
    except (OSError, asyncpg.PostgresError):
        pg = "unreachable"
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
        f"PostgreSQL {pg or '?'}"
    )


def main() -> int:
    if not FIGURES.exists():
        print("no figures recorded: run `make bench` first", file=sys.stderr)
        return 1
    latest: dict[tuple[str, str], dict[str, object]] = {}
    for line in FIGURES.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        latest[(row["bench"], row["what"])] = row  # the newest run of each figure wins
    lines = [
        f"Machine: {machine()}",
        "",
        "| bench | what | figure | target | met |",
        "|---|---|---|---|---|",
    ]
    for (bench, what), row in latest.items():
        met = row.get("met")
        mark = "" if met is None else ("yes" if met else "**no**")
        lines.append(f"| `{bench}` | {what} | {row['figure']} | {row['target']} | {mark} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / "figures.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
