"""Compact JWS (RFC 7515) with the issuing key, its public JWK (RFC 7517) and thumbprint
(RFC 7638), for credentials secured as VC-JOSE-COSE ``application/vc+jwt``.

ES256 signs with deterministic ECDSA (RFC 6979): the same payload gives the same bytes on
every worker and every restart, so a signed status list can carry a strong ETag and caches
agree. RS256 (PKCS#1 v1.5) is deterministic by construction.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

MEDIA_TYPE = "application/vc+jwt"
P256_BYTES = 32
RSA_MIN_BITS = 2048  # RFC 7518 §3.3


class UnsupportedKey(TypeError):
    """The issuing key is of a kind we do not sign JWS with."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")


def algorithm(key: PrivateKeyTypes | PublicKeyTypes) -> str:
    """The JWS algorithm for this key, or why it has none."""
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        if isinstance(key.curve, ec.SECP256R1):
            return "ES256"
        raise UnsupportedKey(f"an EC key on {key.curve.name}: only P-256 (ES256) is supported")
    if isinstance(key, rsa.RSAPrivateKey | rsa.RSAPublicKey):
        if key.key_size < RSA_MIN_BITS:
            raise UnsupportedKey(f"an RSA key of {key.key_size} bits: RS256 needs 2048 or more")
        return "RS256"
    raise UnsupportedKey(
        f"a {type(key).__name__}: the issuing key must be EC P-256 (ES256) or RSA (RS256)"
    )


def public_jwk(key: PrivateKeyTypes) -> dict[str, str]:
    """The public half as a JWK holding only the members RFC 7638 hashes."""
    algorithm(key)
    public = key.public_key()
    if isinstance(public, ec.EllipticCurvePublicKey):
        numbers = public.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(P256_BYTES, "big")),
            "y": b64url(numbers.y.to_bytes(P256_BYTES, "big")),
        }
    if not isinstance(public, rsa.RSAPublicKey):  # algorithm() let only these two through
        raise UnsupportedKey(type(public).__name__)
    rsa_numbers = public.public_numbers()
    return {"kty": "RSA", "n": b64url(_uint(rsa_numbers.n)), "e": b64url(_uint(rsa_numbers.e))}


REQUIRED_MEMBERS = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: SHA-256 over the required members, sorted, without whitespace."""
    members = {name: jwk[name] for name in REQUIRED_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _signature(key: PrivateKeyTypes, signing_input: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        der = key.sign(signing_input, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
        r, s = decode_dss_signature(der)
        # JWS wants the two integers side by side (RFC 7518 §3.4), not DER.
        return r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")
    if not isinstance(key, rsa.RSAPrivateKey):
        raise UnsupportedKey(type(key).__name__)
    return key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())


def compact_json(value: dict[str, Any]) -> bytes:
    # Insertion order and no whitespace: one document, one encoding.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign_vc(payload: dict[str, Any], key: PrivateKeyTypes, kid: str) -> str:
    """The credential as a compact JWS with the VC-JOSE-COSE header."""
    header = {"alg": algorithm(key), "kid": kid, "typ": "vc+jwt", "cty": "vc"}
    signed = f"{b64url(compact_json(header))}.{b64url(compact_json(payload))}"
    return f"{signed}.{b64url(_signature(key, signed.encode('ascii')))}"
