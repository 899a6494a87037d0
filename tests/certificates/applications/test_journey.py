"""An application end to end over HTTP: the merchant applies with a file, an official
inspects and approves, the public objects, the official answers, and the certificate is issued
only once the notice has ended cleanly; every refusal on the way is a 409 or a 422 naming its
fields, and every step is on the timeline and in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from certificates.applications import store as applications
from certificates.applications.models import Application, Objection
from certificates.models import Certificate
from certificates.policy import policy_for
from service.kernel.models import AuditEvent
from service.kernel.settings import Settings
from tests.certificates.applications.conftest import PDF, PNG, eligible_city, session
from tests.helpers import csrf

CHECKLIST = [
    {"item": k, "passed": True, "note": ""}
    for k in (
        "licence_displayed",
        "prices_marked",
        "returns_commitment",
        "goods_traceable",
        "complaint_channel",
        "measures_accurate",
        "staff_service",
    )
]
OBJECTION = "上周在该店购买的商品无价签，结账时价格高于货架标示。"


async def test_merchant_applies_is_inspected_noticed_objected_to_answered_and_issued(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    city = await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        files = [
            ("files", ("营业执照.pdf", PDF, "application/pdf")),
            # Named and declared as a PDF, but a PNG: kept, as what its content is.
            ("files", ("photo.pdf", PNG, "application/pdf")),
        ]
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "承诺明码标价、七日无理由退货。"},
            files=files,
        )
        assert r.status_code == 201, r.text
        app = r.json()
        assert (app["status"], app["subject"]["code"]) == ("submitted", city.merchant)
        assert [m["media_type"] for m in app["materials"]] == ["application/pdf", "image/png"]
        again = await shop.post(
            "/api/v1/applications", data={"statement": "再次申请"}, files=files[:1]
        )
        assert again.status_code == 409
        got = await shop.get(
            f"/api/v1/applications/{app['id']}/materials/{app['materials'][0]['id']}"
        )
        assert got.content == PDF and got.headers["content-type"] == "application/pdf"

        base = f"/api/v1/applications/{app['id']}"
        early = await official.post(
            f"{base}/decision", json={"decision": "approve", "reason": "好"}
        )
        assert early.status_code == 409  # nobody inspected yet
        r = await official.post(
            f"{base}/inspections",
            json={
                "kind": "mystery_shopping",
                "checklist": CHECKLIST,
                "passed": True,
                "note": "暗访无异常",
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["status"] == "under_review"
        r = await official.post(
            f"{base}/decision", json={"decision": "approve", "reason": "材料齐全，暗访合格"}
        )
        assert r.status_code == 200, r.text
        noticed = r.json()
        assert noticed["status"] == "in_notice"
        starts = datetime.fromisoformat(noticed["notice_starts_at"])
        ends = datetime.fromisoformat(noticed["notice_ends_at"])
        assert ends - starts == timedelta(days=7)  # the policy's [notice] days

        # Neither the application's issue nor direct issuance passes a running notice.
        assert (await official.post(f"{base}/issue")).status_code == 409
        direct = await official.post(
            "/api/v1/certificates", json={"kind": "merchant", "subject": city.merchant}
        )
        assert direct.status_code == 409, direct.text

        public = httpx.AsyncClient(transport=served._transport, base_url=str(served.base_url))
        listed = (await public.get("/api/v1/notices")).json()
        assert [(n["id"], n["open"]) for n in listed] == [(app["id"], True)]
        r = await public.post(
            f"/api/v1/notices/{app['id']}/objections",
            json={"text": OBJECTION, "contact": "13800000000"},
        )
        assert r.status_code == 201, r.text
        objection = r.json()
        assert objection["contact"] is None  # the public never sees a contact
        await public.aclose()

        # The notice ended (moved through the store), but an objection is unanswered.
        await applications.move_notice(
            app["id"], datetime.now(UTC) - timedelta(days=8), policy_for(lenient.certificate_policy)
        )
        refused = await official.post(f"{base}/issue")
        assert refused.status_code == 409 and "objection" in refused.json()["detail"]
        direct = await official.post(
            "/api/v1/certificates", json={"kind": "merchant", "subject": city.merchant}
        )
        assert direct.status_code == 409

        bad = await official.post(
            f"/api/v1/objections/{objection['id']}/answer", json={"outcome": "maybe", "reply": ""}
        )
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["outcome", "reply"]
        r = await official.post(
            f"/api/v1/objections/{objection['id']}/answer",
            json={"outcome": "dismissed", "reply": "经核查，该店已整改，价签齐全。"},
        )
        assert r.status_code == 200 and r.json()["contact"] == "13800000000"
        twice = await official.post(
            f"/api/v1/objections/{objection['id']}/answer",
            json={"outcome": "upheld", "reply": "改判"},
        )
        assert twice.status_code == 409

        r = await official.post(f"{base}/issue")
        assert r.status_code == 200, r.text
        issued = r.json()
        assert issued["status"] == "issued" and issued["certificate_serial"]
        cert = await Certificate.get(serial=issued["certificate_serial"])
        assert (cert.subject_code, cert.issued_by) == (city.merchant, "account:inspector")
        verify = await served.get(f"/verify/{cert.serial}")
        assert verify.status_code == 200

        steps = [s["new_status"] for s in issued["timeline"]]
        assert steps == ["submitted", "under_review", "approved", "in_notice", "issued"]
        notice = await served.get(f"/notices/{app['id']}")
        assert "经核查，该店已整改" in notice.text and "13800000000" not in notice.text

        mine = await shop.get("/merchant/applications")
        assert mine.status_code == 200
        assert "暗访无异常" in mine.text and cert.serial in mine.text
        assert "经核查，该店已整改" in mine.text
    finally:
        await shop.aclose()
        await official.aclose()
    actions = [
        e.action for e in await AuditEvent.filter(subject=f"application:{app['id']}").order_by("id")
    ]
    assert actions == [
        "application.submitted",
        "application.inspected",
        "application.under_review",
        "application.approved",
        "application.in_notice",
        "objection.lodged",
        "application.notice_moved",
        "objection.answered",
        "application.issued",
    ]


async def test_an_upheld_objection_blocks_the_application_and_direct_issue(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    city = await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "申请"},
            files={"files": ("a.pdf", PDF, "application/pdf")},
        )
        base = f"/api/v1/applications/{r.json()['id']}"
        await official.post(
            f"{base}/inspections", json={"kind": "onsite", "checklist": CHECKLIST, "passed": True}
        )
        await official.post(f"{base}/decision", json={"decision": "approve", "reason": "合格"})
        r = await served.post(
            f"/api/v1/notices/{r.json()['id']}/objections", json={"text": OBJECTION}
        )
        assert r.status_code == 201
        r = await official.post(
            f"/api/v1/objections/{r.json()['id']}/answer",
            json={"outcome": "upheld", "reply": "核查属实，终止公示。"},
        )
        assert r.status_code == 200
        state = (await official.get(base)).json()
        assert state["status"] == "blocked"
        assert (await official.post(f"{base}/issue")).status_code == 409
        direct = await official.post(
            "/api/v1/certificates", json={"kind": "merchant", "subject": city.merchant}
        )
        assert direct.status_code == 409
        assert await Certificate.all().count() == 0
        # Applying again does not clear the upheld objection: the blocked application is
        # still unresolved, and the gate still holds the subject back.
        blocked_id = state["id"]
        again = await shop.post(
            "/api/v1/applications",
            data={"statement": "整改后再次申请"},
            files={"files": ("b.png", PNG, "image/png")},
        )
        assert again.status_code == 409, again.text
        assert again.headers["content-type"].startswith("application/problem+json")
        assert (
            again.json()["detail"]
            == f"您的申报 {blocked_id} 因异议成立已被中止：待本局办结后方可重新申报"
        )
        direct = await official.post(
            "/api/v1/certificates", json={"kind": "merchant", "subject": city.merchant}
        )
        assert direct.status_code == 409
        assert await Application.all().count() == 1
        # The officials' way out: refusing the blocked application, with the reason, ends it.
        page = await official.get(f"/official/applications/{blocked_id}")
        assert 'name="decision" value="refuse"' in page.text
        approve = await official.post(
            f"{base}/decision", json={"decision": "approve", "reason": "再议"}
        )
        assert approve.status_code == 409  # a blocked application cannot be approved
        r = await official.post(
            f"{base}/decision", json={"decision": "refuse", "reason": "异议成立，不予认定。"}
        )
        assert r.status_code == 200, r.text
        assert [s["new_status"] for s in r.json()["timeline"]][-2:] == ["blocked", "refused"]
        # Then the merchant may try again; a new application starts from the beginning.
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "整改后再次申请"},
            files={"files": ("b.png", PNG, "image/png")},
        )
        assert r.status_code == 201
    finally:
        await shop.aclose()
        await official.aclose()


async def test_a_refusal_carries_its_reason_and_ends_the_application(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "申请"},
            files={"files": ("a.pdf", PDF, "application/pdf")},
        )
        base = f"/api/v1/applications/{r.json()['id']}"
        bad = await official.post(f"{base}/decision", json={"decision": "maybe", "reason": " "})
        assert bad.status_code == 422
        assert [e["field"] for e in bad.json()["errors"]] == ["decision", "reason"]
        r = await official.post(
            f"{base}/decision", json={"decision": "refuse", "reason": "营业执照过期"}
        )
        assert r.status_code == 200 and r.json()["status"] == "refused"
        late = await official.post(
            f"{base}/inspections", json={"kind": "onsite", "checklist": CHECKLIST, "passed": True}
        )
        assert late.status_code == 409
        mine = (await shop.get(base)).json()
        assert (mine["status"], mine["decision_reason"]) == ("refused", "营业执照过期")
        page = await shop.get("/merchant/applications")
        assert "营业执照过期" in page.text
    finally:
        await shop.aclose()
        await official.aclose()


async def test_bad_applications_and_inspections_are_named_field_by_field(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    city = await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": " ", "subject": city.other_merchant, "kind": "street"},
            files={"files": ("evil.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
        )
        assert r.status_code == 422
        assert [e["field"] for e in r.json()["errors"]] == [
            "kind",
            "subject",
            "statement",
            "files[0]",
        ]
        assert await Application.all().count() == 0
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "申请"},
            files={"files": ("a.pdf", PDF, "application/pdf")},
        )
        base = f"/api/v1/applications/{r.json()['id']}"
        r = await official.post(
            f"{base}/inspections",
            json={
                "kind": "séance",
                "checklist": [*CHECKLIST[:2], CHECKLIST[0], {"item": "vibes", "passed": True}],
                "passed": True,
            },
        )
        assert r.status_code == 422
        fields = [e["field"] for e in r.json()["errors"]]
        assert fields == ["kind", "checklist[2].item", "checklist[3].item", "checklist"]
        assert (await official.get(base)).json()["status"] == "submitted"
    finally:
        await shop.aclose()
        await official.aclose()


async def test_applicants_see_their_own_and_districts_theirs(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    city = await eligible_city(lenient)
    shop = await session(served, "shop")
    other = await session(served, "other-shop")
    street = await session(served, "street-office")
    county = await session(served, "county")
    try:
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "申请"},
            files={"files": ("a.pdf", PDF, "application/pdf")},
        )
        own = r.json()["id"]
        r = await street.post(
            "/api/v1/applications",
            data={"statement": "街区申请"},
            files={"files": ("a.pdf", PDF, "application/pdf")},
        )
        assert r.status_code == 201, r.text
        assert r.json()["subject"] == {
            "kind": "street",
            "code": city.street,
            "name": r.json()["subject"]["name"],
        }
        area_app = r.json()["id"]
        assert (await other.get(f"/api/v1/applications/{own}")).status_code == 404
        assert (await shop.get(f"/api/v1/applications/{area_app}")).status_code == 404
        assert [a["id"] for a in (await shop.get("/api/v1/applications")).json()["items"]] == [own]
        assert (await other.get("/api/v1/applications")).json()["total"] == 0
        home = await street.get("/area")
        assert home.status_code == 200 and "街区申请" not in home.text  # statement is officials'
        assert f"{area_app}" in home.text
        # Another district's official: as if none existed.
        assert (await county.get("/api/v1/applications")).json()["total"] == 0
        assert (await county.get(f"/api/v1/applications/{own}")).status_code == 404
        r = await county.post(
            f"/api/v1/applications/{own}/inspections",
            json={"kind": "onsite", "checklist": CHECKLIST, "passed": True},
        )
        assert r.status_code == 404
        assert (await county.get(f"/official/applications/{own}")).status_code == 404
        assert (await county.post(f"/api/v1/applications/{own}/issue")).status_code == 404
    finally:
        for c in (shop, other, street, county):
            await c.aclose()


async def test_the_officials_and_public_pages_work_by_form_with_csrf(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        token = await csrf(shop)
        wrong = await shop.post(
            "/merchant/applications",
            data={"statement": "承诺", "_csrf_token": token},
            files={"files": ("setup.pdf", b"MZ\x90\x00", "application/pdf")},
            headers={"x-csrftoken": ""},
        )
        assert wrong.status_code == 422
        assert "setup.pdf 不是 PDF、JPEG 或 PNG 文件" in wrong.text and "承诺" in wrong.text
        assert await Application.all().count() == 0
        r = await shop.post(
            "/merchant/applications",
            data={"statement": "<script>alert(1)</script>承诺", "_csrf_token": token},
            files={"files": ("a.pdf", PDF, "application/pdf")},
            headers={"x-csrftoken": ""},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        (app,) = await Application.all()
        token = await csrf(official)
        page = await official.get(f"/official/applications/{app.id}")
        assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
        form = {"_csrf_token": token, "kind": "materials", "result": "pass", "note": "齐全"}
        form |= {f"item_{c['item']}": "pass" for c in CHECKLIST}
        missing = {k: v for k, v in form.items() if k != "item_prices_marked"}
        r = await official.post(
            f"/official/applications/{app.id}/inspections",
            data=missing,
            headers={"x-csrftoken": ""},
        )
        assert r.status_code == 422 and "prices_marked" in r.text
        r = await official.post(
            f"/official/applications/{app.id}/inspections",
            data=form,
            headers={"x-csrftoken": ""},
            follow_redirects=False,
        )
        assert r.status_code == 303
        r = await official.post(
            f"/official/applications/{app.id}/decision",
            data={"_csrf_token": token, "decision": "approve", "reason": "合格"},
            headers={"x-csrftoken": ""},
            follow_redirects=False,
        )
        assert r.status_code == 303

        public = httpx.AsyncClient(transport=served._transport, base_url=str(served.base_url))
        listing = await public.get("/notices")
        assert f'href="/notices/{app.id}"' in listing.text
        forged = await public.post(f"/notices/{app.id}/objections", data={"text": OBJECTION})
        assert forged.status_code == 403  # no CSRF token
        token = await csrf(public)
        r = await public.post(
            f"/notices/{app.id}/objections",
            data={"text": "太短", "_csrf_token": token},
        )
        assert r.status_code == 422 and "太短" in r.text  # kept in the form, to correct
        assert "至少 10 个字" in r.text  # why, in the visitor's language
        assert await Objection.all().count() == 0
        r = await public.post(
            f"/notices/{app.id}/objections",
            data={"text": OBJECTION, "_csrf_token": token},
            follow_redirects=False,
        )
        assert r.status_code == 303
        await public.aclose()
        (objection,) = await Objection.all()
        r = await official.post(
            f"/official/objections/{objection.id}/answer",
            data={"_csrf_token": await csrf(official), "outcome": "dismissed", "reply": "不属实"},
            headers={"x-csrftoken": ""},
            follow_redirects=False,
        )
        assert r.status_code == 303
        r = await official.post(
            f"/official/applications/{app.id}/issue",
            data={"_csrf_token": await csrf(official)},
            headers={"x-csrftoken": ""},
        )
        assert r.status_code == 409 and "notice" in r.text  # the notice still runs
    finally:
        await shop.aclose()
        await official.aclose()


async def test_an_administrator_creates_an_area_manager_on_the_accounts_page(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    from service.kernel.models import Account, Role
    from tests.helpers import make_account

    city = await eligible_city(lenient)
    await make_account("root", Role.ADMIN)
    admin = await session(served, "root")
    try:
        page = await admin.get("/official/accounts")
        assert f'<option value="{city.street}">' in page.text
        form = {
            "username": "jiefang-office",
            "password": "Lantern river 47 quietly",
            "role": "area_manager",
            "area": city.street,
            "_csrf_token": await csrf(admin),
        }
        r = await admin.post("/official/accounts", data=form, follow_redirects=False)
        assert r.headers["location"].endswith("done=created")
        made = await Account.get(username="jiefang-office").select_related("area")
        assert made.role == Role.AREA_MANAGER and made.area is not None
        assert made.area.code == city.street
        r = await admin.post(
            "/official/accounts",
            data=form | {"username": "no-area", "area": ""},
            follow_redirects=False,
        )
        assert "error=not_created" in r.headers["location"]
        assert not await Account.exists(username="no-area")
        r = await admin.post(
            "/api/v1/accounts",
            json={
                "username": "jiefang-api",
                "password": "Lantern river 47 quietly",
                "role": "area_manager",
                "area": city.street,
            },
        )
        assert r.status_code == 201, r.text
        listed = {a["username"]: a for a in (await admin.get("/api/v1/accounts")).json()}
        assert listed["jiefang-api"]["area"] == listed["jiefang-office"]["area"] == city.street
    finally:
        await admin.aclose()


async def test_issuing_again_after_the_certificate_committed_only_records_it(
    served: httpx.AsyncClient, lenient: Settings
) -> None:
    """The certificate and the application's step are two transactions: when the first has
    committed (here: issued directly once the notice ended cleanly), the application's issue
    records that certificate instead of refusing or issuing a second one."""
    city = await eligible_city(lenient)
    shop = await session(served, "shop")
    official = await session(served, "inspector")
    try:
        r = await shop.post(
            "/api/v1/applications",
            data={"statement": "承诺七日无理由退货。"},
            files=[("files", ("营业执照.pdf", PDF, "application/pdf"))],
        )
        base = f"/api/v1/applications/{r.json()['id']}"
        inspection = {"kind": "onsite", "checklist": CHECKLIST, "passed": True, "note": ""}
        assert (await official.post(f"{base}/inspections", json=inspection)).status_code == 201
        decided = await official.post(
            f"{base}/decision", json={"decision": "approve", "reason": "合格"}
        )
        assert decided.status_code == 200
        await applications.move_notice(
            r.json()["id"],
            datetime.now(UTC) - timedelta(days=8),
            policy_for(lenient.certificate_policy),
        )
        direct = await official.post(
            "/api/v1/certificates", json={"kind": "merchant", "subject": city.merchant}
        )
        assert direct.status_code in (200, 201), direct.text
        issued = await official.post(f"{base}/issue")
        assert issued.status_code == 200, issued.text
        serials = [c.serial for c in await Certificate.filter(subject_code=city.merchant)]
        assert serials == [issued.json()["certificate_serial"]]
        assert issued.json()["status"] == "issued"
    finally:
        await shop.aclose()
        await official.aclose()
