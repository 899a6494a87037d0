"""The issuer's DID and keys, the signed status lists, and each certificate as a signed
credential: what a verifier needs to check a certificate without asking us about it."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from litestar import Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import PermissionDeniedException
from litestar.params import PathParameter

from certificates import credentials, issuance, jose, ld_context, signing, status_lists
from certificates.credentials import Issuer
from certificates.documents import signer_config
from certificates.models import Status
from certificates.policy import policy_for
from certificates.routes import Serial, _may_see_inactive
from service.kernel.conditional import (
    IMMUTABLE_CACHE_CONTROL,
    PRIVATE_CACHE_CONTROL,
    PUBLIC_CACHE_CONTROL,
    none_match,
    strong_etag,
)
from service.kernel.errors import NotFound
from service.kernel.security import PUBLIC_DOCUMENT
from service.kernel.settings import Settings

DID_MEDIA_TYPE = "application/did+json"


async def _issuer(request: Request[Any, Any, State]) -> Issuer:
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    # Reading (or, the first time, generating) the key touches files: off the event loop.
    key = await anyio.to_thread.run_sync(signing.issuing_key, signer_config(settings, policy))
    return Issuer.of(settings, key, policy.issuer_zh)


def _answer(
    request: Request[Any, Any, State],
    body: bytes,
    media_type: str,
    cache_control: str = PUBLIC_CACHE_CONTROL,
) -> Response[bytes]:
    """Deterministic bytes, so a strong tag; 304 when the client holds them already."""
    etag = strong_etag(body)
    headers = {"etag": etag, "cache-control": cache_control}
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


# did:web puts the document of a bare host at /.well-known/did.json and that of a DID with
# path segments at <path>/did.json: the second serves a base URL below a proxy's prefix.
@get(
    ["/.well-known/did.json", "/did.json"],
    opt=PUBLIC_DOCUMENT,
    cache_control=None,
    tags=["credentials"],
)
async def did_document(request: Request[Any, Any, State]) -> Response[bytes]:
    """The issuer's did:web document: its signing key as a JsonWebKey for assertions."""
    issuer = await _issuer(request)
    return _answer(request, jose.compact_json(credentials.did_document(issuer)), DID_MEDIA_TYPE)


@get("/.well-known/jwks.json", opt=PUBLIC_DOCUMENT, cache_control=None, tags=["credentials"])
async def jwks(request: Request[Any, Any, State]) -> Response[bytes]:
    """The same key as a JWK Set, ``kid`` being its DID URL."""
    issuer = await _issuer(request)
    return _answer(request, jose.compact_json(credentials.jwks(issuer)), "application/jwk-set+json")


@get(
    "/api/v1/certificates/status/{purpose:str}",
    opt=PUBLIC_DOCUMENT,
    cache_control=None,
    tags=["credentials"],
)
async def status_list(
    request: Request[Any, Any, State],
    purpose: Annotated[str, PathParameter(max_length=16)],
) -> Response[bytes]:
    """A Bitstring Status List credential (``application/vc+jwt``), ``revocation`` or
    ``suspension``: bit i is 1 when the certificate whose credential names index i is
    revoked (or suspended)."""
    if purpose not in {p.value for p in status_lists.Purpose}:
        raise NotFound(f"No status list {purpose!r}: revocation or suspension")
    settings: Settings = request.app.state.settings
    state = await status_lists.current(status_lists.Purpose(purpose))
    issuer = await _issuer(request)
    token = issuer.sign(credentials.status_list_credential(settings, issuer, state))
    return _answer(request, token.encode("ascii"), jose.MEDIA_TYPE)


@get(
    "/api/v1/certificates/{serial:str}/credential",
    opt=PUBLIC_DOCUMENT,
    cache_control=None,
    tags=["credentials"],
)
async def certificate_credential(
    request: Request[Any, Any, State], serial: Serial
) -> Response[bytes]:
    """The certificate as a Verifiable Credential (``application/vc+jwt``), its status in the
    lists it names: the public gets an active certificate's, a merchant its own, officials
    any."""
    settings: Settings = request.app.state.settings
    cert = await issuance.get_certificate(serial)
    state = await issuance.status_at(cert)
    active = state.status == Status.ACTIVE
    if not active and not await _may_see_inactive(request, cert):
        raise PermissionDeniedException(
            f"{serial} is {state.status.value}: its credential is not handed out"
        )
    issuer = await _issuer(request)
    token = issuer.sign(credentials.certificate_credential(settings, issuer, cert))
    # Only what anyone may fetch goes to shared caches.
    cache_control = PUBLIC_CACHE_CONTROL if active else PRIVATE_CACHE_CONTROL
    return _answer(request, token.encode("ascii"), jose.MEDIA_TYPE, cache_control)


@get(ld_context.CONTEXT_PATH, opt=PUBLIC_DOCUMENT, cache_control=None, tags=["credentials"])
async def certificate_context(request: Request[Any, Any, State]) -> Response[bytes]:
    """Our JSON-LD context (``application/ld+json``): the terms a certificate credential uses
    beyond the W3C VC 2.0 context. Every credential pins its SHA-384 in ``relatedResource``;
    it is versioned and never changes, so caches may keep it for a year."""
    settings: Settings = request.app.state.settings
    body = ld_context.context_bytes(ld_context.context_url(settings))
    return _answer(request, body, ld_context.MEDIA_TYPE, IMMUTABLE_CACHE_CONTROL)


ROUTES = [did_document, jwks, status_list, certificate_credential, certificate_context]
