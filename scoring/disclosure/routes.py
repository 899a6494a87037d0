"""The public complaint record over HTTP: one merchant's, and the city's as open data (JSON or
CSV, paged, with ETags), with its data dictionary. Public reads: nothing here names a consumer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

import anyio
import polars as pl
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.types import ControllerRouterHandler

from scoring.disclosure import corrections, store
from scoring.disclosure.models import ComplaintCorrection, CorrectionStatus
from scoring.disclosure.rules import Exclusion, policy
from scoring.disclosure.schemas import (
    CityFiguresOut,
    ComplaintRecordOut,
    ComplaintRecordPage,
    CorrectionFileOut,
    CorrectionIn,
    CorrectionOut,
    DecisionIn,
    city_out,
    record_out,
)
from service.kernel import columns
from service.kernel.conditional import cached_bytes, cached_json, cached_responses
from service.kernel.db import MAX_ID
from service.kernel.errors import FieldError, InvalidInput, NotFound
from service.kernel.exports import EXPORT_TYPES, Headers, export_bytes
from service.kernel.i18n import current_locale, gettext
from service.kernel.models import Merchant
from service.kernel.security import (
    MERCHANT_ONLY,
    MERCHANTS,
    OFFICIALS,
    PUBLIC,
    require_principal,
)
from service.kernel.settings import Settings
from service.kernel.upload_http import MultipartBody, attachment, form_uploads

PAGE_SIZE_MAX: Final = 500
CorrectionId = Annotated[int, PathParameter(ge=1, le=MAX_ID)]
# The data dictionary: every field of a record, what it counts and how.
DICTIONARY: Final[dict[str, Any]] = {
    "title": "Complaint records (投诉公示): one row per registered merchant",
    "rules": "市场监督管理投诉信息公示暂行规则 (国市监稽规〔2023〕6号)",
    "fields": {
        "uscc": "The merchant's unified social credit code",
        "name": "The merchant's registered name",
        "district": "The code of the district it trades in",
        "window_start": "First day (Asia/Shanghai) of the rolling window of receipt",
        "window_end": "Last day of the window: the day the record was computed",
        "published": "Complaints received in the window that are published: handled (accepted, "
        "settled first by the merchant, or closed) and not excluded",
        "mediated": "Published complaints whose mediation reached an agreement (bureau, "
        "people's or court mediation)",
        "terminated": "Published complaints whose mediation ended without agreement",
        "merchant_settled": "Published complaints the merchant settled first (先行和解) through "
        "online dispute resolution, before the regulator accepted them",
        "still_open": "Published complaints accepted and not yet ended",
        "under_correction": "Published complaints the merchant has asked to correct (更正中), "
        "not yet decided",
        "by_category": "Published complaints by category (CSV: category=count;…)",
        "excluded": "Complaints in the window not published (不予公示), in all. Never by "
        "reason for one merchant: for a small shop a reason such as a professional-claim "
        "pattern or personal data could point at the consumer. The reasons are counted only "
        "over the city (/api/v1/complaint-records/city, excluded by reason code)",
        "mediation_success": "mediated of (mediated + terminated), as k, n, percent and its 95% "
        "Wilson interval ci_low–ci_high; percent and interval null below min_cases",
        "merchant_first": "merchant_settled of published, shown the same way",
        "ratings": "Ratings of the merchant received over the same window (the responses "
        "satisfaction scoring counts, screened ones left out); null below min_ratings",
        "per_100_ratings": "published × 100 / ratings, one decimal: complaints in proportion "
        "to how many consumers rated it over the same days; null below min_ratings",
        "last_update": "The latest day a published complaint changed, or a correction of one "
        "was asked for or decided (null: none)",
        "min_cases": "Below this n no rate is shown",
        "policy_version": "The disclosure policy the figures follow",
    },
    # The reason codes of the city's figures' ``excluded`` (never given per merchant).
    "exclusion_reasons": {
        Exclusion.CORRECTED: "Corrected: officials accepted the merchant's request (申请更正)",
        Exclusion.WITHDRAWN: "Withdrawn by the consumer (撤诉)",
        Exclusion.NOT_ACCEPTED: "Not accepted by the regulator (不予受理)",
        Exclusion.AWAITING_ACCEPTANCE: "Not yet accepted or refused: may still be refused",
        Exclusion.PROFESSIONAL_CLAIM: "Filed from a contact flagged for the professional-claim "
        "(职业索赔) pattern",
        Exclusion.PERSONAL_DATA: "About a consumer's personal data",
        Exclusion.EXCLUDED_BY_RULES: "A category the rules keep out of publication",
    },
    "paging": "page (from 1) and page_size (at most 500); merchants ordered by USCC; total is "
    "the number of merchants. Every answer carries an ETag; send If-None-Match for a 304.",
}

Uscc = Annotated[str, PathParameter(max_length=18)]
StatusName = Literal["pending", "accepted", "refused"]


_RATE_COLUMNS: Final = tuple(
    f"{rate}_{part}"
    for rate in ("mediation_success", "merchant_first")
    for part in ("k", "n", "percent", "ci_low", "ci_high")
)
# The CSV's columns in order: the machine names stay as they are for open data; their labels
# (the CSV's header by default) come from the one column catalog of every export.
CSV_COLUMNS: Final = (
    *("uscc", "name", "district", "window_start", "window_end", "published", "mediated"),
    *("terminated", "merchant_settled", "still_open", "under_correction", "by_category"),
    *_RATE_COLUMNS,
    *("excluded", "ratings", "per_100_ratings", "last_update", "min_cases", "policy_version"),
)


def csv_columns(locale: str) -> list[dict[str, str]]:
    """Every CSV column: its machine name, and its label, description and unit in
    ``locale``, as the export names them (``service.kernel.columns``)."""
    out = []
    for name in CSV_COLUMNS:
        label, description, unit = columns.resolve("complaint_records", name, locale)
        out.append({"name": name, "label": label, "description": description, "unit": unit})
    return out


def _frame(items: list[ComplaintRecordOut]) -> pl.DataFrame:
    """The CSV's flat table: one row per merchant, rates in columns of their own."""
    rows = []
    for r in items:
        row: dict[str, object] = {
            "uscc": r.uscc,
            "name": r.name,
            "district": r.district,
            "window_start": r.window_start,
            "window_end": r.window_end,
            "published": r.published,
            "mediated": r.mediated,
            "terminated": r.terminated,
            "merchant_settled": r.merchant_settled,
            "still_open": r.still_open,
            "under_correction": r.under_correction,
            "by_category": ";".join(f"{k}={v}" for k, v in r.by_category.items()),
        }
        rates = (("mediation_success", r.mediation_success), ("merchant_first", r.merchant_first))
        for name, rate in rates:
            row |= {
                f"{name}_k": rate.k,
                f"{name}_n": rate.n,
                f"{name}_percent": rate.percent,
                f"{name}_ci_low": rate.ci_low,
                f"{name}_ci_high": rate.ci_high,
            }
        row |= {
            "excluded": r.excluded,
            "ratings": r.ratings,
            "per_100_ratings": r.per_100_ratings,
            "last_update": r.last_update,
            "min_cases": r.min_cases,
            "policy_version": r.policy_version,
        }
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)


class ComplaintRecordController(Controller):
    path = "/api/v1"
    tags = ["complaint records"]

    @get(
        "/merchants/{uscc:str}/complaint-record",
        opt=PUBLIC,
        cache_control=None,
        media_type=MediaType.JSON,
        responses=cached_responses(ComplaintRecordOut, "The merchant's complaint record"),
    )
    async def merchant_record(self, request: Request[Any, Any, Any], uscc: Uscc) -> Response[bytes]:
        """The merchant's public complaint record (投诉公示) over the policy's rolling window:
        counts, rates with n and 95% Wilson intervals (none below the minimum of cases), how
        many were not published (in all, no reasons) and a figure per 100 ratings."""
        merchant = await Merchant.get_or_none(uscc=uscc.upper()).select_related("district")
        if merchant is None:
            raise NotFound(f"No merchant {uscc}")
        record = await store.merchant_record(
            merchant.id, merchant.uscc, datetime.now(UTC), policy()
        )
        return cached_json(
            request, record_out(merchant.uscc, merchant.name, record, merchant.district.code)
        )

    @get(
        "/complaint-records",
        opt=PUBLIC,
        cache_control=None,
        media_type=MediaType.JSON,
        responses=cached_responses(ComplaintRecordPage, "A page of every merchant's record"),
    )
    async def city_records(
        self,
        request: Request[Any, Any, Any],
        page: Annotated[int, QueryParameter(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, QueryParameter(ge=1, le=PAGE_SIZE_MAX)] = 100,
        format: Annotated[Literal["json", "csv"], QueryParameter()] = "json",
        header_row: Headers = "label",
    ) -> Response[bytes]:
        """Open data: every registered merchant's complaint record, a page at a time, as JSON
        or CSV (``format=csv``), with an ETag. Its fields: ``/complaint-records/dictionary``."""
        city = await store.city_records(datetime.now(UTC), policy(), page=page, page_size=page_size)
        items = [record_out(m.uscc, m.name, r, m.district.code) for m, r in city.records]
        if format == "csv":
            body = await anyio.to_thread.run_sync(
                export_bytes, _frame(items), "csv", "complaint_records", header_row
            )
            return cached_bytes(request, body, EXPORT_TYPES["csv"])
        return cached_json(request, ComplaintRecordPage(items, city.total, page, page_size))

    @get(
        "/complaint-records/city",
        opt=PUBLIC,
        cache_control=None,
        media_type=MediaType.JSON,
        responses=cached_responses(CityFiguresOut, "The city's complaint figures"),
    )
    async def city_figures(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """The city's published complaints about registered merchants over the window: by
        category, by district and by month, and this quarter's most-complained categories
        (热点); the same exclusions as every merchant's record."""
        p = policy()
        return cached_json(request, city_out(await store.city_views(datetime.now(UTC), p), p))

    @get("/complaint-records/dictionary", opt=PUBLIC, cache_control=None)
    async def dictionary(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        """The data dictionary of the complaint records: every field, every exclusion reason."""
        return cached_json(
            request,
            {**DICTIONARY, "policy": _policy_summary(), "columns": csv_columns(current_locale())},
        )


def _policy_summary() -> dict[str, object]:
    p = policy()
    return {
        "version": p.version,
        "window_months": p.window_months,
        "min_cases": p.min_cases,
        "per_ratings": p.per_ratings,
        "min_ratings": p.min_ratings,
        "professional_claims_excluded": p.professional_claims,
        "excluded_categories": {k: v.value for k, v in p.excluded_categories.items()},
    }


def files_body_max() -> int:
    """Every file at its cap, and the form's own fields besides."""
    p = policy()
    return p.files_max * p.file_max_mb * 1024 * 1024 + 256 * 1024


class CorrectionController(Controller):
    """Requests to correct an entry of a merchant's complaint record (申请更正)."""

    path = "/api/v1/complaint-corrections"
    tags = ["complaint records"]

    @post("/", opt=MERCHANT_ONLY, status_code=201)
    async def request_correction(
        self, request: Request[Any, Any, Any], data: JSONBody[CorrectionIn]
    ) -> CorrectionOut:
        """The signed-in merchant asks to correct one of its complaints (``complaint_id``, the
        intake record's id) with a ``reason`` and its ``evidence``; its record shows "更正中"
        until an official decides. 409 while one is pending or once one was accepted."""
        who = require_principal(request)
        if who.merchant_id is None:
            raise NotFound("This account has no merchant")
        c = await corrections.request(
            who.merchant_id,
            corrections.Request(data.complaint_id, data.reason, data.evidence),
            actor=who.actor,
            p=policy(),
            now=datetime.now(UTC),
        )
        return await correction_out(c)

    @post(
        "/{correction_id:int}/files",
        opt=MERCHANT_ONLY,
        status_code=200,
        request_max_body_size=files_body_max(),
    )
    async def attach_files(
        self, request: Request[Any, Any, State], correction_id: CorrectionId, data: MultipartBody
    ) -> CorrectionOut:
        """More evidence for the merchant's own pending request (multipart ``files``: PDF, JPEG
        or PNG, photos cleaned of camera metadata; ``files_max`` in all). 409 once decided."""
        settings: Settings = request.app.state.settings
        p = policy()
        c = await corrections.attach(
            correction_id,
            await form_uploads(data, p.file_max_mb * 1024 * 1024),
            who=require_principal(request),
            p=p,
            data_dir=settings.data_dir,
            now=datetime.now(UTC),
        )
        return await correction_out(c)

    @get("/{correction_id:int}/files/{file_id:int}", opt=MERCHANTS)
    async def correction_file(
        self, request: Request[Any, Any, State], correction_id: CorrectionId, file_id: CorrectionId
    ) -> Response[bytes]:
        """A file of evidence of a request the caller may read, as an attachment."""
        return await file_response(request, correction_id, file_id)

    @get("/", opt=MERCHANTS)
    async def list_corrections(
        self,
        request: Request[Any, Any, Any],
        status: Annotated[
            Literal["pending", "accepted", "refused"] | None, QueryParameter()
        ] = None,
    ) -> list[CorrectionOut]:
        """The requests the caller may see: a merchant its own, officials their district's
        (the city's: all), oldest due first."""
        who = require_principal(request)
        found = await corrections.listing(who, CorrectionStatus(status) if status else None)
        return [await correction_out(c) for c in found]

    @post("/{correction_id:int}/decision", opt=OFFICIALS, status_code=200)
    async def decide_correction(
        self,
        request: Request[Any, Any, Any],
        correction_id: Annotated[int, PathParameter(ge=1, le=MAX_ID)],
        data: JSONBody[DecisionIn],
    ) -> CorrectionOut:
        """An official accepts (the entry leaves the published figures) or refuses a pending
        request, with a ``note`` saying why; audited."""
        try:
            decision = corrections.Decision(data.decision)
        except ValueError:
            raise InvalidInput(
                "Bad decision", [FieldError("decision", gettext(corrections.CHOOSE_DECISION))]
            ) from None
        c = await corrections.decide(
            correction_id,
            decision,
            data.note,
            who=require_principal(request),
            p=policy(),
            now=datetime.now(UTC),
        )
        return await correction_out(c)


async def correction_out(c: ComplaintCorrection) -> CorrectionOut:
    merchant = await corrections.merchant_of(c)
    return CorrectionOut(
        id=c.id,
        complaint_id=c.complaint_id,
        merchant=merchant.uscc,
        status=c.status.value,
        reason=c.reason,
        evidence=c.evidence,
        requested_at=c.requested_at,
        due=c.due,
        decided_at=c.decided_at,
        decision_note=c.decision_note,
        files=[
            CorrectionFileOut(f.id, f.filename, f.media_type, f.size)
            for f in (await corrections.files_of([c]))[c.id]
        ],
    )


async def file_response(
    request: Request[Any, Any, State], correction_id: int, file_id: int
) -> Response[bytes]:
    """The file as an attachment, for the API and the pages alike."""
    settings: Settings = request.app.state.settings
    f = await corrections.file_for(correction_id, file_id, require_principal(request))
    content = corrections.files_store(settings.data_dir).read(f.sha256)
    return attachment(content, f.media_type, f"correction-evidence-{f.id}")


ROUTES: list[ControllerRouterHandler] = [ComplaintRecordController, CorrectionController]
