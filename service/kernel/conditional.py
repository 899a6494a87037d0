"""Conditional GETs (RFC 9110 §8.8.3, §13.1.2): entity tags, If-None-Match and Cache-Control
for public reads that other systems mirror and caches keep.

A revocation must be visible within a minute, so every public read that shows a status is
cached for at most ``PUBLIC_MAX_AGE`` seconds and then revalidated with its tag.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.serialization import encode_json

PUBLIC_MAX_AGE = 30
PUBLIC_CACHE_CONTROL = f"public, max-age={PUBLIC_MAX_AGE}, must-revalidate"
# A versioned document whose bytes never change (a JSON-LD context that credentials pin by
# digest) shows no status, so the minute above does not apply: caches may keep it a year, and
# `immutable` (RFC 8246) spares even the revalidation a reload would send.
IMMUTABLE_MAX_AGE = 365 * 24 * 3600
IMMUTABLE_CACHE_CONTROL = f"public, max-age={IMMUTABLE_MAX_AGE}, immutable"
# A read that shows the caller something of its own (a signed-in official's page, an inactive
# certificate's credential): kept by no cache, the browser's own included.
PRIVATE_CACHE_CONTROL = "private, no-store"

# One element of an If-None-Match list: an optional weakness prefix, then a quoted opaque
# string (RFC 9110 §8.8.3); whitespace around it is OWS, spaces and tabs only.
_TAG = re.compile(r'[ \t]*(W/)?("[\x21\x23-\x7e\x80-\xff]*")[ \t]*')


def strong_etag(content: bytes) -> str:
    """A strong tag for exactly these bytes."""
    return '"' + hashlib.sha256(content).hexdigest()[:32] + '"'


def weak_etag(content: bytes) -> str:
    """A weak tag: for representations that are equivalent but not byte-identical (e.g. the
    same statement signed again)."""
    return "W/" + strong_etag(content)


def _opaque(tag: str) -> str:
    return tag[2:] if tag.startswith("W/") else tag


def _tags(header: str) -> list[str] | None:
    """The opaque parts of every tag in a list, or None if any element is malformed. Empty
    elements (``"a", , "b"``) are allowed, as every list header must accept (§5.6.1.2)."""
    tags = []
    for element in header.split(","):
        if not element.strip(" \t"):
            continue
        match = _TAG.fullmatch(element)
        if match is None:
            return None
        tags.append(match.group(2))
    return tags


def none_match(if_none_match: str | None, etag: str) -> bool:
    """Whether a GET/HEAD with this If-None-Match header gets 304 for ``etag``: ``*`` matches
    any current representation; otherwise a list of tags compared weakly (§8.8.3.2), so
    ``W/"x"`` matches ``"x"``. A malformed header is ignored, as if absent: the whole list is
    read before any tag counts, so garbage after a matching tag still means a full answer."""
    if not if_none_match:
        return False
    header = if_none_match.strip(" \t")
    if header == "*":
        return True
    # A comma is never part of a tag (etagc excludes it), so splitting on it is exact.
    tags = _tags(header)
    return tags is not None and _opaque(etag) in tags


def cached_bytes(
    request: Request[Any, Any, Any], body: bytes, media_type: str, vary: str | None = None
) -> Response[bytes]:
    """A public read with a strong tag over the exact bytes sent, and 304 (the tag,
    Cache-Control and Vary, no body: RFC 9110 §15.4.5) when the client's copy is current.
    ``vary`` names the request headers the bytes depend on besides the URL."""
    etag = strong_etag(body)
    headers = {"etag": etag, "cache-control": PUBLIC_CACHE_CONTROL}
    if vary:
        headers["vary"] = vary
    if none_match(request.headers.get("if-none-match"), etag):
        return Response(b"", status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def cached_json(request: Request[Any, Any, Any], content: object) -> Response[bytes]:
    """A public read as JSON (``cached_bytes``)."""
    return cached_bytes(request, encode_json(content), MediaType.JSON)


def cached_responses(model: type[Any], description: str) -> dict[int, ResponseSpec]:
    """The OpenAPI answers of a ``cached_json`` route: its handler returns bytes, so the 200's
    schema is named here (this spec replaces the generated one, headers and all, so they are
    told in words)."""
    return {
        200: ResponseSpec(
            model,
            description=f"{description}; with ETag and Cache-Control: {PUBLIC_CACHE_CONTROL}",
            generate_examples=False,
        ),
        304: ResponseSpec(
            None, description="Not modified: the If-None-Match tag is the current one"
        ),
    }
