"""The published trust anchor: our issuing certificate at stable public addresses, so that a
verifier needs nothing from us but this certificate to check a certificate PDF offline
(pdfsig with an NSS database that trusts it, ``pyhanko sign validate --trust``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.types import ControllerRouterHandler

from certificates.documents import signer_config
from certificates.policy import policy_for
from certificates.signing import SignerConfig, fingerprint, issuing_key
from service.kernel.conditional import PUBLIC_CACHE_CONTROL, none_match, strong_etag
from service.kernel.security import PUBLIC_DOCUMENT
from service.kernel.settings import Settings

PEM_URL = "/trust/issuer.pem"
DER_URL = "/trust/issuer.der"
CHAIN_URL = "/trust/chain.pem"


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    fingerprint: str  # SHA-256 of the certificate's DER, colon-separated hex
    subject: str
    not_after: str  # the date the certificate ends, ISO
    pem: bytes
    der: bytes
    chain_pem: bytes  # the issuing certificate, then any others a configured PKCS#12 holds


@lru_cache(maxsize=4)
def anchor_of(config: SignerConfig) -> TrustAnchor:
    key = issuing_key(config)
    cert = key.certificate
    return TrustAnchor(
        fingerprint=fingerprint(cert),
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc.date().isoformat(),
        pem=cert.public_bytes(serialization.Encoding.PEM),
        der=cert.public_bytes(serialization.Encoding.DER),
        chain_pem=b"".join(c.public_bytes(serialization.Encoding.PEM) for c in key.chain),
    )


def anchor_for(settings: Settings) -> TrustAnchor:
    return anchor_of(signer_config(settings, policy_for(settings.certificate_policy)))


def _file(request: Request[Any, Any, State], content: bytes, media_type: str) -> Response[bytes]:
    etag = strong_etag(content)
    headers = {"etag": etag, "cache-control": PUBLIC_CACHE_CONTROL}
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(content, media_type=media_type, headers=headers)


@get(PEM_URL, opt=PUBLIC_DOCUMENT, cache_control=None, tags=["certificates"])
async def issuer_pem(request: Request[Any, Any, State]) -> Response[bytes]:
    """Our issuing certificate (PEM): the trust anchor for checking certificate PDFs offline."""
    return _file(request, anchor_for(request.app.state.settings).pem, "application/x-pem-file")


@get(DER_URL, opt=PUBLIC_DOCUMENT, cache_control=None, tags=["certificates"])
async def issuer_der(request: Request[Any, Any, State]) -> Response[bytes]:
    """Our issuing certificate (DER)."""
    return _file(request, anchor_for(request.app.state.settings).der, "application/pkix-cert")


@get(CHAIN_URL, opt=PUBLIC_DOCUMENT, cache_control=None, tags=["certificates"])
async def issuer_chain(request: Request[Any, Any, State]) -> Response[bytes]:
    """The issuing certificate and the chain a configured PKCS#12 carries (PEM)."""
    chain = anchor_for(request.app.state.settings).chain_pem
    return _file(request, chain, "application/pem-certificate-chain")


ROUTES: list[ControllerRouterHandler] = [issuer_pem, issuer_der, issuer_chain]
