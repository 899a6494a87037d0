"""A certificate check cannot be made to hold the server's memory or threads (issue 29, item
8): a quarter-megabyte PDF whose parts inflate to tens of MiB is answered having inflated at
most a few MiB (413 when a part it must read is too big), and checks beyond the pool's few
threads and short queue are told to retry (503) while pages go on answering."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from certificates import documents, signing, verification
from certificates.policy import Kind, policy_for
from certificates.signing import SignerConfig, sign
from service.kernel.pools import BlockingPool
from service.kernel.settings import Settings
from tests.certificates import tampering
from tests.certificates.test_cascade import _certificate
from tests.surveys.conftest import make_city
from tests.surveys.test_form import _hidden

FANGXIN = str(Path(sys.executable).with_name("fangxin"))
SERIAL = "ZMD-2026-M-000001-O"
MiB = 1024 * 1024
BOMB = 48 * MiB  # the probe's was 250 MiB; enough here to tell bounded from unbounded
MAX_PEAK = 8 * MiB  # what a bounded check may allocate at its worst (the caps are 2 MiB)


def _peak(fn: Callable[[], Any]) -> tuple[Any, int]:
    """``fn()``'s result (or the exception it raised) and the most memory Python held during
    it, above what it held before."""
    tracemalloc.start()
    try:
        try:
            result: Any = fn()
        except Exception as exc:
            result = exc
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


async def _genuine(client: httpx.AsyncClient) -> bytes:
    city = await make_city()
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, datetime.now(UTC))
    return (await client.get(f"/api/v1/certificates/{SERIAL}/pdf")).content


def _ours(settings: Settings) -> SignerConfig:
    return documents.signer_config(settings, policy_for(settings.certificate_policy))


def test_an_attachment_is_inflated_no_further_than_its_cap() -> None:
    stream = _Stream(tampering.deflate_bomb(BOMB))
    raised, peak = _peak(lambda: verification.attachment_bytes(stream))
    assert isinstance(raised, signing.InflatesTooMuch) and raised.status == 413
    assert peak < MAX_PEAK, f"{peak / MiB:.1f} MiB held to read a capped attachment"
    assert verification.attachment_bytes(_Stream(tampering.deflate_bomb(1000))) == b"\0" * 1000


class _Stream(dict[str, Any]):
    def __init__(self, encoded: bytes) -> None:
        super().__init__({"/Filter": "/FlateDecode"})
        self.encoded_data = encoded


async def test_a_self_signed_file_with_an_inflating_attachment_is_judged_without_reading_it(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    """The probe's file: signed by a key of its own, its certificate.json inflating to tens
    of MiB. Another key's file names no certificate, so its attachment is never read."""
    genuine = await _genuine(client)
    issuer = policy_for(app_settings.certificate_policy).issuer_zh
    forger = SignerConfig(folder=tmp_path / "forger", issuer_name=issuer)

    def made() -> bytes:
        return sign(tampering.inflating_attachment(genuine, BOMB), forger)

    bomb = await anyio.to_thread.run_sync(made)
    assert len(bomb) < MiB
    ours = _ours(app_settings)
    inspection, peak = await anyio.to_thread.run_sync(
        lambda: _peak(lambda: verification.inspect(bomb, ours))
    )
    assert isinstance(inspection, verification.Inspection), inspection
    assert inspection.signature.ours is False and inspection.identity is None
    assert peak < MAX_PEAK, f"{peak / MiB:.1f} MiB held to check a {len(bomb)} B file"

    started = time.monotonic()
    r = await client.post(
        "/api/v1/certificates/verify", files={"file": ("c.pdf", bomb, "application/pdf")}
    )
    assert r.status_code == 200 and r.json()["verdict"] == "not_ours", r.text
    assert time.monotonic() - started < 10


async def test_our_signature_over_an_inflating_attachment_is_refused_413(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    """Signed by our key (only our own mistake could make one): the attachment must be read
    to name the certificate, and reading stops at its cap."""
    genuine = await _genuine(client)
    ours = _ours(app_settings)
    bomb = await anyio.to_thread.run_sync(
        lambda: sign(tampering.inflating_attachment(genuine, BOMB), ours)
    )
    raised, peak = await anyio.to_thread.run_sync(
        lambda: _peak(lambda: verification.inspect(bomb, ours))
    )
    assert isinstance(raised, signing.InflatesTooMuch), raised
    assert peak < MAX_PEAK, f"{peak / MiB:.1f} MiB held to refuse a {len(bomb)} B file"

    r = await client.post(
        "/api/v1/certificates/verify", files={"file": ("c.pdf", bomb, "application/pdf")}
    )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "inflates past 64 KiB" in r.json()["detail"]

    form = await client.get("/verify/upload", headers={"accept": "text/html"})
    page = await client.post(
        "/verify/upload",
        files={"file": ("c.pdf", bomb, "application/pdf")},
        data={"_csrf_token": _hidden(form.text, "_csrf_token")},
        headers={"accept": "text/html"},
    )
    assert page.status_code == 413
    assert "压缩数据" in page.text and 'id="e-file"' in page.text


async def test_a_stream_the_check_must_decode_is_bounded_too(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    """The form dictionary every check reads, moved into an object stream that inflates to
    16 MiB at 20:1: under pyHanko's default bounds (64 MiB a stream, 100:1) this 0.7 MB file
    took 1.4 GB to check; under ours it stops at the 2 MiB cap."""
    genuine = await _genuine(client)
    bomb = await anyio.to_thread.run_sync(tampering.inflating_form, genuine, 16 * MiB)
    assert len(bomb) < MiB
    raised, peak = await anyio.to_thread.run_sync(
        lambda: _peak(lambda: verification.inspect(bomb, _ours(app_settings)))
    )
    assert isinstance(raised, signing.InflatesTooMuch), raised
    assert peak < MAX_PEAK, f"{peak / MiB:.1f} MiB held to refuse a {len(bomb)} B file"
    r = await client.post(
        "/api/v1/certificates/verify", files={"file": ("c.pdf", bomb, "application/pdf")}
    )
    assert r.status_code == 413 and "2,048 KiB" in r.json()["detail"], r.text
    # The offline command refuses it too, as it does any file that is not genuine (exit 2).
    path = tmp_path / "bomb.pdf"
    path.write_bytes(bomb)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FANGXIN_")}
    environ |= {
        "FANGXIN_DATA_DIR": str(app_settings.data_dir),
        "FANGXIN_DATABASE_URL": app_settings.database_url,
        "FANGXIN_ENV": "test",
    }
    command = [FANGXIN, "certificates", "check", str(path)]
    done = await anyio.to_thread.run_sync(
        lambda: subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120)
    )
    assert done.returncode == 2 and "it was not checked" in done.stderr, done.stderr
    # The genuine file still checks as before: the bounds are far above what it needs.
    r = await client.post(
        "/api/v1/certificates/verify", files={"file": ("c.pdf", genuine, "application/pdf")}
    )
    assert r.status_code == 200 and r.json()["verdict"] == "genuine", r.text


async def test_checks_beyond_the_pool_are_told_to_retry_while_pages_answer(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One slot and one place in the queue: a third check at once is refused at once (503,
    Retry-After), a queued one that waits too long too; the home page answers meanwhile."""
    release = threading.Event()
    started = threading.Semaphore(0)
    real = verification.inspect

    def slow(content: bytes, config: SignerConfig) -> verification.Inspection:
        started.release()
        release.wait(30)
        return real(content, config)

    monkeypatch.setattr(verification, "inspect", slow)
    monkeypatch.setattr(verification, "POOL", BlockingPool("checks", size=1, queue=1, wait=30))

    form = await client.get("/verify/upload", headers={"accept": "text/html"})
    token = _hidden(form.text, "_csrf_token")

    async def upload(path: str = "/api/v1/certificates/verify") -> httpx.Response:
        page = path.startswith("/verify")
        return await client.post(
            path,
            files={"file": ("c.pdf", b"%PDF-1.7 not really", "application/pdf")},
            data={"_csrf_token": token} if page else None,
            headers={"accept": "text/html"} if page else {},
        )

    answers: list[httpx.Response] = []

    async def kept(path: str = "/api/v1/certificates/verify") -> None:
        answers.append(await upload(path))

    async with anyio.create_task_group() as tg:
        tg.start_soon(kept)
        await anyio.to_thread.run_sync(started.acquire)  # the first holds the slot
        tg.start_soon(kept)  # the second waits in the queue
        await anyio.wait_all_tasks_blocked()
        assert verification.POOL._waiting == 1
        refused = await upload()
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "30"
        assert refused.headers["content-type"].startswith("application/problem+json")
        page = await upload("/verify/upload")
        assert page.status_code == 503 and "请稍后" in page.text, page.text
        home = await client.get("/", headers={"accept": "text/html"})
        assert home.status_code == 200
        release.set()
    assert [a.status_code for a in answers] == [200, 200]
    assert all(a.json()["verdict"] == "not_a_pdf" for a in answers)

    # A check that waits longer than the pool allows is refused as well.
    release.clear()
    monkeypatch.setattr(verification, "POOL", BlockingPool("checks", size=1, queue=5, wait=0.2))
    async with anyio.create_task_group() as tg:
        tg.start_soon(kept)
        await anyio.to_thread.run_sync(started.acquire)
        late = await upload()
        release.set()
    assert late.status_code == 503 and late.headers["retry-after"] == "1"
