"""The yearly review (后评价) and its public lists (红黑榜), on SQLite and PostgreSQL.

The proposal is worked out by hand on small inputs; then a city with two years of published
scores is reviewed through the API, a withdrawal excluded, the review confirmed (revoking, in
one transaction, with audit records) and frozen; the public sees only the confirmed year, as a
page, JSON, CSV and XLSX read back; officials drive the same through their page's forms; a
district's official reads its district's lines only.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl

from certificates.models import (
    Certificate,
    ReviewItem,
    ReviewStatus,
    Status,
    StatusChange,
    YearlyReview,
)
from certificates.policy import Criterion, Evaluation, Kind, Policy
from certificates.yearly_review import store as reviews
from certificates.yearly_review.judge import Holder, Movement, improvement, propose, reasons_for
from scoring.credit import store as credit_store
from scoring.credit.rules import Rules
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.localtime import LOCAL_TZ, to_local
from service.kernel.models import Area, AreaKind, AuditEvent, Role
from service.kernel.settings import Settings
from tests.certificates.test_cascade import _certificate
from tests.helpers import TEST_ACTOR, commit_to_returns, csrf, login, make_account, make_token
from tests.service.test_cli import Fangxin
from tests.surveys.conftest import OTHER_USCC, STREET, USCC, make_city

POLICY = Policy.load()
THIS_YEAR = to_local(datetime.now(UTC)).year
Y = THIS_YEAR - 1  # the year reviewed
HOSTILE = '<script>alert("x")</script>老王烩面馆'
FORMULA = "=1+2 天中超市"


def _at(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, 12, tzinfo=LOCAL_TZ).astimezone(UTC)


# --- the proposal, by hand -------------------------------------------------------------------


def _evaluation(kind: Kind, code: str, *failing: str) -> Evaluation:
    keys = ("score", "n", "credit_class", "serious_listed", "major_penalty")
    return Evaluation(
        kind,
        code,
        code,
        tuple(Criterion(k, 1, "≥ 1", k not in failing) for k in keys),
    )


def test_each_holder_is_retained_or_withdrawn_with_the_criteria_it_fails_as_reason_codes() -> None:
    a = Holder("S-A", Kind.MERCHANT, "A", "甲", "active")
    b = Holder("S-B", Kind.MERCHANT, "B", "乙", "active")
    c = Holder("S-C", Kind.STREET, "C", "丙街", "suspended")
    gone = Holder("S-D", Kind.MERCHANT, "D", "丁", "active")  # no longer judged: closed
    evaluations = {
        (Kind.MERCHANT, "A"): _evaluation(Kind.MERCHANT, "A"),
        (Kind.MERCHANT, "B"): _evaluation(Kind.MERCHANT, "B", "score", "credit_class"),
        (Kind.STREET, "C"): _evaluation(Kind.STREET, "C", "serious_listed"),
    }
    entered = [Movement("S-A", Kind.MERCHANT, "A", "甲", _at(Y, 3))]
    exited = [Movement("S-E", Kind.MERCHANT, "E", "戊", _at(Y, 5), "price_fraud", "revoked")]
    # A: 80.0 → 82.0 rises by exactly the threshold (2.0): improved. B rose by 5 but is
    # withdrawn: not praised in the same list. C has no previous score: nothing to compare.
    this_year = {(Kind.MERCHANT, "A"): 82.0, (Kind.MERCHANT, "B"): 85.0, (Kind.STREET, "C"): 90.0}
    last_year = {(Kind.MERCHANT, "A"): 80.0, (Kind.MERCHANT, "B"): 80.0}
    p = propose(
        [c, gone, b, a],
        evaluations,
        entered=entered,
        exited=exited,
        this_year=this_year,
        last_year=last_year,
        improved_by=2.0,
    )
    assert [o.holder.serial for o in p.retained] == ["S-A"]
    assert [(o.holder.serial, o.reasons) for o in p.withdrawn] == [
        ("S-B", ("score_below", "credit_class")),
        ("S-D", ("not_operating",)),
        ("S-C", ("serious_listed",)),  # merchants first, then streets
    ]
    assert p.withdrawn[0].failing["score"] == {"value": 1, "required": "≥ 1"}
    assert [(i.holder.serial, i.before, i.after) for i in p.improved] == [("S-A", 80.0, 82.0)]
    assert (p.entered, p.exited) == (entered, exited)


def test_improvement_needs_both_years_scores_and_a_rise_of_the_threshold() -> None:
    h = Holder("S", Kind.MERCHANT, "A", "甲", "active")
    key = (Kind.MERCHANT, "A")
    assert improvement(h, {key: 81.9}, {key: 80.0}, 2.0) is None  # 1.9 < 2.0
    assert improvement(h, {key: 82.04}, {key: 80.0}, 2.0) is not None  # 2.04 shows as 2.0
    assert improvement(h, {key: 90.0}, {key: None}, 2.0) is None  # too few answers last year
    assert improvement(h, {}, {key: 70.0}, 2.0) is None
    assert improvement(h, {key: 75.0}, {key: 80.0}, 2.0) is None  # fell


def test_a_failing_criterion_without_a_code_of_its_own_keeps_its_key() -> None:
    e = Evaluation(Kind.MERCHANT, "A", "甲", (Criterion("new_rule", 0, "≥ 1", False),))
    assert reasons_for(e) == ("new_rule",)


# --- a city with two years of scores ----------------------------------------------------------


async def _run(published: datetime, scores: dict[str, float], *, current: bool) -> ScoreRun:
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=published,
        superseded_at=None if current else published + timedelta(days=300),
        window_since=published - timedelta(days=365),
        window_until=published,
    )
    for code, score in scores.items():
        await UnitScore.create(
            run=run, kind="merchant", code=code, n=40, score=score, insufficient_data=False
        )
    return run


async def _reviewed_city() -> dict[str, Certificate]:
    """Two merchants on a street. The merchant rose from 80 to 84 (improved); the other fell
    from 90 to 78 (below 80: withdrawn). The street has no published score (withdrawn: score,
    responses). Certified in the year: both merchants and the street; the other merchant's
    earlier certificate was revoked in the year (exited)."""
    await make_city()
    await commit_to_returns(USCC, OTHER_USCC)
    await _run(_at(Y - 1, 6), {USCC: 80.0, OTHER_USCC: 90.0}, current=False)
    await _run(_at(Y, 6), {USCC: 84.0, OTHER_USCC: 78.0}, current=True)
    certs = {
        "merchant": await _certificate(
            Kind.MERCHANT, USCC, HOSTILE, f"ZMD-{Y}-M-000002-M", _at(Y, 3)
        ),
        "other": await _certificate(
            Kind.MERCHANT, OTHER_USCC, FORMULA, f"ZMD-{Y}-M-000003-K", _at(Y, 7)
        ),
        "street": await _certificate(
            Kind.STREET, STREET, "解放路步行街", f"ZMD-{Y}-ST-000001-B", _at(Y, 3)
        ),
        "old": await _certificate(
            Kind.MERCHANT, OTHER_USCC, "天中超市", f"ZMD-{Y - 2}-M-000001-O", _at(Y - 2, 1)
        ),
    }
    old = certs["old"]
    old.status, old.status_reason = Status.REVOKED, "false_advertising"
    await old.save()
    await StatusChange.create(
        certificate=old,
        at=_at(Y, 2),
        old_status=Status.ACTIVE,
        new_status=Status.REVOKED,
        reason="false_advertising",
        actor="test",
    )
    return certs


def _lines(body: dict[str, object], section: str) -> list[dict[str, object]]:
    items = body["items"]
    assert isinstance(items, list)
    return [i for i in items if i["section"] == section]


async def test_a_review_is_built_excluded_confirmed_and_frozen_over_the_api(
    client: httpx.AsyncClient,
) -> None:
    certs = await _reviewed_city()
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    r = await client.post("/api/v1/certificates/reviews", json={"year": Y})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "draft" and draft["improved_by"] == 2.0
    assert draft["counts"] == {
        "retained": 1,
        "withdrawn": 2,
        "entered": 3,
        "exited": 1,
        "improved": 1,
    }
    withdrawn = {i["serial"]: i for i in _lines(draft, "withdrawn")}
    assert withdrawn[certs["other"].serial]["reasons"] == ["score_below"]
    # The street: no published score, no responses; both its merchants certified (share 1.0),
    # none listed, no complaints (closure 1.0).
    assert withdrawn[certs["street"].serial]["reasons"] == ["score_below", "too_few_responses"]
    (improved,) = _lines(draft, "improved")
    assert (improved["serial"], improved["detail"]) == (
        certs["merchant"].serial,
        {"before": 80.0, "after": 84.0, "rise": 4.0},
    )
    (exited,) = _lines(draft, "exited")
    assert (exited["serial"], exited["reasons"]) == (certs["old"].serial, ["false_advertising"])
    assert {i["serial"] for i in _lines(draft, "entered")} == {
        certs["merchant"].serial,
        certs["other"].serial,
        certs["street"].serial,
    }
    # A draft is the officials' alone.
    assert (await client.get(f"/api/v1/certificates/reviews/{Y}/list")).status_code == 404

    street_line = withdrawn[certs["street"].serial]["id"]
    retained_line = _lines(draft, "retained")[0]["id"]
    base = f"/api/v1/certificates/reviews/{Y}"
    no_note = await client.post(f"{base}/items/{street_line}/exclude", json={"note": " "})
    assert no_note.status_code == 422 and no_note.json()["errors"][0]["field"] == "note"
    not_a_withdrawal = await client.post(
        f"{base}/items/{retained_line}/exclude", json={"note": "x"}
    )
    assert not_a_withdrawal.status_code == 422
    assert not_a_withdrawal.json()["errors"][0]["field"] == "item"
    missing = await client.post(f"{base}/items/999999/exclude", json={"note": "x"})
    assert missing.status_code == 404
    kept = await client.post(
        f"{base}/items/{street_line}/exclude", json={"note": "街区整改中，给予整改期"}
    )
    assert kept.status_code == 200 and kept.json()["counts"]["withdrawn"] == 1

    done = await client.post(f"{base}/confirm")
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "confirmed" and done.json()["confirmed_at"]
    other = await Certificate.get(id=certs["other"].id)
    assert (other.status, other.status_reason) == (Status.REVOKED, "yearly_review")
    change = await StatusChange.filter(certificate_id=other.id).order_by("-id").first()
    assert change is not None and change.note == "score_below"
    assert change.evidence["review_year"] == Y and change.evidence["criteria"] == ["score_below"]
    assert (await Certificate.get(id=certs["street"].id)).status == Status.ACTIVE  # excluded
    verify = await client.get(f"/verify/{other.serial}", headers={"accept": "text/html"})
    assert "年度后评价中摘牌" in verify.text and "满意度得分低于标准" in verify.text
    assert (await Certificate.get(id=certs["merchant"].id)).status == Status.ACTIVE
    actions = [
        (e.action, e.subject)
        for e in await AuditEvent.filter(action__startswith="review.").order_by("id")
    ] + [(e.action, e.subject) for e in await AuditEvent.filter(action="certificate.revoked")]
    assert actions == [
        ("review.drafted", f"review:{Y}"),
        ("review.excluded", f"review:{Y}"),
        ("review.confirmed", f"review:{Y}"),
        ("certificate.revoked", certs["other"].serial),
    ]

    # Frozen: no second confirm, no new draft, no exclusion.
    assert (await client.post(f"{base}/confirm")).status_code == 409
    again = await client.post("/api/v1/certificates/reviews", json={"year": Y})
    assert again.status_code == 409
    assert (
        await client.post(f"{base}/items/{street_line}/exclude", json={"note": "x"})
    ).status_code == 409
    assert await YearlyReview.filter(year=Y, status=ReviewStatus.CONFIRMED).count() == 1


async def test_a_review_year_must_have_begun_and_a_body_is_checked(
    client: httpx.AsyncClient,
) -> None:
    client.headers["authorization"] = f"Bearer {await make_token(Role.OFFICIAL)}"
    for year in (1999, THIS_YEAR + 1):
        r = await client.post("/api/v1/certificates/reviews", json={"year": year})
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in r.json()["errors"]] == ["year"]
    bad = await client.post("/api/v1/certificates/reviews", json={"year": Y, "extra": 1})
    assert bad.status_code in (400, 422)
    assert await YearlyReview.all().count() == 0
    assert (await client.get(f"/api/v1/certificates/reviews/{Y}")).status_code == 404
    assert (await client.post(f"/api/v1/certificates/reviews/{Y}/confirm")).status_code == 404


async def test_a_draft_built_again_replaces_the_last_and_its_exclusions(db: Settings) -> None:
    await _reviewed_city()
    first = await reviews.build(Y, actor=TEST_ACTOR, policy=POLICY, credit_rules=_rules())
    line = next(i for i in first.items if i.section == "withdrawn")
    await reviews.exclude(Y, line.id, "再看看", actor=TEST_ACTOR)
    second = await reviews.build(Y, actor=TEST_ACTOR, policy=POLICY, credit_rules=_rules())
    assert not any(i.excluded for i in second.items)
    assert await YearlyReview.all().count() == 1
    assert await ReviewItem.filter(excluded=True).count() == 0


def _rules() -> Rules:
    return credit_store.rules_for(None)


async def test_the_public_sees_a_confirmed_years_lists_as_a_page_csv_and_xlsx(
    client: httpx.AsyncClient,
) -> None:
    certs = await _reviewed_city()
    # A certificate that ran out in the year, no sweep having recorded it: it exits on the
    # day, without blame (on neither list).
    lapsed = await _certificate(
        Kind.MERCHANT, USCC, "老王烩面馆（旧证）", f"ZMD-{Y - 2}-M-000002-M", _at(Y - 2, 4)
    )
    lapsed.valid_until = _at(Y, 4)
    await lapsed.save()
    await reviews.build(Y, actor=TEST_ACTOR, policy=POLICY, credit_rules=_rules())
    html = {"accept": "text/html"}
    assert (await client.get(f"/lists/{Y}", headers=html)).status_code == 404  # a draft
    assert (await client.get(f"/lists/{Y}.csv")).status_code == 404
    empty = await client.get("/lists", headers=html)
    assert empty.status_code == 200 and "尚无已确认的年度后评价" in empty.text
    await reviews.confirm(Y, actor=TEST_ACTOR)

    page = await client.get("/lists", headers=html)
    assert page.status_code == 200
    assert f"{Y}年度放心消费红黑榜" in page.text and "红榜" in page.text and "黑榜" in page.text
    assert "&lt;script&gt;" in page.text and "<script>alert" not in page.text
    assert "满意度得分低于标准" in page.text  # the withdrawn merchant's reason, in Chinese
    assert "虚假宣传" in page.text  # the exited certificate's recorded reason
    assert "年内到期" in page.text and "老王烩面馆（旧证）" in page.text
    english = await client.get(f"/lists/{Y}?lang=en", headers=html)
    assert "Satisfaction score below the standard" in english.text

    rows = list(
        csv.DictReader(io.StringIO((await client.get(f"/lists/{Y}.csv?headers=machine")).text[1:]))
    )
    by = {(r["section"], r["serial"]): r for r in rows}
    assert set(by) == {
        ("entered", certs["merchant"].serial),
        ("entered", certs["other"].serial),
        ("entered", certs["street"].serial),
        ("improved", certs["merchant"].serial),
        ("withdrawn", certs["other"].serial),
        ("withdrawn", certs["street"].serial),
        ("exited", certs["old"].serial),
        ("exited", lapsed.serial),
    }
    assert by[("exited", certs["old"].serial)]["board"] == "black"
    assert (by[("exited", lapsed.serial)]["board"], by[("exited", lapsed.serial)]["reasons"]) == (
        "none",
        "validity_ended",
    )
    assert by[("withdrawn", certs["other"].serial)]["board"] == "black"
    assert by[("withdrawn", certs["other"].serial)]["name"] == "'" + FORMULA  # no formula
    assert by[("improved", certs["merchant"].serial)]["score_after"] == "84.0"
    assert by[("improved", certs["merchant"].serial)]["name"] == HOSTILE

    xlsx = await client.get(f"/api/v1/certificates/reviews/{Y}/list?format=xlsx")
    assert xlsx.status_code == 200
    # In English: the client chose it above (?lang=en), and exports follow the interface.
    sheet = pl.read_excel(io.BytesIO(xlsx.content), sheet_name="Public lists")
    assert sheet.height == 8
    withdrawn = sheet.filter(pl.col("Section") == "withdrawn").sort("Serial")
    assert withdrawn["Reason codes"].to_list() == ["score_below", "score_below,too_few_responses"]
    as_json = (await client.get(f"/api/v1/certificates/reviews/{Y}/list")).json()
    assert as_json["year"] == Y and len(as_json["items"]) == 8
    assert (await client.get(f"/lists/{Y}.pdf")).status_code == 404
    assert (await client.get("/lists/nope")).status_code == 404
    home = await client.get("/", headers=html)
    assert 'href="/lists"' in home.text
    assert 'href="/lists"' in (await client.get("/certificates", headers=html)).text


async def test_officials_build_exclude_and_confirm_on_their_page(
    client: httpx.AsyncClient,
) -> None:
    certs = await _reviewed_city()
    await make_account("city", Role.OFFICIAL)
    assert await login(client, "city") == 303
    token = await csrf(client)
    page = await client.get("/official/reviews")
    assert page.status_code == 200 and "年度后评价" in page.text
    nothing = await client.post("/official/reviews", data={"_csrf_token": token, "year": "19"})
    assert nothing.status_code == 422 and "草稿未生成" in nothing.text
    assert await YearlyReview.all().count() == 0
    built = await client.post("/official/reviews", data={"_csrf_token": token, "year": str(Y)})
    assert built.status_code == 303 and built.headers["location"].endswith(f"year={Y}&done=built")
    shown = await client.get(f"/official/reviews?year={Y}")
    assert "&lt;script&gt;" in shown.text and "<script>alert" not in shown.text
    assert f'action="/official/reviews/{Y}/confirm"' in shown.text
    line = await ReviewItem.get(serial=certs["street"].serial, section="withdrawn")
    url = f"/official/reviews/{Y}/items/{line.id}/exclude"
    no_note = await client.post(url, data={"_csrf_token": token, "note": ""})
    assert no_note.status_code == 422 and "未能排除" in no_note.text
    assert not (await ReviewItem.get(id=line.id)).excluded
    forged = await client.post(url, data={"note": "无令牌"})
    assert forged.status_code == 403
    ok = await client.post(url, data={"_csrf_token": token, "note": "整改期内"})
    assert ok.status_code == 303
    read = (await YearlyReview.get(year=Y)).built_at.isoformat()
    # Built again by another official meanwhile: the page's draft is not confirmed unseen.
    await reviews.build(Y, actor=TEST_ACTOR, policy=POLICY, credit_rules=_rules())
    stale = await client.post(
        f"/official/reviews/{Y}/confirm", data={"_csrf_token": token, "built_at": read}
    )
    assert stale.status_code == 409 and "后评价未确认" in stale.text
    assert (await YearlyReview.get(year=Y)).status == ReviewStatus.DRAFT
    line = await ReviewItem.get(serial=certs["street"].serial, section="withdrawn")
    url = f"/official/reviews/{Y}/items/{line.id}/exclude"
    assert (
        await client.post(url, data={"_csrf_token": token, "note": "整改期内"})
    ).status_code == 303
    shown = await client.get(f"/official/reviews?year={Y}")
    fresh = (await YearlyReview.get(year=Y)).built_at.isoformat()
    assert f'name="built_at" value="{fresh}"' in shown.text
    confirmed = await client.post(
        f"/official/reviews/{Y}/confirm", data={"_csrf_token": token, "built_at": fresh}
    )
    assert confirmed.status_code == 303
    assert (await Certificate.get(id=certs["other"].id)).status == Status.REVOKED
    twice = await client.post(f"/official/reviews/{Y}/confirm", data={"_csrf_token": token})
    assert twice.status_code == 409 and "评价未确认" in twice.text
    english = await client.get(f"/official/reviews?year={Y}&lang=en")
    assert "Confirmed" in english.text and "整改期内" in english.text


async def test_a_district_official_reads_its_districts_lines_only(
    client: httpx.AsyncClient,
) -> None:
    await _reviewed_city()  # everything in 驿城区 (411702)
    await reviews.build(Y, actor=TEST_ACTOR, policy=POLICY, credit_rules=_rules())
    city = await Area.get(code="411700")
    await Area.create(
        code="411721", kind=AreaKind.DISTRICT, name_zh="西平县", name_en="Xiping", parent=city
    )
    await make_account("own", Role.OFFICIAL, district_code="411702")
    await make_account("county", Role.OFFICIAL, district_code="411721")
    await make_account("city", Role.OFFICIAL)
    answers = {}
    for user in ("own", "county", "city"):
        c = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
        try:
            assert await login(c, user) == 303
            r = await c.get(f"/api/v1/certificates/reviews/{Y}")
            assert r.status_code == 200
            answers[user] = r.json()
            page = await c.get(f"/official/reviews?year={Y}")
            assert page.status_code == 200
            if user == "county":
                assert "解放路步行街" not in page.text and "action=" not in page.text.split(
                    "</header>"
                )[1].replace('action="/logout"', "")
        finally:
            await c.aclose()
    assert answers["own"]["items"] == answers["city"]["items"] != []
    assert answers["county"]["items"] == []
    assert answers["county"]["counts"]["withdrawn"] == 0
    # Missing years answer alike for every official.
    assert (await client.get(f"/api/v1/certificates/reviews/{Y - 5}")).status_code in (401, 404)


def test_the_cli_builds_and_confirms_a_review(tmp_path: Path) -> None:
    fx = Fangxin(tmp_path)
    fx.ok("migrate")
    assert f"Review of {Y} (draft)" in fx.ok("certificates", "review", str(Y))
    # The draft there is gets confirmed as it stands, not built again (exclusions would go).
    (built_at,) = fx.query("SELECT built_at FROM yearly_review")[0]
    assert f"Review of {Y} (confirmed)" in fx.ok("certificates", "review", str(Y), "--confirm")
    assert fx.query("SELECT year, status, built_at FROM yearly_review") == [
        (Y, "confirmed", built_at)
    ]
    for again in ((), ("--confirm",)):
        frozen = fx("certificates", "review", str(Y), *again)
        assert frozen.returncode != 0 and "confirmed" in frozen.stderr
    # A year without a draft is built and confirmed at once.
    assert f"Review of {Y - 1} (confirmed)" in fx.ok(
        "certificates", "review", str(Y - 1), "--confirm"
    )
