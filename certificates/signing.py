"""The city's issuing key: PAdES signatures on certificate PDFs, and checking them.

A configured PKCS#12 file (``FANGXIN_SIGNING_P12``, password in
``FANGXIN_SIGNING_P12_PASSWORD``) is used when given; otherwise an ECDSA P-256 key and a
self-signed certificate are generated into the data dir on first use (ECDSA signs in ~0.03 s;
pyhanko reloads an RSA key on every signature). A self-signed certificate shows as "validity
unknown" in Acrobat: the verify page, which checks against this very certificate, is the
source of truth.

Everything here blocks (pyhanko runs its own event loop for the sync wrappers): call it from a
worker thread or process, never on the service's event loop.
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from certificates.coverage import SignedObject, whole_file
from service.kernel.disk import write_atomically
from service.kernel.errors import FangxinError

SIGNATURE_FIELD = "FangxinIssuer"
KEY_FILE = "issuer-key.pem"
CERT_FILE = "issuer-cert.pem"
CERT_YEARS = 10
RESERVED_BYTES = 4096  # for the signature container made with our generated key
# What checking an uploaded file may inflate: checking one of ours decodes ~6 KiB in all.
MAX_INFLATED_STREAM = 2 * 1024 * 1024
MAX_INFLATED_TOTAL = 8 * 1024 * 1024  # or the file's own size, if larger (≤ 5 MB uploads)


@dataclass(frozen=True, slots=True)
class KeyFiles:
    key: Path
    cert: Path


def ensure_key(folder: Path, issuer_name: str) -> KeyFiles:
    """The self-signed issuing key and certificate in ``folder``, created once (mode 0600).

    Web workers start at once on a fresh data dir and each wants the key: under a lock on
    the folder one makes it, and the others find it made."""
    files = KeyFiles(folder / KEY_FILE, folder / CERT_FILE)
    if files.key.exists() and files.cert.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        if not (files.key.exists() and files.cert.exists()):
            _make_key(files, issuer_name)
    finally:
        os.close(descriptor)  # and the lock with it
    return files


def _make_key(files: KeyFiles, issuer_name: str) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer_name),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{issuer_name} 放心消费证书签章"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365 * CERT_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_atomically(files.key, pem, "the generated issuing key", mode=0o600)
    try:
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
        write_atomically(files.cert, cert_pem, "the generated issuing certificate")
    except BaseException:
        files.key.unlink(missing_ok=True)  # no key without its certificate (a full disk)
        raise


@dataclass(frozen=True, slots=True)
class SignerConfig:
    folder: Path  # where a generated key lives
    issuer_name: str
    p12: Path | None = None
    p12_password: str | None = None


@lru_cache(maxsize=4)
def _signer(config: SignerConfig) -> object:
    from pyhanko.sign import signers

    if config.p12 is not None:
        password = config.p12_password.encode() if config.p12_password else None
        return signers.SimpleSigner.load_pkcs12(  # type: ignore[no-untyped-call]
            str(config.p12), passphrase=password
        )
    files = ensure_key(config.folder, config.issuer_name)
    return signers.SimpleSigner.load(  # type: ignore[no-untyped-call]
        str(files.key), str(files.cert)
    )


@dataclass(frozen=True, slots=True)
class IssuingKey:
    """The issuing key as ``cryptography`` objects: for JOSE signatures and for publishing the
    trust anchor. ``chain`` is the issuing certificate, then any others a PKCS#12 carries."""

    private_key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]


@lru_cache(maxsize=4)
def issuing_key(config: SignerConfig) -> IssuingKey:
    if config.p12 is not None:
        password = config.p12_password.encode() if config.p12_password else None
        bundle = pkcs12.load_pkcs12(config.p12.read_bytes(), password)
        if bundle.key is None or bundle.cert is None:
            raise ValueError(f"{config.p12} holds no key and certificate")
        cert = bundle.cert.certificate
        others = tuple(c.certificate for c in bundle.additional_certs)
        return IssuingKey(bundle.key, cert, (cert, *others))
    files = ensure_key(config.folder, config.issuer_name)
    key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
    return IssuingKey(key, cert, (cert,))


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER, as ``openssl x509 -fingerprint -sha256`` prints it."""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def signing_certificate(config: SignerConfig) -> object:
    """The issuing certificate (asn1crypto), the trust root our checks validate against."""
    return _signer(config).signing_cert  # type: ignore[attr-defined]


def _pdf17_signer(meta: object, signer: object) -> object:
    """pyHanko's signer, minus the ISO 32002 extension it registers for any ECDSA key: that
    extension raises the file to PDF 2.0, while PDF/A-3 is built on PDF 1.7 and ECDSA under
    PAdES is already valid there (ETSI EN 319 142, the ESIC extension pyHanko still adds)."""
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.signers.constants import ESIC_EXTENSION_1

    class Pdf17Signer(signers.PdfSigner):
        def register_extensions(self, pdf_out: Any, *, md_algorithm: str) -> None:
            pdf_out.ensure_output_version(version=(1, 7))
            if self.signature_meta.subfilter == SigSeedSubFilter.PADES:
                pdf_out.register_extension(ESIC_EXTENSION_1)

    return Pdf17Signer(meta, signer=signer)  # type: ignore[arg-type]


def sign(pdf: bytes, config: SignerConfig) -> bytes:
    """Sign last, as an incremental update (PAdES B-B, SHA-256), with an invisible field; the
    file stays PDF 1.7 with its PDF/A-3b metadata true."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.metadata.model import VENDOR
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    # pyHanko writes its own name as the XMP producer but appends it to the Info dictionary's;
    # PDF/A requires the two to agree, so the Info entry is made the same first.
    info_ref = writer.trailer.raw_get("/Info")
    info_ref.get_object()["/Producer"] = generic.TextStringObject(VENDOR)
    writer.mark_update(info_ref)
    # Our own P-256 key's signature container is about 1.2 KB: reserving room for it spares
    # pyhanko a dry-run signature to measure it. A configured PKCS#12 (any key, any chain) is
    # measured as usual.
    reserved = RESERVED_BYTES if config.p12 is None else None
    out = _pdf17_signer(meta, _signer(config)).sign_pdf(  # type: ignore[attr-defined]
        writer, bytes_reserved=reserved
    )
    return out.getvalue()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """What the signature of a file says, and the bytes it covers (its signed revision)."""

    pdf: bool  # the file reads as a PDF
    signed: bool  # it carries a signature
    valid: bool  # the signature verifies under the certificate it names (whoever's that is)
    ours: bool  # ... and that certificate is our issuing certificate
    intact: bool  # the signed bytes are unchanged
    whole_file: bool  # everything but the signature's own value is signed, nothing after
    signed_part: bytes | None = None  # the signed revision, when intact: the file as signed
    coverage: str = ""  # why the signature does not cover the whole file


NOT_A_PDF = SignatureCheck(False, False, False, False, False, False)
UNSIGNED = SignatureCheck(True, False, False, False, False, False)
# A signature that cannot be read or does not verify under any key: damaged, not someone
# else's (that needs a signature that holds under another key).
DAMAGED = SignatureCheck(True, True, False, False, False, False)


def _ours_signature(reader: Any) -> Any:
    sigs = reader.embedded_signatures
    for sig in sigs:
        if sig.field_name == SIGNATURE_FIELD:
            return sig
    return sigs[0] if sigs else None


def _signed_object(reader: Any, sig: Any) -> SignedObject:
    """Where the signature dictionary stands in the file's cross-reference data."""
    ref = sig.sig_field.raw_get("/V").reference
    xrefs = reader.xrefs
    offset = xrefs[ref]
    return SignedObject(
        number=ref.idnum,
        generation=ref.generation,
        offset=offset if isinstance(offset, int) else None,
        introduced_in=xrefs.get_introducing_revision(ref),
        last_changed_in=xrefs.get_last_change(ref),
        revisions=xrefs.total_revisions,
    )


class InflatesTooMuch(FangxinError):
    """An uploaded file whose compressed parts would inflate past what checking one of our
    certificates ever needs: refused unread, before it can take the server's memory."""

    status = 413
    title = "Payload too large"


def too_much(limit: int) -> InflatesTooMuch:
    return InflatesTooMuch(
        f"The file holds compressed data that inflates past {limit // 1024:,} KiB, far more "
        "than a certificate file holds: it was not checked."
    )


def decode_limits() -> Any:
    """pyHanko's decoding bounds for a file someone hands us. Its defaults (256 MiB a stream
    and a document) would let a quarter-megabyte upload take gigabytes across a few
    concurrent checks; checking one of ours decodes a few KiB."""
    from pyhanko.pdf_utils.decode_limits import (
        DecodeLimits,
        DocumentDecodeBudget,
        StreamDecodeLimits,
    )

    return DecodeLimits(
        per_stream=StreamDecodeLimits(max_output_size=MAX_INFLATED_STREAM),
        document_budget=DocumentDecodeBudget(base_allowance=MAX_INFLATED_TOTAL, max_ratio=1),
    )


def check(pdf: bytes, config: SignerConfig) -> SignatureCheck:
    """Is this PDF signed by our issuing key, unchanged since, and with nothing appended?

    pyHanko verifies the cryptography (the signature value, the digest of the signed ranges,
    the signer's certificate); whether those ranges are the whole file is judged from the
    bytes (``certificates.coverage``), never from pyHanko's coverage summary, which an
    incremental update can fool. A file whose streams would inflate past the bounds above
    raises ``InflatesTooMuch`` (413)."""
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError

    try:
        return _check(pdf, config)
    except PdfDecodeLimitError as exc:
        raise too_much(MAX_INFLATED_STREAM) from exc


def _check(pdf: bytes, config: SignerConfig) -> SignatureCheck:
    from pyhanko.pdf_utils.misc import PdfDecodeLimitError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    if pdf.lstrip()[:5] != b"%PDF-":
        return NOT_A_PDF
    try:
        reader = PdfFileReader(BytesIO(pdf), strict=False, decode_limits=decode_limits())
        reader.root  # noqa: B018 - a file without a readable catalogue is no PDF
    except PdfDecodeLimitError:
        raise
    except Exception:  # a damaged file: not a document we can read at all
        return NOT_A_PDF
    try:
        sig = _ours_signature(reader)
    except PdfDecodeLimitError:
        raise
    except Exception:  # a signature dictionary or container we cannot parse
        return DAMAGED
    if sig is None:
        return UNSIGNED
    root = signing_certificate(config)
    try:
        where = _signed_object(reader, sig)
        contents = bytes(sig.sig_object.raw_get("/Contents"))
        coverage = whole_file(pdf, list(sig.byte_range), contents, where)
        same_cert = sig.signer_cert.dump() == root.dump()  # type: ignore[attr-defined]
        status = validate_pdf_signature(
            sig, ValidationContext(trust_roots=[root], allow_fetching=False), skip_diff=True
        )
    except PdfDecodeLimitError:
        raise
    except Exception:  # pyhanko's errors for a broken container or byte range
        return DAMAGED
    if not status.valid:
        return DAMAGED
    _, len1, start2, len2 = (int(x) for x in sig.byte_range)
    intact = bool(status.intact)
    # The signed revision is read for identity only when its bytes are the ones signed.
    signed_part = (
        pdf[: start2 + len2] if intact and len1 <= start2 <= start2 + len2 <= len(pdf) else None
    )
    return SignatureCheck(
        pdf=True,
        signed=True,
        valid=True,
        ours=same_cert,
        intact=intact,
        whole_file=coverage.whole_file,
        signed_part=signed_part,
        coverage=coverage.reason,
    )
