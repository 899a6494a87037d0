"""The periodic jobs: the schedule, the slot leases that let workers race safely, the
``fangxin worker`` command, the jobs that run, and what officials see of them."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tarfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from scoring.satisfaction.models import RunStatus, ScoreRun
from service import jobs
from service.jobs import JobsConfigError, Schedule
from service.kernel import db as dbm
from service.kernel import outbox
from service.kernel.db import connection
from service.kernel.models import JobOutcome, JobRun, Role
from service.kernel.periodic import Details, JobConfig, JobContext, JobSpec
from service.kernel.settings import Settings, load_settings
from service.worker import JobScheduler
from tests.conftest import empty_database, make_app, serve_in_process
from tests.helpers import csrf, login, make_account, make_token
from tests.scoring.satisfaction.test_runs import _respond_varied
from tests.surveys.conftest import make_city

BEIJING = ZoneInfo("Asia/Shanghai")
FANGXIN = Path(sys.executable).parent / "fangxin"
HTML = {"accept": "text/html"}


def _schedule(*configs: JobConfig) -> Schedule:
    return Schedule(BEIJING, False, configs)


def _jobs_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Probe:
    """A job that records every slot it ran, taking ``takes`` seconds, optionally failing."""

    def __init__(self, takes: float = 0.0, error: str | None = None) -> None:
        self.takes = takes
        self.error = error
        self.slots: list[datetime] = []

    async def __call__(self, ctx: JobContext) -> Details:
        self.slots.append(ctx.slot)
        await asyncio.sleep(self.takes)
        if self.error:
            raise RuntimeError(self.error)
        return {"slot_second": ctx.slot.second}

    def spec(self, **kwargs: object) -> dict[str, JobSpec]:
        return {"probe": JobSpec("probe", "Probe", self, **kwargs)}  # type: ignore[arg-type]


# -- the schedule ---------------------------------------------------------------------------


def test_the_default_schedule_runs_the_night_in_order(tmp_path: Path) -> None:
    settings = load_settings({"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "development"})
    schedule = jobs.schedule_for(settings)
    assert schedule.embedded  # `make run`: one command, the web process runs the jobs
    assert schedule.timezone.key == "Asia/Shanghai"
    # Monday 16 March 2026, 10:00 in Beijing.
    now = datetime(2026, 3, 16, 10, 0, tzinfo=BEIJING)
    nxt = {j.name: j.next_slot(BEIJING, now) for j in schedule.jobs if j.enabled}
    assert nxt == {
        "certificate_sweep": datetime(2026, 3, 16, 10, 5, tzinfo=BEIJING),
        "credit_recompute": datetime(2026, 3, 17, 0, 15, tzinfo=BEIJING),
        "dispute_deadlines": datetime(2026, 3, 17, 0, 5, tzinfo=BEIJING),
        "dispute_contact_purge": datetime(2026, 3, 17, 2, 45, tzinfo=BEIJING),
        "screening": datetime(2026, 3, 17, 1, 30, tzinfo=BEIJING),
        "score_run": datetime(2026, 3, 23, 2, 0, tzinfo=BEIJING),  # the next Monday
        "backup": datetime(2026, 3, 17, 3, 30, tzinfo=BEIJING),
    }
    outbox = schedule.job("outbox")
    assert not outbox.enabled and outbox.off_reason and "FANGXIN_WEBHOOK_URL" in outbox.off_reason
    assert schedule.job("score_run").previous_slot(BEIJING, now) == datetime(
        2026, 3, 16, 2, 0, tzinfo=BEIJING
    )
    assert schedule.job("backup").option("keep") == 14
    hooked = load_settings(
        {
            "FANGXIN_DATA_DIR": str(tmp_path),
            "FANGXIN_ENV": "production",
            "FANGXIN_WEBHOOK_URL": "https://hooks.example/x",
            "FANGXIN_WEBHOOK_SECRET": "s" * 40,
        }
    )
    production = jobs.schedule_for(hooked)
    assert not production.embedded  # the web processes of production run no jobs
    assert production.job("outbox").enabled and production.job("outbox").every == 5
    # Interval slots lie on one grid, whenever a worker started: every worker sees the same.
    assert production.job("outbox").previous_slot(
        BEIJING, datetime(2026, 3, 16, 2, 0, 7, 300, tzinfo=UTC)
    ) == datetime(2026, 3, 16, 2, 0, 5, tzinfo=UTC)


def test_a_jobs_file_changes_the_schedule(tmp_path: Path) -> None:
    path = _jobs_file(
        tmp_path,
        'timezone = "UTC"\nembedded = false\n[backup]\ncron = "0 4 * * sun"\nkeep = 3\n'
        "[score_run]\nenabled = false\n[certificate_sweep]\nevery = 600\n",
    )
    settings = load_settings(
        {"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "development", "FANGXIN_JOBS": str(path)}
    )
    schedule = jobs.schedule_for(settings)
    assert (schedule.timezone.key, schedule.embedded) == ("UTC", False)
    backup = schedule.job("backup")
    assert (backup.cron, backup.option("keep")) == ("0 4 * * sun", 3)
    assert jobs.describe_schedule(backup) == (
        "%(days)s at %(t)s",
        {"days": "Sundays", "t": "04:00"},
    )
    assert not schedule.job("score_run").enabled
    sweep = schedule.job("certificate_sweep")
    assert (sweep.cron, sweep.every) == (None, 600)
    assert schedule.job("credit_recompute").cron == "15 0 * * *"  # untouched: the default


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[nightly]\n", "unknown key(s) nightly"),
        ('[backup]\ncron = "0 3 * * *"\nevery = 60\n', "cron or every, not both"),
        ('[backup]\ncron = "61 3 * * *"\n', "cron '61 3 * * *'"),
        ('[score_run]\ncron = "0 2 * * 1"\n', "name the weekdays"),
        ("[backup]\nkeep = 0\n", "keep must be a whole number"),
        ("[credit_recompute]\nwindow_days = 30\n", "unknown key(s) window_days"),
        ('timezone = "Mars/Olympus"\n', "not a time zone name"),
        ("embedded = true\n", "refused in production"),
        ("[backup\n", "FANGXIN_JOBS"),
    ],
)
def test_a_bad_jobs_file_is_refused_naming_the_variable(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _jobs_file(tmp_path, text)
    settings = load_settings(
        {"FANGXIN_DATA_DIR": str(tmp_path), "FANGXIN_ENV": "production", "FANGXIN_JOBS": str(path)}
    )
    with pytest.raises(JobsConfigError, match="FANGXIN_JOBS") as refused:
        jobs.schedule_for(settings)
    assert message in str(refused.value)


# -- leases and racing workers --------------------------------------------------------------


async def test_one_claim_wins_a_slot_however_many_race(db: Settings) -> None:
    slot = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
    won = await asyncio.gather(*(jobs.claim("probe", slot, f"worker-{i}") for i in range(8)))
    assert sum(won) == 1
    (row,) = await JobRun.filter(job="probe")
    assert row.worker == f"worker-{won.index(True)}" and row.outcome == JobOutcome.RUNNING
    # The next slot, and the same slot of another job, are free.
    assert await jobs.claim("probe", slot + timedelta(hours=1), "worker-0")
    assert await jobs.claim("other", slot, "worker-0")


async def test_two_schedulers_run_each_slot_once(db: Settings) -> None:
    probe = Probe(takes=0.3)  # long enough for the other scheduler to reach the same slot
    schedule = _schedule(JobConfig("probe", True, every=1))
    one = JobScheduler(db, schedule, specs=probe.spec())
    two = JobScheduler(db, schedule, specs=probe.spec())
    await one.start()
    await two.start()
    try:
        await asyncio.sleep(3.5)
    finally:
        await one.stop()
        await two.stop()
    ran = Counter(probe.slots)
    assert len(ran) >= 3
    assert set(ran.values()) == {1}, f"slots run twice: {ran}"
    rows = await JobRun.filter(job="probe").order_by("slot")
    assert [r.slot for r in rows] == sorted(ran)
    assert {r.outcome for r in rows} == {JobOutcome.OK}
    assert {r.worker for r in rows} <= {one.worker, two.worker}
    assert all(r.details == {"slot_second": r.slot.second} for r in rows)


async def test_a_failing_job_is_recorded_and_the_schedule_goes_on(db: Settings) -> None:
    probe = Probe(error="the receiver is down")
    scheduler = JobScheduler(db, _schedule(JobConfig("probe", True, every=1)), specs=probe.spec())
    await scheduler.start()
    try:
        await asyncio.sleep(2.5)
    finally:
        await scheduler.stop()
    rows = await JobRun.filter(job="probe")
    assert len(rows) >= 2  # the first failure did not end the schedule
    assert {r.outcome for r in rows} == {JobOutcome.FAILED}
    assert {r.error for r in rows} == {"RuntimeError: the receiver is down"}
    assert all(r.finished_at is not None for r in rows)


async def test_a_worker_catches_up_a_missed_slot_once(db: Settings) -> None:
    probe = Probe()
    schedule = _schedule(JobConfig("probe", True, cron="0 3 * * *"))
    now = datetime.now(UTC)
    missed = schedule.jobs[0].previous_slot(BEIJING, now)
    assert missed is not None
    # Before its first run a job has nothing to catch up: it waits for its slot.
    fresh = JobScheduler(db, schedule, specs=probe.spec())
    await fresh.start()
    await asyncio.sleep(0.3)
    await fresh.stop()
    assert probe.slots == []
    # It ran the day before the missed slot; then no worker was up at 03:00.
    await JobRun.create(
        job="probe",
        slot=missed - timedelta(days=1),
        worker="gone:1",
        started_at=missed - timedelta(days=1),
        lease_until=missed - timedelta(days=1),
        finished_at=missed - timedelta(days=1),
        outcome=JobOutcome.OK,
    )
    for _ in range(2):  # two workers start (or one twice): the missed slot runs once
        scheduler = JobScheduler(db, schedule, specs=probe.spec())
        await scheduler.start()
        for _ in range(30):
            if probe.slots:
                break
            await asyncio.sleep(0.1)
        await scheduler.stop()
    assert probe.slots == [missed]
    assert await JobRun.filter(job="probe").count() == 2


async def test_stopping_interrupts_a_long_run_and_records_it(db: Settings) -> None:
    probe = Probe(takes=60)
    scheduler = JobScheduler(db, _schedule(JobConfig("probe", True, every=1)), specs=probe.spec())
    await scheduler.start()
    for _ in range(30):
        if probe.slots:
            break
        await asyncio.sleep(0.1)
    await scheduler.stop(grace=0.1)
    (row,) = await JobRun.filter(job="probe")
    assert row.outcome == JobOutcome.FAILED
    assert row.error == "Interrupted: the worker stopped"


async def test_a_run_whose_worker_vanished_shows_as_interrupted(db: Settings) -> None:
    now = datetime.now(UTC)
    row = await JobRun.create(
        job="backup",
        slot=now - timedelta(hours=1),
        worker="crashed:7",
        started_at=now - timedelta(hours=1),
        lease_until=now - timedelta(minutes=50),
        outcome=JobOutcome.RUNNING,
    )
    assert jobs.run_state(row, now) == "interrupted"
    row.lease_until = now + timedelta(minutes=5)  # renewed: still going
    assert jobs.run_state(row, now) == "running"


# -- where the jobs run ---------------------------------------------------------------------


async def test_production_web_processes_run_no_jobs(app_settings: Settings, tmp_path: Path) -> None:
    every_second = _jobs_file(tmp_path, "[certificate_sweep]\nevery = 1\n")
    await empty_database(app_settings)
    production = replace(app_settings, env="production", jobs_file=every_second)
    async with serve_in_process(make_app(production), "http://test"):
        await asyncio.sleep(2.5)
        assert await JobRun.all().count() == 0
    # The same schedule with the web process running it (outside production): sweeps.
    embedded = _jobs_file(tmp_path, "embedded = true\n[certificate_sweep]\nevery = 1\n")
    async with serve_in_process(make_app(replace(app_settings, jobs_file=embedded)), "http://t"):
        for _ in range(40):
            if await JobRun.filter(job="certificate_sweep", outcome=JobOutcome.OK).exists():
                break
            await asyncio.sleep(0.1)
        assert await JobRun.filter(job="certificate_sweep", outcome=JobOutcome.OK).exists()


def _worker_env(settings: Settings, home: Path, jobs_file: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    env.update(
        {
            "FANGXIN_DATA_DIR": str(home),
            "FANGXIN_DATABASE_URL": settings.database_url,
            "FANGXIN_ENV": "production",
            "FANGXIN_JOBS": str(jobs_file),
        }
    )
    return env


async def test_two_worker_commands_share_the_schedule_and_stop_cleanly(
    app_settings: Settings, tmp_path: Path
) -> None:
    await empty_database(app_settings)
    jobs_file = _jobs_file(tmp_path, "[certificate_sweep]\nevery = 1\n")
    env = _worker_env(app_settings, tmp_path, jobs_file)
    workers = [
        await asyncio.create_subprocess_exec(
            str(FANGXIN),
            "worker",
            env=env,
            cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    try:
        await dbm.init_db(app_settings)
        try:
            for _ in range(200):
                if await JobRun.filter(outcome=JobOutcome.OK).count() >= 4:
                    break
                if any(w.returncode is not None for w in workers):
                    break  # one gave up: its output says why, below
                await asyncio.sleep(0.1)
            for w in workers:
                if w.returncode is None:
                    w.send_signal(signal.SIGTERM)
            outputs = [await asyncio.wait_for(w.communicate(), timeout=30) for w in workers]
            rows = await JobRun.all()
        finally:
            await dbm.close_db()
    finally:
        for w in workers:
            if w.returncode is None:
                w.kill()
                await w.wait()
    for w, (out, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err.decode()
        text = out.decode()
        assert "Fangxin worker running" in text and "Fangxin worker stopped." in text
        assert "certificate_sweep" in text
    assert len(rows) >= 4
    assert {r.job for r in rows} == {"certificate_sweep"}
    assert len({r.slot for r in rows}) == len(rows)
    # Stopped cleanly: every run finished, none left holding a lease.
    assert {r.outcome for r in rows} == {JobOutcome.OK}, [(r.outcome, r.error) for r in rows]


# -- the jobs themselves ----------------------------------------------------------------------


async def test_the_outbox_job_posts_to_the_webhook(db: Settings) -> None:
    bodies: list[bytes] = []

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        bodies.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hooked = replace(db, webhook_url=f"http://127.0.0.1:{port}/hook", webhook_secret="s" * 40)
    await outbox.enqueue(connection(), "certificate.revoked", {"serial": "ZMD-9"})
    config = jobs.schedule_for(hooked).job("outbox")
    assert config.enabled
    try:
        run = await jobs.run_slot(jobs.JOBS["outbox"], config, hooked, datetime.now(UTC), "w")
    finally:
        server.close()
        await server.wait_closed()
    assert run is not None and run.outcome == JobOutcome.OK, run and run.error
    assert run.details == {"delivered": 1, "failed": 0}
    assert len(bodies) == 1 and b"ZMD-9" in bodies[0]


async def test_the_backup_job_keeps_the_newest_n(db: Settings, tmp_path: Path) -> None:
    settings = replace(db, data_dir=tmp_path)
    folder = tmp_path / jobs.BACKUP_DIR
    folder.mkdir()
    (folder / "by-hand.sqlite3").write_bytes(b"an operator's own copy")
    config = replace(jobs.schedule_for(settings).job("backup"), options={"keep": 2})
    spec = jobs.JOBS["backup"]
    first = datetime(2026, 3, 14, 19, 30, tzinfo=UTC)
    for day in range(3):
        run = await jobs.run_slot(spec, config, settings, first + timedelta(days=day), "w")
        assert run is not None and run.outcome == JobOutcome.OK, run and run.error
    assert sorted(p.name for p in folder.iterdir()) == [
        "by-hand.sqlite3",  # not one of the scheduled backups: left alone
        "fangxin-20260315T193000Z.tar",
        "fangxin-20260316T193000Z.tar",
    ]
    newest = folder / "fangxin-20260316T193000Z.tar"
    with tarfile.open(newest) as archive:  # what `fangxin backup` writes
        assert "manifest.json" in archive.getnames()
    last = await JobRun.get(job="backup", slot=first + timedelta(days=2))
    assert last.details == {
        "file": newest.name,
        "bytes": newest.stat().st_size,
        "removed": 1,
    }


async def test_the_score_run_job_screens_first_then_drafts(db: Settings) -> None:
    city = await make_city()
    # Twenty ratings of one merchant within a minute: a surge, which only screening finds
    # (on arrival each looks fine). Unscreened, the run would count all of them.
    await _respond_varied(city.merchant, base=4, nps=6, times=20)
    config = jobs.schedule_for(db).job("score_run")
    slot = datetime.now(UTC).replace(microsecond=0)
    run = await jobs.run_slot(jobs.JOBS["score_run"], config, db, slot, "w")
    assert run is not None and run.outcome == JobOutcome.OK, run and run.error
    draft = await ScoreRun.get(id=run.details["run"])
    assert draft.status == RunStatus.DRAFT  # for officials to review, never published
    assert draft.counts["responses"] == 20 and draft.counts["excluded"] == 20
    assert run.details["flags_raised"] == 20 and run.details["screened"] == 20


async def test_the_score_run_job_drafts_nothing_without_responses(db: Settings) -> None:
    config = jobs.schedule_for(db).job("score_run")
    run = await jobs.run_slot(jobs.JOBS["score_run"], config, db, datetime.now(UTC), "w")
    assert run is not None and run.outcome == JobOutcome.OK
    assert "run" not in run.details and await ScoreRun.all().count() == 0


# -- what officials see ---------------------------------------------------------------------


async def _history(now: datetime, schedule: Schedule) -> None:
    """Credit ok, the sweep failed, the backup's worker vanished, screening stopped running."""

    async def ran(
        job: str,
        slot: datetime,
        outcome: JobOutcome,
        seconds: float,
        error: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        running = outcome == JobOutcome.RUNNING
        finished = None if running else slot + timedelta(seconds=seconds)
        # A running row whose lease ran out a minute ago: its worker is gone.
        lease = now - timedelta(minutes=1) if running else slot + timedelta(seconds=seconds)
        await JobRun.create(
            job=job,
            slot=slot,
            worker="fx-1:4242",
            started_at=slot,
            lease_until=lease,
            finished_at=finished,
            outcome=outcome,
            error=error,
            details=details or {},
        )

    def last(name: str, days: int = 0) -> datetime:
        slot = schedule.job(name).previous_slot(schedule.timezone, now - timedelta(days=days))
        assert slot is not None
        return slot

    await ran(
        "credit_recompute",
        last("credit_recompute"),
        JobOutcome.OK,
        1.5,
        details={"overdue_marked": 2, "merchants_changed": 37},
    )
    await ran(
        "certificate_sweep",
        last("certificate_sweep"),
        JobOutcome.FAILED,
        0.4,
        error="OperationalError: database is locked",
    )
    await ran("backup", last("backup"), JobOutcome.RUNNING, 0)
    await ran("screening", last("screening", days=3), JobOutcome.OK, 12)


async def test_officials_see_each_jobs_last_run_outcome_and_next_run(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    schedule = jobs.schedule_for(app_settings)
    now = datetime.now(UTC)
    await _history(now, schedule)
    await make_account("offi1", Role.OFFICIAL)
    assert await login(client, "offi1") == 303
    client.headers["x-csrftoken"] = await csrf(client)

    page = await client.get("/official/jobs", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "定时任务" in text and "信用重算" in text and "每天 00:15" in text
    assert "OperationalError: database is locked" in text  # the failed sweep's error
    assert "中断" in text and "fx-1:4242" in text  # the backup's worker vanished
    assert "未启动" in text  # screening's last slot went by: no worker started it
    assert "重新评分商户: 37" in text
    assert "Web 进程不运行定时任务" in text  # test settings: not embedded

    api = await client.get("/api/v1/jobs")
    assert api.status_code == 200
    body = api.json()
    assert body["web_runs_jobs"] is False
    found = {j["name"]: j for j in body["jobs"]}
    assert list(found) == list(jobs.JOBS)
    sweep = found["certificate_sweep"]
    assert sweep["state"] == "failed"
    assert sweep["last_run"]["error"] == "OperationalError: database is locked"
    assert sweep["last_run"]["duration_s"] == pytest.approx(0.4)
    next_sweep = schedule.job("certificate_sweep").next_slot(schedule.timezone, now)
    assert next_sweep is not None
    assert datetime.fromisoformat(sweep["next_run_at"]) == next_sweep
    assert found["credit_recompute"]["state"] == "ok"
    assert found["credit_recompute"]["last_run"]["details"] == {
        "overdue_marked": 2,
        "merchants_changed": 37,
    }
    assert found["backup"]["state"] == "interrupted"
    assert found["screening"]["missed_slot"] is not None
    assert found["outbox"]["state"] == "off" and found["outbox"]["next_run_at"] is None
    assert found["score_run"]["state"] == "never" and found["score_run"]["last_run"] is None

    desk = await client.get("/official", headers=HTML)
    assert desk.status_code == 200
    assert "定时任务需要处理" in desk.text
    assert 'href="/official/jobs#job-certificate_sweep"' in desk.text
    assert 'href="/official/jobs#job-screening"' in desk.text
    assert 'href="/official/jobs#job-credit_recompute"' not in desk.text  # that one is fine

    english = await client.get("/official/jobs", params={"lang": "en"}, headers=HTML)
    assert "Periodic jobs" in english.text and "daily at 00:15" in english.text


async def test_the_desk_is_quiet_while_the_jobs_are_well(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    schedule = jobs.schedule_for(app_settings)
    slot = schedule.job("credit_recompute").previous_slot(schedule.timezone, datetime.now(UTC))
    assert slot is not None
    await JobRun.create(
        job="credit_recompute",
        slot=slot,
        worker="fx-1:1",
        started_at=slot,
        lease_until=slot,
        finished_at=slot + timedelta(seconds=2),
        outcome=JobOutcome.OK,
    )
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    found = {j["name"]: j for j in (await client.get("/api/v1/jobs")).json()["jobs"]}
    assert found["credit_recompute"]["state"] == "ok"
    assert found["credit_recompute"]["missed_slot"] is None
    await make_account("offi1", Role.OFFICIAL)
    del client.headers["authorization"]
    assert await login(client, "offi1") == 303
    desk = await client.get("/official", headers=HTML)
    assert "定时任务需要处理" not in desk.text
    assert 'href="/official/jobs"' in desk.text
