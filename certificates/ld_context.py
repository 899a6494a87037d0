"""Our JSON-LD context: the terms a certificate credential uses beyond the W3C VC 2.0 context,
so that a JSON-LD processor keeps every claim (in safe mode it refuses a term it cannot map,
and otherwise drops it without a word).

The context is versioned and its bytes never change: each credential names it after the W3C
context and pins the SHA-384 of exactly these bytes in ``relatedResource`` (VC Data Model 2.0
§5.3), so a verifier can tell that the meaning it applies is the one we signed. A change of
meaning is a new version at a new path, never an edit of this one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any, Final

from service.kernel.settings import Settings

CONTEXT_PATH: Final = "/contexts/certificate/v1"
MEDIA_TYPE: Final = "application/ld+json"
_XSD: Final = "http://www.w3.org/2001/XMLSchema#"


def context_url(settings: Settings) -> str:
    return f"{settings.base_url.rstrip('/')}{CONTEXT_PATH}"


def context_document(url: str) -> dict[str, Any]:
    """The context served at ``url``.

    Each term is a fragment of the context's own URL: it dereferences to the document that
    defines it, and it is exactly as stable as that versioned URL (a new meaning gets a new
    version, hence new IRIs). The properties are scoped to ``CertifiedSubject``, as the W3C
    context scopes its own to their types, so that short names like ``code`` or ``kind`` stay
    free for any other context a verifier combines with ours. Terms the W3C context already
    defines (``name``, ``id``, ``type``, ``digestSRI``…) are left to it: it is protected, and
    a second definition could only conflict.
    """

    def term(name: str) -> str:
        return f"{url}#{name}"

    return {
        "@context": {
            "@version": 1.1,
            "@protected": True,
            "FangxinCertificate": term("FangxinCertificate"),
            "CertifiedSubject": {
                "@id": term("CertifiedSubject"),
                "@context": {
                    "@protected": True,
                    # Text terms carry no @type: a JSON string already is an xsd:string.
                    # kind is certificates.policy.Kind's value (merchant, street,
                    # scenic_spot): a name from a closed list, not a resource to link to.
                    "kind": term("kind"),
                    # A USCC or an area code: text, keeping the leading zeros and check
                    # letters that a number would lose.
                    "code": term("code"),
                    "serial": term("serial"),
                    "policyVersion": term("policyVersion"),
                    "demo": {"@id": term("demo"), "@type": f"{_XSD}boolean"},
                },
            },
        }
    }


@lru_cache(maxsize=4)
def context_bytes(url: str) -> bytes:
    """The exact bytes served and hashed: indented for a person reading them, in a fixed key
    order, so one URL is always one byte string."""
    text = json.dumps(context_document(url), ensure_ascii=False, indent=2)
    return f"{text}\n".encode()


def digest_sri(content: bytes) -> str:
    """A Subresource Integrity hash-expression (SRI §3.5) over ``content``: SHA-384, the
    minimum strength VC Data Model 2.0 §5.3 advises."""
    digest = hashlib.sha384(content).digest()
    return f"sha384-{base64.b64encode(digest).decode('ascii')}"


def related_resource(settings: Settings) -> dict[str, str]:
    """The pin of our context in a credential's ``relatedResource``: a verifier that fetches
    it must compute this digest and fail on a mismatch (VC Data Model 2.0 §5.3)."""
    url = context_url(settings)
    return {"id": url, "mediaType": MEDIA_TYPE, "digestSRI": digest_sri(context_bytes(url))}
