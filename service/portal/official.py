"""The official's desk: the year's figures as the bureau reports them, the work waiting for a
decision (a draft run, subjects to certify, holds running out, appeals, flagged responses),
and the audit log. Each queue is a list that filters, paginates and exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import anyio
import polars as pl
from litestar import Request, get, post
from litestar.datastructures import State
from litestar.enums import RequestEncodingType
from litestar.params import Body, PathParameter, QueryParameter
from litestar.response import Redirect, Response, Template
from litestar.types import ControllerRouterHandler
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count

from certificates import eligibility, issuance, replies
from certificates.labels import REASON_LABELS, STATUS_LABELS
from certificates.models import Certificate, Reply, Status
from certificates.policy import Kind, policy_for
from scoring.credit import figures as credit_figures
from scoring.credit import repair, workdays
from scoring.credit import store as credit_store
from scoring.disclosure import corrections
from scoring.disclosure.models import CorrectionStatus
from scoring.disputes.party_pages import awaiting_acceptance
from scoring.satisfaction import drilldown, runs
from scoring.satisfaction.models import RunStatus, ScoreRun
from scoring.satisfaction.run_pages import trend_chart
from service import jobs
from service.kernel import disk, scope
from service.kernel.db import MAX_ID
from service.kernel.exports import Headers, figures_response
from service.kernel.i18n import N_
from service.kernel.localtime import LOCAL_TZ, as_utc, to_local, year_bounds
from service.kernel.models import Area, AreaKind, AuditEvent, MerchantCategory
from service.kernel.notices import error_notice, redirect_after
from service.kernel.security import CITY_OFFICIALS, OFFICIALS, require_principal
from service.kernel.settings import Settings
from service.kernel.validation import int_or_none, require_in_range
from service.register import store as registry
from service.reports import annual
from surveys import quality
from surveys.models import FlagKind, FlagStatus, ResponseFlag
from surveys.models import Response as SurveyResponse

PAGE_SIZE = 50
GRACE_WARNING = timedelta(days=7)  # holds ending this soon head the queue
Export = Annotated[Literal["html", "csv", "xlsx"], QueryParameter()]


@dataclass(frozen=True, slots=True)
class YearFigures:
    year: int
    received: int
    closed: int
    closure_rate: float | None
    disputed: float
    recovered: float
    responses: int
    excluded: int

    @property
    def exclusion_rate(self) -> float | None:
        return self.excluded / self.responses if self.responses else None


async def year_figures(year: int, district: Area | None = None) -> YearFigures:
    """The year's figures for the city, or (``district``) for one district."""
    since, until = year_bounds(year)
    frame = await credit_figures.complaints_report(
        credit_figures.ComplaintQuery("year", scope.district_filter(district, None), since, until)
    )
    # The total row sums whatever the query covered: the city, or the one district.
    city = frame.filter(pl.col("district") == credit_figures.CITY_TOTAL).to_dicts()
    row = city[0] if city else {}
    window = SurveyResponse.filter(submitted_at__gte=since, submitted_at__lt=until).filter(
        scope.targets(district, code="target_code", kind="target_kind")
    )
    return YearFigures(
        year=year,
        received=int(row.get("received") or 0),
        closed=int(row.get("closed") or 0),
        closure_rate=row.get("closure_rate"),
        disputed=float(row.get("amount_disputed") or 0),
        recovered=float(row.get("amount_recovered") or 0),
        responses=await window.count(),
        excluded=await window.filter(excluded=True).count(),
    )


async def certificate_counts(district: Area | None = None) -> dict[str, int]:
    rows = (
        await Certificate.filter(issuance.subjects_within(district))
        .annotate(n=Count("id"))
        .group_by("status")
        .values("status", "n")
    )
    counts = dict.fromkeys((s.value for s in Status), 0)
    counts.update({str(r["status"]): int(r["n"]) for r in rows})
    return counts


@get("/official", opt=OFFICIALS, include_in_schema=False)
async def desk(
    request: Request[Any, Any, State],
    year: Annotated[int | None, QueryParameter(ge=2000, le=2100)] = None,
) -> Template:
    settings: Settings = request.app.state.settings
    now = datetime.now(UTC)
    this_year = to_local(now).year
    district = await scope.of(request)
    figures = await year_figures(year or this_year, district)
    # 回访满意率 exactly as the annual report computes it, for the desk's district or city.
    report = await annual.annual_report(figures.year, district.code if district else None)
    # The city is one unit, coded "city"; a district's desk follows its district.
    trend = await (
        drilldown.trend("district", district.code) if district else drilldown.trend("city", "city")
    )
    chart = await anyio.to_thread.run_sync(
        lambda: trend_chart(trend, N_("Satisfaction index"), "%Y-%m-%d")
    )
    policy = policy_for(settings.certificate_policy)
    found = await eligibility.evaluate_all(policy, credit_store.rules_for(settings.credit_rules))
    to_certify = {}
    for kind in Kind:
        held = await issuance.holders(kind)
        inside = await scope.codes(district, kind.value)
        to_certify[kind.value] = sum(
            1
            for e in found
            if e.kind == kind
            and e.eligible
            and e.code not in held
            and (inside is None or e.code in inside)
        )
    holds = Certificate.filter(status=Status.SUSPENDED).filter(issuance.subjects_within(district))
    return Template(
        "portal/desk.html",
        context={
            "figures": figures,
            "followups": report.followups,
            "followups_by_handler": report.followups_by_handler,
            "online": report.online,
            "min_answers": annual.MIN_ANSWERS,
            "city_unit": trend[-1]["unit"] if trend else None,
            "trend_chart": chart,
            "district": district,
            "certificates": await certificate_counts(district),
            "drafts": await ScoreRun.filter(status=RunStatus.DRAFT).order_by("-created_at"),
            "published": await runs.current_run(),
            "to_certify": to_certify,
            "titles": {k.value: policy.title(k) for k in Kind},
            "holds": await holds.order_by("grace_until", "serial").limit(10),
            "hold_count": await holds.count(),
            "soon": now + GRACE_WARNING,
            "appeals": await Reply.filter(decision=None)
            .filter(issuance.subjects_within(district, via="certificate__"))
            .count(),
            "flags": await ResponseFlag.filter(status=FlagStatus.RAISED)
            .filter(
                scope.targets(district, code="response__target_code", kind="response__target_kind")
            )
            .count(),
            "statuses": STATUS_LABELS,
            "disputes_awaiting": await awaiting_acceptance(require_principal(request)),
            "repairs": await repair.counts(district.id if district else None, now=now),
            "corrections_pending": len(
                await corrections.listing(require_principal(request), CorrectionStatus.PENDING)
            ),
            # Deadlines this year or next counted on a calendar nobody has announced yet.
            "calendar_gaps": workdays.unofficial_years((this_year, this_year + 1)),
            # A job that failed or did not run: the desk says so, the jobs page says why.
            # The jobs are the city bureau's to watch (a district's official cannot open them).
            "job_problems": [] if district else await jobs.problems(jobs.schedule_for(settings)),
            # Room left for PDFs, applicants' files and backups: warned of before it runs out.
            "disk": None if district else _low_disk(settings),
        },
    )


def _low_disk(settings: Settings) -> disk.Space | None:
    room = disk.space(settings.data_dir, settings.disk_warn_bytes)
    return None if room.state == disk.SpaceState.OK else room


def _page_of(total: int, page: int) -> tuple[int, int]:
    pages = max(1, -(-total // PAGE_SIZE))
    return min(page, pages), pages


@get("/official/flags", opt=OFFICIALS, include_in_schema=False)
async def flag_queue(
    request: Request[Any, Any, State],
    kind: Annotated[FlagKind | None, QueryParameter()] = None,
    target: Annotated[str | None, QueryParameter(max_length=32)] = None,
    district: Annotated[str | None, QueryParameter(max_length=32)] = None,
    area: Annotated[str | None, QueryParameter(max_length=32)] = None,
    category: Annotated[MerchantCategory | None, QueryParameter()] = None,
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    format: Export = "html",
    header_row: Headers = "label",
) -> Template | Response[Any]:
    """Responses the screening set aside, waiting to be confirmed or cleared; filtered by
    flag, target, district, street or scenic spot and merchant category."""
    confined = await scope.of(request)
    district = scope.district_filter(confined, district)
    area = await scope.place_filter(confined, area)
    if target:
        await scope.require(confined, None, target, f"No target {target}")
    qs = ResponseFlag.filter(status=FlagStatus.RAISED).filter(
        scope.targets(confined, code="response__target_code", kind="response__target_kind")
    )
    if kind:
        qs = qs.filter(kind=kind)
    if target:
        qs = qs.filter(response__target_code=target)
    if district or area or category:
        qs = qs.filter(_targets_within(district, area, category))
    if format != "html":
        rows = await qs.order_by("raised_at", "id").values(
            "response_id",
            "kind",
            "detail",
            "raised_at",
            target_kind="response__target_kind",
            target_code="response__target_code",
        )
        frame = pl.DataFrame(rows) if rows else pl.DataFrame(schema=["response_id", "kind"])
        return await figures_response(frame, format, "flags", "flags", header_row)
    total = await qs.count()
    page, pages = _page_of(total, page)
    flags = (
        await qs.order_by("raised_at", "id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .select_related("response")
    )
    query = {
        k: v
        for k, v in (
            ("kind", kind.value if kind else None),
            ("target", target),
            ("district", district),
            ("area", area),
            ("category", category.value if category else None),
        )
        if v
    }
    return Template(
        "portal/flags.html",
        context={
            "district": district or "",
            "area": area or "",
            "category": category.value if category else "",
            "districts": await scope.districts(confined).order_by("code"),
            "areas": await scope.places(confined).order_by("code"),
            "categories": [c.value for c in MerchantCategory],
            "flags": flags,
            "total": total,
            "page": page,
            "pages": pages,
            "kind": kind.value if kind else "",
            "flag_labels": quality.FLAG_LABELS,
            "target": target or "",
            "query": urlencode(query),
            "error": error_notice(request),
            "decided": _count(request.query_params.get("decided")),
        },
    )


def _count(value: str | None) -> int:
    return int_or_none(value, max_digits=6) or 0


def _targets_within(district: str | None, area: str | None, category: MerchantCategory | None) -> Q:
    """Responses about targets inside the filters: merchants, and (without a category) the
    streets and scenic spots themselves. Subqueries: a district may hold more merchants than
    one query can bind as values."""
    merchants = registry.merchants_within(district, area, category).values("uscc")
    inside = Q(response__target_code__in=Subquery(merchants))
    if not category:
        areas = Area.filter(kind__in=[AreaKind.STREET, AreaKind.SCENIC_SPOT])
        if district:
            areas = areas.filter(parent__code=district)
        if area:
            areas = areas.filter(code=area)
        inside |= Q(response__target_code__in=Subquery(areas.values("code")))
    return inside


@get("/official/appeals", opt=OFFICIALS, include_in_schema=False)
async def appeal_queue(
    request: Request[Any, Any, State],
    show: Annotated[Literal["open", "decided"], QueryParameter()] = "open",
    page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
    format: Export = "html",
    header_row: Headers = "label",
) -> Template | Response[Any]:
    """Holders' replies to a revocation or suspension: open ones to decide, decided ones kept
    (a district's official: those about its district's certificates)."""
    qs = Reply.filter(decision__isnull=show == "open").filter(
        issuance.subjects_within(await scope.of(request), via="certificate__")
    )
    if format != "html":
        replies_ = await qs.order_by("submitted_at", "id").select_related("certificate", "change")
        rows = [
            {
                "reply_id": r.id,
                "serial": r.certificate.serial,
                "subject": r.certificate.subject_name,
                "status": r.change.new_status.value,
                "reason": r.change.reason,
                "text": r.text,
                "submitted_at": r.submitted_at,
                "decision": r.decision.value if r.decision else None,
                "decision_note": r.decision_note,
                "decided_by": r.decided_by,
            }
            for r in replies_
        ]
        frame = (
            pl.DataFrame(rows, infer_schema_length=None)
            if rows
            else pl.DataFrame(schema=["reply_id", "serial", "subject", "status", "reason", "text"])
        )
        return await figures_response(frame, format, f"appeals-{show}", "appeals", header_row)
    total = await qs.count()
    page, pages = _page_of(total, page)
    listed = (
        await qs.order_by("submitted_at", "id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .select_related("certificate", "change")
    )
    return Template(
        "portal/appeals.html",
        context={
            "rows": listed,
            "show": show,
            "total": total,
            "page": page,
            "pages": pages,
            "statuses": STATUS_LABELS,
            "reasons": REASON_LABELS,
            "error": error_notice(request),
        },
    )


@post(
    "/official/appeals/{reply_id:int}",
    opt=OFFICIALS,
    include_in_schema=False,
    status_code=303,
)
async def decide_appeal(
    request: Request[Any, Any, State],
    reply_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Redirect:
    decided = replies.decide(
        reply_id,
        str(data.get("decision") or ""),
        str(data.get("note") or ""),
        by=require_principal(request),
    )
    back = "/official/appeals"
    return await redirect_after(request, decided, done=back, back=back, code="not_decided")


@get("/official/audit", opt=CITY_OFFICIALS, include_in_schema=False)
async def audit_log(
    request: Request[Any, Any, State],
    action: Annotated[str | None, QueryParameter(max_length=64)] = None,
    actor: Annotated[str | None, QueryParameter(max_length=100)] = None,
    subject: Annotated[str | None, QueryParameter(max_length=200)] = None,
    since: Annotated[date | None, QueryParameter()] = None,
    until: Annotated[date | None, QueryParameter()] = None,
    page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
    format: Export = "html",
    header_row: Headers = "label",
) -> Template | Response[Any]:
    """Every recorded decision, newest first: filter by action (a prefix such as
    ``certificate.``), actor, subject and days (Beijing days, as the page shows times, both
    inclusive)."""
    require_in_range(since=since, until=until)
    qs = AuditEvent.all()
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor__icontains=actor)
    if subject:
        qs = qs.filter(subject__icontains=subject)
    if since:
        qs = qs.filter(at__gte=as_utc(datetime.combine(since, time(), LOCAL_TZ)))
    if until:
        qs = qs.filter(at__lt=as_utc(datetime.combine(until + timedelta(days=1), time(), LOCAL_TZ)))
    if format != "html":
        rows = (
            await qs.order_by("-id")
            .limit(100_000)
            .values("id", "at", "actor", "action", "subject", "details")
        )
        frame = pl.DataFrame(
            [{**r, "details": str(r["details"])} for r in rows],
            schema={
                "id": pl.Int64,
                "at": pl.Datetime("us", "UTC"),
                "actor": pl.String,
                "action": pl.String,
                "subject": pl.String,
                "details": pl.String,
            },
        )
        return await figures_response(frame, format, "audit-log", "audit", header_row)
    total = await qs.count()
    page, pages = _page_of(total, page)
    events = await qs.order_by("-id").offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    filters = {
        "action": action,
        "actor": actor,
        "subject": subject,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
    }
    return Template(
        "portal/audit.html",
        context={
            "rows": events,
            "total": total,
            "page": page,
            "pages": pages,
            "filters": {k: v or "" for k, v in filters.items()},
            "query": urlencode({k: v for k, v in filters.items() if v}),
            "actions": sorted(
                {
                    str(a)
                    for a in await AuditEvent.all()
                    .order_by("action")
                    .distinct()
                    .values_list("action", flat=True)
                }
            ),
        },
    )


PAGES: list[ControllerRouterHandler] = [desk, flag_queue, appeal_queue, decide_appeal, audit_log]
