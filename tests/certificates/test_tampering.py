"""Real tampered copies of a genuine certificate, each judged by our verify check and by two
validators we did not write (poppler's pdfsig with an NSS database trusting our published
issuing certificate, and pyHanko's validator with ``--trust``), on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest

from certificates.policy import Kind, policy_for
from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.certificates import tampering
from tests.certificates.test_cascade import _certificate
from tests.certificates.test_forgery import _upload
from tests.helpers import make_token
from tests.surveys.conftest import make_city
from tests.surveys.test_form import _hidden

SERIAL = "ZMD-2026-M-000001-O"
OTHER = "ZMD-2026-M-000002-M"
PYHANKO = str(Path(sys.executable).with_name("pyhanko"))


def _tool(cmd: list[str], *, stderr: bool = True) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    return done.stdout + (done.stderr if stderr else "")


def _nss_trusting(anchor: Path, folder: Path) -> str:
    """An NSS database trusting our issuing certificate, as the README tells a verifier."""
    if shutil.which("certutil") is None:
        pytest.fail("certutil (Debian's libnss3-tools) is missing: `make test` installs it")
    folder.mkdir()
    db = f"sql:{folder}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True)
    trust = ["certutil", "-A", "-d", db, "-n", "fangxin", "-t", "CT,C,C", "-i", str(anchor)]
    subprocess.run(trust, check=True)
    return db


def _pdfsig(pdf: Path, nss: str) -> str:
    return _tool(["pdfsig", "-nssdir", nss, str(pdf)])


def _pyhanko(pdf: Path, anchor: Path) -> str:
    validate = [PYHANKO, "sign", "validate", "--no-revocation-check", "--executive-summary"]
    # Its one-line summary, FIELD:FINGERPRINT:VALID|INVALID; its log lines go to stderr.
    command = [*validate, "--trust", str(anchor), "--trust-replace", str(pdf)]
    return _tool(command, stderr=False).strip()


async def test_tampered_copies_are_told_apart_by_us_and_by_standard_validators(
    client: httpx.AsyncClient, app_settings: Settings, tmp_path: Path
) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, now)
    await _certificate(Kind.MERCHANT, city.other_merchant, "天中超市", OTHER, now)
    genuine = (await client.get(f"/api/v1/certificates/{SERIAL}/pdf")).content
    anchor = tmp_path / "issuer.pem"
    anchor.write_bytes((await client.get("/trust/issuer.pem")).content)
    nss = _nss_trusting(anchor, tmp_path / "nss")
    issuer = policy_for(app_settings.certificate_policy).issuer_zh

    # pyHanko runs an event loop of its own: off this one.
    def made(fn: object, *args: object) -> bytes:
        return fn(*args)  # type: ignore[operator,no-any-return]

    cases = {
        "genuine": genuine,
        "painted": await anyio.to_thread.run_sync(made, tampering.paint_text, genuine),
        "keywords": await anyio.to_thread.run_sync(
            made, tampering.rewrite_keywords, genuine, OTHER
        ),
        "flipped": tampering.flip_byte(genuine),
        "stripped": await anyio.to_thread.run_sync(made, tampering.strip_signature, genuine),
        "resigned": await anyio.to_thread.run_sync(
            made, tampering.resign_as, genuine, tmp_path / "forger", issuer
        ),
    }
    seen: dict[str, tuple[dict[str, object], str, str]] = {}
    for name, pdf in cases.items():
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(pdf)
        seen[name] = (await _upload(client, pdf), _pdfsig(path, nss), _pyhanko(path, anchor))

    ours, pdfsig, pyhanko = seen["genuine"]
    assert ours["verdict"] == "genuine" and ours["serial"] == SERIAL
    assert ours["status"] == "active" and ours["unaltered"] is True
    assert "Total document signed" in pdfsig and "Signature is Valid" in pdfsig
    assert "Certificate is Trusted" in pdfsig
    assert pyhanko.endswith(":VALID")

    # Painted text: ours over the signed part, but extended after it; identity from the signed
    # part, never the new bytes.
    ours, pdfsig, pyhanko = seen["painted"]
    assert ours["verdict"] == "altered" and ours["signed_serial"] == SERIAL
    assert ours["serial"] is None and ours["status"] is None and ours["issued_by_us"] is True
    assert "Not total document signed" in pdfsig
    assert pyhanko.endswith(":INVALID")

    # Keywords naming another certificate: we still name the signed part's certificate, never
    # the other one. pyHanko's diff policy lets a metadata-only update pass as VALID: its
    # verdict alone would not catch this one, pdfsig's coverage line and ours do.
    ours, pdfsig, pyhanko = seen["keywords"]
    assert ours["verdict"] == "altered" and ours["signed_serial"] == SERIAL
    assert OTHER not in str(ours.values())
    assert "Not total document signed" in pdfsig
    assert pyhanko.endswith(":VALID")

    ours, pdfsig, pyhanko = seen["flipped"]
    assert ours["verdict"] == "altered" and ours["signature_valid"] is False
    assert ours["status"] is None
    assert "Digest Mismatch" in pdfsig
    assert pyhanko.endswith(":INVALID")

    ours, pdfsig, pyhanko = seen["stripped"]
    assert ours["verdict"] == "unsigned" and ours["serial"] is None and ours["status"] is None
    assert "does not contain any signatures" in pdfsig
    assert "FangxinIssuer" not in pyhanko

    # A self-made key whose certificate carries our very name: not ours, by every validator.
    ours, pdfsig, pyhanko = seen["resigned"]
    assert ours["verdict"] == "not_ours" and ours["issued_by_us"] is False
    assert ours["serial"] is None and ours["signed_serial"] is None
    assert "Signature is Valid" in pdfsig and "Certificate is Trusted" not in pdfsig
    assert pyhanko.endswith(":INVALID")

    junk = await _upload(client, b"not a pdf")
    assert junk["verdict"] == "not_a_pdf" and junk["serial"] is None

    # A genuine copy of a certificate revoked since: genuine, and revoked.
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    r = await client.post(
        f"/api/v1/certificates/{SERIAL}/revoke",
        json={"reason": "false_advertising", "note": "宣传不实"},
        headers=official,
    )
    assert r.status_code == 200
    ours = await _upload(client, genuine)
    assert ours["verdict"] == "genuine" and ours["status"] == "revoked"
    assert _pyhanko(tmp_path / "genuine.pdf", anchor).endswith(":VALID")


async def test_the_upload_form_says_the_verdict_in_plain_chinese(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", SERIAL, datetime.now(UTC))
    genuine = (await client.get(f"/api/v1/certificates/{SERIAL}/pdf")).content
    form = await client.get("/verify/upload", headers={"accept": "text/html"})
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
    token = _hidden(form.text, "_csrf_token")

    async def upload(pdf: bytes) -> httpx.Response:
        return await client.post(
            "/verify/upload",
            files={"file": ("c.pdf", pdf, "application/pdf")},
            data={"_csrf_token": token},
            headers={"accept": "text/html"},
        )

    page = await upload(genuine)
    assert page.status_code == 200 and "真实" in page.text and SERIAL in page.text
    altered = await anyio.to_thread.run_sync(tampering.paint_text, genuine)
    page = await upload(altered)
    assert "请勿相信" in page.text and SERIAL in page.text
    page = await upload(b"junk")
    assert "不是" in page.text
