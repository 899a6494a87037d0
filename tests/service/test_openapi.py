"""The OpenAPI document tells the truth: errors as problem+json, who may call what, the
handlers' docstrings, and feed examples that the API answers exactly as documented."""

from __future__ import annotations

from typing import Any

import httpx
import jsonschema_rs
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute

from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, Role
from service.kernel.schemas import FieldErrorOut, Problem
from service.kernel.security import SESSION_COOKIE
from service.kernel.settings import Settings
from service.openapi import (
    BEARER,
    CSRF,
    METRICS_TOKEN,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_SCHEMA,
    SESSION,
    document,
)
from tests.conftest import make_app
from tests.helpers import make_token
from tests.service.test_authz_matrix import ALLOWED, RULES

FEED_OPERATIONS = (("post", "/api/v1/credit/events"), ("post", "/api/v1/complaints"))


@pytest.fixture(scope="module")
def app(migrated: Settings) -> Litestar:
    return make_app(migrated)


@pytest.fixture(scope="module")
def doc(app: Litestar) -> dict[str, Any]:
    return document(app)


def operations(app: Litestar) -> list[tuple[str, str, Any, HTTPRoute]]:
    """(method, path template, handler, route) of every operation in the document."""
    found = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.resolve_include_in_schema():
                    for method in handler.http_methods:
                        found.append((method.lower(), route.path_format, handler, route))
    return found


def validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """A validator for ``schema`` whose ``#/components/...`` references resolve: the
    document's components ride along at the root, where such references point."""
    return jsonschema_rs.Draft202012Validator({**schema, "components": doc["components"]})


def test_security_schemes(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes[BEARER] == schemes[BEARER] | {"type": "http", "scheme": "bearer"}
    assert "fx_" in schemes[BEARER]["bearerFormat"]
    assert (
        schemes[SESSION] | {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE}
        == (schemes[SESSION])
    )
    assert (
        schemes[CSRF] | {"type": "apiKey", "in": "header", "name": "x-csrftoken"} == (schemes[CSRF])
    )
    assert schemes[METRICS_TOKEN]["scheme"] == "bearer"


def test_every_operation_names_the_roles_its_rule_admits(
    app: Litestar, doc: dict[str, Any]
) -> None:
    checked = 0
    for method, path, _handler, route in operations(app):
        rule = RULES[(method.upper(), route.path)]
        security = doc["paths"][path][method]["security"]
        admitted = ALLOWED[rule]
        if "anonymous" in admitted:
            assert security == [], f"{method} {path} is public"
            continue
        by_token: list[str] = next((r[BEARER] for r in security if BEARER in r), [])
        by_session: dict[str, list[str]] = next((r for r in security if SESSION in r), {})
        assert set(by_token) == admitted & {"feed", "official", "admin"}, (method, path)
        people = {"merchant", "area_manager", "official", "admin"}
        assert set(by_session.get(SESSION, [])) == admitted & people
        # A change made by a signed-in person also carries the CSRF header.
        assert (CSRF in by_session) == (bool(by_session) and method in ("post", "patch")), path
        checked += 1
    assert checked > 20
    credit = doc["paths"]["/api/v1/credit/events"]["post"]["security"]
    assert credit == [
        {BEARER: ["official", "admin", "feed"]},
        {SESSION: ["official", "admin"], CSRF: []},
    ]
    assert {METRICS_TOKEN: []} in doc["paths"]["/metrics"]["get"]["security"]


def test_errors_are_problem_details(app: Litestar, doc: dict[str, Any]) -> None:
    schema = doc["components"]["schemas"][PROBLEM_SCHEMA]
    # The schema describes what service.app sends: the Problem struct, field for field.
    assert set(schema["properties"]) == set(Problem.__struct_fields__)
    assert set(schema["properties"]["errors"]["items"]["properties"]) == set(
        FieldErrorOut.__struct_fields__
    )
    check = validator(doc, {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"})
    for method, path, _handler, _route in operations(app):
        responses = doc["paths"][path][method]["responses"]
        errors = {status: r for status, r in responses.items() if status[0] in "45"}
        assert {"400", "401", "500"} <= errors.keys(), (method, path)
        for status, response in errors.items():
            assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path, status)
            media = response["content"][PROBLEM_MEDIA_TYPE]
            assert media["schema"] == {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}
            for example in [media.get("example"), *media.get("examples", {}).values()]:
                if example is not None:
                    value = example.get("value", example)
                    check.validate(value)
                    assert value["status"] == int(status)
        if method in ("post", "patch") and path.startswith("/api/"):
            assert "415" in errors, (method, path)
        if "requestBody" in doc["paths"][path][method]:
            assert {"413", "422"} <= errors.keys(), (method, path)
    merchant = doc["paths"]["/api/v1/merchants/{uscc}"]["get"]["responses"]
    assert {"404", "422"} <= merchant.keys()
    assert "403" not in merchant, "a public read refuses no role"
    # Litestar's own error shape, which we never send, is gone.
    assert "ValidationException" not in str(doc) and "status_code" not in str(doc)


def test_handler_docstrings_are_the_descriptions(app: Litestar, doc: dict[str, Any]) -> None:
    described = 0
    for method, path, handler, _route in operations(app):
        docstring = handler.fn.__doc__
        if docstring:
            first = " ".join(docstring.split("\n\n")[0].split())
            got = " ".join(doc["paths"][path][method]["description"].split())
            assert got.startswith(first), (method, path)
            described += 1
    assert described > 20
    complaints = doc["paths"]["/api/v1/complaints"]["post"]["description"]
    assert "12315" in complaints and "**Access:** Officials, admins and feeds." in complaints


def _examples(doc: dict[str, Any], method: str, path: str) -> tuple[Any, Any, Any]:
    operation = doc["paths"][path][method]
    request = operation["requestBody"]["content"]["application/json"]
    answer = operation["responses"]["200"]["content"]["application/json"]
    problem = operation["responses"]["422"]["content"][PROBLEM_MEDIA_TYPE]
    return request, answer, problem


def test_feed_examples_fit_their_schemas(doc: dict[str, Any]) -> None:
    for method, path in FEED_OPERATIONS:
        for media in _examples(doc, method, path):
            check = validator(doc, media["schema"])
            assert media["examples"], (method, path)
            for example in media["examples"].values():
                check.validate(example["value"])


async def test_the_feed_apis_answer_as_their_examples_say(client: httpx.AsyncClient) -> None:
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    await Merchant.create(
        uscc="9144030071526726XG",
        name="老王烩面馆",
        category=MerchantCategory.CATERING,
        district=await Area.create(
            code="411702", kind=AreaKind.DISTRICT, name_zh="驿城区", name_en="Y", parent=city
        ),
    )
    feed = {"authorization": f"Bearer {await make_token(Role.FEED)}"}
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    for method, path in FEED_OPERATIONS:
        request, answer, problem = _examples(doc, method, path)
        batch = request["examples"]["batch"]["value"]
        first = await client.request(method, path, json=batch, headers=feed)
        assert first.status_code == 200, first.text
        assert first.json() == answer["examples"]["first"]["value"], path
        replay = await client.request(method, path, json=batch, headers=feed)
        assert replay.json() == answer["examples"]["replay"]["value"], path
        invalid = request["examples"]["invalid"]["value"]
        refused = await client.request(method, path, json=invalid, headers=feed)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        documented = problem["examples"]["invalid"]["value"]
        body = refused.json()
        assert body.pop("request_id") and documented.pop("request_id")
        assert body == documented, path


async def test_the_served_document_and_reference_page_are_refined(
    client: httpx.AsyncClient,
) -> None:
    served = (await client.get("/schema/openapi.json")).json()
    assert BEARER in served["components"]["securitySchemes"]
    page = await client.get("/schema", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "securitySchemes" in page.text and PROBLEM_MEDIA_TYPE in page.text
