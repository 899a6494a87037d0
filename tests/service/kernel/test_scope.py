"""A district's official sees its district as the city's official does, and nothing of another.

Two districts, each with a street, a merchant, a flagged response, certificates (one on hold
with an appeal), a complaint and scores in the published run. Every official route that names
something — in its path, or through a ``district``/``area``/``target`` filter — is tried by a
district's official on its own district's thing (the answer a city official gets) and on the
other district's (the answer a city official gets for a thing that does not exist); every list
is read for the other district's names. ``test_every_route_that_names_something_is_tried``
fails when a route is added without being tried here.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from certificates.applications.models import Application, ApplicationStatus, Objection
from certificates.models import Certificate, Reply, Status, StatusChange
from certificates.policy import Kind
from scoring.credit.models import Complaint, ComplaintStatus
from scoring.satisfaction.models import RunStatus, ScoreRun, UnitScore
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory, Role
from surveys.models import FlagKind, Response, ResponseFlag, Survey, TargetKind
from surveys.questionnaire import default_files, load_file
from tests.certificates.test_cascade import _certificate
from tests.helpers import TEST_ACTOR, csrf, login, make_account
from tests.scoring.credit.test_repair_pages import routes_naming_a_repair
from tests.scoring.disputes.test_scope import routes_naming_a_complaint
from tests.service.test_authz_matrix import MERCHANTS, OFFICIALS, RULES

MINE_USCC, THEIR_USCC = "9144030071526726XG", "91330100716105852F"
MISSING = "NOPE"


@dataclass(frozen=True, slots=True)
class Side:
    """One district's things, by the names routes use for them."""

    district: str
    street: str
    uscc: str
    name: str  # the merchant's: never shown to the other district's official
    serial: str  # an active certificate
    held: str  # a certificate on hold, with an appeal
    response_id: int
    reply_id: int
    application_id: int  # in public notice, with an objection not yet answered
    objection_id: int

    def values(self) -> dict[str, str]:
        return {
            "uscc": self.uscc,
            "code": self.street,
            "district": self.district,
            "serial": self.serial,
            "held": self.held,
            "response_id": str(self.response_id),
            "reply_id": str(self.reply_id),
            "application_id": str(self.application_id),
            "objection_id": str(self.objection_id),
        }


NOWHERE = dict.fromkeys(
    ("uscc", "code", "district", "serial", "held", "response_id", "reply_id"), MISSING
) | dict.fromkeys(("response_id", "reply_id", "application_id", "objection_id"), "999999")


async def _side(
    city: Area, n: int, district_code: str, uscc: str, name: str, run: ScoreRun, survey: Survey
) -> Side:
    now = datetime.now(UTC)
    district = await Area.create(
        code=district_code, kind=AreaKind.DISTRICT, name_zh=f"{name}区", name_en="D", parent=city
    )
    street = await Area.create(
        code=f"{district_code}-ST01",
        kind=AreaKind.STREET,
        name_zh=f"{name}街",
        name_en="S",
        parent=district,
    )
    merchant = await Merchant.create(
        uscc=uscc,
        name=name,
        category=MerchantCategory.CATERING,
        district=district,
        street=street,
    )
    response = await Response.create(
        survey=survey,
        version=1,
        target_kind=TargetKind.MERCHANT,
        target_code=uscc,
        client_submission_id=uuid.uuid4(),
        submitted_at=now - timedelta(days=1),
        excluded=True,
    )
    await ResponseFlag.create(response=response, kind=FlagKind.SPEEDER)
    active = await _certificate(Kind.MERCHANT, uscc, name, f"ZMD-2026-M-00000{n}-A", now)
    held = await _certificate(Kind.STREET, street.code, f"{name}街", f"ZMD-2026-ST-00000{n}-B", now)
    held.status = Status.SUSPENDED
    await held.save()
    change = await StatusChange.create(
        certificate=held,
        at=now,
        old_status=Status.ACTIVE,
        new_status=Status.SUSPENDED,
        reason="criteria_failed",
        actor="test",
    )
    reply = await Reply.create(
        certificate=held, change=change, text="我们已整改", submitted_by="m", submitted_at=now
    )
    await Complaint.create(
        source="12315",
        external_id=f"c{n}",
        merchant=merchant,
        received_at=now - timedelta(days=2),
        status=ComplaintStatus.RECEIVED,
        category="quality",
        accept_due=(now + timedelta(days=7)).date(),
    )
    for kind, code, parent in (
        ("merchant", uscc, street.code),
        ("street", street.code, district.code),
        ("district", district.code, "city"),
    ):
        await UnitScore.create(
            run=run, kind=kind, code=code, parent=parent, n=40, score=80.0 + n, mean=4.0,
            ci_low=75.0, ci_high=85.0, insufficient_data=False, rank=n,
        )  # fmt: skip
    application = await Application.create(
        kind="merchant",
        subject_code=uscc,
        subject_name=name,
        district=district,
        applicant_name="shop",
        statement=f"{name}申请",
        status=ApplicationStatus.IN_NOTICE,
        submitted_at=now - timedelta(days=3),
        notice_starts_at=now - timedelta(days=1),
        notice_ends_at=now + timedelta(days=6),
    )
    objection = await Objection.create(
        application=application, text="价格不实", text_hash=f"h{n}", lodged_at=now
    )
    return Side(
        district.code,
        street.code,
        uscc,
        name,
        active.serial,
        held.serial,
        response.id,
        reply.id,
        application.id,
        objection.id,
    )


async def _two_districts() -> tuple[Side, Side, int]:
    now = datetime.now(UTC)
    city = await Area.create(code="411700", kind=AreaKind.CITY, name_zh="驻马店市", name_en="Z")
    for path in default_files():
        await load_file(path, actor=TEST_ACTOR)
    survey = await Survey.get(slug="merchant")
    run = await ScoreRun.create(
        status=RunStatus.PUBLISHED,
        created_by="test",
        published_at=now,
        window_since=now - timedelta(days=30),
        window_until=now,
    )
    await UnitScore.create(
        run=run,
        kind="city",
        code="city",
        n=80,
        score=81.0,
        ci_low=78.0,
        ci_high=84.0,
        insufficient_data=False,
    )
    mine = await _side(city, 1, "411702", MINE_USCC, "本区饭店", run, survey)
    theirs = await _side(city, 2, "411721", THEIR_USCC, "外区超市", run, survey)
    return mine, theirs, run.id


# Every official route naming something, with what to send: (method, path, query, body,
# form). Paths and values name things as ``{uscc}``, ``{code}`` (a street), ``{district}``,
# ``{serial}``, ``{held}`` (a certificate with an appeal), ``{response_id}``, ``{reply_id}``.
Try = tuple[str, str, str, dict[str, str] | None, bool]
READS: list[Try] = [
    ("GET", "/api/v1/merchants/{uscc}/credit", "", None, False),
    ("GET", "/official/credit/{uscc}", "", None, False),
    ("GET", "/official/commitments/{uscc}", "", None, False),
    ("GET", "/official/scores/merchant/{uscc}", "", None, False),
    ("GET", "/official/scores/street/{code}", "", None, False),
    ("GET", "/official/scores/district/{district}", "", None, False),
    ("GET", "/official/scores", "kind=merchant&district={district}", None, False),
    ("GET", "/official/scores", "kind=merchant&area={code}", None, False),
    ("GET", "/official/flags", "district={district}", None, False),
    ("GET", "/official/flags", "area={code}", None, False),
    ("GET", "/official/flags", "target={uscc}", None, False),
    ("GET", "/official/certificates/eligibility", "district={district}", None, False),
    ("GET", "/official/certificates/eligibility", "area={code}", None, False),
    ("GET", "/official/credit", "district={district}", None, False),
    ("GET", "/api/v1/complaints/figures", "district={district}", None, False),
    ("GET", "/api/v1/reports/annual", "year=2026&district={district}", None, False),
    ("GET", "/api/v1/reports/annual.pdf", "year=2026&district={district}", None, False),
    ("GET", "/official/reports/annual", "district={district}", None, False),
    ("GET", "/official/applications/{application_id}", "", None, False),
]
# Changes: tried on the other district's thing first (refused as missing), then on its own
# (done as for the city's official). In an order where each still has something to change:
# the flag confirmed by the queue's "all about one target", cleared by the API, confirmed
# again from the drill-down; the appeal decided by its form, then found decided by the API
# (a 409, which a missing reply does not get).
WRITES: list[Try] = [
    ("PATCH", "/api/v1/areas/{code}", "", {"name_en": "Renamed"}, False),
    ("PATCH", "/api/v1/merchants/{uscc}", "", {"address": "新地址"}, False),
    (
        "POST",
        "/official/flags/all",
        "",
        {"kind": "speeder", "target": "{uscc}", "decision": "confirmed", "reason": "太快"},
        True,
    ),
    (
        "POST",
        "/api/v1/surveys/responses/{response_id}/flags/speeder",
        "",
        {"decision": "cleared", "reason": "真实"},
        False,
    ),
    (
        "POST",
        "/official/flags/{response_id}/speeder",
        "",
        {"decision": "confirmed", "reason": "太快", "back": "/official/flags"},
        True,
    ),
    ("POST", "/api/v1/certificates/{serial}/suspend", "", {"reason": "x", "note": "n"}, False),
    (
        "POST",
        "/official/certificates/{serial}/decision",
        "",
        {"action": "reinstate", "reason": "corrected", "note": "整改完毕"},
        True,
    ),
    ("POST", "/official/appeals/{reply_id}", "", {"decision": "dismissed", "note": "不"}, True),
    (
        "POST",
        "/api/v1/certificates/replies/{reply_id}/decision",
        "",
        {"decision": "dismissed", "note": "不予采纳"},
        False,
    ),
    # Applications in notice: an inspection or a decision comes too late (409 for its own,
    # as for the city's official), issuing too early (409); the objection is answered once.
    ("POST", "/api/v1/applications/{application_id}/inspections", "", {"kind": "onsite"}, False),
    (
        "POST",
        "/official/applications/{application_id}/inspections",
        "",
        {"kind": "onsite", "result": "pass", "item_prices_marked": "pass"},
        True,
    ),
    (
        "POST",
        "/api/v1/applications/{application_id}/decision",
        "",
        {"decision": "refuse", "reason": "不合格"},
        False,
    ),
    (
        "POST",
        "/official/applications/{application_id}/decision",
        "",
        {"decision": "refuse", "reason": "不合格"},
        True,
    ),
    ("POST", "/api/v1/applications/{application_id}/issue", "", None, False),
    ("POST", "/official/applications/{application_id}/issue", "", {}, True),
    (
        "POST",
        "/api/v1/objections/{objection_id}/answer",
        "",
        {"outcome": "dismissed", "reply": "经核查不属实"},
        False,
    ),
    (
        "POST",
        "/official/objections/{objection_id}/answer",
        "",
        {"outcome": "dismissed", "reply": "经核查不属实"},
        True,
    ),
    # Already certified: a 409 for its own (found), a 404 for the other's (as missing).
    ("POST", "/api/v1/certificates", "", {"kind": "merchant", "subject": "{uscc}"}, False),
    ("POST", "/official/certificates/issue", "", {"kind": "merchant", "subject": "{uscc}"}, True),
]
# Lists that name nothing: the other district's names must not appear in them.
LISTS = [
    "/official",
    "/official/flags",
    "/official/appeals",
    "/official/reviews",
    "/official/appeals?show=decided",
    "/official/scores?kind=merchant",
    "/official/scores?kind=street",
    "/official/scores?kind=district",
    "/official/scores?kind=merchant&format=csv",
    "/official/certificates/eligibility?kind=merchant",
    "/official/certificates/eligibility?kind=street&format=csv",
    "/official/credit",
    "/official/flags?format=csv",
    "/official/appeals?format=csv",
    "/official/runs",
    "/official/runs/{run_id}",
    "/api/v1/scoring/runs/{run_id}",
    "/api/v1/scoring/runs/{run_id}/export?format=csv",
    "/api/v1/complaints/figures",
    "/api/v1/complaints/figures?format=csv",
    "/api/v1/credit/classes",
    "/api/v1/surveys/merchant/responses",
    "/api/v1/surveys/merchant/responses?format=csv",
    "/api/v1/surveys/merchant/stats",
    "/api/v1/reports/annual?year=2026",
    "/api/v1/reports/annual.pdf?year=2026",  # (compressed: only its status is checked)
    "/official/reports/annual",
    "/official/advisories",  # (those in force are public: it names what the home page does)
    "/official/applications",
    "/api/v1/applications",
    "/official/disputes",
    "/api/v1/disputes",
    "/official/credit-repairs",
    "/api/v1/credit-repairs",
    "/official/complaint-corrections",
    "/api/v1/complaint-corrections",
    "/official/password-resets",
]

PLACEHOLDER = re.compile(r"\{(\w+)(?::\w+)?\}")


def _fill(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


# The route of each try above, as the route table names it.
COVERED = {
    ("GET", "/api/v1/merchants/{uscc:str}/credit"),
    ("GET", "/official/credit/{uscc:str}"),
    ("GET", "/official/commitments/{uscc:str}"),
    ("GET", "/official/scores/{kind:str}/{code:str}"),
    ("PATCH", "/api/v1/areas/{code:str}"),
    ("PATCH", "/api/v1/merchants/{uscc:str}"),
    ("POST", "/api/v1/surveys/responses/{response_id:int}/flags/{kind:str}"),
    ("POST", "/official/flags/{response_id:int}/{kind:str}"),
    ("POST", "/api/v1/certificates/{serial:str}/{action:str}"),
    ("POST", "/official/certificates/{serial:str}/decision"),
    ("POST", "/api/v1/certificates/replies/{reply_id:int}/decision"),
    ("POST", "/official/appeals/{reply_id:int}"),
    # Lists, read for the other district's names:
    ("GET", "/official/runs/{run_id:int}"),
    ("GET", "/api/v1/scoring/runs/{run_id:int}"),
    ("GET", "/api/v1/scoring/runs/{run_id:int}/export"),
    ("GET", "/api/v1/surveys/{survey:str}/responses"),
    ("GET", "/api/v1/surveys/{survey:str}/stats"),
    # Tried in and out of the district in tests/service/portal/advisories:
    ("POST", "/api/v1/advisories/{advisory_id:int}/withdraw"),
    ("POST", "/official/advisories/{advisory_id:int}/withdraw"),
    # Read in and out of the district in tests/certificates/yearly_review/test_store.py:
    ("GET", "/api/v1/certificates/reviews/{year:int}"),
    ("GET", "/official/applications/{application_id:int}"),
    ("POST", "/api/v1/applications/{application_id:int}/inspections"),
    ("POST", "/official/applications/{application_id:int}/inspections"),
    ("POST", "/api/v1/applications/{application_id:int}/decision"),
    ("POST", "/official/applications/{application_id:int}/decision"),
    ("POST", "/api/v1/applications/{application_id:int}/issue"),
    ("POST", "/official/applications/{application_id:int}/issue"),
    ("POST", "/api/v1/objections/{objection_id:int}/answer"),
    ("POST", "/official/objections/{objection_id:int}/answer"),
    # Tried in and out of the district in tests/certificates/commitments:
    ("POST", "/api/v1/merchants/{uscc:str}/commitments"),
    ("POST", "/api/v1/merchants/{uscc:str}/commitments/{commitment_id:int}/end"),
    ("POST", "/official/commitments/{uscc:str}"),
    ("POST", "/official/commitments/{uscc:str}/{commitment_id:int}/end"),
}
# Every route naming a complaint filed online is tried by another merchant and by an official
# of another district in tests/scoring/disputes/test_scope.py, read from the route table.
COVERED |= {r for r in routes_naming_a_complaint() if RULES[r] in (OFFICIALS, MERCHANTS)}
# A request to correct a complaint record, decided from another district (API and page) in
# tests/scoring/disclosure/test_corrections.py:
COVERED |= {
    ("POST", "/api/v1/complaint-corrections/{correction_id:int}/decision"),
    ("POST", "/official/complaint-corrections/{correction_id:int}/decision"),
    # …and its files, read by another merchant and another district's official:
    ("GET", "/api/v1/complaint-corrections/{correction_id:int}/files/{file_id:int}"),
    ("GET", "/official/complaint-corrections/{correction_id:int}/files/{file_id:int}"),
}
# A reset code for an account of another district, issued by a district's official, in
# tests/service/portal/test_passwords.py:
COVERED |= {("POST", "/official/password-resets/{username:str}")}
# Every route naming a credit repair application is tried by another merchant and by an
# official of another district in tests/scoring/credit/test_repair_pages.py.
COVERED |= {r for r in routes_naming_a_repair() if RULES[r] in (OFFICIALS, MERCHANTS)}


def test_every_route_that_names_something_is_tried() -> None:
    """Every route a district's official may call with an identifier in its path is tried
    above, and every list of theirs is read: a new route fails here until it is."""
    named = {
        (method, path)
        for (method, path), rule in RULES.items()
        if rule in (OFFICIALS, MERCHANTS) and "{" in path
    }
    assert named == COVERED
    lists = {
        path
        for (method, path), rule in RULES.items()
        if rule == OFFICIALS and method == "GET" and "{" not in path
    }
    assert lists <= {url.split("?")[0] for url in LISTS}


async def _as(client: httpx.AsyncClient, username: str) -> httpx.AsyncClient:
    assert await login(client, username) == 303
    client.headers["x-csrftoken"] = await csrf(client)
    return client


async def _call(c: httpx.AsyncClient, t: Try, values: dict[str, str]) -> httpx.Response:
    method, path, query, body, form = t
    url = _fill(path, values) + (f"?{_fill(query, values)}" if query else "")
    data = {k: _fill(v, values) for k, v in (body or {}).items()}
    if form:
        return await c.request(method, url, data=data, follow_redirects=False)
    return await c.request(method, url, json=data if body is not None else None)


def _answer(r: httpx.Response) -> tuple[int, bool]:
    """What tells answers apart: the status, and for a form's redirect whether it reports an
    error."""
    return r.status_code, "error=" in r.headers.get("location", "")


async def test_a_district_official_gets_what_a_city_official_gets_in_its_district_only(
    client: httpx.AsyncClient,
) -> None:
    mine, theirs, run_id = await _two_districts()
    await make_account("city", Role.OFFICIAL)
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    transport, base = client._transport, client.base_url
    city = await _as(httpx.AsyncClient(transport=transport, base_url=base), "city")
    county = await _as(httpx.AsyncClient(transport=transport, base_url=base), "county")
    for c in (city, county):
        c.headers["accept"] = "application/json"
    try:
        failures: list[str] = []
        for t in READS:
            own = await _call(county, t, mine.values())
            as_city = await _call(city, t, mine.values())
            if _answer(own) != _answer(as_city) or own.status_code != 200:
                failures.append(f"{t[:3]} own: {own.status_code}, city: {as_city.status_code}")
            # Refused as missing: what it gets for a thing that exists nowhere, a 404.
            other = await _call(county, t, theirs.values())
            missing = await _call(county, t, NOWHERE)
            if _answer(other) != _answer(missing) or other.status_code != 404:
                failures.append(
                    f"{t[:3]} other: {other.status_code}, missing: {missing.status_code}"
                )
            if theirs.name in other.text:
                failures.append(f"{t[:3]} shows {theirs.name}")
        for t in WRITES:
            # A form answers a missing thing with its error redirect, the API with a 404 (or
            # a 422 naming the field, for a body): the other district's is answered the same.
            other = await _call(county, t, theirs.values())
            missing = await _call(county, t, NOWHERE)
            if _answer(other) != _answer(missing) or theirs.name in other.text:
                failures.append(
                    f"{t[:3]} other: {other.status_code}, missing: {missing.status_code}"
                )
            own = await _call(county, t, mine.values())
            for_city = await _call(city, t, theirs.values())  # the same change, in the city
            if _answer(own) != _answer(for_city):
                failures.append(f"{t[:3]} own: {own.status_code}, city: {for_city.status_code}")
        for path in LISTS:
            url = path.format(run_id=run_id)
            own, as_city = await county.get(url), await city.get(url)
            if own.status_code != as_city.status_code or own.status_code != 200:
                failures.append(f"{url}: {own.status_code}, city: {as_city.status_code}")
            for word in (theirs.name, theirs.uscc, theirs.street, theirs.serial):
                if word in own.text:
                    failures.append(f"{url} shows {word}")
        assert failures == [], "\n".join(failures)
        # The other district's things were there to hide: the city's official sees them.
        shown = (await city.get("/official/scores?kind=merchant")).text
        assert theirs.name in shown and mine.name in shown
    finally:
        await city.aclose()
        await county.aclose()


async def test_a_district_officials_rankings_list_its_district_only(
    client: httpx.AsyncClient,
) -> None:
    mine, theirs, _ = await _two_districts()
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    await _as(client, "county")
    for kind, own, other in (
        ("merchant", mine.name, theirs.name),
        ("street", mine.street, theirs.street),
        ("district", mine.district, theirs.district),
    ):
        page = await client.get(f"/official/scores?kind={kind}")
        assert page.status_code == 200
        assert own in page.text and other not in page.text
    # The city as a unit is no district's.
    assert (await client.get("/official/scores/city/city")).status_code == 404


async def test_a_district_official_cannot_revoke_a_certificate_of_another_districts_merchant(
    client: httpx.AsyncClient,
) -> None:
    mine, theirs, _ = await _two_districts()
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    await _as(client, "county")
    body = {"reason": "false_advertising", "note": "宣传不实"}
    r = await client.post(f"/api/v1/certificates/{theirs.serial}/revoke", json=body)
    assert r.status_code == 404 and r.json()["detail"] == f"No certificate {theirs.serial}"
    assert (await Certificate.get(serial=theirs.serial)).status == Status.ACTIVE
    # Its own district's, it may.
    r = await client.post(f"/api/v1/certificates/{mine.serial}/revoke", json=body)
    assert r.status_code == 200 and r.json()["status"] == "revoked"
    # The public verify page stays public, without the decision form for the other's.
    page = await client.get(f"/verify/{theirs.serial}")
    assert page.status_code == 200 and 'id="decide"' not in page.text


async def test_city_wide_actions_are_the_city_bureaus(client: httpx.AsyncClient) -> None:
    mine, _, run_id = await _two_districts()
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    await _as(client, "county")
    for method, url in (
        ("POST", "/api/v1/scoring/runs"),
        ("POST", f"/api/v1/scoring/runs/{run_id}/publish"),
        ("GET", "/official/audit"),
        ("GET", "/official/jobs"),
        ("GET", "/api/v1/jobs"),
        ("GET", "/metrics"),
    ):
        r = await client.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 403, (method, url, r.status_code)
    runs = await client.get("/official/runs")
    assert runs.status_code == 200 and 'action="/official/runs"' not in runs.text


async def test_a_district_official_registers_only_in_its_district(
    client: httpx.AsyncClient,
) -> None:
    mine, theirs, _ = await _two_districts()
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    await _as(client, "county")
    street = {"kind": "street", "name_zh": "新街", "name_en": "New"}
    r = await client.post("/api/v1/areas", json={**street, "code": "X1", "parent": theirs.district})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "parent"
    r = await client.post("/api/v1/areas", json={**street, "code": "X1", "parent": mine.district})
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/areas",
        json={
            "code": "X2",
            "kind": "district",
            "name_zh": "新区",
            "name_en": "N",
            "parent": "411700",
        },
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} >= {"kind"}
    r = await client.patch(f"/api/v1/merchants/{mine.uscc}", json={"district": theirs.district})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "district"
    merchant: dict[str, Any] = {
        "uscc": "91410000MA9K12345C",
        "name": "新店",
        "category": "retail",
        "uscc_override": True,
    }
    r = await client.post("/api/v1/merchants", json={**merchant, "district": theirs.district})
    assert r.status_code == 422 and "district" in {e["field"] for e in r.json()["errors"]}
    r = await client.post("/api/v1/merchants", json={**merchant, "district": mine.district})
    assert r.status_code == 201, r.text


async def test_a_district_official_posts_records_of_its_own_district_only(
    client: httpx.AsyncClient,
) -> None:
    """The feeds, posted by a district's official: what names another district, or a merchant
    registered in another, is missing; what names no district is its own district's."""
    mine, theirs, _ = await _two_districts()
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    county = await _as(client, "county")
    now = datetime.now(UTC).isoformat()
    today = datetime.now(UTC).date().isoformat()

    def record(ref: str, **fields: str) -> dict[str, object]:
        return {
            "complaints": [
                {
                    "external_id": ref,
                    "received_at": now,
                    "status": "received",
                    "category": "price",
                    **fields,
                }
            ]
        }

    other = await county.post("/api/v1/complaints", json=record("X1", uscc=theirs.uscc))
    elsewhere = await county.post(
        "/api/v1/complaints", json=record("X2", party_name="摊贩", district=theirs.district)
    )
    event = {
        "uscc": theirs.uscc,
        "kind": "commendation",
        "occurred_at": now,
        "source": "county",
        "external_ref": "E1",
    }
    refused_event = await county.post("/api/v1/credit/events", json={"events": [event]})
    tally = {"external_id": "T1", "day": today, "visits": 3, "district": theirs.district}
    refused_tally = await county.post("/api/v1/visits", json={"tallies": [tally]})
    campaign = {
        "code": "HD-X",
        "name": "红盾",
        "year": datetime.now(UTC).year,
        "district": theirs.district,
    }
    refused_campaign = await county.post("/api/v1/spot-checks", json={"campaigns": [campaign]})
    assert [
        r.status_code for r in (other, elsewhere, refused_event, refused_tally, refused_campaign)
    ] == [404] * 5
    assert not await Complaint.filter(external_id__in=["X1", "X2"]).exists()

    own = await county.post("/api/v1/complaints", json=record("M1", party_name="摊贩"))
    assert own.status_code == 200, own.text
    stored = await Complaint.get(external_id="M1").prefetch_related("handling_district")
    assert stored.handling_district is not None
    assert stored.handling_district.code == mine.district
    ok = await county.post("/api/v1/complaints", json=record("M2", uscc=mine.uscc))
    assert ok.status_code == 200


async def test_a_district_official_is_the_public_for_another_districts_inactive_certificate(
    client: httpx.AsyncClient,
) -> None:
    """Its credential and PDF are handed out as acting on it is allowed: in the district."""
    mine, theirs, _ = await _two_districts()
    await make_account("county", Role.OFFICIAL, district_code=mine.district)
    await _as(client, "county")
    # The PDF of a certificate on hold is signed for nobody (410): its own official learns so.
    for what, own_status in (("credential", 200), ("pdf", 410)):
        other = await client.get(f"/api/v1/certificates/{theirs.held}/{what}")
        assert other.status_code == 403, (what, other.status_code)
        assert theirs.name not in other.text
        own = await client.get(f"/api/v1/certificates/{mine.held}/{what}")
        assert own.status_code == own_status, (what, own.text)
        assert own.headers["cache-control"] == "private, no-store"
    # Anonymous, the other district's is refused the same way.
    client.cookies.clear()
    anonymous = await client.get(f"/api/v1/certificates/{theirs.held}/credential")
    assert anonymous.status_code == 403
