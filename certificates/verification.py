"""Checking a certificate PDF someone hands us: whose signature it carries, whether anything
changed or was added since, and which certificate the signed part is.

A file's identity is read only from what the signature covers: the ``certificate.json``
attached inside the signed revision. Bytes after the signature (an incremental update that
paints new text or rewrites the document's keywords) are never read for identity, and a
file that has any is ``altered``, whatever else holds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

import anyio

from certificates import issuance
from certificates.models import Certificate
from certificates.schemas import PdfCheck, Verdict
from certificates.signing import SignatureCheck, SignerConfig, check
from service.localtime import localdate

ATTACHMENT = "certificate.json"  # written at rendering (render.certificate_pdf)
MAX_ATTACHMENT_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Inspection:
    signature: SignatureCheck
    identity: dict[str, Any] | None  # the signed revision's certificate.json


def signed_identity(signed_part: bytes) -> dict[str, Any] | None:
    """The certificate data attached inside the signed revision, or None."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        root = PdfFileReader(BytesIO(signed_part), strict=False).root
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):
            if str(names[i]) == ATTACHMENT:
                data = names[i + 1].get_object()["/EF"]["/F"].get_object().data
                if len(data) > MAX_ATTACHMENT_BYTES:
                    return None
                found = json.loads(data)
                return found if isinstance(found, dict) else None
    except Exception:  # no attachment, or a damaged one: the signed part names no certificate
        return None
    return None


def inspect(content: bytes, config: SignerConfig) -> Inspection:
    """The blocking part (pyhanko): run it off the event loop."""
    signature = check(content, config)
    identity = signed_identity(signature.signed_part) if signature.signed_part else None
    return Inspection(signature, identity)


def _day_of(moment: datetime) -> set[str]:
    # Files signed before dates were printed in Asia/Shanghai carry the UTC day; both name
    # the same moment of our register.
    return {localdate(moment), moment.astimezone(UTC).date().isoformat()}


def matches_record(identity: dict[str, Any], cert: Certificate) -> bool:
    """The signed data says what our register says of this certificate."""
    return (
        identity.get("serial") == cert.serial
        and identity.get("kind") == cert.kind.value
        and identity.get("subject_code") == cert.subject_code
        and identity.get("valid_from") in _day_of(cert.valid_from)
        and identity.get("valid_until") in _day_of(cert.valid_until)
    )


def verdict_of(inspection: Inspection, cert: Certificate | None) -> Verdict:
    sig = inspection.signature
    if not sig.pdf:
        return Verdict.NOT_A_PDF
    if not sig.signed:
        return Verdict.UNSIGNED
    if not sig.ours:
        return Verdict.NOT_OURS
    identity = inspection.identity
    if (
        sig.intact
        and sig.whole_file
        and identity is not None
        and cert is not None
        and matches_record(identity, cert)
    ):
        return Verdict.GENUINE
    return Verdict.ALTERED


DETAILS = {
    Verdict.GENUINE: "Signed by our issuing key, unchanged since, and matching our register: "
    "the status given is this certificate's live status.",
    Verdict.ALTERED: "Signed by our issuing key, but changed or extended after signing: do not "
    "trust this file. signed_serial names the certificate the signed part was.",
    Verdict.NOT_OURS: "Not signed by our issuing key: do not trust this file.",
    Verdict.UNSIGNED: "The file carries no signature: do not trust it.",
    Verdict.NOT_A_PDF: "The file is not a readable PDF.",
}


async def check_pdf(content: bytes, config: SignerConfig) -> PdfCheck:
    inspection = await anyio.to_thread.run_sync(inspect, content, config)
    sig = inspection.signature
    claimed = inspection.identity.get("serial") if inspection.identity else None
    cert = None
    if sig.ours and isinstance(claimed, str):
        cert = await Certificate.get_or_none(serial=claimed[:32])
    verdict = verdict_of(inspection, cert)
    genuine = verdict == Verdict.GENUINE and cert is not None
    status = (await issuance.status_at(cert)).status if genuine and cert else None
    return PdfCheck(
        serial=cert.serial if genuine and cert else None,
        signature_valid=sig.signed and sig.intact,
        issued_by_us=sig.ours,
        unaltered=genuine
        and cert is not None
        and cert.pdf_sha256 == hashlib.sha256(content).hexdigest(),
        status=status,
        verdict=verdict,
        signed_serial=claimed if sig.ours and isinstance(claimed, str) else None,
        detail=DETAILS[verdict],
    )
