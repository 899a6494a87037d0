"""Checking a certificate PDF someone hands us: signature, identity with what we issued, and
the live status of the certificate it claims to be."""

from __future__ import annotations

import hashlib
import re

import anyio

from certificates import issuance
from certificates.models import Certificate
from certificates.schemas import PdfCheck
from certificates.signing import SignerConfig, check

# The serial is written into the document's keywords at rendering (certificate.html).
_SERIAL = re.compile(r"fangxin-serial:([A-Z]{2,6}-\d{4}-(?:M|ST|SS)-\d{6}-[0-9A-Z])")


async def check_pdf(content: bytes, config: SignerConfig) -> PdfCheck:
    signature = await anyio.to_thread.run_sync(check, content, config)
    sha256 = hashlib.sha256(content).hexdigest()
    cert = await Certificate.get_or_none(pdf_sha256=sha256)
    if cert is None:
        # Not a file we issued byte for byte: say which certificate it claims to be, if any.
        match = _SERIAL.search(signature.keywords)
        if match:
            cert = await Certificate.get_or_none(serial=match.group(1))
    status = (await issuance.status_at(cert)).status if cert else None
    return PdfCheck(
        serial=cert.serial if cert else None,
        signature_valid=signature.signed and signature.intact,
        issued_by_us=signature.ours,
        unaltered=cert is not None and cert.pdf_sha256 == sha256,
        status=status,
    )
