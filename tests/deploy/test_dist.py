"""The offline bundle (`make dist`) installs with no network and serves; the systemd units verify.

The bundle test builds dist/fangxin-<version>-offline.tar.gz, unpacks it, runs its install.sh
into a fresh prefix inside a network namespace of its own (`unshare -n`: not even loopback,
so pip cannot reach any index; where that is not allowed, pip's --no-index alone stands),
then migrates a fresh SQLite database, serves it and asks /readyz, starts the worker, and
checks the venv holds the runtime set and no test or bench tool. It takes minutes (building
downloads every runtime wheel), so it runs in `make test-dist` (FANGXIN_TEST_DIST=1), not in
`make test`.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import unavailable
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
UNITS = ROOT / "deploy" / "systemd"
SHIPPED_FANGXIN = "/opt/fangxin/venv/bin/fangxin"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
DEV_TOOLS = {"pytest", "playwright", "pandas", "duckdb", "numpy", "mypy", "ruff", "hypothesis"}


def _name(line: str) -> str:
    return re.sub(r"[-_.]+", "-", line.split("==")[0]).lower()


# The systemd units: fast, in every run.


@pytest.mark.parametrize("unit", ["fangxin-web.service", "fangxin-worker.service"])
def test_the_systemd_unit_verifies_without_a_word(unit: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (Debian package systemd)")
        return
    text = (UNITS / unit).read_text(encoding="utf-8")
    assert text.count(SHIPPED_FANGXIN) == 1
    for hardening in (
        "User=fangxin",
        "EnvironmentFile=/etc/fangxin/fangxin.env",
        "Restart=always",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/fangxin",
        "NoNewPrivileges=yes",
    ):
        assert f"\n{hardening}\n" in text, hardening
    # verify checks that ExecStart's program exists: this checkout's stands in for /opt's.
    (tmp_path / unit).write_text(
        text.replace(SHIPPED_FANGXIN, str(Path(sys.executable).parent / "fangxin")),
        encoding="utf-8",
    )
    result = subprocess.run(
        [analyze, "verify", unit],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # An unknown or unparsable key is only a warning (exit 0): any output fails too.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_verify_would_see_a_misspelt_hardening_option(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        unavailable("systemd-analyze is not installed (Debian package systemd)")
        return
    text = (UNITS / "fangxin-web.service").read_text(encoding="utf-8")
    text = text.replace(SHIPPED_FANGXIN, str(Path(sys.executable).parent / "fangxin"))
    (tmp_path / "bad.service").write_text(
        text.replace("ProtectSystem=strict", "ProtectSystme=strict"), encoding="utf-8"
    )
    result = subprocess.run(
        [analyze, "verify", "bad.service"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Unknown key 'ProtectSystme'" in result.stderr


# The bundle: slow, in `make test-dist`.


def _network_namespace() -> list[str]:
    """``unshare -n`` (and loopback left down) where this user may make one, else nothing."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, timeout=10, check=False)
    return [unshare, "-n"] if probe.returncode == 0 else []


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not os.environ.get("FANGXIN_TEST_DIST"):
        pytest.skip(
            "the offline bundle takes minutes to build and install: `make test-dist` "
            "(FANGXIN_TEST_DIST=1)"
        )
    make = ["make", "--no-print-directory", "dist"]
    if os.environ.get("UV"):
        make.append(f"UV={os.environ['UV']}")
    subprocess.run(make, cwd=ROOT, check=True, timeout=1200)
    tarball = ROOT / "dist" / f"fangxin-{VERSION}-offline.tar.gz"
    unpacked = tmp_path_factory.mktemp("bundle")
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="data")
    return unpacked / f"fangxin-{VERSION}-offline"


@pytest.fixture(scope="module")
def installed(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle installed into a fresh prefix, with no network; the prefix."""
    prefix = tmp_path_factory.mktemp("prefix")
    home = tmp_path_factory.mktemp("home")
    # Nothing of this machine's pip configuration or caches: only what the bundle brings.
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        "HOME": str(home),
        "PIP_NO_INDEX": "1",
        "FANGXIN_SKIP_APT": "1",
    }
    result = subprocess.run(
        [*_network_namespace(), str(bundle / "install.sh"), str(prefix)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"== installed: {prefix}/venv/bin/fangxin" in result.stdout
    return prefix


@pytest.mark.dist
def test_the_install_had_no_network(installed: Path) -> None:
    """Where no network namespace may be made, the install above ran with pip --no-index and
    no index configured, but with the network there: said here, in the summary."""
    if not _network_namespace():
        pytest.skip(
            "no network namespace for this user (unshare -n): installed with the "
            "network present, pip --no-index only"
        )


@pytest.mark.dist
def test_the_bundle_holds_the_locked_runtime_set_and_its_installer(bundle: Path) -> None:
    names = {p.name for p in (bundle / "wheels").iterdir()}
    assert f"fangxin-{VERSION}-py3-none-any.whl" in names
    assert any(n.startswith("pip-") for n in names)
    pins = (bundle / "requirements.txt").read_text(encoding="utf-8")
    assert "litestar==2.25.0" in pins and "weasyprint==70.0" in pins
    assert not DEV_TOOLS & {_name(line) for line in pins.splitlines() if "==" in line}
    debs = (bundle / "debs.txt").read_text(encoding="utf-8").split()
    assert debs[0] == "python3.11" and "fonts-noto-cjk" in debs
    for shipped in ("fangxin-web.service", "fangxin-worker.service"):
        assert (bundle / "deploy" / "systemd" / shipped).read_text() == (
            UNITS / shipped
        ).read_text()
    assert (bundle / "deploy" / "nginx" / "fangxin.conf").is_file()
    assert "FANGXIN_DATABASE_URL=" in (bundle / "fangxin.env.example").read_text()
    checked = subprocess.run(
        ["sha256sum", "--check", "--quiet", "SHA256SUMS"],
        cwd=bundle,
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.dist
def test_the_installed_venv_is_the_runtime_set_and_nothing_more(
    bundle: Path, installed: Path
) -> None:
    listed = subprocess.run(
        [str(installed / "venv" / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        env={"PIP_CONFIG_FILE": os.devnull, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    have = {_name(line) for line in listed.splitlines() if "==" in line}
    assert not have & DEV_TOOLS
    wheels = {
        re.sub(r"[-_.]+", "-", p.name.split("-")[0]).lower() for p in (bundle / "wheels").iterdir()
    }
    # Every installed distribution came from the bundle; the bundle's wheels not installed
    # are those whose marker this Python does not meet (async-timeout before 3.11.3).
    assert have <= wheels
    assert wheels - have <= {"async-timeout"}


@pytest.fixture
def served(installed: Path, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FANGXIN_DATA_DIR": str(tmp_path / "data"),
        "FANGXIN_ENV": "test",
    }
    fangxin = str(installed / "venv" / "bin" / "fangxin")
    migrated = subprocess.run(
        [fangxin, "migrate"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert migrated.returncode == 0, migrated.stderr
    assert "0024_complaint_disclosure" in migrated.stdout + migrated.stderr
    port = free_port()
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [fangxin, "serve", "--port", str(port)], env=env, stdout=log, stderr=log, cwd=tmp_path
    )
    try:
        yield f"http://127.0.0.1:{port}", tmp_path
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


@pytest.mark.dist
def test_the_installed_bundle_migrates_serves_and_is_ready(served: tuple[str, Path]) -> None:
    url, home = served
    deadline = time.monotonic() + 60
    while True:
        try:
            answer = httpx.get(f"{url}/readyz", timeout=5)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, (home / "serve.log").read_text()
            time.sleep(0.3)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "ready"
    page = httpx.get(f"{url}/", timeout=30)
    assert page.status_code == 200
    assert "放心" in page.text or "Fangxin" in page.text


@pytest.mark.dist
def test_the_installed_worker_starts_and_stops_on_sigterm(installed: Path, tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "FANGXIN_DATA_DIR": str(tmp_path / "data"),
        "FANGXIN_ENV": "test",
    }
    fangxin = str(installed / "venv" / "bin" / "fangxin")
    subprocess.run([fangxin, "migrate"], env=env, capture_output=True, timeout=120, check=True)
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen([fangxin, "worker"], env=env, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while "Fangxin worker running" not in log_path.read_text():
                assert worker.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.3)
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=30) == 0, log_path.read_text()
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait(timeout=10)
