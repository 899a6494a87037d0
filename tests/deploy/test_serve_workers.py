"""`fangxin serve --workers N` refuses to split sessions and rate limits across workers."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REDIS_HOST, REDIS_PORT
from tests.helpers import free_port
from tests.service.test_cli import Fangxin


def test_several_workers_without_redis_refuse_to_start_saying_why(tmp_path: Path) -> None:
    result = Fangxin(tmp_path)("serve", "--workers", "2", "--port", str(free_port()))
    assert result.returncode == 1
    assert "--workers 2 needs FANGXIN_REDIS_URL" in result.stderr
    assert "sessions and rate limits" in result.stderr
    assert "serving" not in result.stdout.lower()


def test_one_worker_or_redis_gets_past_that_check(tmp_path: Path) -> None:
    """On an unmigrated database, serve stops at the next check, the migrations, instead."""
    fx = Fangxin(tmp_path)
    redis = {"FANGXIN_REDIS_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/0"}
    for args, env in [(("--workers", "1"), None), (("--workers", "2"), redis)]:
        result = fx("serve", *args, "--port", str(free_port()), env=env)
        assert result.returncode == 1, result.stderr
        assert "migrations pending" in result.stderr
        assert "FANGXIN_REDIS_URL" not in result.stderr
