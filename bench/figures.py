"""One table of every benchmark: each bench records its headline figures here, and
`bench/report.py` (run last by `make bench`) writes them as one Markdown table with the
machine's description to bench/results/figures.md."""

from __future__ import annotations

import json
import time

from bench.env import RESULTS

FIGURES = RESULTS / "figures.jsonl"


def record(bench: str, what: str, figure: str, target: str = "", met: bool | None = None) -> None:
    """Append one figure (already formatted, with its unit) of ``bench``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    row = {"at": time.time(), "bench": bench, "what": what, "figure": figure, "target": target}
    if met is not None:
        row["met"] = met
    with FIGURES.open("a", encoding="utf-8") as out:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
