"""Forged, re-signed, mistyped and withdrawn certificates are each reported as what they are,
by the upload check and by the verify page."""

from __future__ import annotations

from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

import anyio
import httpx

from certificates import documents, signing
from certificates.models import Certificate
from certificates.policy import Kind, policy_for
from certificates.render import certificate_pdf
from certificates.serials import is_valid
from certificates.signing import SignerConfig, sign
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.helpers import make_token
from tests.surveys.conftest import make_city

SERIAL = "ZMD-2026-M-000001-O"


def _countersign(pdf: bytes, config: SignerConfig) -> bytes:
    """A second signature, in a field of its own, appended by another key."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    meta = signers.PdfSignatureMetadata(field_name="Countersignature")
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    signer = signing._signer(config)
    out = signers.PdfSigner(meta, signer=signer).sign_pdf(writer)  # type: ignore[arg-type]
    return out.getvalue()  # type: ignore[no-any-return]


def _vouched(check: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in check.items() if k not in ("detail", "signed_serial")}


async def _upload(client: httpx.AsyncClient, pdf: bytes) -> dict[str, object]:
    r = await client.post(
        "/api/v1/certificates/verify", files={"file": ("c.pdf", pdf, "application/pdf")}
    )
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


async def test_forgeries_and_a_withdrawn_original_are_told_apart(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    cert = await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, datetime.now(UTC))
    genuine = (await client.get(f"/api/v1/certificates/{SERIAL}/pdf")).content
    assert _vouched(await _upload(client, genuine)) == {
        "serial": SERIAL,
        "signature_valid": True,
        "issued_by_us": True,
        "unaltered": True,
        "matches_register": True,
        "status": "active",
        "verdict": "genuine",
    }

    # The same certificate drawn again and signed with someone else's key: a valid signature,
    # but not ours; nothing about the certificate it shows is vouched for.
    policy = policy_for(app_settings.certificate_policy)
    doc = await documents._doc(await Certificate.get(id=cert.id), app_settings, policy)
    stranger = SignerConfig(folder=tmp_path / "stranger", issuer_name="某某公司")
    # pyhanko runs an event loop of its own: off this one, as the service does.
    forged = await anyio.to_thread.run_sync(sign, certificate_pdf(doc), stranger)
    assert _vouched(await _upload(client, forged)) == {
        "serial": None,
        "signature_valid": True,
        "issued_by_us": False,
        "unaltered": False,
        "matches_register": False,
        "status": None,
        "verdict": "not_ours",
    }

    # Our file with a second signature appended by another key: our signature still holds over
    # what we signed, but the file was extended after it.
    countersigned = await anyio.to_thread.run_sync(_countersign, genuine, stranger)
    assert countersigned.startswith(genuine)
    checked = await _upload(client, countersigned)
    assert checked["issued_by_us"] is True and checked["unaltered"] is False
    assert checked["verdict"] == "altered" and checked["signed_serial"] == SERIAL
    assert checked["status"] is None

    # A serial with a wrong check character: named as mistyped, nothing found.
    wrong = SERIAL[:-1] + ("A" if SERIAL[-1] != "A" else "B")
    assert is_valid(SERIAL) and not is_valid(wrong)
    page = await client.get(f"/verify/{wrong}", headers={"accept": "text/html"})
    assert page.status_code == 404 and "校验位" in page.text
    assert (await client.get(f"/api/v1/certificates/{wrong}")).status_code == 404

    # The genuine file of a revoked certificate: signed by us, unaltered, and revoked.
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post(
        f"/api/v1/certificates/{SERIAL}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    assert r.status_code == 200
    assert _vouched(await _upload(client, genuine)) == {
        "serial": SERIAL,
        "signature_valid": True,
        "issued_by_us": True,
        "unaltered": True,
        "matches_register": True,
        "status": "revoked",
        "verdict": "genuine",
    }
    page = await client.get(f"/verify/{SERIAL}", headers={"accept": "text/html"})
    assert "已撤销" in page.text and "虚假宣传" in page.text
