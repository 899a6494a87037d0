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

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SIGNATURE_FIELD = "FangxinIssuer"
KEY_FILE = "issuer-key.pem"
CERT_FILE = "issuer-cert.pem"
CERT_YEARS = 10
RESERVED_BYTES = 4096  # for the signature container made with our generated key


@dataclass(frozen=True, slots=True)
class KeyFiles:
    key: Path
    cert: Path


def ensure_key(folder: Path, issuer_name: str) -> KeyFiles:
    """The self-signed issuing key and certificate in ``folder``, created once (mode 0600)."""
    files = KeyFiles(folder / KEY_FILE, folder / CERT_FILE)
    if files.key.exists() and files.cert.exists():
        return files
    folder.mkdir(parents=True, exist_ok=True)
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
    descriptor = os.open(files.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as fh:
        fh.write(pem)
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return files


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


def signing_certificate(config: SignerConfig) -> object:
    """The issuing certificate (asn1crypto), the trust root our checks validate against."""
    return _signer(config).signing_cert  # type: ignore[attr-defined]


def sign(pdf: bytes, config: SignerConfig) -> bytes:
    """Sign last, as an incremental update (PAdES B-B, SHA-256), with an invisible field."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter

    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf))
    # Our own P-256 key's signature container is about 1.2 KB: reserving room for it spares
    # pyhanko a dry-run signature to measure it. A configured PKCS#12 (any key, any chain) is
    # measured as usual.
    reserved = RESERVED_BYTES if config.p12 is None else None
    out = signers.PdfSigner(meta, signer=_signer(config)).sign_pdf(  # type: ignore[arg-type]
        writer, bytes_reserved=reserved
    )
    return out.getvalue()  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    signed: bool  # the file carries a signature at all
    intact: bool  # the signed bytes were not changed
    ours: bool  # made by our issuing key
    whole_file: bool  # nothing was added after the signature
    keywords: str = ""  # the document's keywords (where we write its serial)


def check(pdf: bytes, config: SignerConfig) -> SignatureCheck:
    """Is this PDF signed, unaltered since, and by our issuing key?"""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(BytesIO(pdf))
        sigs = reader.embedded_signatures
    except Exception:  # not a PDF, or a damaged one: simply not a signed certificate
        return SignatureCheck(False, False, False, False)
    try:
        keywords = str(reader.trailer_view["/Info"].get("/Keywords", ""))
    except Exception:  # no or a damaged document information dictionary
        keywords = ""
    if not sigs:
        return SignatureCheck(False, False, False, False, keywords)
    root = signing_certificate(config)
    try:
        status = validate_pdf_signature(
            sigs[0], ValidationContext(trust_roots=[root], allow_fetching=False)
        )
    except ValueError:  # pyhanko's SignatureValidationError is one
        return SignatureCheck(True, False, False, False, keywords)
    ours = status.signing_cert.dump() == root.dump()  # type: ignore[attr-defined]
    return SignatureCheck(
        True,
        bool(status.intact and status.valid),
        bool(ours and status.trusted),
        status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        keywords,
    )
