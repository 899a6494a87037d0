"""The certificate PDF read back: text, embedded CJK fonts, the QR code, the signature, and
the upload check that catches a single flipped byte, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pypdf import PdfReader
from pypdf.generic import StreamObject

from certificates import documents, issuance, verification
from certificates.models import Certificate
from certificates.policy import Kind
from certificates.schemas import Verdict
from scoring.satisfaction import runs
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.certificates.test_cascade import LENIENT, RULES, _certificate
from tests.helpers import TEST_ACTOR, commit_to_returns, make_token
from tests.scoring.satisfaction.test_pages import _responses
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

    # PDF 1.7 as PDF/A-3 requires, after signing too, and its metadata still true: the XMP
    # claims PDF/A-3b and says what the document information dictionary says.
    info = _run(["pdfinfo", str(path)])
    assert "PDF version:     1.7" in info
    reader = PdfReader(BytesIO(pdf))
    catalog = reader.root_object
    assert reader.pdf_header == "%PDF-1.7" and "/Version" not in catalog
    metadata = catalog["/Metadata"].get_object()
    assert isinstance(metadata, StreamObject)
    xmp = metadata.get_data().decode()
    assert 'pdfaid:part="3"' in xmp and 'pdfaid:conformance="B"' in xmp
    producer = reader.metadata.producer if reader.metadata else None
    assert producer and f'pdf:Producer="{producer}"' in xmp
    # The issuing certificate's fingerprint, printed small, is the one we publish.
    anchor = (await client.get("/trust/issuer.pem")).content
    published = x509.load_pem_x509_certificate(anchor).fingerprint(hashes.SHA256()).hex()
    assert published.upper() in text.replace(":", "").replace("\n", "").replace(" ", "")

    check = await client.post(
        "/api/v1/certificates/verify", files={"file": ("cert.pdf", pdf, "application/pdf")}
    )
    assert check.json() == {
        "serial": cert.serial,
        "signature_valid": True,
        "issued_by_us": True,
        "unaltered": True,
        "matches_register": True,
        "status": "active",
        "verdict": "genuine",
        "signed_serial": cert.serial,
        "detail": verification.DETAILS[Verdict.GENUINE],
    }
    junk = await client.post(
        "/api/v1/certificates/verify", files={"file": ("x.pdf", b"not a pdf", "application/pdf")}
    )
    assert junk.json() == {
        "serial": None,
        "signature_valid": False,
        "issued_by_us": False,
        "unaltered": False,
        "matches_register": False,
        "status": None,
        "verdict": "not_a_pdf",
        "signed_serial": None,
        "detail": verification.DETAILS[Verdict.NOT_A_PDF],
    }


async def test_an_inactive_certificate_is_not_handed_to_the_public(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000004-I", datetime.now(UTC)
    )
    assert (await client.get(f"/api/v1/certificates/{cert.serial}/pdf")).status_code == 200
    await Certificate.filter(id=cert.id).update(status="revoked", status_reason="test")
    assert (await client.get(f"/api/v1/certificates/{cert.serial}/pdf")).status_code in (401, 403)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    assert (await client.get(f"/api/v1/certificates/{cert.serial}/pdf")).status_code == 200


async def test_pdfs_are_signed_at_issue_and_never_after_a_withdrawal(db: Settings) -> None:
    city = await make_city()
    await commit_to_returns(city.merchant, city.other_merchant)
    await _responses(city.merchant, 31, db.secret_key)
    await runs.run_now(runs.parse_params({}), db, actor=TEST_ACTOR, publish=True)
    (cert,) = await documents.issue_signed(
        [issuance.Request(Kind.MERCHANT, city.merchant)],
        settings=db,
        policy=LENIENT,
        credit_rules=RULES,
        actor=TEST_ACTOR,
    )
    stored = await Certificate.get(id=cert.id)
    assert stored.pdf_sha256 and documents._path(db, stored.pdf_sha256).exists()
    files_before = sorted(db.pdf_dir.rglob("*.pdf"))

    # One issued before PDFs were signed at issue, revoked since: no PDF is signed for it,
    # by a download (officials included) or by a batch.
    revoked = await _certificate(
        Kind.MERCHANT, city.other_merchant, "天中超市", "ZMD-2026-M-000012-I", datetime.now(UTC)
    )
    await Certificate.filter(id=revoked.id).update(status="revoked", status_reason="test")
    revoked = await Certificate.get(id=revoked.id)
    with pytest.raises(documents.NoPdf):
        await documents.pdf_of(revoked, db, LENIENT)
    assert await documents.render_all([revoked], db, LENIENT) == 0
    assert sorted(db.pdf_dir.rglob("*.pdf")) == files_before
    assert (await Certificate.get(id=revoked.id)).pdf_sha256 is None


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
