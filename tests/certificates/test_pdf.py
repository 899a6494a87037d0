"""The certificate PDF read back: text, embedded CJK fonts, the QR code, the signature, and
the upload check that catches a single flipped byte, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import httpx

from certificates.models import Certificate
from certificates.policy import Kind
from service.models import Role
from service.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.helpers import make_token
from tests.surveys.conftest import make_city
from tests.surveys.test_qr import _decode_png, _rasterise_pdf


def _run(cmd: list[str]) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout


async def test_the_pdf_reads_back_and_an_altered_copy_is_caught(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000001-O", datetime.now(UTC)
    )
    r = await client.get(f"/api/v1/certificates/{cert.serial}/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf = r.content
    stored = await Certificate.get(id=cert.id)
    assert stored.pdf_sha256 == hashlib.sha256(pdf).hexdigest()
    # Rendered once: the second download is the same file.
    assert (await client.get(f"/api/v1/certificates/{cert.serial}/pdf")).content == pdf

    path = tmp_path / "cert.pdf"
    path.write_bytes(pdf)
    text = _run(["pdftotext", str(path), "-"])
    assert "老王烩面馆" in text and cert.serial in text and "放心消费承诺单位" in text
    fonts = _run(["pdffonts", str(path)])
    noto = [line for line in fonts.splitlines() if "Noto" in line]
    assert noto and all(" yes yes " in line for line in noto)  # embedded, subset
    (barcode,) = _decode_png(_rasterise_pdf(pdf, tmp_path, "cert"))
    assert barcode.text == f"{app_settings.base_url}/verify/{cert.serial}"

    check = await client.post(
        "/api/v1/certificates/verify", files={"file": ("cert.pdf", pdf, "application/pdf")}
    )
    assert check.json() == {
        "serial": cert.serial,
        "signature_valid": True,
        "issued_by_us": True,
        "unaltered": True,
        "status": "active",
    }
    # One byte flipped inside the signed content: no longer the file we issued, and the
    # signature says so; the certificate it claims to be is still named.
    altered = bytearray(pdf)
    altered[len(altered) // 3] ^= 0x01
    caught = (
        await client.post(
            "/api/v1/certificates/verify",
            files={"file": ("cert.pdf", bytes(altered), "application/pdf")},
        )
    ).json()
    assert caught["unaltered"] is False and caught["signature_valid"] is False
    assert caught["serial"] == cert.serial
    junk = await client.post(
        "/api/v1/certificates/verify", files={"file": ("x.pdf", b"not a pdf", "application/pdf")}
    )
    assert junk.json() == {
        "serial": None,
        "signature_valid": False,
        "issued_by_us": False,
        "unaltered": False,
        "status": None,
    }


async def test_an_inactive_certificate_is_not_handed_to_the_public(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000004-I", datetime.now(UTC)
    )
    await Certificate.filter(id=cert.id).update(status="revoked", status_reason="test")
    assert (await client.get(f"/api/v1/certificates/{cert.serial}/pdf")).status_code in (401, 403)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    assert (await client.get(f"/api/v1/certificates/{cert.serial}/pdf")).status_code == 200


async def test_a_batch_is_rendered_in_a_process_pool(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    from certificates import documents
    from certificates.policy import Policy

    city = await make_city()
    now = datetime.now(UTC)
    certs = [
        await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000011-K", now),
        await _certificate(
            Kind.MERCHANT, city.other_merchant, "天中超市", "ZMD-2026-M-000012-I", now
        ),
        await _certificate(Kind.STREET, city.street, "解放路步行街", "ZMD-2026-ST-000011-X", now),
    ]
    ticks: list[int] = []
    done = await documents.render_all(
        certs, app_settings, Policy.load(), progress=ticks.append, chunk=2
    )
    assert done == 3 and sum(ticks) == 3 and ticks == [2, 1]
    for cert in certs:
        stored = await Certificate.get(id=cert.id)
        assert stored.pdf_sha256
        served = await client.get(f"/api/v1/certificates/{cert.serial}/pdf")
        assert hashlib.sha256(served.content).hexdigest() == stored.pdf_sha256  # from the store
    assert await documents.render_all(certs, app_settings, Policy.load()) == 0  # nothing left
