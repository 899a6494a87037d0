"""Schemathesis against /schema/openapi.json of a served demo city, anonymous and with an
official's token: no 5xx, and every 4xx is problem+json. The server is this module's own, so
that what the generated requests change does not reach the journeys.

Each operation is driven by its own Hypothesis run inside one test per role (schemathesis'
pytest fixture loader does not yet run on pytest 9); every failing operation is listed."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from tests.e2e.conftest import Server, served_demo

pytestmark = pytest.mark.db
EXAMPLES = int(os.environ.get("FANGXIN_FUZZ_EXAMPLES", "120"))  # per operation and role


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


def _fuzz(server: Server, headers: dict[str, str]) -> tuple[int, list[str]]:
    schema = schemathesis.openapi.from_url(f"{server.base}/schema/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        if not isinstance(result, Ok):
            failures.append(f"the schema: {result.err()}")
            continue
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=True,
        )
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=server.base, headers=headers, checks=[not_a_server_error, problem_json]
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # all operations tried, all reported
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    return operations, failures


def test_no_operation_fails_anonymously(fuzzed: Server) -> None:
    operations, failures = _fuzz(fuzzed, {})
    assert operations > 30
    assert failures == [], "\n\n".join(failures)


def test_no_operation_fails_for_an_official(fuzzed: Server) -> None:
    operations, failures = _fuzz(fuzzed, {"authorization": f"Bearer {fuzzed.official_token}"})
    assert operations > 30
    assert failures == [], "\n\n".join(failures)
