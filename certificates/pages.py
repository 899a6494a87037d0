"""Officials' certificate pages: who qualifies under the policy, criterion by criterion."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import polars as pl
from litestar import Request, get, post
from litestar.datastructures import State, UploadFile
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Response, Template
from litestar.types import ControllerRouterHandler
from tortoise.expressions import Q, Subquery

from certificates import documents, eligibility, issuance, sweep, verification, verify_cache
from certificates.commitments import store as commitments
from certificates.labels import REASON_LABELS, REVIEW_REASONS, STATUS_LABELS
from certificates.models import Certificate, Reply, Status, StatusChange
from certificates.policy import Kind, policy_for
from certificates.routes import PDF_MAX_BYTES
from certificates.schemas import PdfCheck
from certificates.serials import is_valid
from certificates.signing import InflatesTooMuch
from scoring.credit import store as credit_store
from service.kernel import scope
from service.kernel.conditional import PRIVATE_CACHE_CONTROL, cached_bytes
from service.kernel.exports import Headers, figures_response
from service.kernel.i18n import N_, current_locale
from service.kernel.i18n import gettext as _
from service.kernel.models import Area, AreaKind, Merchant, MerchantCategory
from service.kernel.notices import error_notice, error_redirect, redirect_after
from service.kernel.pools import Busy
from service.kernel.security import OFFICIALS, PUBLIC, PUBLIC_DOCUMENT, require_principal
from service.kernel.settings import Settings
from service.register import store as registry

PAGE_SIZE = 50


@get("/official/certificates/eligibility", opt=OFFICIALS, include_in_schema=False)
async def eligibility_page(
    request: Request[Any, Any, State],
    kind: Annotated[Kind, QueryParameter()] = Kind.MERCHANT,
    show: Annotated[Literal["all", "eligible", "failing"], QueryParameter()] = "all",
    district: Annotated[str | None, QueryParameter(max_length=32)] = None,
    area: Annotated[str | None, QueryParameter(max_length=32)] = None,
    category: Annotated[MerchantCategory | None, QueryParameter()] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    format: Annotated[Literal["html", "csv", "xlsx"], QueryParameter()] = "html",
    header_row: Headers = "label",
) -> Template | Response[Any]:
    """Every subject of a kind against the policy: each criterion's value, requirement and
    result, so the reason for a yes or a no can be read, not guessed. Filtered by district,
    street or scenic spot and category (merchants), and exported as CSV/XLSX."""
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    found = await eligibility.evaluate_all(policy, credit_store.rules_for(settings.credit_rules))
    of_kind = [e for e in found if e.kind == kind]
    confined = await scope.of(request)
    district = scope.district_filter(confined, district)
    area = await scope.place_filter(confined, area)
    within = await _subjects_within(kind, district, area, category)
    if within is not None:
        of_kind = [e for e in of_kind if e.code in within]
    shown = [e for e in of_kind if show == "all" or (show == "eligible") == e.eligible]
    if format != "html":
        rows = [
            {
                "kind": e.kind.value,
                "code": e.code,
                "name": e.name,
                "eligible": e.eligible,
                **{f"{c.key}": None if c.value is None else str(c.value) for c in e.criteria},
                **{f"{c.key}_passed": c.passed for c in e.criteria},
            }
            for e in shown
        ]
        return await figures_response(
            pl.DataFrame(rows), format, f"eligibility-{kind.value}", "eligibility", header_row
        )
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    filters = {
        "kind": kind.value,
        "show": show,
        "district": district,
        "area": area,
        "category": category.value if category else None,
    }
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
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "filters": {k: v or "" for k, v in filters.items()},
            "districts": await scope.districts(confined).order_by("code"),
            "areas": await scope.places(confined).order_by("code"),
            "categories": [c.value for c in MerchantCategory],
            "holders": await issuance.holders(kind),
            "issued": request.query_params.get("issued"),
            "error": error_notice(request),
        },
    )


async def _subjects_within(
    kind: Kind, district: str | None, area: str | None, category: MerchantCategory | None
) -> set[str] | None:
    """The subject codes inside the filters, or None when nothing filters."""
    if not (district or area or category):
        return None
    if kind == Kind.MERCHANT:
        qs = registry.merchants_within(district, area, category)
        return {str(u) for u in await qs.values_list("uscc", flat=True)}
    areas = Area.filter(kind=kind.value)
    if district:
        areas = areas.filter(parent__code=district)
    if area:
        areas = areas.filter(code=area)
    return {str(c) for c in await areas.values_list("code", flat=True)}


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
        return error_redirect(request, back, "none")
    issued = documents.issue_signed(
        [issuance.Request(kind, s) for s in dict.fromkeys(subjects)],
        settings=settings,
        actor=require_principal(request).actor,
        policy=policy_for(settings.certificate_policy),
        credit_rules=credit_store.rules_for(settings.credit_rules),
        district=await scope.of(request),
    )
    return await redirect_after(
        request,
        issued,
        done=lambda made: f"{back}&issued={len(made)}",
        back=back,
        code="not_issued",
    )


PAGES: list[ControllerRouterHandler] = [eligibility_page, issue_form]


# The codes an official picks from on the verify page (the API takes any code).
OFFICIAL_REASONS = (
    "mystery_shopping",
    "false_advertising",
    "price_fraud",
    "unsafe_goods",
    "complaints_unresolved",
    "corrected",
)


# What a verify page's bytes depend on besides its URL: the language cookie (a ?lang= is in
# the URL), and who is asking, by session cookie or by API token: an official sees a page of
# its own. A shared cache keeps the page for cookieless, tokenless requests (a QR scan).
VERIFY_VARY = "Cookie, Authorization"


@get("/verify/{serial:str}", opt=PUBLIC_DOCUMENT, include_in_schema=False)
async def verify_page(
    request: Request[Any, Any, State], serial: Annotated[str, PathParameter(max_length=40)]
) -> Template | Response[bytes]:
    """What a QR code on a certificate opens: each check, step by step, with the live status.
    The public's page may be kept by shared caches (for ``PUBLIC_MAX_AGE``, then revalidated
    by its tag); a signed-in visitor's, which may carry a decision form, by none."""
    settings: Settings = request.app.state.settings
    policy = policy_for(settings.certificate_policy)
    now = datetime.now(UTC)
    anonymous = request.scope.get("user") is None
    # A plain scan by the public: the page is served as rendered for this very state.
    plain = anonymous and set(request.query_params) <= {"lang"}
    state_now = await verify_cache.fingerprint(serial, now) if plain else None
    key = (serial, current_locale())
    if state_now is not None:
        kept = verify_cache.PAGES.get(key, state_now)
        if kept is not None:
            return cached_bytes(request, kept, MediaType.HTML, VERIFY_VARY)
    cert = await Certificate.get_or_none(serial=serial)
    if cert is None:
        return Template(
            "certificates/verify.html",
            context={"serial": serial, "cert": None, "well_formed": is_valid(serial)},
            status_code=404,
            headers={} if anonymous else {"cache-control": PRIVATE_CACHE_CONTROL},
        )
    state = await issuance.status_at(cert)
    changes = await StatusChange.filter(certificate_id=cert.id).order_by("at", "id")
    answers = {r.change_id: r for r in await Reply.filter(certificate_id=cert.id)}
    context = {
        "serial": serial,
        "cert": cert,
        "state": state,
        "changes": changes,
        "policy": policy,
        "title": policy.title(cert.kind),
        "now": now,
        "well_formed": True,
        "statuses": STATUS_LABELS,
        # A yearly review's withdrawal names its criteria's codes in the note.
        "reasons": REASON_LABELS | REVIEW_REASONS,
        "answers": answers,
        "commitments": await commitments.in_force(cert.subject_code, now)
        if cert.kind == Kind.MERCHANT
        else [],
        "official_reasons": OFFICIAL_REASONS,
        "error": error_notice(request),
        # The page is public; its decision form is for officials whose reach covers it.
        "may_decide": await scope.holds(
            await scope.of(request), cert.kind.value, cert.subject_code
        ),
    }
    if not anonymous:
        return Template(
            "certificates/verify.html",
            context=context,
            headers={"cache-control": PRIVATE_CACHE_CONTROL},
        )
    # Rendered as Litestar would, minus the form token an anonymous page does not carry
    # (it holds no form, and PUBLIC_DOCUMENT gives the anonymous no CSRF cookie).
    engine = request.app.template_engine
    assert engine is not None  # configured in service.app
    template = engine.get_template("certificates/verify.html")
    page = template.render(**context, request=request, csrf_input="", csrf_token="").encode()
    if state_now is not None:
        verify_cache.PAGES.put(key, state_now, page)
    return cached_bytes(request, page, MediaType.HTML, VERIFY_VARY)


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


def _file_page(
    result: PdfCheck | None = None,
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Template:
    return Template(
        "certificates/verify_file.html",
        context={"result": result, "error": error, "statuses": STATUS_LABELS},
        status_code=status_code,
        headers=headers,
    )


INFLATES_TOO_MUCH = N_(
    "This file holds far more compressed data than a certificate file does, so it was not "
    "checked. A certificate from the bureau is a PDF of a few hundred kilobytes."
)
TOO_BUSY = N_("Many files are being checked right now. Please try again in a few seconds.")


@get("/verify/upload", opt=PUBLIC, include_in_schema=False)
async def verify_file_form() -> Template:
    """A form for checking a certificate PDF someone was handed; works without JavaScript."""
    return _file_page()


@post(
    "/verify/upload",
    opt=PUBLIC,
    include_in_schema=False,
    status_code=200,
    request_max_body_size=PDF_MAX_BYTES,
)
async def verify_file(
    request: Request[Any, Any, State],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> Template:
    """The upload's verdict in plain words, from the same check as the API."""
    upload = data.get("file")
    if not isinstance(upload, UploadFile):
        return _file_page(error=_("Choose a PDF file to check."), status_code=422)
    content = await upload.read()
    if not content:
        return _file_page(error=_("The file is empty."), status_code=422)
    settings: Settings = request.app.state.settings
    config = documents.signer_config(settings, policy_for(settings.certificate_policy))
    try:
        return _file_page(await verification.check_pdf(content, config))
    except InflatesTooMuch:
        return _file_page(error=_(INFLATES_TOO_MUCH), status_code=413)
    except Busy as exc:
        return _file_page(error=_(TOO_BUSY), status_code=503, headers=exc.headers)


PAGES += [verify_file_form, verify_file]


@post(
    "/official/certificates/{serial:str}/decision",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def decide_form(
    request: Request[Any, Any, State],
    serial: Annotated[str, PathParameter(max_length=40)],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    """An official suspends, revokes or reinstates from the verify page; a note is required,
    since the decision changes a holder's standing in public."""
    note = str(data.get("note") or "").strip()
    back = f"/verify/{quote(serial, safe='-')}"
    if not note:
        return error_redirect(request, f"{back}#decide", "note")
    decided = sweep.decide(
        serial,
        str(data.get("action") or ""),
        str(data.get("reason") or ""),
        note,
        actor=require_principal(request).actor,
        district=await scope.of(request),
    )
    return await redirect_after(
        request, decided, done=back, back=f"{back}#decide", code="not_decided"
    )


PAGES.append(decide_form)


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
        # Subqueries: a district may hold more merchants than one query can bind as values.
        qs = qs.filter(
            Q(subject_code__in=Subquery(Merchant.filter(district__code=district).values("uscc")))
            | Q(subject_code__in=Subquery(Area.filter(parent__code=district).values("code")))
        )
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
