"""Where the workers of one ``fangxin serve`` keep their metric files.

prometheus_client decides once, when it is first imported, whether it counts in memory (one
process) or in files that any process can add up (its multiprocess mode, chosen by
``PROMETHEUS_MULTIPROC_DIR``). So the directory is named here, in a module that does not
import the client, by ``serve`` before uvicorn starts a worker: every worker then writes its
counts to its own file there, and a scrape answered by any worker reads them all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

from service.kernel.validation import int_or_none

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR: Final = "metrics"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to clear
        return True
    return True


def prepare(data_dir: Path) -> Path:
    """A fresh directory for this server's workers, ``<data dir>/metrics/<server pid>``,
    named in the environment the workers inherit.

    One directory per server, not one for the data dir: two servers on one data dir (two
    ports) must not add up each other's requests, nor clear each other's files. Directories
    of servers that are gone are removed; their counts start again from zero, as a restarted
    exporter's do, which Prometheus reads as a counter reset."""
    root = data_dir / METRICS_DIR
    root.mkdir(parents=True, exist_ok=True)
    for old in root.iterdir():
        pid = int_or_none(old.name, max_digits=10)
        if old.is_dir() and pid is not None and not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    mine = root / str(os.getpid())
    shutil.rmtree(mine, ignore_errors=True)  # left by an earlier process with our pid
    mine.mkdir()
    os.environ[MULTIPROC_ENV] = str(mine)
    return mine
