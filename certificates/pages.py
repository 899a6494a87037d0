"""Officials' certificate pages: who qualifies under the policy, criterion by criterion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Template
from litestar.types import ControllerRouterHandler
from tortoise.expressions import Q

from certificates import eligibility, issuance
from certificates.models import Certificate, Reply, Status, StatusChange
from certificates.policy import Kind, policy_for
from certificates.serials import is_valid
from scoring import credit_store
from service.errors import FangxinError
from service.i18n import N_
from service.models import Area, AreaKind, Merchant
from service.security import OFFICIALS, PUBLIC, require_principal
from service.settings import Settings

PAGE_SIZE = 50


@get("/official/certificates/eligibility", opt=OFFICIALS, include_in_schema=False)
async def eligibility_page(
    request: Request[Any, Any, State],
    kind: Annotated[Kind, QueryParameter()] = Kind.MERCHANT,
    show: Annotated[Literal["all", "eligible", "failing"], QueryParameter()] = "all",
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Template:
    """Every subject of a kind against the policy: each criterion's value, requirement and
    result, so the reason for a yes or a no can be read, not guessed."""
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    found = await eligibility.evaluate_all(policy, credit_store.rules_for(settings.credit_rules))
    of_kind = [e for e in found if e.kind == kind]
    shown = [e for e in of_kind if show == "all" or (show == "eligible") == e.eligible]
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    return Template(
        "certificates/eligibility.html",
        context={
            "policy": policy,
            "kind": kind.value,
            "show": show,
            "rows": shown[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
            "total": len(of_kind),
            "eligible": sum(e.eligible for e in of_kind),
            "matching": len(shown),
            "page": page,
            "pages": pages,
            "query": urlencode({"kind": kind.value, "show": show}),
            "holders": await issuance.holders(kind),
            "issued": request.query_params.get("issued"),
            "error": request.query_params.get("error"),
        },
    )


@post("/official/certificates/issue", opt=OFFICIALS, include_in_schema=False, status_code=303)
async def issue_form(
    request: Request[Any, Any, State],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    """Issue to the subjects ticked on the eligibility page; all or none, then back to it."""
    settings: Settings = request.app.state.settings
    try:
        kind = Kind(str(data.get("kind", "")))
    except ValueError:
        kind = Kind.MERCHANT
    # One ticked box arrives as a string, several as a list.
    ticked = data.get("subject") or []
    subjects = [str(s) for s in (ticked if isinstance(ticked, list) else [ticked])]
    back = f"/official/certificates/eligibility?kind={kind.value}"
    if not subjects:
        return Redirect(f"{back}&{urlencode({'error': 'none'})}", status_code=303)
    try:
        issued = await issuance.issue(
            [issuance.Request(kind, s) for s in dict.fromkeys(subjects)],
            actor=require_principal(request).actor,
            policy=policy_for(settings.certificate_policy),
            credit_rules=credit_store.rules_for(settings.credit_rules),
        )
    except FangxinError as exc:
        message = "; ".join(f"{e.field}: {e.message}" for e in exc.errors) or exc.detail
        return Redirect(f"{back}&{urlencode({'error': message[:500]})}", status_code=303)
    return Redirect(f"{back}&issued={len(issued)}", status_code=303)


PAGES: list[ControllerRouterHandler] = [eligibility_page, issue_form]


# Labels marked for translation here and translated in the template only when shown: a
# verify page is the busiest page of all, and each translation costs.
STATUS_LABELS = {
    "active": N_("Valid"),
    "suspended": N_("Suspended"),
    "revoked": N_("Revoked"),
    "expired": N_("Expired"),
}
REASON_LABELS = {
    "issued": N_("Issued"),
    "credit_below_threshold": N_("Credit score fell below the standard"),
    "credit_class_d": N_("Credit class D"),
    "serious_violation_list": N_("Put on the serious violation list"),
    "criteria_failed": N_("No longer meets the criteria"),
    "criteria_recovered": N_("Meets the criteria again"),
    "grace_expired": N_("Did not recover within the grace period"),
    "validity_ended": N_("Validity ended"),
    "appeal_upheld": N_("Reinstated on appeal"),
}


@get("/verify/{serial:str}", opt=PUBLIC, include_in_schema=False)
async def verify_page(
    request: Request[Any, Any, State], serial: Annotated[str, PathParameter(max_length=40)]
) -> Template:
    """What a QR code on a certificate opens: each check, step by step, with the live status."""
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    cert = await Certificate.get_or_none(serial=serial)
    if cert is None:
        return Template(
            "certificates/verify.html",
            context={"serial": serial, "cert": None, "well_formed": is_valid(serial)},
            status_code=404,
        )
    state = await issuance.status_at(cert)
    changes = await StatusChange.filter(certificate_id=cert.id).order_by("at", "id")
    answers = {r.change_id: r for r in await Reply.filter(certificate_id=cert.id)}
    return Template(
        "certificates/verify.html",
        context={
            "serial": serial,
            "cert": cert,
            "state": state,
            "changes": changes,
            "policy": policy,
            "title": policy.title(cert.kind),
            "now": datetime.now(UTC),
            "well_formed": True,
            "statuses": STATUS_LABELS,
            "reasons": REASON_LABELS,
            "answers": answers,
        },
    )


PAGES.append(verify_page)


@get("/verify", opt=PUBLIC, include_in_schema=False, status_code=303)
async def verify_lookup(
    serial: Annotated[str, QueryParameter(max_length=40)] = "",
) -> Redirect:
    """The home page's form: a typed serial, tidied, opens its verify page."""
    typed = "".join(serial.split()).upper()
    if not typed:
        return Redirect("/#verify-h", status_code=303)
    return Redirect(f"/verify/{quote(typed, safe='-')}", status_code=303)


PAGES.append(verify_lookup)


@get("/certificates", opt=PUBLIC, include_in_schema=False)
async def certificates_page(
    request: Request[Any, Any, State],
    q: Annotated[str | None, QueryParameter(max_length=100)] = None,
    kind: Annotated[Kind | None, QueryParameter()] = None,
    district: Annotated[str | None, QueryParameter(max_length=32)] = None,
    status: Annotated[Status | None, QueryParameter()] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
) -> Template:
    """The public register: by default every certificate that stands (active or on hold);
    revoked and expired ones on asking, since a withdrawal is public too. Searchable by name
    or serial, filtered by kind, district and status, each linked to its live verification."""
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    qs = Certificate.filter(status__in=[status] if status else [Status.ACTIVE, Status.SUSPENDED])
    if kind:
        qs = qs.filter(kind=kind)
    if district:
        # A certificate names its subject only: a merchant's district, or an area's parent.
        in_district = [
            *await Merchant.filter(district__code=district).values_list("uscc", flat=True),
            *await Area.filter(parent__code=district).values_list("code", flat=True),
        ]
        qs = qs.filter(subject_code__in=[str(c) for c in in_district])
    if q:
        qs = qs.filter(Q(subject_name__icontains=q) | Q(serial__icontains=q))
    total = await qs.count()
    rows = await qs.order_by("kind", "subject_name").offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    return Template(
        "certificates/register.html",
        context={
            "rows": rows,
            "titles": {k.value: policy.title(k) for k in Kind},
            "statuses": STATUS_LABELS,
            "q": q or "",
            "kind": kind.value if kind else "",
            "district": district or "",
            "status": status.value if status else "",
            "districts": await Area.filter(kind=AreaKind.DISTRICT).order_by("code"),
            "total": total,
            "page": page,
            "pages": max(1, -(-total // PAGE_SIZE)),
            "query": urlencode(
                {
                    k: v
                    for k, v in (
                        ("q", q),
                        ("kind", kind.value if kind else None),
                        ("district", district),
                        ("status", status.value if status else None),
                    )
                    if v
                }
            ),
        },
    )


PAGES.append(certificates_page)
