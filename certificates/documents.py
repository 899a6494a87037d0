"""Certificate PDFs: rendered and signed once, kept by content hash, served from the store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio

from certificates.models import Certificate
from certificates.policy import Policy
from certificates.render import CertificateDoc, certificate_pdf
from certificates.signing import SignerConfig, sign
from service.models import Merchant
from service.settings import Settings


def signer_config(settings: Settings, policy: Policy) -> SignerConfig:
    return SignerConfig(
        folder=settings.data_dir / "signing",
        issuer_name=policy.issuer_zh,
        p12=settings.signing_p12,
        p12_password=settings.signing_p12_password,
    )


def verify_url(settings: Settings, serial: str) -> str:
    return f"{settings.base_url.rstrip('/')}/verify/{serial}"


def _path(settings: Settings, sha256: str) -> Path:
    return settings.pdf_dir / sha256[:2] / f"{sha256}.pdf"


def _render_and_sign(doc: CertificateDoc, config: SignerConfig) -> bytes:
    return sign(certificate_pdf(doc), config)


async def pdf_of(cert: Certificate, settings: Settings, policy: Policy) -> bytes:
    """The certificate's signed PDF: from the store, or rendered and signed now (once)."""
    if cert.pdf_sha256:
        path = _path(settings, cert.pdf_sha256)
        if path.exists():
            return path.read_bytes()
    address = ""
    if cert.kind.value == "merchant":
        merchant = await Merchant.get_or_none(uscc=cert.subject_code)
        address = merchant.address if merchant else ""
    title_zh, title_en = policy.title(cert.kind)
    doc = CertificateDoc(
        serial=cert.serial,
        kind=cert.kind.value,
        title_zh=title_zh,
        title_en=title_en,
        subject_name=cert.subject_name,
        subject_code=cert.subject_code,
        address=address,
        issuer_zh=policy.issuer_zh,
        issuer_en=policy.issuer_en,
        policy_version=cert.policy_version,
        issued_at=cert.issued_at.date().isoformat(),
        valid_from=cert.valid_from.date().isoformat(),
        valid_until=cert.valid_until.date().isoformat(),
        verify_url=verify_url(settings, cert.serial),
        demo=cert.is_demo,
    )
    signed = await anyio.to_thread.run_sync(_render_and_sign, doc, signer_config(settings, policy))
    sha256 = hashlib.sha256(signed).hexdigest()
    path = _path(settings, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(signed)
    # Two first downloads at once: the first recorded file wins, the other is served that one
    # (each signature carries its own time, so the two files differ).
    won = await Certificate.filter(id=cert.id, pdf_sha256=None).update(pdf_sha256=sha256)
    if not won:
        await cert.refresh_from_db(fields=["pdf_sha256"])
        if cert.pdf_sha256 and cert.pdf_sha256 != sha256:
            path.unlink(missing_ok=True)
            return _path(settings, cert.pdf_sha256).read_bytes()
    cert.pdf_sha256 = sha256
    return signed
