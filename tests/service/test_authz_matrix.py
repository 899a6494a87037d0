"""Every route × every role → the expected answer, generated from the app's own route table.

A route added without a rule here fails ``test_every_route_has_a_rule``: access is decided on
purpose, never by default. Officials come in two kinds, tried on every route: the city
bureau's (``official``) and a district bureau's (``district_official``), who may call what an
official may except the city-wide actions (``CITY_OFFICIALS``); what it then sees is limited
to its district (``tests/service/kernel/test_scope.py``).
"""

from __future__ import annotations

import re

import httpx
from litestar import Litestar
from litestar.routes import HTTPRoute

from service.kernel.models import Role
from service.kernel.settings import Settings
from tests.conftest import BASE_URL, asgi, empty_database, make_app, with_env
from tests.helpers import csrf, login, make_account, make_token

PUBLIC = "public"
SIGNED_IN = "signed_in"  # people: merchant, area manager, official, admin
OFFICIALS = "officials"  # official (of the city or of a district), admin
CITY_OFFICIALS = "city_officials"  # city-wide actions: the city bureau's officials, admin
ADMINS = "admins"
FEEDS = "feeds"  # feed, official, admin
MERCHANTS = "merchants"  # merchant (its own records), official, admin
MERCHANT_ONLY = "merchant_only"  # pages about the signed-in merchant itself
AREA_MANAGER_ONLY = "area_manager_only"  # pages about the area the signed-in manager manages
APPLICANTS = "applicants"  # who applies for a certificate: a merchant, an area manager
APPLICATIONS = "applications"  # applicants (their own) and officials (their district's)

ALLOWED: dict[str, set[str]] = {
    PUBLIC: {
        "anonymous",
        "merchant",
        "area_manager",
        "official",
        "district_official",
        "admin",
        "feed",
    },
    SIGNED_IN: {"merchant", "area_manager", "official", "district_official", "admin"},
    OFFICIALS: {"official", "district_official", "admin"},
    CITY_OFFICIALS: {"official", "admin"},
    ADMINS: {"admin"},
    # The feeds' ingest is left as it was (issue 19 reworks it): any official may post.
    FEEDS: {"feed", "official", "district_official", "admin"},
    MERCHANTS: {"merchant", "official", "district_official", "admin"},
    MERCHANT_ONLY: {"merchant"},
    AREA_MANAGER_ONLY: {"area_manager"},
    APPLICANTS: {"merchant", "area_manager"},
    APPLICATIONS: {"merchant", "area_manager", "official", "district_official", "admin"},
}

RULES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): SIGNED_IN,
    ("GET", "/account"): SIGNED_IN,
    ("GET", "/account/password"): SIGNED_IN,
    ("POST", "/account/password"): SIGNED_IN,
    ("GET", "/password-reset"): PUBLIC,
    ("POST", "/password-reset"): PUBLIC,
    ("GET", "/official/password-resets"): OFFICIALS,
    ("POST", "/official/password-resets/{username:str}"): OFFICIALS,
    # The second step of signing in: public, since the visitor is not signed in until it is
    # passed; the page itself checks the pending sign-in in the session.
    ("GET", "/login/second-factor"): PUBLIC,
    ("POST", "/login/second-factor"): PUBLIC,
    ("GET", "/login/second-factor/enrol"): PUBLIC,
    ("POST", "/login/second-factor/enrol"): PUBLIC,
    ("GET", "/login/oidc"): PUBLIC,
    ("GET", "/login/oidc/callback"): PUBLIC,
    ("GET", "/account/second-factor"): SIGNED_IN,
    ("POST", "/account/second-factor/enrol"): SIGNED_IN,
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("HEAD", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/redoc"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    ("GET", "/api/v1/areas"): PUBLIC,
    ("POST", "/api/v1/areas"): OFFICIALS,
    ("GET", "/api/v1/areas/{code:str}"): PUBLIC,
    ("PATCH", "/api/v1/areas/{code:str}"): OFFICIALS,
    ("GET", "/api/v1/merchants"): PUBLIC,
    ("POST", "/api/v1/merchants"): OFFICIALS,
    ("GET", "/api/v1/merchants/{uscc:str}"): PUBLIC,
    ("PATCH", "/api/v1/merchants/{uscc:str}"): OFFICIALS,
    ("GET", "/s/{survey:str}/{target:str}"): PUBLIC,
    ("POST", "/s/{survey:str}/{target:str}"): PUBLIC,
    ("GET", "/qr/{name:str}"): PUBLIC,
    ("GET", "/qr/{target:str}/poster.pdf"): PUBLIC,
    ("GET", "/api/v1/surveys"): PUBLIC,
    ("GET", "/api/v1/surveys/{survey:str}"): PUBLIC,
    ("POST", "/api/v1/surveys/{survey:str}/responses"): PUBLIC,
    ("GET", "/api/v1/surveys/{survey:str}/responses"): OFFICIALS,
    ("GET", "/api/v1/surveys/{survey:str}/stats"): OFFICIALS,
    ("POST", "/api/v1/surveys/responses/{response_id:int}/flags/{kind:str}"): OFFICIALS,
    ("POST", "/api/v1/scoring/runs"): CITY_OFFICIALS,
    ("GET", "/api/v1/scoring/runs/{run_id:int}"): OFFICIALS,
    ("POST", "/api/v1/scoring/runs/{run_id:int}/publish"): CITY_OFFICIALS,
    ("POST", "/api/v1/scoring/runs/{run_id:int}/discard"): CITY_OFFICIALS,
    ("GET", "/api/v1/scores"): PUBLIC,
    ("GET", "/api/v1/tokens"): ADMINS,
    ("POST", "/api/v1/tokens"): ADMINS,
    ("POST", "/api/v1/tokens/{token_id:int}/revoke"): ADMINS,
    ("GET", "/api/v1/accounts"): ADMINS,
    ("POST", "/api/v1/accounts"): ADMINS,
    ("GET", "/api/v1/scoring/runs/{run_id:int}/export"): OFFICIALS,
    ("GET", "/scores"): PUBLIC,
    ("GET", "/methodology"): PUBLIC,
    ("GET", "/official/runs"): OFFICIALS,
    ("POST", "/official/runs"): CITY_OFFICIALS,
    ("GET", "/official/runs/{run_id:int}"): OFFICIALS,
    ("POST", "/official/runs/{run_id:int}/publish"): CITY_OFFICIALS,
    ("POST", "/official/runs/{run_id:int}/discard"): CITY_OFFICIALS,
    ("GET", "/official/scores"): OFFICIALS,
    ("GET", "/official/scores/{kind:str}/{code:str}"): OFFICIALS,
    ("POST", "/api/v1/credit/events"): FEEDS,
    ("POST", "/api/v1/complaints"): FEEDS,
    ("POST", "/api/v1/visits"): FEEDS,
    ("POST", "/api/v1/spot-checks"): FEEDS,
    ("GET", "/api/v1/reports/annual"): OFFICIALS,
    ("GET", "/api/v1/reports/annual.pdf"): OFFICIALS,
    ("GET", "/official/reports/annual"): OFFICIALS,
    ("GET", "/api/v1/advisories"): PUBLIC,
    ("POST", "/api/v1/advisories"): OFFICIALS,
    ("POST", "/api/v1/advisories/{advisory_id:int}/withdraw"): OFFICIALS,
    ("GET", "/advisories.rss"): PUBLIC,
    ("GET", "/official/advisories"): OFFICIALS,
    ("POST", "/official/advisories"): OFFICIALS,
    ("POST", "/official/advisories/{advisory_id:int}/withdraw"): OFFICIALS,
    ("GET", "/merchants/{uscc:str}"): PUBLIC,
    ("GET", "/areas/{code:str}"): PUBLIC,
    ("GET", "/m/{uscc:str}"): PUBLIC,
    ("GET", "/m/{uscc:str}/poster.pdf"): PUBLIC,
    ("GET", "/m/{uscc:str}/sticker.pdf"): PUBLIC,
    ("GET", "/a/{code:str}"): PUBLIC,
    ("GET", "/a/{code:str}/poster.pdf"): PUBLIC,
    ("GET", "/a/{code:str}/sticker.pdf"): PUBLIC,
    # The yearly review is city-wide: the city bureau builds, excludes and confirms; a
    # district's official reads its district's lines; the lists of a confirmed year are public.
    ("POST", "/api/v1/certificates/reviews"): CITY_OFFICIALS,
    ("GET", "/api/v1/certificates/reviews/{year:int}"): OFFICIALS,
    ("POST", "/api/v1/certificates/reviews/{year:int}/items/{item_id:int}/exclude"): CITY_OFFICIALS,
    ("POST", "/api/v1/certificates/reviews/{year:int}/confirm"): CITY_OFFICIALS,
    ("GET", "/api/v1/certificates/reviews/{year:int}/list"): PUBLIC,
    ("GET", "/lists"): PUBLIC,
    ("GET", "/lists/{edition:str}"): PUBLIC,
    ("GET", "/official/reviews"): OFFICIALS,
    ("POST", "/official/reviews"): CITY_OFFICIALS,
    ("POST", "/official/reviews/{year:int}/items/{item_id:int}/exclude"): CITY_OFFICIALS,
    ("POST", "/official/reviews/{year:int}/confirm"): CITY_OFFICIALS,
    ("POST", "/api/v1/applications"): APPLICANTS,
    ("GET", "/api/v1/applications"): APPLICATIONS,
    ("GET", "/api/v1/applications/{application_id:int}"): APPLICATIONS,
    ("GET", "/api/v1/applications/{application_id:int}/materials/{material_id:int}"): APPLICATIONS,
    ("POST", "/api/v1/applications/{application_id:int}/inspections"): OFFICIALS,
    ("POST", "/api/v1/applications/{application_id:int}/decision"): OFFICIALS,
    ("POST", "/api/v1/applications/{application_id:int}/issue"): OFFICIALS,
    ("GET", "/api/v1/notices"): PUBLIC,
    ("GET", "/api/v1/notices/{application_id:int}"): PUBLIC,
    ("POST", "/api/v1/notices/{application_id:int}/objections"): PUBLIC,
    ("POST", "/api/v1/objections/{objection_id:int}/answer"): OFFICIALS,
    ("GET", "/merchant/applications"): MERCHANT_ONLY,
    ("POST", "/merchant/applications"): MERCHANT_ONLY,
    ("GET", "/area"): AREA_MANAGER_ONLY,
    ("POST", "/area"): AREA_MANAGER_ONLY,
    ("GET", "/official/applications"): OFFICIALS,
    ("GET", "/official/applications/{application_id:int}"): OFFICIALS,
    ("POST", "/official/applications/{application_id:int}/inspections"): OFFICIALS,
    ("POST", "/official/applications/{application_id:int}/decision"): OFFICIALS,
    ("POST", "/official/applications/{application_id:int}/issue"): OFFICIALS,
    ("POST", "/official/objections/{objection_id:int}/answer"): OFFICIALS,
    ("GET", "/notices"): PUBLIC,
    ("GET", "/notices/{application_id:int}"): PUBLIC,
    ("POST", "/notices/{application_id:int}/objections"): PUBLIC,
    ("GET", "/api/v1/merchants/{uscc:str}/commitments"): PUBLIC,
    ("POST", "/api/v1/merchants/{uscc:str}/commitments"): MERCHANTS,
    ("POST", "/api/v1/merchants/{uscc:str}/commitments/{commitment_id:int}/end"): MERCHANTS,
    ("GET", "/official/commitments/{uscc:str}"): OFFICIALS,
    ("POST", "/official/commitments/{uscc:str}"): OFFICIALS,
    ("POST", "/official/commitments/{uscc:str}/{commitment_id:int}/end"): OFFICIALS,
    ("POST", "/merchant/commitments"): MERCHANT_ONLY,
    ("POST", "/merchant/commitments/{commitment_id:int}/end"): MERCHANT_ONLY,
    ("GET", "/api/v1/complaints/figures"): OFFICIALS,
    ("GET", "/api/v1/credit/classes"): OFFICIALS,
    ("GET", "/official/credit"): OFFICIALS,
    ("GET", "/official/certificates/eligibility"): OFFICIALS,
    ("POST", "/official/certificates/issue"): OFFICIALS,
    ("GET", "/verify/{serial:str}"): PUBLIC,
    ("GET", "/certificates"): PUBLIC,
    ("POST", "/api/v1/certificates"): OFFICIALS,
    ("GET", "/api/v1/certificates/status-list"): PUBLIC,
    ("GET", "/api/v1/certificates/{serial:str}"): PUBLIC,
    ("GET", "/api/v1/certificates/{serial:str}/pdf"): PUBLIC,
    ("POST", "/api/v1/certificates/verify"): PUBLIC,
    ("POST", "/api/v1/certificates/{serial:str}/replies"): MERCHANT_ONLY,
    ("POST", "/api/v1/certificates/replies/{reply_id:int}/decision"): OFFICIALS,
    ("POST", "/api/v1/certificates/{serial:str}/{action:str}"): OFFICIALS,
    ("POST", "/official/flags/{response_id:int}/{kind:str}"): OFFICIALS,
    ("POST", "/official/flags/all"): OFFICIALS,
    ("GET", "/official/credit/{uscc:str}"): OFFICIALS,
    ("GET", "/api/v1/merchants/{uscc:str}/credit"): MERCHANTS,
    ("GET", "/merchant"): MERCHANT_ONLY,
    ("POST", "/merchant/certificates/{serial:str}/reply"): MERCHANT_ONLY,
    ("GET", "/official"): OFFICIALS,
    ("GET", "/official/flags"): OFFICIALS,
    ("GET", "/official/appeals"): OFFICIALS,
    ("POST", "/official/appeals/{reply_id:int}"): OFFICIALS,
    ("GET", "/official/audit"): CITY_OFFICIALS,
    ("GET", "/official/jobs"): CITY_OFFICIALS,
    ("GET", "/api/v1/jobs"): CITY_OFFICIALS,
    ("GET", "/official/accounts"): ADMINS,
    ("POST", "/official/accounts"): ADMINS,
    ("POST", "/official/accounts/{username:str}/district"): ADMINS,
    ("GET", "/verify"): PUBLIC,
    ("GET", "/verify/upload"): PUBLIC,
    ("POST", "/verify/upload"): PUBLIC,
    ("GET", "/trust/issuer.pem"): PUBLIC,
    ("GET", "/trust/issuer.der"): PUBLIC,
    ("GET", "/trust/chain.pem"): PUBLIC,
    ("GET", "/.well-known/did.json"): PUBLIC,
    ("GET", "/did.json"): PUBLIC,
    ("GET", "/.well-known/jwks.json"): PUBLIC,
    ("GET", "/api/v1/certificates/status/{purpose:str}"): PUBLIC,
    ("GET", "/api/v1/certificates/{serial:str}/credential"): PUBLIC,
    ("GET", "/contexts/certificate/v1"): PUBLIC,
    ("POST", "/official/certificates/{serial:str}/decision"): OFFICIALS,
    ("GET", "/metrics"): CITY_OFFICIALS,
    # Complaints filed online (issue 30): anyone files and, with the secret, follows; the
    # merchant answers its own; officials work their district's.
    ("POST", "/api/v1/disputes"): PUBLIC,
    ("GET", "/api/v1/disputes"): MERCHANTS,
    ("GET", "/api/v1/disputes/{code:str}"): MERCHANTS,
    ("GET", "/api/v1/disputes/{code:str}/files/{file_id:int}"): MERCHANTS,
    ("POST", "/api/v1/disputes/{code:str}/contact"): MERCHANTS,
    ("POST", "/api/v1/disputes/{code:str}/offer"): MERCHANT_ONLY,
    ("POST", "/api/v1/disputes/{code:str}/refuse"): MERCHANT_ONLY,
    ("POST", "/api/v1/disputes/{code:str}/bureau/accept"): OFFICIALS,
    ("POST", "/api/v1/disputes/{code:str}/bureau/refuse"): OFFICIALS,
    ("POST", "/api/v1/disputes/{code:str}/bureau/mediator"): OFFICIALS,
    ("POST", "/api/v1/disputes/{code:str}/bureau/outcome"): OFFICIALS,
    ("GET", "/api/v1/track/{code:str}"): PUBLIC,
    ("POST", "/api/v1/track/{code:str}/accept"): PUBLIC,
    ("POST", "/api/v1/track/{code:str}/reject"): PUBLIC,
    ("POST", "/api/v1/track/{code:str}/withdraw"): PUBLIC,
    ("POST", "/api/v1/track/{code:str}/followup"): PUBLIC,
    ("GET", "/api/v1/track/{code:str}/files/{file_id:int}"): PUBLIC,
    ("GET", "/complain/{uscc:str}"): PUBLIC,
    ("POST", "/complain/{uscc:str}"): PUBLIC,
    ("GET", "/track/{code:str}"): PUBLIC,
    ("POST", "/track/{code:str}/accept"): PUBLIC,
    ("POST", "/track/{code:str}/reject"): PUBLIC,
    ("POST", "/track/{code:str}/withdraw"): PUBLIC,
    ("POST", "/track/{code:str}/followup"): PUBLIC,
    ("GET", "/track/{code:str}/files/{file_id:int}"): PUBLIC,
    ("GET", "/api/v1/merchants/{uscc:str}/odr"): PUBLIC,
    # Complaint disclosure (投诉公示): the public record and its open data.
    ("GET", "/api/v1/merchants/{uscc:str}/complaint-record"): PUBLIC,
    ("GET", "/api/v1/complaint-records"): PUBLIC,
    ("GET", "/api/v1/complaint-records/dictionary"): PUBLIC,
    ("GET", "/api/v1/complaint-records/city"): PUBLIC,
    ("GET", "/complaint-records"): PUBLIC,
    ("POST", "/api/v1/complaint-corrections"): MERCHANT_ONLY,
    ("GET", "/api/v1/complaint-corrections"): MERCHANTS,
    ("POST", "/api/v1/complaint-corrections/{correction_id:int}/decision"): OFFICIALS,
    ("GET", "/merchant/complaint-corrections"): MERCHANT_ONLY,
    ("POST", "/merchant/complaint-corrections"): MERCHANT_ONLY,
    ("GET", "/official/complaint-corrections"): OFFICIALS,
    ("POST", "/official/complaint-corrections/{correction_id:int}/decision"): OFFICIALS,
    ("POST", "/api/v1/complaint-corrections/{correction_id:int}/files"): MERCHANT_ONLY,
    ("GET", "/api/v1/complaint-corrections/{correction_id:int}/files/{file_id:int}"): MERCHANTS,
    ("GET", "/merchant/complaint-corrections/{correction_id:int}/files/{file_id:int}"): (
        MERCHANT_ONLY
    ),
    ("GET", "/official/complaint-corrections/{correction_id:int}/files/{file_id:int}"): OFFICIALS,
    ("POST", "/api/v1/odr/join"): MERCHANT_ONLY,
    ("POST", "/api/v1/odr/leave"): MERCHANT_ONLY,
    ("POST", "/merchant/odr/join"): MERCHANT_ONLY,
    ("POST", "/merchant/odr/leave"): MERCHANT_ONLY,
    ("GET", "/merchant/disputes"): MERCHANT_ONLY,
    ("GET", "/merchant/disputes/{code:str}"): MERCHANT_ONLY,
    ("GET", "/merchant/disputes/{code:str}/files/{file_id:int}"): MERCHANT_ONLY,
    ("POST", "/merchant/disputes/{code:str}/contact"): MERCHANT_ONLY,
    ("POST", "/merchant/disputes/{code:str}/offer"): MERCHANT_ONLY,
    ("POST", "/merchant/disputes/{code:str}/refuse"): MERCHANT_ONLY,
    ("GET", "/api/v1/credit-repairs"): MERCHANTS,
    ("POST", "/api/v1/credit-repairs"): MERCHANT_ONLY,
    ("GET", "/api/v1/credit-repairs/repairable"): MERCHANT_ONLY,
    ("GET", "/api/v1/credit-repairs/{repair_id:int}"): MERCHANTS,
    ("GET", "/api/v1/credit-repairs/{repair_id:int}/files/{file_id:int}"): MERCHANTS,
    ("POST", "/api/v1/credit-repairs/{repair_id:int}/decision"): OFFICIALS,
    ("GET", "/merchant/credit-repair"): MERCHANT_ONLY,
    ("POST", "/merchant/credit-repair"): MERCHANT_ONLY,
    ("GET", "/official/credit-repairs"): OFFICIALS,
    ("GET", "/official/credit-repairs/{repair_id:int}"): OFFICIALS,
    ("GET", "/merchant/credit-repairs/{repair_id:int}/files/{file_id:int}"): MERCHANT_ONLY,
    ("GET", "/official/credit-repairs/{repair_id:int}/files/{file_id:int}"): OFFICIALS,
    ("POST", "/official/credit-repairs/{repair_id:int}/decision"): OFFICIALS,
    ("GET", "/official/disputes"): OFFICIALS,
    # Spreadsheet imports and their templates (issue 32): the city bureau's, as the register's
    # and the feeds' files are.
    ("GET", "/api/v1/imports/templates/{name:str}"): CITY_OFFICIALS,
    ("POST", "/api/v1/imports/{kind:str}"): CITY_OFFICIALS,
    ("GET", "/official/imports"): CITY_OFFICIALS,
    ("POST", "/official/imports"): CITY_OFFICIALS,
    ("GET", "/official/disputes/{code:str}"): OFFICIALS,
    ("GET", "/official/disputes/{code:str}/files/{file_id:int}"): OFFICIALS,
    ("POST", "/official/disputes/{code:str}/contact"): OFFICIALS,
    ("POST", "/official/disputes/{code:str}/accept"): OFFICIALS,
    ("POST", "/official/disputes/{code:str}/refuse"): OFFICIALS,
    ("POST", "/official/disputes/{code:str}/mediator"): OFFICIALS,
    ("POST", "/official/disputes/{code:str}/outcome"): OFFICIALS,
}

# Values for path parameters: well-formed but naming nothing, so allowed callers get a
# 4xx from the handler (404/422), never from the guard.
PLACEHOLDERS = {
    "file_path": "site.css",
    "path": "nothing-here",
    "code": "NOPE",
    "uscc": "9144030071526726XG",  # the signed-in merchant's own: it may read its credit
    "survey": "nope",
    "target": "NOPE",
    "name": "NOPE.svg",
    "response_id": "999999",
    "kind": "speeder",
    "run_id": "999999",
    "token_id": "999999",
    "serial": "ZMD-2026-M-000001-X",
    "action": "revoke",
    "reply_id": "999999",
    "advisory_id": "999999",
    "year": "2001",
    "item_id": "999999",
    "edition": "2001",
    "application_id": "999999",
    "material_id": "999999",
    "objection_id": "999999",
    "commitment_id": "999999",
    "purpose": "revocation",
    "username": "nobody",
    "file_id": "999999",
    "repair_id": "999999",
    "correction_id": "999999",
}


def route_table(app: Litestar) -> set[tuple[str, str]]:
    table: set[tuple[str, str]] = set()
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            for method in handler.http_methods:
                if method != "OPTIONS":
                    table.add((str(method), route.path))
    return table


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", lambda m: PLACEHOLDERS[m.group(1)], path)


def test_every_route_has_a_rule(migrated: Settings) -> None:
    table = route_table(make_app(migrated))
    assert table - RULES.keys() == set(), "routes without an access rule in this test"
    assert RULES.keys() - table == set(), "rules for routes that no longer exist"


async def test_every_route_answers_every_role_as_the_rules_say(app_settings: Settings) -> None:
    await empty_database(app_settings)
    # Seven clients from one test address call every route: more than a minute's rate limit,
    # which is not what is tested here (tests/service/test_security_probe.py does that).
    app = make_app(with_env(app_settings, rate_limit_per_minute=100_000))
    async with app.lifespan():
        transport = asgi(app)
        clients: dict[str, httpx.AsyncClient] = {
            role: httpx.AsyncClient(
                transport=transport, base_url=BASE_URL, headers={"accept": "application/json"}
            )
            for role in (
                "anonymous",
                "merchant",
                "area_manager",
                "official",
                "district_official",
                "admin",
                "feed",
            )
        }
        try:
            from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory

            city = await Area.create(code="C", kind=AreaKind.CITY, name_zh="市", name_en="C")
            district = await Area.create(
                code="D", kind=AreaKind.DISTRICT, name_zh="区", name_en="D", parent=city
            )
            await Merchant.create(
                uscc="9144030071526726XG",
                name="店",
                category=MerchantCategory.RETAIL,
                district=district,
            )
            await make_account("merch1", Role.MERCHANT, merchant_uscc="9144030071526726XG")
            await Area.create(
                code="D-ST", kind=AreaKind.STREET, name_zh="街", name_en="S", parent=district
            )
            await make_account("area1", Role.AREA_MANAGER, area_code="D-ST")
            await make_account("offi1", Role.OFFICIAL)
            await make_account("dist1", Role.OFFICIAL, district_code="D")
            await make_account("admin1", Role.ADMIN)
            for role, user in (
                ("merchant", "merch1"),
                ("area_manager", "area1"),
                ("official", "offi1"),
                ("district_official", "dist1"),
                ("admin", "admin1"),
            ):
                assert await login(clients[role], user) == 303
                clients[role].headers["x-csrftoken"] = await csrf(clients[role])
            clients["anonymous"].headers["x-csrftoken"] = await csrf(clients["anonymous"])
            clients["feed"].headers["authorization"] = f"Bearer {await make_token(Role.FEED)}"

            failures = []
            # Logging out ends the session the other checks rely on: it goes last.
            ordered = sorted(RULES.items(), key=lambda kv: (kv[0] == ("POST", "/logout"), kv))
            for (method, path), rule in ordered:
                for role, c in clients.items():
                    r = await c.request(
                        method, concrete(path), json={} if method in ("POST", "PATCH") else None
                    )
                    allowed = role in ALLOWED[rule]
                    if allowed and (method, path) == ("POST", "/login"):
                        # Wrong credentials are a 401 too: the form, re-rendered, proves the
                        # guard let the request through.
                        ok = r.status_code in (303, 401) and "text/html" in r.headers.get(
                            "content-type", ""
                        )
                    elif allowed:
                        ok = r.status_code not in (401, 403) and r.status_code < 500
                    else:
                        ok = r.status_code == (401 if role == "anonymous" else 403)
                    if not ok:
                        failures.append(f"{method} {path} as {role}: {r.status_code}")
            assert failures == [], "\n".join(failures)
        finally:
            for c in clients.values():
                await c.aclose()
