"""The demo city's surveys: the default questionnaires, opened, with a year of synthetic
responses (some deliberately low-quality) screened as the nightly job would."""

from __future__ import annotations

from service.kernel.plugins import DemoContext
from surveys import demo_responses, quality
from surveys.questionnaire import default_files, load_file

DEMO_RESPONSES = 60_000


async def load(ctx: DemoContext) -> None:
    loaded = 0
    for path in default_files():
        await load_file(path, actor=ctx.actor, is_demo=True)
        loaded += 1
    ctx.facts["surveys"] = loaded
    count: int = ctx.sizes.get("responses", DEMO_RESPONSES)
    if count:
        batch = await demo_responses.populate(count=count)
        ctx.facts["responses"] = len(batch.responses.survey_id)
        screened = await quality.recompute_flags()
        ctx.facts["flagged"] = {k: v for k, v in screened.raised.items() if v}
