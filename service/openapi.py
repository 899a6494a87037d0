"""The OpenAPI document, made to tell what the service does rather than Litestar's defaults.

Litestar generates the document from the handlers: paths, parameters, bodies, success
answers, and each handler's docstring as its description. It does not know three things
this module adds, once, to the generated document before it is first served (as JSON at
``/schema/openapi.json`` and inside the Redoc page at ``/schema``):

- errors: every error leaves as RFC 9457 ``application/problem+json`` (service.error_responses' one
  exception handler), so each operation lists the statuses it can answer with, each as a
  ``ProblemDetails``, in place of Litestar's ``ValidationException`` JSON, which we never send;
- security: who may call an operation is its route's access rule (``opt``, service.kernel.security);
  it becomes the operation's security requirements — an API token as a bearer, a session
  cookie (plus the CSRF header on changes) — with the roles named, as OpenAPI 3.1 allows;
- examples of the feed APIs' requests and answers, and answers Litestar cannot describe from
  a handler that returns bytes (media types, several formats).

The schema fuzzer (tests/e2e/test_api_fuzz.py) checks served answers against the document,
so what is said here stays true.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from litestar import Litestar, Request, Router
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, RedocRenderPlugin
from litestar.routes import HTTPRoute

from service.kernel.models import Role
from service.kernel.security import ACCESS, CSRF_COOKIE, PUBLIC, PUBLIC_ACCESS, SESSION_COOKIE

PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
PROBLEM_SCHEMA: Final = "ProblemDetails"
BEARER: Final = "bearerToken"
SESSION: Final = "sessionCookie"
CSRF: Final = "csrfToken"
METRICS_TOKEN: Final = "metricsToken"  # noqa: S105 - a scheme's name
CSRF_HEADER: Final = "x-csrftoken"
UNSAFE: Final = frozenset({"post", "put", "patch", "delete"})
# Paths the rate limit leaves out (service.app's RateLimitConfig).
NOT_RATE_LIMITED: Final = ("/healthz", "/readyz", "/static/")
TOKEN_ROLES: Final = frozenset({Role.FEED, Role.OFFICIAL, Role.ADMIN})  # `fangxin token add`
SESSION_ROLES: Final = frozenset(
    {Role.MERCHANT, Role.OFFICIAL, Role.ADMIN, Role.AREA_MANAGER}
)  # people
ROLE_NAMES: Final = {
    Role.MERCHANT: "merchants",
    Role.OFFICIAL: "officials",
    Role.ADMIN: "admins",
    Role.FEED: "feeds",
    Role.AREA_MANAGER: "area managers",
}

DESCRIPTION: Final = """\
Trusted-consumption surveys, scores, credit and certificates.

**Errors** are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details
(`application/problem+json`): `type`, `title`, `status`, `detail`, the `request_id` to quote
when asking about it, and, on a 422, `errors` naming each bad field (batch items by index,
`events[3].occurred_at`). Every answer carries the request id in `X-Request-Id` too.

**Authentication.** Machines send an API token, `Authorization: Bearer fx_…` (created with
`fangxin token add NAME --role feed|official|admin`, shown once). People sign in at `/login`
and are known by the session cookie; a change (POST, PATCH) they make must also carry the
CSRF token in the `X-CSRFToken` header. Each operation names the roles it admits.
"""

PROBLEM_DETAILS: Final[dict[str, Any]] = {
    "type": "object",
    "title": PROBLEM_SCHEMA,
    "description": "RFC 9457 problem details; a 422 lists every bad field in `errors`.",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {
            "type": "string",
            "description": "A URI naming the kind of problem; `about:blank`: the status says it",
        },
        "title": {"type": "string", "description": "The kind of problem, in short"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "detail": {"type": "string", "description": "What went wrong with this request"},
        "request_id": {
            "type": "string",
            "description": "This request's id, as in the X-Request-Id header and our logs",
        },
        "errors": {
            "type": "array",
            "description": "The bad fields (422)",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "Where: a body path (`events[3].occurred_at`), a "
                        "parameter or `body`",
                    },
                    "message": {"type": "string", "description": "What is wrong with it"},
                },
            },
        },
    },
}

_REQUEST_ID = "7f3c2a9e41b84d0f9b8e5d6c1a2b3c4d"
# What each error status means here, and an example of its body.
ERRORS: Final[dict[int, tuple[str, str, str]]] = {
    400: ("Bad request", "The request cannot be read: the body is not valid UTF-8", "Bad request"),
    401: (
        "Not signed in, or the bearer token is unknown or revoked",
        "Unknown or revoked API token",
        "Unauthorized",
    ),
    403: (
        "The caller's role may not do this, or a signed-in change lacks its CSRF token",
        "Your role may not do this",
        "Forbidden",
    ),
    404: ("Nothing by that name", "No merchant with USCC '91411700MA44XE2L5B'", "Not found"),
    409: (
        "The change conflicts with the current state",
        "The certificate is already revoked",
        "Conflict",
    ),
    413: (
        "The body is larger than this operation accepts",
        "Request Entity Too Large",
        "Request Entity Too Large",
    ),
    415: (
        "The body is not JSON (or, for an upload, multipart/form-data)",
        "Send the body as application/json (got text/plain)",
        "Unsupported Media Type",
    ),
    422: (
        "Invalid input: each bad field is named in `errors`",
        "1 item(s) are invalid; nothing was stored",
        "Invalid input",
    ),
    429: (
        "Too many requests from this address; wait and retry",
        "Too many requests",
        "Too Many Requests",
    ),
    500: (
        "Something went wrong on our side; quote the request id",
        "Something went wrong on our side; the request id identifies it in our logs.",
        "Internal server error",
    ),
    503: (
        "Not ready, or too busy now: retry after the seconds in Retry-After",
        "migrations pending: 0007_x (run `fangxin migrate`)",
        "Not ready",
    ),
    507: (
        "The server's storage is full: nothing was saved (reading goes on working)",
        "The server's storage is full: the signed PDF of ZMD-2026-M-000001-O could not be "
        "saved. Reading goes on working; try again once the operators have made room.",
        "Insufficient storage",
    ),
}


def _problem_example(status: int) -> dict[str, Any]:
    _, detail, title = ERRORS[status]
    example: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "request_id": _REQUEST_ID,
    }
    if status == 422:
        example["errors"] = [
            {"field": "events[0].occurred_at", "message": "is in the future"},
        ]
    return example


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    return {
        "description": description or ERRORS[status][0],
        "content": {
            PROBLEM_MEDIA_TYPE: {
                "schema": {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"},
                "example": _problem_example(status),
            }
        },
    }


SECURITY_SCHEMES: Final[dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "fx_…",
        "description": "An API token: `fangxin token add NAME --role feed|official|admin` "
        "prints it once; only its hash is kept. `fangxin token revoke ID` ends it.",
    },
    SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The session of a person signed in at `/login` (12 hours).",
    },
    CSRF: {
        "type": "apiKey",
        "in": "header",
        "name": CSRF_HEADER,
        "description": "With a session, every change (POST, PATCH) carries the CSRF token "
        f"its pages were given (the `{CSRF_COOKIE}` cookie's value).",
    },
    METRICS_TOKEN: {
        "type": "http",
        "scheme": "bearer",
        "description": "The token set in `FANGXIN_METRICS_TOKEN`: reads `/metrics`, nothing "
        "else (for a Prometheus scraper).",
    },
}

# --- What Litestar cannot say from the handlers ---------------------------------------

_USCC = "9144030071526726XG"
CREDIT_EVENTS_EXAMPLE: Final[dict[str, Any]] = {
    "events": [
        {
            "uscc": _USCC,
            "kind": "spot_check_failed",
            "occurred_at": "2026-03-02T09:30:00+08:00",
            "source": "spot-check",
            "external_ref": "CC-2026-0147",
            "note": "食品标签不合格",
        },
        {
            "uscc": _USCC,
            "kind": "external_class",
            "occurred_at": "2026-03-01T00:00:00+08:00",
            "source": "credit-system",
            "external_ref": "CLS-2026-03",
            "class": "B",
        },
    ]
}
CREDIT_EVENTS_ANSWER: Final = {
    "received": 2,
    "stored": 2,
    "updated": 0,
    "unchanged": 0,
    "merchants_changed": 1,
}
CREDIT_EVENTS_INVALID: Final = {
    "events": [
        {
            "uscc": "91411700MA44XE2L5B",
            "kind": "commendation",
            "occurred_at": "2026-03-02T09:30:00+08:00",
            "source": "bureau",
            "external_ref": "CM-2026-0009",
        }
    ]
}
CREDIT_EVENTS_PROBLEM: Final = {
    "type": "about:blank",
    "title": "Invalid input",
    "status": 422,
    "detail": "1 item(s) are invalid; nothing was stored",
    "errors": [
        {"field": "events[0].uscc", "message": "no merchant with USCC '91411700MA44XE2L5B'"}
    ],
    "request_id": _REQUEST_ID,
}
COMPLAINTS_EXAMPLE: Final[dict[str, Any]] = {
    "complaints": [
        {
            "external_id": "12315-2026-0412-0087",
            "uscc": _USCC,
            "received_at": "2026-04-12T10:15:00+08:00",
            "accepted_at": "2026-04-13T09:00:00+08:00",
            "closed_at": "2026-04-20T16:40:00+08:00",
            "status": "closed",
            "category": "quality",
            "amount_disputed": 368.0,
            "amount_recovered": 368.0,
            "upheld": True,
        },
        {
            "external_id": "12315-2026-0415-0112",
            "uscc": _USCC,
            "received_at": "2026-04-15T19:02:00+08:00",
            "status": "received",
            "category": "price",
            "amount_disputed": 45.5,
        },
    ]
}
COMPLAINTS_ANSWER: Final = {
    "received": 2,
    "stored": 2,
    "updated": 0,
    "unchanged": 0,
    "merchants_changed": 1,
}
COMPLAINTS_INVALID: Final = {
    "complaints": [
        {
            "external_id": "12315-2026-0415-0113",
            "uscc": _USCC,
            "received_at": "2026-04-15T19:02:00+08:00",
            "status": "closed",
            "category": "price",
        }
    ]
}
COMPLAINTS_PROBLEM: Final = {
    "type": "about:blank",
    "title": "Invalid input",
    "status": 422,
    "detail": "1 item(s) are invalid; nothing was stored",
    "errors": [
        {"field": "complaints[0].closed_at", "message": "is required when status is closed"}
    ],
    "request_id": _REQUEST_ID,
}


def _feed_examples(
    request: Mapping[str, Any],
    answer: Mapping[str, Any],
    invalid: Mapping[str, Any],
    problem: Mapping[str, Any],
) -> dict[str | int, Any]:
    return {
        "request": {
            "batch": {"summary": "A batch, stored whole", "value": request},
            "invalid": {"summary": "A batch refused with a 422", "value": invalid},
        },
        200: {
            "first": {"summary": "The batch sent the first time", "value": answer},
            "replay": {
                "summary": "The same batch again: nothing changes",
                "value": {
                    **answer,
                    "stored": 0,
                    "unchanged": answer["received"],
                    "merchants_changed": 0,
                },
            },
        },
        422: {"invalid": {"summary": "The invalid batch's answer", "value": problem}},
    }


EXAMPLES: Final[dict[tuple[str, str], dict[str | int, Any]]] = {
    ("post", "/api/v1/credit/events"): _feed_examples(
        CREDIT_EVENTS_EXAMPLE, CREDIT_EVENTS_ANSWER, CREDIT_EVENTS_INVALID, CREDIT_EVENTS_PROBLEM
    ),
    ("post", "/api/v1/complaints"): _feed_examples(
        COMPLAINTS_EXAMPLE, COMPLAINTS_ANSWER, COMPLAINTS_INVALID, COMPLAINTS_PROBLEM
    ),
}

_BINARY: Final = {"type": "string", "format": "binary"}
_TEXT: Final = {"type": "string"}
_JSON_OBJECT: Final = {"type": "object"}
# Answers of handlers that return bytes, whose type Litestar reads as JSON: the 200's content
# by (method, path), as the handlers send it.
CONTENT: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("get", "/trust/issuer.pem"): {"application/x-pem-file": {"schema": _TEXT}},
    ("get", "/trust/chain.pem"): {"application/pem-certificate-chain": {"schema": _TEXT}},
    ("get", "/trust/issuer.der"): {"application/pkix-cert": {"schema": _BINARY}},
    ("get", "/api/v1/certificates/{serial}/pdf"): {"application/pdf": {"schema": _BINARY}},
    ("get", "/api/v1/applications/{application_id}/materials/{material_id}"): {
        "application/pdf": {"schema": _BINARY},
        "image/jpeg": {"schema": _BINARY},
        "image/png": {"schema": _BINARY},
    },
    ("get", "/api/v1/track/{code}/files/{file_id}"): {
        "application/pdf": {"schema": _BINARY},
        "image/jpeg": {"schema": _BINARY},
        "image/png": {"schema": _BINARY},
    },
    ("get", "/api/v1/disputes/{code}/files/{file_id}"): {
        "application/pdf": {"schema": _BINARY},
        "image/jpeg": {"schema": _BINARY},
        "image/png": {"schema": _BINARY},
    },
    ("get", "/api/v1/credit-repairs/{repair_id}/files/{file_id}"): {
        "application/pdf": {"schema": _BINARY},
        "image/jpeg": {"schema": _BINARY},
        "image/png": {"schema": _BINARY},
    },
    ("get", "/api/v1/complaint-corrections/{correction_id}/files/{file_id}"): {
        "application/pdf": {"schema": _BINARY},
        "image/jpeg": {"schema": _BINARY},
        "image/png": {"schema": _BINARY},
    },
    ("get", "/api/v1/complaint-records"): {
        "application/json": {"schema": {"$ref": "#/components/schemas/ComplaintRecordPage"}},
        "text/csv": {"schema": _TEXT},
    },
    ("get", "/api/v1/complaint-records/dictionary"): {
        "application/json": {"schema": _JSON_OBJECT},
    },
    ("get", "/.well-known/did.json"): {"application/did+json": {"schema": _JSON_OBJECT}},
    ("get", "/did.json"): {"application/did+json": {"schema": _JSON_OBJECT}},
    ("get", "/.well-known/jwks.json"): {"application/jwk-set+json": {"schema": _JSON_OBJECT}},
    ("get", "/api/v1/certificates/status/{purpose}"): {"application/vc+jwt": {"schema": _TEXT}},
    ("get", "/api/v1/certificates/{serial}/credential"): {"application/vc+jwt": {"schema": _TEXT}},
    ("get", "/contexts/certificate/v1"): {"application/ld+json": {"schema": _JSON_OBJECT}},
    ("get", "/api/v1/scoring/runs/{run_id}/export"): {
        "text/csv": {"schema": _TEXT},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": _BINARY},
        "application/vnd.apache.parquet": {"schema": _BINARY},
    },
    ("get", "/api/v1/complaints/figures"): {
        "application/json": {"schema": _JSON_OBJECT},
        "text/csv": {"schema": _TEXT},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": _BINARY},
    },
    ("get", "/api/v1/credit/classes"): {
        "application/json": {"schema": _JSON_OBJECT},
        "text/csv": {"schema": _TEXT},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": _BINARY},
    },
    ("get", "/api/v1/reports/annual"): {
        "application/json": {"schema": {"$ref": "#/components/schemas/AnnualReport"}},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": _BINARY},
    },
    ("get", "/api/v1/reports/annual.pdf"): {"application/pdf": {"schema": _BINARY}},
    ("get", "/api/v1/certificates/reviews/{year}/list"): {
        "application/json": {"schema": {"$ref": "#/components/schemas/PublicList"}},
        "text/csv": {"schema": _TEXT},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": _BINARY},
    },
    # An import's blank template: merchants.xlsx (Chinese headers, a 填写说明 sheet) or
    # merchants.csv (the header row, UTF-8 with a BOM).
    ("get", "/api/v1/imports/templates/{name}"): {
        "text/csv": {"schema": _TEXT},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": _BINARY},
    },
}
# Deterministic bytes under a strong ETag: a 304 to a matching If-None-Match.
CONDITIONAL: Final = frozenset(
    {
        ("get", "/trust/issuer.pem"),
        ("get", "/trust/issuer.der"),
        ("get", "/trust/chain.pem"),
        ("get", "/.well-known/did.json"),
        ("get", "/did.json"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/api/v1/certificates/status/{purpose}"),
        ("get", "/api/v1/certificates/{serial}/credential"),
        ("get", "/contexts/certificate/v1"),
    }
)
NOT_MODIFIED: Final = {"description": "Not modified: the If-None-Match tag is the current one"}
# Error statuses an operation answers beyond those every operation of its kind does.
EXTRA_ERRORS: Final[dict[tuple[str, str], tuple[int, ...]]] = {
    ("get", "/readyz"): (503,),
    ("post", "/api/v1/certificates/verify"): (503,),  # every verification slot busy
    ("get", "/api/v1/certificates/{serial}/pdf"): (507,),  # signed and stored on first download
    ("post", "/api/v1/certificates"): (404,),  # no subject by that code
    ("get", "/api/v1/reports/annual"): (404,),  # no district by that code
    ("get", "/api/v1/reports/annual.pdf"): (404,),
}


# --- Applying it ------------------------------------------------------------------------


def _roles(rule: frozenset[str]) -> list[Role]:
    return [r for r in Role if r.value in rule]


def _access_words(roles: list[Role]) -> str:
    names = [ROLE_NAMES[r] for r in roles]
    if len(names) == 1:
        return f"{names[0].capitalize()} only."
    return f"{', '.join(names[:-1]).capitalize()} and {names[-1]}."


def security_for(rule: frozenset[str], method: str, path: str) -> list[dict[str, list[str]]]:
    """The operation's security requirements (any one of them admits the caller): a token
    of a role the rule admits, or a session of such a person (with the CSRF header on a
    change). Roles are named in each requirement's list (OpenAPI 3.1)."""
    if PUBLIC_ACCESS in rule:
        return []
    roles = _roles(rule)
    requirements: list[dict[str, list[str]]] = []
    token_roles = [r.value for r in roles if r in TOKEN_ROLES]
    if token_roles:
        requirements.append({BEARER: token_roles})
    session_roles = [r.value for r in roles if r in SESSION_ROLES]
    if session_roles:
        session: dict[str, list[str]] = {SESSION: session_roles}
        if method in UNSAFE:
            session[CSRF] = []
        requirements.append(session)
    if path == "/metrics":
        requirements.append({METRICS_TOKEN: []})
    return requirements


def error_statuses(
    method: str, path: str, operation: Mapping[str, Any], rule: frozenset[str]
) -> list[int]:
    """The error statuses this operation can answer with."""
    statuses = {400, 401, 500}  # unreadable request; unknown token (any route); our fault
    if not path.startswith(NOT_RATE_LIMITED):
        statuses.add(429)
    if PUBLIC_ACCESS not in rule or method in UNSAFE:
        statuses.add(403)  # a role the rule does not admit; a session's change without CSRF
    parameters = operation.get("parameters") or []
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if parameters or "requestBody" in operation:
        statuses.add(422)
    if method in UNSAFE:
        statuses.add(409)
        statuses.add(507)  # a write that found the disk (or the database's) full
        if path.startswith("/api/"):
            statuses.add(415)  # service.app's require_api_content_type
    if "requestBody" in operation:
        statuses.add(413)
    statuses.update(EXTRA_ERRORS.get((method, path), ()))
    return sorted(statuses)


def _describe_access(operation: dict[str, Any], rule: frozenset[str]) -> None:
    public = PUBLIC_ACCESS in rule
    words = "Anyone; no sign-in needed." if public else _access_words(_roles(rule))
    description = operation.get("description") or ""
    operation["description"] = f"{description}\n\n**Access:** {words}".lstrip()


def _refine_operation(
    operation: dict[str, Any], method: str, path: str, rule: frozenset[str]
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    for generated in [s for s in responses if s[0] in "45"]:
        # Litestar's generated ValidationException JSON: we answer problem+json instead.
        del responses[generated]
    for status in error_statuses(method, path, operation, rule):
        responses[str(status)] = problem_response(status)
    if (content := CONTENT.get((method, path))) is not None:
        success = next(s for s in responses if s.startswith("2"))
        responses[success]["content"] = copy.deepcopy(content)
    if (method, path) in CONDITIONAL:
        responses["304"] = dict(NOT_MODIFIED)
    operation["security"] = security_for(rule, method, path)
    _describe_access(operation, rule)
    if (examples := EXAMPLES.get((method, path))) is not None:
        body = operation["requestBody"]["content"]["application/json"]
        body["examples"] = examples["request"]
        responses["200"]["content"]["application/json"]["examples"] = examples[200]
        problem = responses["422"]["content"][PROBLEM_MEDIA_TYPE]
        problem.pop("example", None)
        problem["examples"] = examples[422]


def refine(document: dict[str, Any], app: Litestar) -> dict[str, Any]:
    """Add errors, security and examples to Litestar's document, in place, once."""
    components = document.setdefault("components", {})
    if "securitySchemes" in components:
        return document
    components.setdefault("schemas", {})[PROBLEM_SCHEMA] = copy.deepcopy(PROBLEM_DETAILS)
    paths: dict[str, Any] = document.get("paths", {})
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        item = paths.get(route.path_format or "/")
        if item is None:
            continue
        for handler in route.route_handlers:
            rule = handler.opt.get(ACCESS)
            if not isinstance(rule, frozenset):
                continue  # the authorization-matrix test names the route that lacks one
            for method in handler.http_methods:
                operation = item.get(method.lower())
                if isinstance(operation, dict):
                    _refine_operation(operation, method.lower(), route.path_format, rule)
    components["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    return document


class _Refining:
    """Serves the refined document: Litestar hands every render plugin the same cached dict,
    so refining it once serves the JSON and the Redoc page alike."""

    def _document(self, request: Request[Any, Any, Any], schema: dict[str, Any]) -> dict[str, Any]:
        return refine(schema, request.app)


class RefinedJson(_Refining, JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(request, openapi_schema))


class RefinedRedoc(_Refining, RedocRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self._document(request, openapi_schema))


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Fangxin API",
        version="1",
        description=DESCRIPTION,
        use_handler_docstrings=True,
        render_plugins=[
            RefinedRedoc(
                js_url="/static/vendor/redoc.standalone.js",
                google_fonts=False,
                favicon="<link rel='icon' href='/static/favicon.svg'>",
            ),
            RefinedJson(),
        ],
        openapi_router=Router(
            path="/schema", route_handlers=[], opt=PUBLIC, include_in_schema=False
        ),
    )


def document(app: Litestar) -> dict[str, Any]:
    """The refined document, as served (for tests and tools)."""
    return refine(app.openapi_schema.to_schema(), app)
