"""A full data disk degrades the service and kills nothing (issue 29, item 2): writes that
find no room answer 507 (a page in the browser, problem+json for the API) and leave nothing
half-written; request metrics pause instead of the process dying of SIGBUS; /readyz and the
desk tell the operators. tests/deploy/test_disk_full.py proves it on a served
``fangxin serve --workers 2``."""

from __future__ import annotations

import errno
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tortoise.exceptions import OperationalError

from service.kernel import disk
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.conftest import BASE_URL, empty_database, make_app, serve_in_process, with_env
from tests.helpers import csrf, fill_disk, login, make_account, small_disk
from tests.surveys.conftest import make_city

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def small(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB file system (a tmpfs; the test is skipped where it cannot be mounted)."""
    with small_disk(tmp_path / "small", 8) as path:
        yield path


@pytest.fixture
def full_disk(small: Path) -> Path:
    """A data dir on a small file system filled to the last byte."""
    fill_disk(small)
    return small


def test_a_write_that_finds_no_room_leaves_nothing_and_says_what_was_lost(
    full_disk: Path,
) -> None:
    target = full_disk / "pdf" / "ab" / "x.pdf"
    with pytest.raises(disk.DiskFull) as raised:
        disk.write_atomically(target, b"%PDF" * 100_000, "the signed PDF of ZMD-1")
    assert raised.value.status == 507
    assert "the signed PDF of ZMD-1 could not be saved" in raised.value.detail
    assert isinstance(raised.value.__cause__, OSError)
    assert raised.value.__cause__.errno == errno.ENOSPC
    leftovers = [p for p in full_disk.rglob("*") if p.is_file() and p.name != "filler"]
    assert leftovers == [], "a write cut short by the full disk is never left behind"
    room = disk.space(full_disk, warn_below=1 << 30)
    assert room.state == disk.SpaceState.FULL and room.free_bytes < disk.FULL_BELOW


def test_full_disks_are_recognised_under_the_wrappers_they_come_in() -> None:
    sqlite_full = sqlite3.OperationalError("database or disk is full")
    wrapped = OperationalError(sqlite_full)
    wrapped.__cause__ = sqlite_full
    postgres = Exception("could not extend file")
    postgres.sqlstate = "53100"  # type: ignore[attr-defined]
    for exc in (OSError(errno.ENOSPC, "full"), OSError(errno.EDQUOT, "quota"), wrapped, postgres):
        assert disk.disk_full(exc), exc
    for exc in (OSError(errno.EACCES, "denied"), sqlite3.OperationalError("no such table")):
        assert not disk.disk_full(exc), exc


# Runs in a child: before the fix, the child died of SIGBUS (the test would otherwise die
# with it). It makes the request metrics' files with room to spare, fills the disk, then
# counts requests of routes never seen (each a new entry: the file must grow); with
# ``--start-full`` the disk is full before the first file is made.
_METRICS_CHILD = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    from service.metrics import RequestMetrics
    from tests.helpers import fill_disk

    metrics = RequestMetrics()
    if "--start-full" not in sys.argv:
        metrics.observe("GET", "/", 200, 0.01)
    fill_disk(Path(sys.argv[1]))
    for i in range(400):
        metrics.paused_until = 0.0  # try every time: each is a write that must not crash
        metrics.observe("GET", f"/route-{i}", 200, 0.01)
    families = list(MultiProcessCollector(CollectorRegistry(), sys.argv[1]).collect())
    print("scraped", len(families), "families")
    """
)


@pytest.mark.parametrize("start_full", [False, True], ids=["fills-up-later", "full-at-start"])
def test_request_metrics_pause_on_a_full_disk_instead_of_killing_the_process(
    tmp_path: Path, start_full: bool
) -> None:
    with small_disk(tmp_path / "small", 1) as metrics_dir:
        args = [sys.executable, "-c", _METRICS_CHILD, str(metrics_dir)]
        done = subprocess.run(
            [*args, "--start-full"] if start_full else args,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"the process died ({done.returncode}): {done.stderr}"
        assert "request metrics paused" in done.stdout + done.stderr
        assert "scraped" in done.stdout, done.stderr  # the files left are whole: a scrape reads
        files = list(metrics_dir.glob("*.db"))
        if start_full:
            assert files == [], "a file that could not be made is not left empty"
        else:
            assert sorted(p.name.split("_")[0] for p in files) == ["counter", "histogram"]
            assert all(p.stat().st_size > 0 for p in files)


async def test_on_a_full_disk_uploads_answer_507_and_reading_goes_on(
    app_settings: Settings, small: Path
) -> None:
    """The data dir full (the database elsewhere, as PostgreSQL would be): an applicant's
    files cannot be stored, and the page says so; pages, sign-ins and the desk work, the
    desk and /readyz say the disk is full."""
    settings = with_env(app_settings, data_dir=small)
    await empty_database(settings)
    app = make_app(settings)  # generates the issuing key, as a first start did long ago
    fill_disk(small)
    async with serve_in_process(app, BASE_URL) as client:
        city = await make_city()
        await make_account("shop", Role.MERCHANT, merchant_uscc=city.merchant)
        await make_account("inspector", Role.OFFICIAL)
        assert await login(client, "shop") == 303
        page = await client.post(
            "/merchant/applications",
            data={"statement": "承诺明码标价", "_csrf_token": await csrf(client)},
            files={"files": ("licence.pdf", PDF, "application/pdf")},
            headers={"accept": "text/html"},
        )
        assert page.status_code == 507
        assert "存储空间已满" in page.text and "页面浏览和下载不受影响" in page.text
        api = await client.post(
            "/api/v1/applications",
            data={"statement": "承诺明码标价"},
            files={"files": ("licence.pdf", PDF, "application/pdf")},
            headers={"x-csrftoken": await csrf(client), "accept": "application/json"},
        )
        assert api.status_code == 507, api.text
        assert api.headers["content-type"].startswith("application/problem+json")
        assert "the file licence.pdf could not be saved" in api.json()["detail"]
        assert not any(p.is_file() for p in (small / "applications").rglob("*"))
        assert (await client.get("/merchant/applications")).status_code == 200

        official = httpx.AsyncClient(transport=client._transport, base_url=BASE_URL)
        async with official:
            assert await login(official, "inspector") == 303
            desk = await official.get("/official", headers={"accept": "text/html"})
            assert desk.status_code == 200 and "数据磁盘已满" in desk.text
        ready = await client.get("/readyz")
        assert ready.status_code == 503 and "data disk full" in ready.json()["detail"]
        assert (await client.get("/", headers={"accept": "text/html"})).status_code == 200


async def test_the_desk_warns_before_the_disk_is_full_and_readyz_reports_it(
    app_settings: Settings,
) -> None:
    settings = with_env(app_settings, disk_warn_bytes=1 << 60)  # any disk is below this
    await empty_database(settings)
    async with serve_in_process(make_app(settings), BASE_URL) as client:
        await make_account("inspector", Role.OFFICIAL)
        assert await login(client, "inspector") == 303
        desk = await client.get("/official", headers={"accept": "text/html"})
        assert desk.status_code == 200 and "数据磁盘空间不足" in desk.text
        ready = await client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["disk"]["state"] == "low" and ready.json()["disk"]["free_bytes"] > 0
    async with serve_in_process(make_app(app_settings), BASE_URL) as client:
        assert await login(client, "inspector") == 303
        desk = await client.get("/official", headers={"accept": "text/html"})
        assert "数据磁盘" not in desk.text  # room enough: no warning
