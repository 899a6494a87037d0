"""Schemathesis against /schema/openapi.json of a served demo city, anonymous and with an
official's token: no 5xx, every 4xx is problem+json, and every answer is one the document
promises — its status, its media type and its body's schema — so the document stays true.
The server is this module's own, so that what the generated requests change does not reach
the journeys.

Each operation is driven by its own Hypothesis run inside one test per role (schemathesis'
pytest fixture loader does not yet run on pytest 9); every failing operation is listed."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core import NOT_SET
from schemathesis.core.result import Ok

from tests.e2e.conftest import Server, served_demo

pytestmark = pytest.mark.db
EXAMPLES = int(os.environ.get("FANGXIN_FUZZ_EXAMPLES", "120"))  # per operation and role
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Thousands of requests from one address: the per-address limit is not what is tested.
    with served_demo(
        tmp_path_factory.mktemp("fuzz"), FANGXIN_RATE_LIMIT_PER_MINUTE="100000000"
    ) as served:
        yield served


def problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """A client error says what was wrong, as application/problem+json."""
    if 400 <= response.status_code < 500:
        media_type = response.headers.get("content-type", [""])
        media_type = media_type[0] if isinstance(media_type, list) else media_type
        assert media_type.startswith("application/problem+json"), (
            f"{response.status_code} as {media_type!r}"
        )
    return None


# Operations that start work in the background: each accepted score run computes the whole
# demo city for seconds, so a full budget of examples queues dozens of them and every later
# operation times out behind the queue. Fewer examples, and the next operation waits until
# the runs are done: its answers are timed against an idle server.
BACKGROUND_EXAMPLES = {("POST", "/api/v1/scoring/runs"): 10}
RUNS_DRAIN_SECONDS = 600
# Operations that are slow by nature: the annual report renders an A4 PDF with three charts
# (about a second), and reads a year of the demo's 38,000 intake records. Their parameters
# are two: fewer examples cover them.
SLOW_EXAMPLES = {("GET", "/api/v1/reports/annual.pdf"): 8, ("GET", "/api/v1/reports/annual"): 25}


def _wait_for_runs(server: Server, headers: dict[str, str], run_ids: list[int]) -> None:
    import httpx

    deadline = time.monotonic() + RUNS_DRAIN_SECONDS
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as client:
        for run_id in run_ids:
            while client.get(f"/api/v1/scoring/runs/{run_id}").json()["status"] == "running":
                assert time.monotonic() < deadline, f"score run {run_id} still running"
                time.sleep(0.5)


def _fuzz(server: Server, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{server.base}/schema/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema: {result.err()}")
            continue
        operations += 1
        failure = _fuzz_operation(server, headers, result.ok())
        if failure:
            failures.append(failure)
    return operations, failures


def _fuzz_operation(server: Server, headers: dict[str, str], operation: Any) -> str | None:
    """The operation driven by a Hypothesis run of its own; what failed, if anything."""
    key = (operation.method.upper(), operation.path)
    started: list[int] = []

    def remember_runs(ctx: Any, response: Any, case: Any) -> bool | None:
        if key in BACKGROUND_EXAMPLES and response.status_code == 202:
            started.append(response.json()["id"])
        return None

    @given(case=operation.as_strategy())
    @settings(
        max_examples=min(
            EXAMPLES, BACKGROUND_EXAMPLES.get(key, EXAMPLES), SLOW_EXAMPLES.get(key, EXAMPLES)
        ),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    def run(case: Any) -> None:
        case.call_and_validate(
            base_url=server.base,
            headers=headers,
            checks=[*CHECKS, problem_json, remember_runs],
        )

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # all operations tried, all reported
        # Hypothesis wraps what went wrong (a flaky example's first failure among them):
        # name each inner exception, not only the group's summary.
        inner = exc.exceptions if isinstance(exc, BaseExceptionGroup) else ()
        why = "; ".join(f"{type(e).__name__}: {e}" for e in inner) or str(exc)
        return f"{key[0]} {key[1]}: {exc} [{why}]"[:3000]
    finally:
        _wait_for_runs(server, headers, started)
    return None


# Every operation of the API in one test: its time grows with the API (about 90 operations,
# each a Hypothesis run of its own) and with the machine's load. The per-test default (300 s)
# would fire inside an example, which Hypothesis then reports as a flaky one.
FUZZ_SECONDS = 1800


@pytest.mark.timeout(FUZZ_SECONDS)
def test_no_operation_fails_anonymously(fuzzed: Server) -> None:
    operations, failures = _fuzz(fuzzed, {})
    assert operations > 30
    assert failures == [], "\n\n".join(failures)


@pytest.mark.timeout(FUZZ_SECONDS)
def test_no_operation_fails_for_an_official(fuzzed: Server) -> None:
    operations, failures = _fuzz(fuzzed, {"authorization": f"Bearer {fuzzed.official_token}"})
    assert operations > 30
    assert failures == [], "\n\n".join(failures)


# The edges the generated cases seldom reach, sent to every body field and query parameter
# that takes one: an overflowing date once gave a 500 the generator never found.
BOUNDARY_TIMES = (
    "0001-01-01T00:00:00+14:00",
    "0001-01-01T00:00:00-14:00",
    "9999-12-31T23:59:59-14:00",
    "9999-12-31T23:59:59+14:00",
    "2026-05-01T00:00:00",  # naive
    "2026-05-01T00:00:00+14:00",
    "2026-05-01T00:00:00-14:00",
    "1999-12-31",
    "",
)
BOUNDARY_NUMBERS: tuple[object, ...] = (0, -1, 2**63, 1e308, -1e308, "NaN")
# Text that is not text and numbers that are not numbers (issue 29): each once gave a 500 or
# was stored and shown reversed. Sent to every field below, and mixed into generated cases.
HOSTILE_STRINGS = (
    "\u202eevil\u202c",
    "a\u000bb",
    "a\x00b",
    "\u2066iso\u2069",
    "\x1b[2J",
    "²",
    "①",
    "--3",
    "9" * 5000,
    "².abc",
    "PRB1\n",
)
BOUNDARY_STRINGS = ("", "x" * 10_000, "\u200f\u061c", *HOSTILE_STRINGS)


def _boundary_requests(uscc: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for at in BOUNDARY_TIMES:
        complaint = {
            "external_id": "B-1",
            "uscc": uscc,
            "received_at": at,
            "status": "received",
            "category": "quality",
        }
        yield "POST", "/api/v1/complaints", {"json": {"complaints": [complaint]}}
        followed = complaint | {
            "received_at": "2026-05-01T09:00:00+08:00",
            "status": "closed",
            "accepted_at": "2026-05-02T09:00:00+08:00",
            "closed_at": "2026-05-03T09:00:00+08:00",
            "followup": "satisfied",
            "followup_at": at,
        }
        yield "POST", "/api/v1/complaints", {"json": {"complaints": [followed]}}
        yield "POST", "/api/v1/visits", {"json": {"tallies": [{"external_id": "V", "day": at}]}}
        campaign = {
            "code": "HD-B",
            "name": "红盾",
            "year": 2026,
            "rounds": [{"number": 1, "held_on": at, "batches": []}],
        }
        yield "POST", "/api/v1/spot-checks", {"json": {"campaigns": [campaign]}}
        event = {
            "uscc": uscc,
            "kind": "commendation",
            "occurred_at": at,
            "source": "fuzz",
            "external_ref": "B-1",
        }
        yield "POST", "/api/v1/credit/events", {"json": {"events": [event]}}
        for param in ("since", "until"):
            yield "GET", "/api/v1/complaints/figures", {"params": {param: at}}
            yield "GET", "/api/v1/surveys/merchant/responses", {"params": {param: at}}
    for number in BOUNDARY_NUMBERS:
        amounts: dict[str, object] = {
            "external_id": "B-2",
            "uscc": uscc,
            "received_at": "2026-05-01T09:00:00+08:00",
            "status": "received",
            "category": "quality",
            "amount_disputed": number,
        }
        yield "POST", "/api/v1/complaints", {"json": {"complaints": [amounts]}}
        for param in ("page", "page_size"):
            yield "GET", "/api/v1/surveys/merchant/responses", {"params": {param: str(number)}}
    for text in BOUNDARY_STRINGS:
        event = {
            "uscc": text or uscc,
            "kind": "commendation",
            "occurred_at": "2026-05-01T09:00:00+08:00",
            "source": text,
            "external_ref": text,
            "note": text,
        }
        yield "POST", "/api/v1/credit/events", {"json": {"events": [event]}}
        yield "GET", "/api/v1/surveys/merchant/responses", {"params": {"target": text}}


def test_boundary_values_get_a_clear_answer(fuzzed: Server) -> None:
    import httpx

    failures: list[str] = []
    headers = {"authorization": f"Bearer {fuzzed.official_token}"}
    with httpx.Client(base_url=fuzzed.base, headers=headers, timeout=30) as client:
        merchants = client.get("/api/v1/merchants", params={"page_size": 1}).json()
        uscc = merchants["items"][0]["uscc"]
        for method, path, kwargs in _boundary_requests(uscc):
            if "json" in kwargs:
                # NaN as the bare token some encoders write, which is not JSON.
                body = json.dumps(kwargs.pop("json")).replace('"NaN"', "NaN")
                kwargs["content"] = body.encode()
                kwargs["headers"] = {"content-type": "application/json"}
            r = client.request(method, path, **kwargs)
            kind = r.headers.get("content-type", "")
            if r.status_code >= 500 or (
                r.status_code >= 400 and not kind.startswith("application/problem+json")
            ):
                failures.append(f"{method} {path} {str(kwargs)[:200]}: {r.status_code} {kind}")
    assert failures == [], "\n".join(failures)


# --- hostile text in generated cases --------------------------------------------------------

HOSTILE_EXAMPLES = int(os.environ.get("FANGXIN_FUZZ_HOSTILE_EXAMPLES", "25"))  # per operation
# What no text of ours may hold (service.kernel.validation): none may come back from a write.
NOT_TEXT = frozenset("\x00\x0b\x1b\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _with_hostile_strings(draw: st.DrawFn, value: Any) -> Any:
    """``value`` with some of its strings (anywhere in it) swapped for hostile ones."""
    if isinstance(value, str):
        return draw(st.sampled_from(HOSTILE_STRINGS)) if draw(st.booleans()) else value
    if isinstance(value, list):
        return [_with_hostile_strings(draw, v) for v in value]
    if isinstance(value, dict):
        return {k: _with_hostile_strings(draw, v) for k, v in value.items()}
    return value


def _hostile_cases(operation: Any) -> st.SearchStrategy[Any]:
    """The operation's generated cases, with hostile strings in their bodies, queries and
    path parameters: the schema's own patterns keep the generator from ever making them."""

    @st.composite
    def cases(draw: st.DrawFn) -> Any:
        case = draw(operation.as_strategy())
        if case.body is not NOT_SET:
            case.body = _with_hostile_strings(draw, case.body)
        case.query = _with_hostile_strings(draw, case.query)
        case.path_parameters = _with_hostile_strings(draw, case.path_parameters)
        return case

    return cases()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)


def no_hostile_text_kept(ctx: Any, response: Any, case: Any) -> bool | None:
    """A write that succeeded kept no control or bidi override character: its answer (the
    record as stored) holds none."""
    if case.method.upper() in ("POST", "PUT", "PATCH") and 200 <= response.status_code < 300:
        kind = response.headers.get("content-type", [""])
        kind = kind[0] if isinstance(kind, list) else kind
        if kind.startswith("application/json"):
            kept = [s for s in _strings(response.json()) if NOT_TEXT & set(s)]
            assert kept == [], f"stored as given: {kept[:3]!r}"
    return None


def _fuzz_hostile(server: Server, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{server.base}/schema/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema: {result.err()}")
            continue
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in BACKGROUND_EXAMPLES or key in SLOW_EXAMPLES:
            continue  # their parameters are numbers and codes, fuzzed above
        operations += 1

        @given(case=_hostile_cases(operation))
        @settings(
            max_examples=HOSTILE_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=server.base,
                headers=headers,
                checks=[not_a_server_error, problem_json, no_hostile_text_kept],
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # all operations tried, all reported
            inner = exc.exceptions if isinstance(exc, BaseExceptionGroup) else ()
            why = "; ".join(f"{type(e).__name__}: {e}" for e in inner) or str(exc)
            failures.append(f"{key[0]} {key[1]}: {exc} [{why}]"[:3000])
    return operations, failures


def test_hostile_text_and_numbers_in_every_field_are_refused_not_kept(fuzzed: Server) -> None:
    """Every field of every operation, as an official and as a feed: control and bidi
    characters, superscript and circled digits, a doubled sign, 5,000 digits, a code ending in
    a line break: never a 500, a refusal as problem+json, nothing of it stored."""
    for token in (fuzzed.official_token, fuzzed.feed_token):
        operations, failures = _fuzz_hostile(fuzzed, {"authorization": f"Bearer {token}"})
        assert operations > 30
        assert failures == [], "\n\n".join(failures)
