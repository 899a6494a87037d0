"""The journeys' own pages: the merchant's page, the official's desk and queues, the home."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import httpx

from certificates.models import Certificate, Reply, Status
from certificates.policy import Kind
from scoring.credit.models import Complaint, ComplaintStatus
from service.kernel.models import AuditEvent, Role
from service.kernel.settings import Settings
from service.portal.merchant import compare
from tests.certificates.test_cascade import _certificate
from tests.helpers import csrf, login, make_account, make_token
from tests.surveys.conftest import make_city

HTML = {"accept": "text/html"}


async def _signed_in(client: httpx.AsyncClient, user: str) -> None:
    assert await login(client, user) == 303
    client.headers["x-csrftoken"] = await csrf(client)


async def test_a_merchant_sees_its_own_page_and_replies_to_a_revocation(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    own = await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000007-C", now)
    other = await _certificate(
        Kind.MERCHANT, city.other_merchant, "天中超市", "ZMD-2026-M-000008-A", now
    )
    await Complaint.create(
        source="12315",
        external_id="c-1",
        merchant_id=(await own_merchant_id(city.merchant)),
        received_at=now,
        status=ComplaintStatus.RECEIVED,
        category="price",
        amount_disputed_fen=12_345,
        accept_due=now.date(),
    )
    official = {"authorization": f"Bearer {await make_token(Role.OFFICIAL)}"}
    for cert in (own, other):
        r = await client.post(
            f"/api/v1/certificates/{cert.serial}/revoke",
            json={"reason": "false_advertising", "note": "宣传不实"},
            headers=official,
        )
        assert r.status_code == 200, r.text
    await make_account("laowang", Role.MERCHANT, merchant_uscc=city.merchant)
    await _signed_in(client, "laowang")

    page = await client.get("/merchant", headers=HTML)
    assert page.status_code == 200
    text = page.text
    assert "老王烩面馆" in text and city.merchant in text
    assert own.serial in text and other.serial not in text and "天中超市" not in text
    assert f"/api/v1/certificates/{own.serial}/pdf" in text
    assert f"/qr/{city.merchant}/poster.pdf" in text
    assert "123.45" in text  # its complaint, in yuan
    assert f'action="/merchant/certificates/{own.serial}/reply"' in text

    # Another merchant's serial: a 404 and nothing stored.
    r = await client.post(
        f"/merchant/certificates/{other.serial}/reply", data={"text": "不是我们的"}, headers=HTML
    )
    assert r.status_code == 404
    # An empty reply re-renders the page with the reason, nothing stored.
    r = await client.post(
        f"/merchant/certificates/{own.serial}/reply", data={"text": "  "}, headers=HTML
    )
    assert r.status_code == 422 and "不能为空" in r.text
    assert await Reply.all().count() == 0
    r = await client.post(
        f"/merchant/certificates/{own.serial}/reply", data={"text": "已整改，附报告。"}
    )
    assert r.status_code == 303 and r.headers["location"].startswith("/merchant?replied=")
    replies = await Reply.all()
    assert [x.text for x in replies] == ["已整改，附报告。"]
    page = await client.get("/merchant", headers=HTML)
    assert "已整改，附报告。" in page.text
    assert f'action="/merchant/certificates/{own.serial}/reply"' not in page.text  # one reply

    # The merchant's page is the merchant's: officials have none.
    await make_account("offi", Role.OFFICIAL)
    officer = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with officer:
        await _signed_in(officer, "offi")
        assert (await officer.get("/merchant", headers=HTML)).status_code == 403
        # The appeal waits in the official's queue; deciding it needs a reason.
        queue = await officer.get("/official/appeals", headers=HTML)
        assert "已整改，附报告。" in queue.text and own.serial in queue.text
        exported = await officer.get("/official/appeals", params={"format": "csv"})
        (row,) = csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))
        assert (row["serial"], row["text"], row["status"]) == (
            own.serial,
            "已整改，附报告。",
            "revoked",
        )
        action = f"/official/appeals/{replies[0].id}"
        r = await officer.post(action, data={"decision": "upheld", "note": ""})
        assert r.status_code == 303 and "error=" in r.headers["location"]
        assert (await Certificate.get(id=own.id)).status == Status.REVOKED
        r = await officer.post(action, data={"decision": "upheld", "note": "整改到位"})
        assert r.status_code == 303 and "error" not in r.headers["location"]
        assert (await Certificate.get(id=own.id)).status == Status.ACTIVE
        assert "暂无待办" in (await officer.get("/official/appeals", headers=HTML)).text


async def own_merchant_id(uscc: str) -> int:
    from service.kernel.models import Merchant

    return (await Merchant.get(uscc=uscc)).id


async def test_the_desk_shows_the_year_and_the_audit_log_filters_and_exports(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    merchant_id = await own_merchant_id(city.merchant)
    for n, status in enumerate(
        (ComplaintStatus.CLOSED, ComplaintStatus.CLOSED, ComplaintStatus.MEDIATING)
    ):
        await Complaint.create(
            source="12315",
            external_id=f"c-{n}",
            merchant_id=merchant_id,
            received_at=now,
            accepted_at=now,
            closed_at=now if status == ComplaintStatus.CLOSED else None,
            status=status,
            category="price",
            amount_disputed_fen=10_000,
            amount_recovered_fen=2_500 if status == ComplaintStatus.CLOSED else 0,
            accept_due=now.date(),
        )
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000007-C", now)
    await make_account("offi", Role.OFFICIAL)
    await _signed_in(client, "offi")
    desk = await client.get("/official", headers=HTML)
    assert desk.status_code == 200
    text = desk.text
    # 3 received, 2 closed: 66.7%; 300 yuan in dispute, 50 recovered.
    for figure in ("<dd>3</dd>", "<dd>2</dd>", "66.7%", "300.00", "50.00"):
        assert figure in text, figure
    assert '/certificates?status=active">1</a>' in text

    log = await client.get("/official/audit", params={"action": "account."}, headers=HTML)
    assert log.status_code == 200 and "account.create" in log.text
    exported = await client.get("/official/audit", params={"action": "account.", "format": "csv"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    expected = await AuditEvent.filter(action__startswith="account.").count()
    assert len(rows) == expected > 0 and all(r["action"].startswith("account.") for r in rows)
    xlsx = await client.get("/official/audit", params={"format": "xlsx"})
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    nothing = await client.get("/official/audit", params={"since": "2099-01-01"}, headers=HTML)
    assert "没有符合条件的记录" in nothing.text


def test_a_merchant_is_above_or_below_its_area_only_beyond_its_interval() -> None:
    from scoring.satisfaction.models import UnitScore

    def unit(score: float, low: float, high: float) -> UnitScore:
        return UnitScore(score=score, ci_low=low, ci_high=high, insufficient_data=False, n=100)

    assert compare(unit(80, 75, 85), unit(70, 68, 72)) == "above"
    assert compare(unit(60, 55, 65), unit(70, 68, 72)) == "below"
    assert compare(unit(72, 65, 79), unit(70, 68, 72)) == "level"
    assert compare(unit(72, 65, 75), unit(75, 70, 80)) == "level"  # on the edge: level
    thin = UnitScore(score=None, ci_low=None, ci_high=None, insufficient_data=True, n=3)
    assert compare(thin, unit(70, 68, 72)) is None
    assert compare(unit(72, 65, 79), None) is None


async def test_home_shows_rankings_certified_places_and_checks_a_serial(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    await _certificate(Kind.STREET, city.street, "解放路步行街", "ZMD-2026-ST-000001-X", now)
    home = await client.get("/", headers=HTML)
    assert "解放路步行街" in home.text and "/verify/ZMD-2026-ST-000001-X" in home.text
    assert 'action="/verify"' in home.text
    r = await client.get("/verify", params={"serial": " zmd-2026-st-000001-x "})
    assert r.status_code == 303 and r.headers["location"] == "/verify/ZMD-2026-ST-000001-X"
    assert (await client.get("/verify", params={"serial": ""})).status_code == 303


async def test_the_register_filters_by_district_and_status(client: httpx.AsyncClient) -> None:
    city = await make_city()
    now = datetime.now(UTC)
    await _certificate(Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000007-C", now)
    gone = await _certificate(
        Kind.MERCHANT, city.other_merchant, "天中超市", "ZMD-2026-M-000008-A", now
    )
    gone.status = Status.REVOKED
    await gone.save()
    standing = await client.get("/certificates", params={"district": "411702"}, headers=HTML)
    assert "老王烩面馆" in standing.text and "天中超市" not in standing.text
    revoked = await client.get("/certificates", params={"status": "revoked"}, headers=HTML)
    assert "天中超市" in revoked.text and "老王烩面馆" not in revoked.text
    elsewhere = await client.get("/certificates", params={"district": "411721"}, headers=HTML)
    assert "老王烩面馆" not in elsewhere.text


async def test_an_official_suspends_from_the_verify_page_only_with_a_note(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    cert = await _certificate(
        Kind.MERCHANT, city.merchant, "老王烩面馆", "ZMD-2026-M-000007-C", datetime.now(UTC)
    )
    public = await client.get(f"/verify/{cert.serial}", headers=HTML)
    assert 'id="decide"' not in public.text  # the public sees no decision form
    await make_account("offi", Role.OFFICIAL)
    await _signed_in(client, "offi")
    page = await client.get(f"/verify/{cert.serial}", headers=HTML)
    assert 'id="decide"' in page.text and 'value="suspend"' in page.text
    action = f"/official/certificates/{cert.serial}/decision"
    r = await client.post(action, data={"action": "suspend", "reason": "mystery_shopping"})
    assert r.status_code == 303 and "error=note" in r.headers["location"]
    assert (await Certificate.get(id=cert.id)).status == Status.ACTIVE
    r = await client.post(
        action, data={"action": "suspend", "reason": "mystery_shopping", "note": "暗访未明码标价"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/verify/{cert.serial}"
    assert (await Certificate.get(id=cert.id)).status == Status.SUSPENDED
    page = await client.get(f"/verify/{cert.serial}", headers=HTML)
    assert "暗访发现问题" in page.text and "暗访未明码标价" in page.text
    assert 'value="reinstate"' in page.text
    audit = await AuditEvent.filter(subject=cert.serial).order_by("-id").first()
    assert audit is not None and audit.actor.endswith("offi")


async def test_who_qualifies_filters_by_place_and_category_and_exports(
    client: httpx.AsyncClient,
) -> None:
    city = await make_city()
    await make_account("offi", Role.OFFICIAL)
    await _signed_in(client, "offi")
    url = "/official/certificates/eligibility"

    def codes(r: httpx.Response) -> list[str]:
        return sorted(
            row["code"] for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
        )

    every = await client.get(url, params={"kind": "merchant", "format": "csv"})
    assert every.status_code == 200
    assert codes(every) == sorted([city.merchant, city.other_merchant])
    rows = list(csv.DictReader(io.StringIO(every.content.decode("utf-8-sig"))))
    assert {"eligible", "score", "score_passed", "credit_class"} <= set(rows[0])
    assert all(r["eligible"] == "false" for r in rows)  # nobody has a published score
    catering = await client.get(
        url, params={"kind": "merchant", "category": "catering", "format": "csv"}
    )
    assert codes(catering) == [city.merchant]
    on_street = await client.get(
        url, params={"kind": "merchant", "area": city.street, "district": "411702", "format": "csv"}
    )
    assert codes(on_street) == sorted([city.merchant, city.other_merchant])
    elsewhere = await client.get(
        url, params={"kind": "merchant", "district": "411721"}, headers=HTML
    )
    assert city.merchant not in elsewhere.text
    streets = await client.get(
        url, params={"kind": "street", "district": "411702", "format": "xlsx"}
    )
    assert streets.status_code == 200 and streets.content[:2] == b"PK"


async def test_the_flag_queue_filters_by_place_exports_and_decides(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    from surveys.models import FlagKind, FlagStatus, Response, ResponseFlag
    from tests.scoring.satisfaction.test_pages import _responses

    city = await make_city()
    await _responses(city.merchant, 2, app_settings.secret_key)
    await _responses(city.other_merchant, 1, app_settings.secret_key)
    for r in await Response.all().order_by("id"):
        await ResponseFlag.create(response=r, kind=FlagKind.SPEEDER, detail="8 s")
    await make_account("offi", Role.OFFICIAL)
    await _signed_in(client, "offi")

    def targets(r: httpx.Response) -> list[str]:
        rows = csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
        return sorted(row["target_code"] for row in rows)

    url = "/official/flags"
    every = await client.get(url, params={"format": "csv"})
    assert targets(every) == sorted([city.merchant, city.merchant, city.other_merchant])
    retail = await client.get(url, params={"category": "retail", "format": "csv"})
    assert targets(retail) == [city.other_merchant]
    here = await client.get(
        url, params={"district": "411702", "area": city.street, "format": "csv"}
    )
    assert len(targets(here)) == 3
    elsewhere = await client.get(url, params={"district": "411721", "format": "csv"})
    assert targets(elsewhere) == []
    page = await client.get(url, params={"category": "retail"}, headers=HTML)
    assert "1 份问卷待处理" in page.text
    assert "答题过快" in page.text  # the flag named in Chinese, not by its code
    surges = await client.get(url, params={"kind": "surge", "format": "csv"})
    assert targets(surges) == []
    unknown = await client.get(url, params={"kind": "robot"})
    assert unknown.status_code == 422

    first = await ResponseFlag.filter(response__target_code=city.other_merchant).first()
    assert first is not None
    decided = await client.post(
        f"/official/flags/{first.response_id}/speeder",
        data={"decision": "confirmed", "reason": "8 秒答完", "back": "/official/flags"},
    )
    assert decided.status_code == 303
    assert decided.headers["location"].startswith("/official/flags")
    assert (await ResponseFlag.get(id=first.id)).status == FlagStatus.CONFIRMED
    assert targets(await client.get(url, params={"category": "retail", "format": "csv"})) == []


async def test_a_surge_is_decided_at_once_and_each_decision_audited(
    client: httpx.AsyncClient, app_settings: Settings
) -> None:
    from surveys.models import FlagKind, FlagStatus, Response, ResponseFlag
    from tests.scoring.satisfaction.test_pages import _responses

    city = await make_city()
    await _responses(city.merchant, 3, app_settings.secret_key)
    await _responses(city.other_merchant, 1, app_settings.secret_key)
    for r in await Response.all().order_by("id"):
        await ResponseFlag.create(response=r, kind=FlagKind.SURGE, detail="bulk screening")
    await Response.all().update(excluded=True)
    await make_account("offi", Role.OFFICIAL)
    await _signed_in(client, "offi")

    filtered = {"kind": "surge", "target": city.merchant}
    page = await client.get("/official/flags", params=filtered, headers=HTML)
    assert "一次处理该对象的此类全部 3 个标记" in page.text
    form = {**filtered, "decision": "cleared", "_csrf_token": await csrf(client)}
    refused = await client.post("/official/flags/all", data={**form, "reason": " "})
    assert refused.status_code == 303 and "error=" in refused.headers["location"]
    assert not await ResponseFlag.filter(status=FlagStatus.CLEARED).exists()

    done = await client.post("/official/flags/all", data={**form, "reason": "3·15 扫码活动"})
    assert done.status_code == 303 and "decided=3" in done.headers["location"]
    assert "已处理 3 个标记" in (await client.get(done.headers["location"], headers=HTML)).text
    assert await ResponseFlag.filter(status=FlagStatus.CLEARED).count() == 3
    counted = Response.filter(target_code=city.merchant, excluded=False)
    assert await counted.count() == 3
    # The other merchant's surge waits for its own decision.
    assert await Response.filter(target_code=city.other_merchant, excluded=True).count() == 1
    assert await AuditEvent.filter(action="response_flag.cleared").count() == 3
    again = await client.post("/official/flags/all", data={**form, "reason": "again"})
    assert "error=" in again.headers["location"]
