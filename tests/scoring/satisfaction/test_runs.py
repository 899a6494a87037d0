"""Responses in → run → review → publish → the public scores, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from surveys.submit import Origin, SubmissionIn, submit
from tests.helpers import TEST_ACTOR, make_token
from tests.surveys.conftest import make_city

LIKERT = ("quality", "price", "honesty", "safety", "service", "returns", "complaints")


async def test_a_run_is_reviewed_published_and_served(client: httpx.AsyncClient) -> None:
    city = await make_city()
    # All-equal answers would be flagged as straight-lining: one item differs by a point.
    await _respond_varied(city.merchant, base=4, nps=6, times=20)
    await _respond_varied(city.other_merchant, base=5, nps=9, times=20)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"

    r = await client.post("/api/v1/scoring/runs", json={"params": {"min_n_rank": 10}})
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    run = (await client.get(f"/api/v1/scoring/runs/{run_id}")).json()
    assert run["status"] == "draft", (run, run.get("error"))
    assert run["counts"]["responses"] == 40 and run["counts"]["excluded"] == 0
    assert run["params"]["min_n_rank"] == 10 and len(run["fingerprint"]) == 64

    # Nothing is public before publication.
    assert (await client.get("/api/v1/scores", params={"kind": "merchant"})).json()["items"] == []
    r = await client.post(f"/api/v1/scoring/runs/{run_id}/publish")
    assert r.status_code == 200 and r.json()["status"] == "published"

    scores = (await client.get("/api/v1/scores", params={"kind": "merchant"})).json()
    assert scores["run"] == run_id
    top, second = scores["items"]
    # M2: six items at 5 (100) and one at 4 (75): supply 0.5·100 + 0.5·75 = 87.5,
    # environment 100, rights 100 → index 0.35·87.5 + 0.35·100 + 0.30·100 = 95.625.
    # M1: six at 4 (75), one at 3 (50): supply 62.5, env 75, rights 75 → 70.625.
    # Every response of a merchant is identical: σ²_within = 0, so m = 0 and no shrinkage.
    assert (top["code"], top["rank"], top["n"]) == (city.other_merchant, 1, 20)
    assert top["mean"] == pytest.approx(95.625) and top["score"] == pytest.approx(95.625)
    assert top["nps"] == pytest.approx(100.0)
    assert (second["code"], second["rank"]) == (city.merchant, 2)
    assert second["score"] == pytest.approx(70.625) and second["nps"] == pytest.approx(-100.0)
    assert second["dimensions"] == pytest.approx(
        {"supply": 62.5, "environment": 75.0, "rights": 75.0}
    )
    street = (await client.get("/api/v1/scores", params={"kind": "street"})).json()["items"]
    # The street pools its merchants' 40 responses: (95.625 + 70.625)/2 = 83.125.
    assert street[0]["n"] == 40 and street[0]["mean"] == pytest.approx(83.125)


async def _respond_varied(target: str, base: int, nps: int, times: int) -> None:
    """Responses from distinct addresses (one address rating a place twenty times in a few
    minutes would rightly be flagged as a burst)."""
    answers = {**dict.fromkeys(LIKERT, base), "price": base - 1, "recommend": nps}
    for i in range(times):
        await submit(
            "merchant",
            SubmissionIn(
                target=target,
                answers=answers,
                client_submission_id=uuid.uuid4(),
                started_at=datetime.now(UTC) - timedelta(seconds=40),
            ),
            Origin(ip=f"10.1.{base}.{i}", device_id=None, channel="api"),
            secret="s" * 40,
        )


async def test_publishing_supersedes_and_discarding_needs_a_reason(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await _respond_varied(city.merchant, base=4, nps=8, times=3)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    first = (await client.post("/api/v1/scoring/runs", json={})).json()["id"]
    second = (await client.post("/api/v1/scoring/runs", json={})).json()["id"]
    third = (await client.post("/api/v1/scoring/runs", json={})).json()["id"]
    assert (await client.post(f"/api/v1/scoring/runs/{first}/publish")).status_code == 200
    assert (await client.post(f"/api/v1/scoring/runs/{second}/publish")).status_code == 200
    assert (await client.get("/api/v1/scores", params={"kind": "merchant"})).json()["run"] == second
    # The first stays readable as history; it cannot be published twice.
    assert (await client.get(f"/api/v1/scoring/runs/{first}")).json()["status"] == "published"
    assert (await client.post(f"/api/v1/scoring/runs/{first}/publish")).status_code == 409
    r = await client.post(f"/api/v1/scoring/runs/{third}/discard", json={"reason": " "})
    assert r.status_code == 422
    r = await client.post(
        f"/api/v1/scoring/runs/{third}/discard", json={"reason": "window too short"}
    )
    assert r.json()["status"] == "discarded"
    actions = [
        str(a)
        for a in await AuditEvent.filter(subject__startswith="score_run:")
        .order_by("id")
        .values_list("action", flat=True)
    ]
    assert actions.count("score_run.published") == 2
    assert "score_run.discarded" in actions
    # Same data, same parameters: the same fingerprint.
    fps = {
        (await client.get(f"/api/v1/scoring/runs/{i}")).json()["fingerprint"]
        for i in (first, second, third)
    }
    assert len(fps) == 1


async def test_bad_parameters_are_refused_by_name(client: httpx.AsyncClient) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    r = await client.post(
        "/api/v1/scoring/runs",
        json={"params": {"min_n_rank": 0, "colour": 1, "area_self_weight": 2}},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {
        "params.min_n_rank",
        "params.colour",
        "params.area_self_weight",
    }


async def test_a_run_over_no_responses_is_an_empty_draft(db: Settings) -> None:
    run = await runs.run_now(runs.parse_params({}), db, actor=TEST_ACTOR)
    assert run.status == "draft"
    assert run.counts["responses"] == 0
    assert await UnitScore.filter(run_id=run.id).count() == 0


async def test_a_run_exports_as_csv_xlsx_and_parquet(client: httpx.AsyncClient) -> None:
    import csv
    import io

    import polars as pl

    city = await make_city()
    await _respond_varied(city.merchant, base=4, nps=8, times=5)
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    run_id = (await client.post("/api/v1/scoring/runs", json={})).json()["id"]
    stored = await UnitScore.filter(run_id=run_id).count()
    url = f"/api/v1/scoring/runs/{run_id}/export"
    r = await client.get(url, params={"format": "csv"})
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == stored
    merchant = next(row for row in rows if row["类别"] == "merchant")
    assert merchant["代码"] == city.merchant and merchant["评价数"] == "5"
    xlsx = pl.read_excel(io.BytesIO((await client.get(url, params={"format": "xlsx"})).content))
    parquet = pl.read_parquet(
        io.BytesIO((await client.get(url, params={"format": "parquet"})).content)
    )
    assert xlsx.height == parquet.height == stored
    assert parquet.filter(pl.col("kind") == "merchant")["mean"][0] == pytest.approx(
        float(merchant["平均评分"])
    )


async def test_an_export_reads_every_row_for_its_column_types(client: httpx.AsyncClient) -> None:
    """A column empty in the first hundred rows (ranks of unranked units) and filled later must
    not break the export (found by the schema fuzzer on the demo city)."""
    from datetime import UTC, datetime

    from scoring.satisfaction.models import RunStatus, ScoreRun

    now = datetime.now(UTC)
    run = await ScoreRun.create(
        status=RunStatus.DRAFT, created_by="test", window_since=now, window_until=now
    )
    for i in range(150):
        await UnitScore.create(
            run=run,
            kind="merchant",
            code=f"M{i:03d}",
            n=3,
            insufficient_data=True,
            rank=None if i < 120 else i,
            score=None if i < 120 else 80,
        )
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    for fmt in ("csv", "xlsx", "parquet"):
        r = await client.get(f"/api/v1/scoring/runs/{run.id}/export", params={"format": fmt})
        assert r.status_code == 200, (fmt, r.text[:200])


def test_the_fingerprint_ignores_row_order_and_sees_any_change() -> None:
    import polars as pl

    from scoring.satisfaction.load import fingerprint

    answers = pl.DataFrame(
        {"response_id": [1, 1, 2, 2], "question_key": ["a", "b", "a", "b"], "value": [5, 4, 3, 2]}
    )
    responses = pl.DataFrame({"response_id": [1, 2], "excluded": [False, True]})
    same = fingerprint(responses, answers)
    assert (
        fingerprint(responses.reverse(), answers.sample(fraction=1.0, shuffle=True, seed=3)) == same
    )
    assert fingerprint(responses, answers.with_columns(pl.col("value").replace(2, 1))) != same
    assert fingerprint(responses, pl.concat([answers, answers.tail(1)])) != same  # a row twice
    assert fingerprint(responses, answers.head(3)) != same
    assert fingerprint(responses.with_columns(pl.col("excluded").not_()), answers) != same
    # The same rows split differently between the frames are not the same inputs.
    assert fingerprint(answers, responses) != same
