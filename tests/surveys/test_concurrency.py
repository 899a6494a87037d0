"""Concurrent retries of one submission store one response (PostgreSQL runs them truly in
parallel on its connection pool; SQLite serialises them)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from service.kernel.settings import Settings
from surveys.models import Answer, Response
from surveys.submit import Origin, SubmissionIn, submit
from tests.surveys.conftest import GOOD_ANSWERS, make_city


async def test_twenty_concurrent_posts_of_one_submission_store_it_once(db: Settings) -> None:
    city = await make_city()
    data = SubmissionIn(
        target=city.merchant,
        answers=dict(GOOD_ANSWERS),
        client_submission_id=uuid.uuid4(),
        started_at=datetime.now(UTC) - timedelta(seconds=30),
    )
    results = await asyncio.gather(
        *[
            submit(
                "merchant",
                data,
                Origin(ip=f"10.0.0.{i}", device_id=None, channel="api"),
                secret=db.secret_key,
            )
            for i in range(20)
        ]
    )
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert await Response.all().count() == 1
    assert await Answer.all().count() == len(GOOD_ANSWERS)


async def test_concurrent_distinct_submissions_are_all_kept(db: Settings) -> None:
    city = await make_city()
    datas = [
        SubmissionIn(
            target=city.merchant, answers=dict(GOOD_ANSWERS), client_submission_id=uuid.uuid4()
        )
        for _ in range(30)
    ]
    results = await asyncio.gather(
        *[
            submit(
                "merchant",
                d,
                Origin(ip=f"10.0.1.{i}", device_id=None, channel="api"),
                secret=db.secret_key,
            )
            for i, d in enumerate(datas)
        ]
    )
    assert all(r.created for r in results)
    assert await Response.all().count() == 30
