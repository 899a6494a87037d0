"""Scripted ballot stuffing against one merchant (cookie cleared every time, addresses rotating
through a loopback range, a burst from one address, and rotating addresses with answers varied
to look human) ends up set aside by screening, and the published score of the attacked merchant
moves by less than its confidence interval's half."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import httpx

from scoring.satisfaction import runs
from scoring.satisfaction.models import UnitScore
from service.kernel.settings import Settings
from surveys import quality
from surveys.models import FlagKind, Response, ResponseFlag
from surveys.submit import Origin, SubmissionIn, submit
from tests.conftest import BASE_URL
from tests.helpers import TEST_ACTOR
from tests.surveys.conftest import make_city

LIKERT = ("quality", "price", "honesty", "safety", "service", "returns", "complaints")


async def _published_score(settings: Settings, uscc: str) -> UnitScore:
    run = await runs.run_now(runs.parse_params({}), settings, actor=TEST_ACTOR, publish=True)
    return await UnitScore.get(run_id=run.id, kind="merchant", code=uscc)


async def test_scripted_stuffing_is_set_aside_and_hardly_moves_the_score(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    city = await make_city()
    rng = random.Random(11)
    for i in range(120):  # a middling shop, rated honestly by different people
        base = rng.choice((2, 3, 3, 4, 4))
        answers: dict[str, object] = {
            k: max(1, min(5, base + rng.choice((-1, 0, 0, 1)))) for k in LIKERT
        }
        answers["recommend"] = rng.randint(2, 9)
        await submit(
            "merchant",
            SubmissionIn(
                target=city.merchant,
                answers=answers,
                client_submission_id=uuid.uuid4(),
                started_at=datetime.now(UTC) - timedelta(seconds=rng.randint(35, 120)),
            ),
            Origin(ip=f"10.1.{i // 200}.{i % 200}", device_id=None, channel="api"),
            secret=app_settings.secret_key,
        )
    # Those ratings came in over the last two months, a couple a day, as a shop's do.
    honest = (
        await Response.filter(target_code=city.merchant).order_by("id").values_list("id", flat=True)
    )
    now = datetime.now(UTC)
    for k, rid in enumerate(honest):
        at = now - timedelta(days=60) + timedelta(hours=12 * k, minutes=rng.randint(0, 600))
        await Response.filter(id=rid).update(submitted_at=at)
    await quality.recompute_flags()
    assert not await ResponseFlag.filter(kind=FlagKind.SURGE).exists()  # a shop's usual pace
    before = await _published_score(app_settings, city.merchant)
    assert before.score is not None and before.ci_low is not None and before.ci_high is not None

    app = client._transport.app  # type: ignore[attr-defined]

    async def stuff(address: str, answers: Mapping[str, object]) -> int:
        # A fresh client each time: no cookie survives, as a script clearing them would.
        transport = httpx.ASGITransport(app=app, client=(address, 40_000))
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
            r = await c.post(
                "/api/v1/surveys/merchant/responses",
                json={
                    "target": city.merchant,
                    "answers": answers,
                    "client_submission_id": str(uuid.uuid4()),
                    "started_at": (datetime.now(UTC) - timedelta(seconds=50)).isoformat(),
                },
            )
            return r.status_code

    attack_started = datetime.now(UTC)
    top = {**dict.fromkeys(LIKERT, 5), "recommend": 10}
    statuses = [await stuff(f"127.0.{n // 250}.{n % 250 + 2}", top) for n in range(60)]
    burst = []
    for _ in range(20):  # a burst from one address, the answers varied to look human
        varied = {**{k: rng.choice((4, 5, 5)) for k in LIKERT}, "recommend": rng.choice((9, 10))}
        burst.append(await stuff("127.0.9.9", varied))
    # Without a cookie the address is the device: one answer, then "already answered".
    assert burst[0] in (201, 429) and set(burst[1:]) <= {409, 429}
    statuses.extend(burst)
    for n in range(40):  # no cookie, a new address each time, human-looking answers
        varied = {**{k: rng.choice((4, 5, 5)) for k in LIKERT}, "recommend": rng.choice((9, 10))}
        statuses.append(await stuff(f"127.1.{n // 250}.{n % 250 + 2}", varied))
    assert all(s in (200, 201, 409, 429) for s in statuses)
    await quality.recompute_flags()

    attack = Response.filter(target_code=city.merchant, submitted_at__gte=attack_started)
    counted = await attack.filter(excluded=False).count()
    assert await attack.count() == sum(s in (200, 201) for s in statuses)
    assert counted == 0, f"{counted} stuffed responses still counted"
    after = await _published_score(app_settings, city.merchant)
    assert after.score is not None
    half_interval = (before.ci_high - before.ci_low) / 2
    assert abs(after.score - before.score) < half_interval, (before.score, after.score)
