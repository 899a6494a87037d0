"""Small helpers shared by HTTP tests."""

from __future__ import annotations

import errno
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from scoring.credit.demo_intake import Targets
from service.kernel import accounts
from service.kernel.audit import Actor
from service.kernel.models import Account, Role
from service.kernel.security import CSRF_COOKIE

TEST_ACTOR = Actor("test", "pytest")
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    """A port on 127.0.0.1 nobody listens on now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def small_disk(path: Path, mib: int) -> Iterator[Path]:
    """A file system of ``mib`` MiB at ``path`` for a test to fill: a tmpfs, which only root
    may mount; elsewhere the test is skipped, saying so."""
    path.mkdir(parents=True, exist_ok=True)
    mount = ["mount", "-t", "tmpfs", "-o", f"size={mib}m,mode=0755", "tmpfs", str(path)]
    try:
        done = subprocess.run(mount, capture_output=True, text=True, timeout=30, check=False)
    except OSError as exc:
        pytest.skip(f"no small file system to fill: cannot run mount ({exc})")
    if done.returncode != 0:
        pytest.skip(f"no small file system to fill: mounting a tmpfs needs root ({done.stderr})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "--lazy", str(path)], check=False, timeout=30)


def fill_disk(directory: Path) -> Path:
    """Fill ``directory``'s file system to the last byte with one file, returned (deleting it
    makes the room again)."""
    filler = directory / "filler"
    with filler.open("ab", buffering=0) as fh:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
    return filler


async def make_account(
    username: str,
    role: Role,
    *,
    merchant_uscc: str | None = None,
    district_code: str | None = None,
    area_code: str | None = None,
    password: str = PASSWORD,
) -> Account:
    return await accounts.create_account(
        username,
        password,
        role,
        merchant_uscc=merchant_uscc,
        district_code=district_code,
        area_code=area_code,
        actor=TEST_ACTOR,
    )


async def make_token(role: Role, name: str = "machine") -> str:
    _, plain = await accounts.create_token(name, role, actor=TEST_ACTOR)
    return plain


async def csrf(client: httpx.AsyncClient) -> str:
    """The CSRF token for this client's cookie jar (fetched with a GET when absent)."""
    token = client.cookies.get(CSRF_COOKIE)
    if token is None:
        await client.get("/login")
        token = client.cookies.get(CSRF_COOKIE)
    assert token, "the server sets a CSRF cookie on a GET"
    return token


async def login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> int:
    """Sign in through the real form; returns the response status (303 on success)."""
    token = await csrf(client)
    r = await client.post(
        "/login",
        data={"username": username, "password": password, "next": "/", "_csrf_token": token},
        follow_redirects=False,
    )
    return r.status_code


# A demo's 12315 intake a hundredth of the bureau's report, for tests that need the demo city
# but not the annual report's scale (tests/service/reports proves that scale).
SMALL_INTAKE = Targets(
    ca_complaints=12,
    ca_closed=11,
    ca_recovered_fen=1_000_000,
    total=380,
    regulator_complaints=98,
    reports=21,
    disputed_fen=18_000_000,
    recovered_fen=5_000_000,
    visits=228,
    rounds=2,
    categories=3,
    batches=8,
    batches_failed=3,
    cases=2,
)


async def commit_to_returns(*usccs: str, days: int = 7) -> None:
    """A returns commitment in force for each merchant: the policy asks merchants (and 80% of
    a street's) for one before certifying (issue 20)."""
    from datetime import UTC, datetime, timedelta

    from certificates.commitments.models import Commitment, CommitmentKind
    from service.kernel.models import Merchant

    since = datetime.now(UTC) - timedelta(days=1)
    for uscc in usccs:
        merchant = await Merchant.get(uscc=uscc)
        await Commitment.create(
            merchant_id=merchant.id,
            kind=CommitmentKind.RETURNS,
            returns_days=days,
            valid_from=since,
            declared_by="test",
            declared_as="merchant",
            declared_at=since,
        )
