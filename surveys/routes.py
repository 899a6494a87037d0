"""HTTP: the public survey form, the submission API, QR codes, and officials' views."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter
from litestar.response import File, Stream, Template
from litestar.types import ControllerRouterHandler

from service.kernel import scope
from service.kernel.db import MAX_BIG_ID

# Re-exported: tests and the load harness know them from here.
from service.kernel.device import DEVICE_COOKIE as DEVICE_COOKIE
from service.kernel.device import DEVICE_HEADER as DEVICE_HEADER
from service.kernel.device import client_ip as _client_ip
from service.kernel.device import device_cookie as _device_cookie
from service.kernel.device import device_of as device_of
from service.kernel.device import signed_device as signed_device
from service.kernel.errors import InvalidInput, NotFound
from service.kernel.exports import disposition
from service.kernel.i18n import current_locale
from service.kernel.qr import qr_svg
from service.kernel.security import OFFICIALS, PUBLIC, require_principal
from service.kernel.settings import Settings
from service.kernel.validation import require_in_range
from service.register.store import Page
from surveys import qr, quality, responses
from surveys.models import FlagKind, Survey
from surveys.questionnaire import SCALES, VersionedQuestions, current_version
from surveys.schemas import (
    ChoiceOut,
    DimensionOut,
    FlagDecisionIn,
    FlagOut,
    QuestionOut,
    ResponsePage,
    SubmittedOut,
    SurveyList,
    SurveyOut,
    SurveyStats,
)
from surveys.submit import (
    AlreadyAnswered,
    Origin,
    SubmissionIn,
    SurveyNotOpen,
    Target,
    find_target,
    issue_start_token,
    open_survey,
    resolve_target,
    submit,
)

HONEYPOT = "website"
# A submission is small: ten answers and a 500-character comment fit easily.
SUBMISSION_MAX_BYTES = 64 * 1024

Slug = Annotated[str, PathParameter(max_length=64)]
Code = Annotated[str, PathParameter(max_length=64)]


EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "parquet": "application/vnd.apache.parquet",
}


class CSVDownload(Stream):
    """A streamed CSV whose media type wins over the handler's JSON default (Litestar's
    Stream gives the handler's type precedence)."""

    def to_asgi_response(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["media_type"] = self.media_type
        return super().to_asgi_response(*args, **kwargs)


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def survey_out(
    survey: Survey, version: VersionedQuestions, start_token: str | None = None
) -> SurveyOut:
    zh = current_locale() == "zh_CN"
    return SurveyOut(
        start_token=start_token,
        slug=survey.slug,
        title=survey.title_zh if zh else survey.title_en,
        target_kind=survey.target_kind,
        version=version.version,
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        questions=[
            QuestionOut(
                key=q.key,
                type=q.type,
                required=q.required,
                text=q.text_zh if zh else q.text_en,
                dimension=q.dimension,
                weight=q.weight,
                choices=[ChoiceOut(c.key, c.text_zh if zh else c.text_en) for c in q.choices],
                min=SCALES[q.type][0] if q.type in SCALES else None,
                max=SCALES[q.type][1] if q.type in SCALES else None,
            )
            for q in version.questions
        ],
        dimensions=[
            DimensionOut(d.key, d.name_zh if zh else d.name_en, d.weight)
            for d in version.dimensions
        ],
    )


# --- the public form ------------------------------------------------------------------------


def _form_context(
    request: Request[Any, Any, Any],
    survey: Survey,
    version: VersionedQuestions,
    target: Target,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    csid: str | None = None,
    started: str | None = None,
    invite: str = "",
) -> dict[str, Any]:
    secret = _settings(request).secret_key
    return {
        "survey": survey,
        "version": version,
        "target": target,
        "values": values or {},
        "errors": errors or {},
        "csid": csid or str(uuid.uuid4()),
        "started": started or issue_start_token(secret, survey.slug, target.code),
        "invite": invite,
        "honeypot": HONEYPOT,
        "zh": current_locale() == "zh_CN",
        "action": f"/s/{survey.slug}/{target.code}",
    }


async def _survey_and_target(slug: str, code: str) -> tuple[Survey, VersionedQuestions, Target]:
    survey, version = await open_survey(slug)
    target = await resolve_target(survey.target_kind, code)
    return survey, version, target


def _is_open(survey: Survey) -> bool:
    now = datetime.now(UTC)
    return survey.opens_at <= now and (survey.closes_at is None or now < survey.closes_at)


@get("/s/{survey:str}/{target:str}", opt=PUBLIC, include_in_schema=False)
async def survey_form(
    request: Request[Any, Any, State],
    survey: Slug,
    target: Code,
    invite: Annotated[str | None, QueryParameter(max_length=32)] = None,
) -> Template:
    s, version, t = await _survey_and_target(survey, target)
    _, cookies = _device_cookie(request)
    if not _is_open(s):
        return Template("surveys/closed.html", context={"survey": s, "target": t}, status_code=409)
    return Template(
        "surveys/form.html",
        context=_form_context(request, s, version, t, invite=invite or ""),
        cookies=cookies,
    )


def _form_answers(version: VersionedQuestions, form: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in version.questions:
        name = f"q_{q.key}"
        if q.type == "multi_choice":
            picked = [v for v in form.getall(name, []) if isinstance(v, str)]
            if picked:
                answers[q.key] = picked
        else:
            value = form.get(name)
            if isinstance(value, str) and value != "":
                answers[q.key] = value
    return answers


@post(
    "/s/{survey:str}/{target:str}",
    opt=PUBLIC,
    include_in_schema=False,
    request_max_body_size=SUBMISSION_MAX_BYTES,
    status_code=200,
)
async def survey_post(request: Request[Any, Any, State], survey: Slug, target: Code) -> Template:
    s, version, t = await _survey_and_target(survey, target)
    form = await request.form()
    answers = _form_answers(version, form)
    csid_raw = str(form.get("client_submission_id") or "")
    try:
        csid = uuid.UUID(csid_raw)
    except ValueError:
        csid = uuid.uuid4()
    started_signed = str(form.get("started") or "")[:100]
    invite = str(form.get("invite") or "").strip()
    device, cookies = _device_cookie(request)
    if form.get(HONEYPOT):
        # Only robots fill the hidden field: thank them and keep nothing.
        return Template("surveys/thanks.html", context={"survey": s, "target": t}, cookies=cookies)
    data = SubmissionIn(
        target=t.code,
        answers=answers,
        client_submission_id=csid,
        invite_code=invite or None,
        start_token=started_signed or None,
    )
    try:
        await submit(
            s.slug,
            data,
            Origin(ip=_client_ip(request), device_id=device, channel="form"),
            secret=_settings(request).secret_key,
        )
    except InvalidInput as exc:
        errors = {e.field.removeprefix("answers."): e.message for e in exc.errors}
        ctx = _form_context(
            request,
            s,
            version,
            t,
            values=answers,
            errors=errors,
            csid=str(csid),
            started=started_signed,
            invite=invite,
        )
        return Template("surveys/form.html", context=ctx, status_code=422, cookies=cookies)
    except AlreadyAnswered:
        return Template(
            "surveys/already.html",
            context={"survey": s, "target": t},
            status_code=409,
            cookies=cookies,
        )
    except SurveyNotOpen:
        return Template(
            "surveys/closed.html",
            context={"survey": s, "target": t},
            status_code=409,
            cookies=cookies,
        )
    return Template("surveys/thanks.html", context={"survey": s, "target": t}, cookies=cookies)


# --- QR codes -------------------------------------------------------------------------------


async def _survey_for(target: Target) -> Survey:
    """The open survey that rates this kind of target (the newest, if several)."""
    now = datetime.now(UTC)
    candidates = await Survey.filter(target_kind=target.kind, opens_at__lte=now).order_by(
        "-opens_at"
    )
    for s in candidates:
        if s.closes_at is None or s.closes_at > now:
            return s
    raise NotFound(f"No open survey rates {target.code}")


@get("/qr/{name:str}", opt=PUBLIC, include_in_schema=False)
async def qr_code(request: Request[Any, Any, State], name: Code) -> Response[bytes]:
    if not name.endswith(".svg"):
        raise NotFound("QR codes are served as /qr/{target}.svg")
    target = await find_target(name.removesuffix(".svg"))
    survey = await _survey_for(target)
    url = qr.survey_url(_settings(request).base_url, survey.slug, target.code)
    return Response(
        qr_svg(url),
        media_type="image/svg+xml",
        headers={"cache-control": "public, max-age=3600"},
    )


@get("/qr/{target:str}/poster.pdf", opt=PUBLIC, include_in_schema=False)
async def qr_poster(request: Request[Any, Any, State], target: Code) -> Response[bytes]:
    t = await find_target(target)
    survey = await _survey_for(t)
    url = qr.survey_url(_settings(request).base_url, survey.slug, t.code)
    pdf = await anyio.to_thread.run_sync(
        lambda: qr.poster_pdf(
            title_zh=survey.title_zh,
            title_en=survey.title_en,
            target_name=t.name_zh,
            target_address=t.address,
            url=url,
            demo=t.is_demo,
        )
    )
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"content-disposition": disposition("inline", f"poster-{t.code}.pdf")},
    )


# --- the JSON API ---------------------------------------------------------------------------


class SurveyController(Controller):
    path = "/api/v1/surveys"
    tags = ["surveys"]

    @get("/", opt=PUBLIC)
    async def list_surveys(self) -> SurveyList:
        """Questionnaires open now."""
        items = []
        for s in await Survey.all().order_by("slug"):
            if _is_open(s):
                items.append(survey_out(s, await current_version(s)))
        return SurveyList(items=items, total=len(items), page=1, page_size=len(items) or 50)

    @get("/{survey:str}", opt=PUBLIC)
    async def get_survey(
        self,
        request: Request[Any, Any, State],
        survey: Slug,
        target: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> Response[SurveyOut]:
        """A questionnaire with the questions of its current version. With ``target``, also
        a ``start_token`` to send back with the response (it times the answering), and a
        device id in the ``X-Device-Id`` header and cookie when the request brought none."""
        s, version = await open_survey(survey)
        if target is None:
            return Response(survey_out(s, version))
        t = await resolve_target(s.target_kind, target)
        secret = _settings(request).secret_key
        device, cookies = _device_cookie(request)
        return Response(
            survey_out(s, version, issue_start_token(secret, s.slug, t.code)),
            cookies=cookies,
            headers={DEVICE_HEADER: signed_device(secret, device)},
        )

    @post(
        "/{survey:str}/responses",
        opt=PUBLIC,
        request_max_body_size=SUBMISSION_MAX_BYTES,
        status_code=201,
    )
    async def submit_response(
        self, request: Request[Any, Any, State], survey: Slug, data: JSONBody[SubmissionIn]
    ) -> Response[SubmittedOut]:
        """Submit a response. A retry with the same ``client_submission_id`` returns 200 and
        the first response's id; nothing is ever stored twice."""
        result = await submit(
            survey,
            data,
            Origin(ip=_client_ip(request), device_id=device_of(request), channel="api"),
            secret=_settings(request).secret_key,
        )
        return Response(
            SubmittedOut(result.id, result.client_submission_id, result.created),
            status_code=201 if result.created else 200,
        )

    @get("/{survey:str}/responses", opt=OFFICIALS)
    async def list_responses(
        self,
        request: Request[Any, Any, State],
        survey: Slug,
        target: Annotated[str | None, QueryParameter(max_length=64)] = None,
        since: Annotated[datetime | None, QueryParameter()] = None,
        until: Annotated[datetime | None, QueryParameter()] = None,
        excluded: Annotated[bool | None, QueryParameter()] = None,
        page: Annotated[int, QueryParameter()] = 1,
        page_size: Annotated[int, QueryParameter()] = 50,
        format: Annotated[Literal["json", "csv", "xlsx", "parquet"], QueryParameter()] = "json",
    ) -> ResponsePage | CSVDownload | File:
        """Responses with their answers and flags; ``format=csv|xlsx|parquet`` exports every
        matching response, streamed."""
        require_in_range(since=since, until=until)
        f = responses.ResponseFilter(target, since, until, excluded, await scope.of(request))
        if format == "csv":
            await responses.survey_by_slug(survey)
            return CSVDownload(
                responses.export_csv(survey, f),
                media_type="text/csv",  # with Litestar's "; charset=utf-8"
                headers={
                    "content-disposition": disposition("attachment", f"{survey}-responses.csv")
                },
            )
        if format in ("xlsx", "parquet"):
            path = await responses.export_file(survey, f, format)
            return File(
                path=path,
                media_type=EXPORT_TYPES[format],
                filename=f"{survey}-responses.{format}",
                background=BackgroundTask(_remove, path),
            )
        p = Page(page, page_size)
        items, total = await responses.list_responses(survey, f, p.offset, p.page_size)
        return ResponsePage(items=items, total=total, page=p.page, page_size=p.page_size)

    @get("/{survey:str}/stats", opt=OFFICIALS)
    async def survey_stats(self, request: Request[Any, Any, State], survey: Slug) -> SurveyStats:
        """Responses per target and per day, flag counts and the exclusion rate (a district's
        official: of the responses about its district)."""
        return await responses.stats(survey, await scope.of(request))

    @post("/responses/{response_id:int}/flags/{kind:str}", opt=OFFICIALS, status_code=200)
    async def decide_flag(
        self,
        request: Request[Any, Any, State],
        response_id: Annotated[int, PathParameter(ge=1, le=MAX_BIG_ID)],
        kind: Annotated[FlagKind, PathParameter()],
        data: JSONBody[FlagDecisionIn],
    ) -> FlagOut:
        """Confirm or clear a quality flag, with a reason (audited)."""
        flag = await quality.decide_flag(
            response_id,
            kind,
            data.decision,
            data.reason,
            actor=require_principal(request).actor,
            district=await scope.of(request),
        )
        return FlagOut(
            flag.response_id, flag.kind, flag.status, flag.decided_by, flag.decided_at, flag.reason
        )


async def _remove(path: Any) -> None:
    await anyio.Path(path).unlink(missing_ok=True)


ROUTES: list[ControllerRouterHandler] = [
    survey_form,
    survey_post,
    qr_code,
    qr_poster,
    SurveyController,
]
