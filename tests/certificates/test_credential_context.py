"""Our credentials as a JSON-LD processor reads them: with our context after the W3C one,
expansion keeps every claim and refuses nothing; without it, the subject's terms are lost. The
context is served as the exact bytes each credential pins by digest, and never changes.

The processor is pyld (independent of our code), its contexts served locally: ours fetched
from the app, the W3C VC 2.0 context from the copy in ``contexts/`` (see its README).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyld import jsonld
from pyld.context_resolver import ContextResolver
from pyld.documentloader.frozen import FrozenDocumentLoader

from certificates import ld_context
from certificates.credentials import VC_CONTEXT, did_of
from certificates.models import Certificate
from certificates.policy import Kind
from certificates.serials import make_serial
from service.kernel.conditional import IMMUTABLE_CACHE_CONTROL
from service.kernel.settings import Settings
from service.openapi import document
from tests.certificates.test_cascade import _certificate
from tests.certificates.test_status_credentials import LISTS, _credential, _verified
from tests.conftest import make_app

W3C_V2 = Path(__file__).parent / "contexts" / "credentials-v2.jsonld"
VC = "https://www.w3.org/2018/credentials#"
STATUS = "https://www.w3.org/ns/credentials/status#"
SCHEMA_NAME = "https://schema.org/name"
XSD = "http://www.w3.org/2001/XMLSchema#"
# An IRI with a scheme, or a blank node: anything else is a relative reference.
_ABSOLUTE = re.compile(r"^(?:[A-Za-z][A-Za-z0-9+.-]*:|_:)")


class Unsafe(Exception):
    """What jsonld.js's safe mode would refuse: data the expansion would lose."""


def _no_relative_references(node: Any) -> None:
    """jsonld.js safe mode's 'relative @id reference' and 'relative @type reference': a type
    or id that no context maps stays a relative IRI, meaningless once expanded."""
    if isinstance(node, list):
        for item in node:
            _no_relative_references(item)
    elif isinstance(node, dict):
        types = node.get("@type", [])
        for reference in [node.get("@id", "_:"), *(types if isinstance(types, list) else [types])]:
            if not _ABSOLUTE.match(reference):
                raise Unsafe(f"relative reference {reference!r}")
        for key, value in node.items():
            if key != "@value":
                _no_relative_references(value)


def _options(documents: dict[str, Any]) -> dict[str, Any]:
    """pyld's options: a loader that serves these documents and refuses any other URL (so
    nothing is ever fetched from the internet); a resolver with a cache of its own (pyld's
    default is shared by the whole process, so one test's contexts could answer another's);
    and no base IRI, for pyld would resolve a relative reference against a made-up one
    (``http://example.org/base/``) and hide it."""
    loader = FrozenDocumentLoader({VC_CONTEXT: W3C_V2, **documents})
    return {"documentLoader": loader, "contextResolver": ContextResolver({}, loader), "base": None}


def safe_expand(document: dict[str, Any], documents: dict[str, Any]) -> list[Any]:
    """Expansion in safe mode. pyld 3.3 has no ``safe`` option (jsonld.js's); it calls
    ``on_property_dropped`` for each property it drops ('invalid property' in jsonld.js), and
    the relative references are checked on its output."""

    def refuse(expanded: str | None) -> None:
        raise Unsafe(f"property {expanded!r} maps to no IRI and would be dropped")

    expanded: list[Any] = jsonld.expand(document, _options(documents), on_property_dropped=refuse)
    _no_relative_references(expanded)
    return expanded


def _compact(expanded: list[Any], context: list[str], documents: dict[str, Any]) -> Any:
    return jsonld.compact(expanded, {"@context": context}, _options(documents))


def _one_or_many(value: Any) -> Any:
    """Compaction writes a one-item array as its item: compare without that difference."""
    if isinstance(value, list):
        items = [_one_or_many(v) for v in value]
        return items[0] if len(items) == 1 else items
    if isinstance(value, dict):
        return {k: _one_or_many(v) for k, v in value.items()}
    return value


async def _our_context(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    """Our context as the app serves it, by the URL credentials name it by."""
    answer = await client.get(ld_context.CONTEXT_PATH)
    assert answer.status_code == 200, answer.text
    return {ld_context.context_url(settings): json.loads(answer.content)}


async def _active(kind: Kind, number: int, *, demo: bool) -> Certificate:
    cert = await _certificate(
        kind,
        f"91411700000000{number:03d}X",
        f"放心商户{number}",
        make_serial("ZMD", 2026, kind, number),
        datetime.now(UTC) - timedelta(days=2),
    )
    if demo:
        await Certificate.filter(id=cert.id).update(is_demo=True)
    return cert


async def test_a_credential_expands_in_safe_mode_and_keeps_every_claim(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    documents = await _our_context(client, app_settings)
    ours = ld_context.context_url(app_settings)
    demo = await _active(Kind.MERCHANT, 1, demo=True)
    real = await _active(Kind.STREET, 2, demo=False)
    for cert in (demo, real):
        payload = await _verified(client, (await _credential(client, cert.serial)).text)
        assert payload["@context"] == [VC_CONTEXT, ours]
        expanded = safe_expand(payload, documents)

        (node,) = expanded
        assert node["@type"] == [f"{VC}VerifiableCredential", f"{ours}#FangxinCertificate"]
        (issuer,) = node[f"{VC}issuer"]
        assert issuer["@id"] == did_of(app_settings.base_url)
        assert [v["@value"] for v in issuer[SCHEMA_NAME]] == [payload["issuer"]["name"]]
        (subject,) = node[f"{VC}credentialSubject"]
        assert subject["@type"] == [f"{ours}#CertifiedSubject"]
        claims: dict[str, list[dict[str, Any]]] = {
            f"{ours}#kind": [{"@value": cert.kind.value}],
            f"{ours}#code": [{"@value": cert.subject_code}],
            f"{ours}#serial": [{"@value": cert.serial}],
            f"{ours}#policyVersion": [{"@value": cert.policy_version}],
            SCHEMA_NAME: [{"@value": cert.subject_name}],
        }
        if cert is demo:
            claims[f"{ours}#demo"] = [{"@type": f"{XSD}boolean", "@value": True}]
        assert {k: v for k, v in subject.items() if k != "@type"} == claims
        (pinned,) = node[f"{VC}relatedResource"]
        assert pinned == {
            "@id": ours,
            f"{VC}digestSRI": [
                {"@type": f"{VC}sriString", "@value": payload["relatedResource"][0]["digestSRI"]}
            ],
            "https://schema.org/encodingFormat": [{"@value": ld_context.MEDIA_TYPE}],
        }
        entries = node[f"{VC}credentialStatus"]
        assert {e[f"{STATUS}statusPurpose"][0]["@value"] for e in entries} == {
            "revocation",
            "suspension",
        }

        # Nothing lost anywhere: compacted again with the same contexts, it is the payload.
        back = _compact(expanded, payload["@context"], documents)
        assert _one_or_many(back) == _one_or_many(payload)


async def test_without_our_context_safe_mode_refuses_and_plain_expansion_drops_claims(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    """Why the context exists: under the W3C context alone the subject's own terms mean
    nothing, so a safe processor stops, and a lax one silently loses them."""
    cert = await _active(Kind.MERCHANT, 3, demo=True)
    payload = await _verified(client, (await _credential(client, cert.serial)).text)
    payload["@context"] = [VC_CONTEXT]
    with pytest.raises(Unsafe, match="would be dropped"):
        safe_expand(payload, {})
    (lax,) = jsonld.expand(payload, _options({}))
    (subject,) = lax[f"{VC}credentialSubject"]
    assert set(subject) == {"@type", SCHEMA_NAME}  # kind, code, serial, policyVersion, demo: gone


async def test_the_status_lists_need_only_the_w3c_context(client: httpx.AsyncClient) -> None:
    for purpose in ("revocation", "suspension"):
        payload = await _verified(client, (await client.get(f"{LISTS}/{purpose}")).text)
        assert payload["@context"] == [VC_CONTEXT]
        (node,) = safe_expand(payload, {})
        (subject,) = node[f"{VC}credentialSubject"]
        assert subject["@type"] == [f"{STATUS}BitstringStatusList"]
        assert (
            subject[f"{STATUS}encodedList"][0]["@value"]
            == (payload["credentialSubject"]["encodedList"])
        )
        assert subject[f"{STATUS}ttl"] == [{"@value": payload["credentialSubject"]["ttl"]}]


async def test_the_served_context_is_what_credentials_pin_and_caches_keep(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    cert = await _active(Kind.MERCHANT, 4, demo=False)
    payload = await _verified(client, (await _credential(client, cert.serial)).text)
    served = await client.get(ld_context.CONTEXT_PATH)
    assert served.status_code == 200
    assert served.headers["content-type"] == "application/ld+json"
    assert served.headers["cache-control"] == IMMUTABLE_CACHE_CONTROL

    (pinned,) = payload["relatedResource"]
    digest = base64.b64encode(hashlib.sha384(served.content).digest()).decode()
    assert pinned == {
        "id": ld_context.context_url(app_settings),
        "mediaType": "application/ld+json",
        "digestSRI": f"sha384-{digest}",
    }
    assert payload["@context"][1] == pinned["id"]

    etag = served.headers["etag"]
    assert etag.startswith('"')  # strong: these very bytes
    again = await client.get(ld_context.CONTEXT_PATH, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == IMMUTABLE_CACHE_CONTROL
    other = await client.get(ld_context.CONTEXT_PATH, headers={"if-none-match": '"other"'})
    assert other.status_code == 200 and other.content == served.content


def test_the_context_is_documented_with_the_credentials(migrated: Settings) -> None:
    operation = document(make_app(migrated))["paths"][ld_context.CONTEXT_PATH]["get"]
    assert operation["tags"] == ["credentials"] and operation["security"] == []
    assert list(operation["responses"]["200"]["content"]) == [ld_context.MEDIA_TYPE]
    assert "304" in operation["responses"]


def test_our_context_redefines_nothing_of_the_w3c_context() -> None:
    """The W3C context is protected: a term of ours with its name would be an error (or, if
    identical, pointless). Ours is protected too, at every level, and maps only to IRIs."""
    w3c = json.loads(W3C_V2.read_text(encoding="utf-8"))["@context"]
    ours = ld_context.context_document("https://city.example/contexts/certificate/v1")["@context"]
    assert ours["@version"] == 1.1 and ours["@protected"] is True
    scoped = ours["CertifiedSubject"]["@context"]
    assert scoped["@protected"] is True
    terms = {k: v for k, v in {**ours, **scoped}.items() if not k.startswith("@")}
    assert not set(terms) & set(w3c)
    for name, definition in terms.items():
        iri = definition if isinstance(definition, str) else definition["@id"]
        assert iri == f"https://city.example/contexts/certificate/v1#{name}"


def test_version_one_never_changes() -> None:
    """Issued credentials pin v1's digest: a change of meaning is a v2 at a new path, with
    this test copied for it, never an edit of v1 (this digest is for the default base URL)."""
    url = "http://127.0.0.1:8000/contexts/certificate/v1"
    assert ld_context.digest_sri(ld_context.context_bytes(url)) == (
        "sha384-Lzh5DsAbjBis/jaynUo9KZBZ6SOgCDxaT4IYqrhrJceXn8D4yGVU3llROjNqpVVM"
    )
