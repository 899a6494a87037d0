"""A score run whose process died does not stay ``running`` forever (issue 29): the process
computing a run renews its lease; a run past its lease is marked failed, with the reason, by
whoever looks next, and may then be discarded."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from scoring.satisfaction import runs
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.errors import Conflict
from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from tests.helpers import TEST_ACTOR, make_token

# A process that starts a run and computes it, its load hanging (a run over a big city), its
# lease short and renewed often: the stand-in for `fangxin score run` or a web worker.
HANGING_RUN = """
import asyncio, time
from datetime import timedelta
from scoring.satisfaction import runs
from service.kernel import db
from service.kernel.audit import Actor
from service.kernel.settings import load_settings

runs.LEASE = timedelta(seconds=2)
runs.RENEW_EVERY = 0.2
runs.load = lambda settings, window: time.sleep(3600)
settings = load_settings()

async def main():
    async with db.database(settings):
        run = await runs.start_run(runs.parse_params({}), actor=Actor("test", "doomed"))
        print(run.id, flush=True)
        await runs.compute_run(run.id, settings, actor=Actor("test", "doomed"))

asyncio.run(main())
"""


async def _lease_of(run_id: int) -> datetime:
    until = (await ScoreRun.get(id=run_id)).lease_until
    assert until is not None
    return until


async def test_a_run_killed_mid_run_is_failed_with_the_reason_and_discarded(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env |= {
        "FANGXIN_DATA_DIR": str(app_settings.data_dir),
        "FANGXIN_DATABASE_URL": app_settings.database_url,
        "FANGXIN_ENV": "test",
        "FANGXIN_SECRET_KEY": app_settings.secret_key,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HANGING_RUN,
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
        assert line.strip().isdigit(), (line, await proc.stderr.read() if proc.stderr else b"")
        run_id = int(line)
        client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
        # Alive, it renews its lease: the run stays running and the lease moves on.
        first = await _lease_of(run_id)
        for _ in range(300):
            if await _lease_of(run_id) > first:
                break
            await asyncio.sleep(0.05)
        assert await _lease_of(run_id) > first
        r = await client.get(f"/api/v1/scoring/runs/{run_id}")
        assert r.json()["status"] == "running"
        refused = await client.post(
            f"/api/v1/scoring/runs/{run_id}/discard", json={"reason": "too slow"}
        )
        assert refused.status_code == 409  # a live run is not taken from its process
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()

    # Dead, it renews nothing: once its lease has run out, whoever looks finds it failed.
    left = (await _lease_of(run_id) - datetime.now(UTC)).total_seconds()
    await asyncio.sleep(max(0.0, left) + 0.05)  # the clock must pass the lease: nothing to await
    run = (await client.get(f"/api/v1/scoring/runs/{run_id}")).json()
    assert run["status"] == "failed"
    assert run["error"].startswith("The process running it (") and "stopped" in run["error"]
    assert f":{proc.pid})" in run["error"]  # the holder: the machine and the killed process
    failed = await AuditEvent.filter(action="score_run.failed").get()
    assert failed.subject == f"score_run:{run_id}" and failed.actor == "system:fangxin"
    page = await client.get(f"/official/runs/{run_id}")
    assert page.status_code == 200
    r = await client.post(
        f"/api/v1/scoring/runs/{run_id}/discard", json={"reason": "its process was killed"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "discarded"
    assert (await client.post(f"/api/v1/scoring/runs/{run_id}/publish")).status_code == 409


async def test_every_look_fails_a_lapsed_run_and_spares_a_live_one(db: Settings) -> None:
    now = datetime.now(UTC)
    live = await runs.start_run(runs.parse_params({}), actor=TEST_ACTOR, now=now)
    assert live.lease_until == now + runs.LEASE and live.held_by
    assert await runs.fail_stopped(now + runs.LEASE - timedelta(seconds=1)) == []
    assert (await ScoreRun.get(id=live.id)).status == RunStatus.RUNNING
    assert await runs.fail_stopped(now + runs.LEASE + timedelta(seconds=1)) == [live.id]
    run = await ScoreRun.get(id=live.id)
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error == runs.STOPPED.format(
        holder=live.held_by, until=(now + runs.LEASE).isoformat()
    )
    # Every way of looking marks it: the list, the run, a discard, a new run.
    for look in ("get", "discard", "start"):
        stuck = await runs.start_run(runs.parse_params({}), actor=TEST_ACTOR)
        await ScoreRun.filter(id=stuck.id).update(lease_until=now - timedelta(minutes=1))
        if look == "get":
            assert (await runs.get_run(stuck.id)).status == RunStatus.FAILED
        elif look == "discard":
            discarded = await runs.discard_run(stuck.id, "process died", actor=TEST_ACTOR)
            assert discarded.status == RunStatus.DISCARDED
        else:
            await runs.start_run(runs.parse_params({}), actor=TEST_ACTOR)
            assert (await ScoreRun.get(id=stuck.id)).status == RunStatus.FAILED


async def test_a_run_given_up_while_it_computed_keeps_nothing(db: Settings) -> None:
    """Its process was only slow: the run was failed and discarded meanwhile; when the
    computation ends, its scores are not kept and the discard stands."""
    run = await runs.start_run(runs.parse_params({}), actor=TEST_ACTOR)
    await runs.fail_stopped(datetime.now(UTC) + runs.LEASE + timedelta(seconds=1))
    await runs.discard_run(run.id, "given up", actor=TEST_ACTOR)
    with pytest.raises(Conflict):
        await runs.compute_run(run.id, db, actor=TEST_ACTOR)
    after = await ScoreRun.get(id=run.id)
    assert (after.status, after.discarded_reason) == (RunStatus.DISCARDED, "given up")
    assert await UnitScore.filter(run_id=run.id).count() == 0
