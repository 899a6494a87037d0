"""The demo city's complaints filed online, one in every state, walked through the same store
functions as the public's, the merchants' and the officials' (issue 30).

The clock is fixed to the day the demo is loaded (Beijing, 09:00 of each step's day, every
step in the past), so deadlines read as a reader expects on that day: one complaint with the
merchant and its ten working days running, an offer awaiting the consumer, one escalated
and waiting for the bureau, one escalated long enough ago to be overdue for acceptance.
Choices (merchants, amounts, answers) come from a seeded generator; receipt codes and
tracking secrets are drawn by the store as for any filing. Loaded once, with the rest of the
city: ``service.demo`` loads only into an empty database, so a second ``fangxin demo``
changes nothing.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime, time, timedelta

from scoring.credit import store as credit_store
from scoring.disputes import odr, store
from scoring.disputes.intake import assign_mediator, bureau_accept, bureau_refuse, record_outcome
from scoring.disputes.schemas import (
    AnswerIn,
    DisputeIn,
    FollowupIn,
    MediatorIn,
    OfferIn,
    OutcomeIn,
    ReasonIn,
)
from service.kernel.accounts import Principal
from service.kernel.localtime import LOCAL_TZ, to_local
from service.kernel.models import Merchant, MerchantStatus, Role
from service.kernel.plugins import DemoContext

SEED = 30
ODR_MERCHANTS = 6  # merchants taking part in online dispute resolution
CLOSED_WITH_FOLLOWUP = 8  # mediated to an end and answered
STORIES = (
    ("买的电饭煲第二天就坏了，商家不给退。", "quality", "refund"),
    ("标价 39 元的套餐结账收了 59 元。", "price", "refund"),
    ("预付的健身卡门店关门，余额不退。", "contract", "refund"),
    ("服务员态度恶劣，菜里有头发。", "service", "apology"),
    ("宣传“纯羊毛”的毛衣，吊牌写着腈纶。", "false_advertising", "exchange"),
    ("新买的手机屏幕有坏点，要求换货。", "quality", "exchange"),
    ("修好的洗衣机三天后又漏水。", "quality", "repair"),
)
FOLLOWUPS = ("satisfied", "satisfied", "basically_satisfied", "dissatisfied")


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.today = to_local(now).date()

    def ago(self, days: int, hour: int = 9) -> datetime:
        return datetime.combine(self.today - timedelta(days=days), time(hour), LOCAL_TZ)


class _Demo:
    def __init__(self, ctx: DemoContext, rng: random.Random, clock: _Clock) -> None:
        self.ctx, self.rng, self.clock = ctx, rng, clock
        self.credit = credit_store.rules_for(ctx.settings.credit_rules)
        self.city = Principal(role=Role.OFFICIAL, name="demo-official")
        self.n = 0

    async def file(self, m: Merchant, days_ago: int) -> store.Filed:
        self.n += 1
        text, category, wants = STORIES[self.n % len(STORIES)]
        filed_at = self.clock.ago(days_ago)
        data = DisputeIn(
            merchant=m.uscc,
            category=category,
            description=f"{text}（演示投诉 {self.n}）",
            occurred_on=(filed_at.date() - timedelta(days=2)).isoformat(),
            wants=wants,
            phone=f"1390000{self.n:04d}",
            client_submission_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            amount=f"{self.rng.randint(3, 60) * 10}.00",
            consent_contact=True,
            share_contact=self.rng.random() < 0.7,
        )
        return await store.file(
            data,
            [],
            origin=store.Origin(ip=None, device_id=None),
            secret_key=self.ctx.settings.secret_key,
            data_dir=self.ctx.settings.data_dir,
            credit=self.credit,
            now=filed_at,
            is_demo=True,
        )

    @staticmethod
    def shop(m: Merchant) -> Principal:
        return Principal(role=Role.MERCHANT, name=f"merchant-{m.uscc}", merchant_id=m.id)

    async def offer(self, f: store.Filed, m: Merchant, days_ago: int) -> None:
        offer = OfferIn(kind="refund", amount=f"{self.rng.randint(2, 20) * 10}", note="退款致歉")
        await store.merchant_offer(
            f.dispute.code,
            offer,
            who=self.shop(m),
            credit=self.credit,
            now=self.clock.ago(days_ago, 11),
        )

    async def mediate_to_end(self, f: store.Filed, days_ago: int) -> None:
        """Accepted, mediated and closed with an agreement, then followed up."""
        code = f.dispute.code
        await bureau_accept(code, who=self.city, credit=self.credit, now=self.clock.ago(days_ago))
        mode = self.rng.choice(("bureau", "people_mediation", "court_mediation"))
        await assign_mediator(
            code,
            MediatorIn(mode),
            who=self.city,
            credit=self.credit,
            now=self.clock.ago(days_ago - 1),
        )
        outcome = OutcomeIn(
            "agreement", amount_recovered=f"{self.rng.randint(2, 30) * 10}", upheld=True
        )
        await record_outcome(
            code, outcome, who=self.city, credit=self.credit, now=self.clock.ago(days_ago - 4)
        )
        answer = FollowupIn(self.rng.choice(FOLLOWUPS), "")
        await store.follow_up(code, f.secret, answer, now=self.clock.ago(days_ago - 6))


async def load_disputes(ctx: DemoContext) -> None:
    rng = random.Random(SEED)  # noqa: S311 - demo data, reproducible on purpose
    clock = _Clock(datetime.now(LOCAL_TZ))
    demo = _Demo(ctx, rng, clock)
    active = await Merchant.filter(status=MerchantStatus.ACTIVE).order_by("uscc")
    picked = rng.sample(active, ODR_MERCHANTS * 2)
    odr_shops, others = picked[:ODR_MERCHANTS], picked[ODR_MERCHANTS:]
    for m in odr_shops:
        await odr.join(m.id, actor=ctx.actor, now=clock.ago(120))
    a, b, c, d, e, g = odr_shops

    await demo.file(a, 2)  # with the merchant, its ten working days running
    offered = await demo.file(b, 5)
    await demo.offer(offered, b, 3)  # offered, the consumer has five working days
    settled = await demo.file(c, 30)
    await demo.offer(settled, c, 28)
    await store.consumer_accept(
        settled.dispute.code, settled.secret, credit=demo.credit, now=clock.ago(27)
    )  # settled by the merchant (merchant_odr)
    await store.follow_up(
        settled.dispute.code,
        settled.secret,
        FollowupIn("satisfied", "商家很爽快"),
        now=clock.ago(26),
    )
    withdrawn = await demo.file(d, 20)
    await store.withdraw(
        withdrawn.dispute.code,
        withdrawn.secret,
        AnswerIn("已私下解决"),
        credit=demo.credit,
        now=clock.ago(18),
    )
    refused = await demo.file(e, 4)  # the merchant refuses: escalated, awaiting acceptance
    await store.merchant_refuse(
        refused.dispute.code,
        ReasonIn("商品已使用，不符合退货条件"),
        who=demo.shop(e),
        credit=demo.credit,
        now=clock.ago(2),
    )
    # Straight to the bureau (the merchant is not in ODR) three weeks ago: overdue to accept.
    await demo.file(others[0], 21)
    bureau_refused = await demo.file(others[1], 15)
    await bureau_refuse(
        bureau_refused.dispute.code,
        ReasonIn("属于民事合同纠纷，已告知向法院起诉"),
        who=demo.city,
        credit=demo.credit,
        now=clock.ago(13),
    )
    mediating = await demo.file(others[2], 12)
    await bureau_accept(
        mediating.dispute.code, who=demo.city, credit=demo.credit, now=clock.ago(10)
    )
    await assign_mediator(
        mediating.dispute.code,
        MediatorIn("volunteer", "李律师（志愿调解员）"),
        who=demo.city,
        credit=demo.credit,
        now=clock.ago(9),
    )
    for i in range(CLOSED_WITH_FOLLOWUP):
        m = others[3 + i % 3] if i % 2 else g
        f = await demo.file(m, 40 - i)
        if m is g:  # refused by the merchant first, then the bureau's
            await store.merchant_refuse(
                f.dispute.code,
                ReasonIn("不同意退款"),
                who=demo.shop(g),
                credit=demo.credit,
                now=clock.ago(39 - i, 10),
            )
        await demo.mediate_to_end(f, 38 - i)
    ctx.facts["disputes"] = demo.n
