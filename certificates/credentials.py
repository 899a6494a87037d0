"""The issuer as a did:web DID, and what it signs: Bitstring Status List credentials and each
certificate as a W3C Verifiable Credential (Data Model 2.0), secured as ``application/vc+jwt``.

Every payload is a function of stored state alone (no "now"), so with deterministic
signatures the same state is the same bytes on every worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from certificates import documents, jose, ld_context
from certificates.models import Certificate
from certificates.signing import IssuingKey
from certificates.status_lists import ListState, Purpose
from service.kernel.conditional import PUBLIC_MAX_AGE
from service.kernel.settings import Settings

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
DID_CONTEXT = ["https://www.w3.org/ns/did/v1", "https://www.w3.org/ns/cid/v1"]
STATUS_PATH = "/api/v1/certificates/status"


def did_of(base_url: str) -> str:
    """did:web of the service's URL: the host, its port percent-encoded, then each path
    segment as a ``:``-separated part (did:web §3.1)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}%3A{parts.port}"
    segments = [quote(s, safe="") for s in parts.path.split("/") if s]
    return ":".join(["did:web", host, *segments])


def timestamp(moment: datetime) -> str:
    """An XML Schema dateTimeStamp in UTC to the second, as VC 2.0 asks for."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Issuer:
    did: str
    kid: str  # the DID URL of the key: the DID, then its JWK thumbprint as fragment
    jwk: dict[str, str]
    alg: str
    key: IssuingKey
    name: str

    @classmethod
    def of(cls, settings: Settings, key: IssuingKey, name: str) -> Issuer:
        did = did_of(settings.base_url)
        jwk = jose.public_jwk(key.private_key)
        alg = jose.algorithm(key.private_key)
        return cls(did, f"{did}#{jose.thumbprint(jwk)}", jwk, alg, key, name)

    def sign(self, payload: dict[str, Any]) -> str:
        return jose.sign_vc(payload, self.key.private_key, self.kid)


def did_document(issuer: Issuer) -> dict[str, Any]:
    return {
        "@context": DID_CONTEXT,
        "id": issuer.did,
        "verificationMethod": [
            {
                "id": issuer.kid,
                "type": "JsonWebKey",
                "controller": issuer.did,
                "publicKeyJwk": issuer.jwk,
            }
        ],
        "assertionMethod": [issuer.kid],
    }


def jwks(issuer: Issuer) -> dict[str, Any]:
    return {"keys": [{**issuer.jwk, "kid": issuer.kid, "alg": issuer.alg, "use": "sig"}]}


def list_url(settings: Settings, purpose: Purpose) -> str:
    return f"{settings.base_url.rstrip('/')}{STATUS_PATH}/{purpose.value}"


def status_list_credential(settings: Settings, issuer: Issuer, state: ListState) -> dict[str, Any]:
    url = list_url(settings, state.purpose)
    credential: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer.did,
    }
    # The time of the newest change the list reflects: the same state, the same bytes.
    if state.newest_change is not None:
        credential["validFrom"] = timestamp(state.newest_change)
    credential["credentialSubject"] = {
        "id": f"{url}#list",
        "type": "BitstringStatusList",
        "statusPurpose": state.purpose.value,
        "encodedList": state.encoded,
        "ttl": PUBLIC_MAX_AGE * 1000,  # milliseconds: as long as caches may keep it
    }
    return credential


def _status_entry(settings: Settings, cert: Certificate, purpose: Purpose) -> dict[str, str]:
    url = list_url(settings, purpose)
    return {
        "id": f"{url}#{cert.status_index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": purpose.value,
        "statusListIndex": str(cert.status_index),
        "statusListCredential": url,
    }


def certificate_credential(settings: Settings, issuer: Issuer, cert: Certificate) -> dict[str, Any]:
    """Only what is fixed at issue: the status lives in the lists, so this never changes."""
    subject: dict[str, Any] = {
        "type": "CertifiedSubject",
        "kind": cert.kind.value,
        "code": cert.subject_code,
        "name": cert.subject_name,
        "serial": cert.serial,
        "policyVersion": cert.policy_version,
    }
    if cert.is_demo:  # as the PDF is marked: a demonstration certifies nothing
        subject["demo"] = True
    return {
        # Our context after the W3C one defines the subject's terms, so no claim is dropped.
        "@context": [VC_CONTEXT, ld_context.context_url(settings)],
        "id": documents.verify_url(settings, cert.serial),
        "type": ["VerifiableCredential", "FangxinCertificate"],
        "issuer": {"id": issuer.did, "name": issuer.name},
        "validFrom": timestamp(cert.valid_from),
        "validUntil": timestamp(cert.valid_until),
        "credentialSubject": subject,
        "credentialStatus": [_status_entry(settings, cert, p) for p in Purpose],
        # The context's digest, signed with the claims: what they mean cannot change later.
        "relatedResource": [ld_context.related_resource(settings)],
    }
