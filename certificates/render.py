"""The certificate PDF: A4 landscape, Noto Serif CJK, PDF/A-3b with the certificate's data as
a JSON attachment, a QR code to its live status, then signed by the issuing key."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from service.kernel import pdf
from service.kernel.qr import qr_svg

TEMPLATES = Path(__file__).parent / "templates"
_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


@dataclass(frozen=True, slots=True)
class CertificateDoc:
    serial: str
    kind: str
    title_zh: str
    title_en: str
    subject_name: str
    subject_code: str
    address: str
    issuer_zh: str
    issuer_en: str
    policy_version: str
    issued_at: str
    valid_from: str  # dates, as printed
    valid_until: str
    verify_url: str
    demo: bool
    issuer_fingerprint: str  # SHA-256 of the issuing certificate, for checking offline
    # A merchant's commitments in force when the file was made, as printed (issue 20).
    commitments: tuple[str, ...] = ()


def certificate_pdf(doc: CertificateDoc) -> bytes:
    """The unsigned PDF/A-3b (blocking: ~0.2 s warm; run it off the event loop)."""
    _, attachment_class, _, _ = pdf.weasyprint()
    # segno escapes the only text it embeds (the URL, in <title>): safe to mark.
    svg = Markup(qr_svg(doc.verify_url).decode("utf-8"))  # noqa: S704
    html = _env.get_template("certificates/certificate.html").render(doc=doc, qr=svg)
    data = json.dumps(asdict(doc), ensure_ascii=False, sort_keys=True)
    # A fresh Attachment per render: WeasyPrint consumes it.
    attachment = attachment_class(
        string=data,
        name="certificate.json",
        description="The certificate's data",
        relationship="Data",
    )
    return pdf.render(html, pdf_variant="pdf/a-3b", attachments=[attachment])
