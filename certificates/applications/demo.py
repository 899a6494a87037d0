"""The demo city's application: a street's management applied, was inspected (materials and a
mystery-shopping visit), approved two days ago and is in public notice, with one objection
answered; and the demo area manager's account that applied."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from certificates.applications import materials, objections
from certificates.applications import store as applications
from certificates.applications.inspections import CHECKLIST
from certificates.applications.schemas import (
    AnswerIn,
    ApplicationDecisionIn,
    ChecklistItemIn,
    InspectionIn,
    ObjectionIn,
)
from certificates.models import Certificate
from certificates.policy import policy_for
from service.kernel import accounts
from service.kernel.audit import Actor
from service.kernel.models import Account, Area, AreaKind, Role
from service.kernel.settings import Settings
from service.register.demo_city import SHOWCASE_AREAS

USERNAME = "demo-area"
# A one-page PDF: what a scanned commitment letter would be.
LETTER = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


async def _street_to_show() -> Area | None:
    """A street without a certificate, other than the one left for an official to certify."""
    held = {str(c) for c in await Certificate.all().values_list("subject_code", flat=True)}
    for street in await Area.filter(kind=AreaKind.STREET, parent_id__not_isnull=True).order_by(
        "code"
    ):
        if street.code not in held and street.code not in SHOWCASE_AREAS:
            return street
    return None


async def load(
    settings: Settings, *, actor: Actor, accounts_out: list[tuple[str, str, str]]
) -> int | None:
    """The demo area manager (its password appended to ``accounts_out``) and its street's
    application in notice; the application's id, or None if the city has no street for it."""
    street = await _street_to_show()
    if street is None:
        return None
    password = secrets.token_urlsafe(12)
    manager = await accounts.create_account(
        USERNAME,
        password,
        Role.AREA_MANAGER,
        area_code=street.code,
        actor=actor,
        is_demo=True,
    )
    accounts_out.append((USERNAME, Role.AREA_MANAGER.value, password))
    official = await Account.get_or_none(username="demo-official")
    if official is None:
        return None
    who = accounts.principal_for_account(manager)
    by = accounts.principal_for_account(official)
    now = datetime.now(UTC)
    applied = now - timedelta(days=6)
    application = await applications.submit(
        who,
        kind=None,
        subject=None,
        statement=(
            "本街区商户均已作出线下无理由退货、先行赔付和明码标价承诺，"
            "街区设有消费维权服务站，申请创建放心消费示范街区。"
        ),
        uploads=[materials.Upload("创建申报书.pdf", LETTER)],
        data_dir=settings.data_dir,
        now=applied,
        is_demo=True,
    )
    passed = [ChecklistItemIn(k, True) for k in CHECKLIST]
    await applications.record_inspection(
        application.id,
        InspectionIn("materials", passed, True, "申报材料齐全"),
        who=by,
        now=applied + timedelta(days=1),
    )
    mystery = [
        ChecklistItemIn(k, True, "暗访购物，价签齐全" if k == "prices_marked" else "")
        for k in CHECKLIST
    ]
    await applications.record_inspection(
        application.id,
        InspectionIn("mystery_shopping", mystery, True, "暗访三家商户，未发现问题"),
        who=by,
        now=applied + timedelta(days=3),
    )
    started = now - timedelta(days=2)
    await applications.decide(
        application.id,
        ApplicationDecisionIn("approve", "材料审核与暗访均合格，进入公示"),
        who=by,
        policy=policy_for(settings.certificate_policy),
        now=started,
    )
    objection = await objections.lodge(
        application.id,
        ObjectionIn("街区内有一家店铺节假日不接受退货，希望核实。"),
        address=None,
        secret=settings.secret_key,
        now=started + timedelta(hours=5),
    )
    await objections.answer(
        objection.id,
        AnswerIn("dismissed", "经核查，该店已按承诺办理退货，异议不成立。"),
        who=by,
        now=started + timedelta(days=1),
    )
    return application.id
