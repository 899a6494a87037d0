"""Checking a certificate PDF someone hands us: whose signature it carries, whether anything
changed or was added since, and which certificate the signed part is.

A file's identity is read only from what the signature covers: the ``certificate.json``
attached inside the signed revision, and only when that revision's bytes are the ones signed.
Bytes after the signature (an incremental update that paints new text, rewrites the
document's keywords or restates the signature dictionary) are never read for identity, and a
file that has any is ``altered``, whatever else holds and whatever a library's summary says.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO
from typing import Any

from certificates import issuance, signing
from certificates.models import Certificate
from certificates.schemas import PdfCheck, Verdict
from certificates.signing import InflatesTooMuch, SignatureCheck, SignerConfig, check
from service.kernel.localtime import localdate
from service.kernel.pools import BlockingPool

ATTACHMENT = "certificate.json"  # written at rendering (render.certificate_pdf)
MAX_ATTACHMENT_BYTES = 64 * 1024
# Checks run two at a time in threads, with a short queue: a crowd of uploads (each a PDF
# parse and a signature check, ~0.1 s) waits its turn or is told to retry, and the threads,
# memory and interpreter lock that pages need are never all theirs.
POOL = BlockingPool("certificate file checks", size=2, queue=16, wait=15.0)


@dataclass(frozen=True, slots=True)
class Inspection:
    signature: SignatureCheck
    identity: dict[str, Any] | None  # the signed revision's certificate.json


def signed_identity(signed_part: bytes) -> dict[str, Any] | None:
    """The certificate data attached inside the signed revision, or None. Inflated at most to
    ``MAX_ATTACHMENT_BYTES`` (ours is under 1 KiB): past that, ``InflatesTooMuch``."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        root = PdfFileReader(
            BytesIO(signed_part), strict=False, decode_limits=signing.decode_limits()
        ).root
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
        for i in range(0, len(names) - 1, 2):
            if str(names[i]) == ATTACHMENT:
                data = attachment_bytes(names[i + 1].get_object()["/EF"]["/F"].get_object())
                found = json.loads(data) if data is not None else None
                return found if isinstance(found, dict) else None
    except InflatesTooMuch:
        raise
    except PdfDecodeLimitError as exc:
        raise signing.too_much(signing.MAX_INFLATED_STREAM) from exc
    except Exception:  # no attachment, or a damaged one: the signed part names no certificate
        return None
    return None


def attachment_bytes(stream: Any, limit: int = MAX_ATTACHMENT_BYTES) -> bytes | None:
    """An embedded file's bytes, inflated in one bounded step (never the whole of what a
    small stream may claim to hold); None for an encoding ours never uses."""
    filters = stream.get("/Filter")
    names = [str(f) for f in filters] if isinstance(filters, list) else [str(filters)]
    if filters is None:
        data = bytes(stream.encoded_data)
    elif names == ["/FlateDecode"] and stream.get("/DecodeParms") is None:
        data = zlib.decompressobj().decompress(stream.encoded_data, limit + 1)
    else:
        return None
    if len(data) > limit:
        raise signing.too_much(limit)
    return data


def inspect(content: bytes, config: SignerConfig) -> Inspection:
    """The blocking part (pyhanko): run it off the event loop, in ``POOL``. The signed part is
    read for identity only when the signature is ours: another key's file names nothing."""
    signature = check(content, config)
    signed = signature.signed_part if signature.ours else None
    return Inspection(signature, signed_identity(signed) if signed else None)


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


def verdict_from(
    signature: SignatureCheck, *, signature_valid: bool, unaltered: bool, matches_register: bool
) -> Verdict:
    """The verdict, from the very fields the answer carries: genuine only when every one holds."""
    if not signature.pdf:
        return Verdict.NOT_A_PDF
    if not signature.signed:
        return Verdict.UNSIGNED
    if not signature.valid:
        return Verdict.DAMAGED
    if not signature.ours:
        return Verdict.NOT_OURS
    if signature_valid and unaltered and matches_register:
        return Verdict.GENUINE
    return Verdict.ALTERED


DETAILS = {
    Verdict.GENUINE: "Signed by our issuing key, unchanged since, and matching our register: "
    "the status given is this certificate's live status.",
    Verdict.ALTERED: "Signed by our issuing key, but changed or extended after signing, or not "
    "what our register holds: do not trust this file. signed_serial names the certificate "
    "the signed part was, when that part is intact.",
    Verdict.DAMAGED: "The signature is damaged: it cannot be read or does not verify, so "
    "nothing in this file is vouched for. Do not trust it.",
    Verdict.NOT_OURS: "Signed, but with another key than our issuing key: do not trust this file.",
    Verdict.UNSIGNED: "The file carries no signature: do not trust it.",
    Verdict.NOT_A_PDF: "The file is not a readable PDF.",
}


def _detail(verdict: Verdict, signature: SignatureCheck) -> str:
    why = signature.coverage if verdict == Verdict.ALTERED and signature.intact else ""
    return f"{DETAILS[verdict]} ({why})" if why else DETAILS[verdict]


async def check_pdf(content: bytes, config: SignerConfig) -> PdfCheck:
    """The one check of a certificate file: the API, the upload page and the CLI call it."""
    inspection = await POOL.run(inspect, content, config)
    sig = inspection.signature
    identity = inspection.identity if sig.ours else None
    claimed = identity.get("serial") if identity else None
    signed_serial = claimed if isinstance(claimed, str) else None
    cert = await Certificate.get_or_none(serial=signed_serial[:32]) if signed_serial else None
    signature_valid = sig.valid and sig.intact
    unaltered = sig.ours and sig.intact and sig.whole_file
    matches_register = identity is not None and cert is not None and matches_record(identity, cert)
    verdict = verdict_from(
        sig,
        signature_valid=signature_valid,
        unaltered=unaltered,
        matches_register=matches_register,
    )
    genuine = verdict == Verdict.GENUINE and cert is not None
    return PdfCheck(
        serial=cert.serial if genuine and cert else None,
        signature_valid=signature_valid,
        issued_by_us=sig.ours,
        unaltered=unaltered,
        matches_register=matches_register,
        status=(await issuance.status_at(cert)).status if genuine and cert else None,
        verdict=verdict,
        signed_serial=signed_serial,
        detail=_detail(verdict, sig),
    )
