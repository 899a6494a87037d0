"""One submission function for the public form and the JSON API.

Order of checks: the survey exists and is open, the target exists, a retry of an earlier
submission is answered with that submission, the answers are valid, the device has not
answered this target in the period, an invitation code (if any) is unused. Then the response,
its answers and its quality flags are written in one transaction; the unique
``client_submission_id`` makes a concurrent retry find the first row instead of a second.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import msgspec

from service.kernel.errors import Conflict, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.models import Area, AreaKind, Merchant, MerchantStatus
from service.kernel.privacy import salted_hash
from service.kernel.validation import NotText, clean_text, int_or_none
from surveys import quality
from surveys.models import (
    FlagKind,
    InviteCode,
    Response,
    Survey,
    TargetKind,
)
from surveys.questionnaire import TEXT_LIMIT, Question, VersionedQuestions, current_version
from surveys.store import InvitationAlreadyUsed, NewResponse, store_for

# Surveys and targets change rarely and are read on every submission: an in-process cache
# saves two queries per request. A survey is re-read after 10 s, so closing it takes effect
# at once for all practical purposes; a merchant closed in the registry may still be rated
# for up to 5 minutes, which harms nobody (its scores are reviewed before publication).
CACHE_TTL_S = 10.0
TARGET_TTL_S = 300.0
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_FILL_TIME = timedelta(days=1)


class SurveyNotOpen(Conflict):
    title = "Survey not open"


class AlreadyAnswered(Conflict):
    title = "Already answered"


class InvitationUsed(Conflict):
    title = "Invitation already used"


class SubmissionIn(msgspec.Struct, forbid_unknown_fields=True):
    """``POST /api/v1/surveys/{survey}/responses``."""

    target: Annotated[str, msgspec.Meta(max_length=64)]
    answers: dict[str, Any]
    client_submission_id: uuid.UUID
    # Accepted so older clients keep working, but never used for timing: a client's clock
    # is the client's to set. Timing comes from ``start_token``.
    started_at: datetime | None = None
    invite_code: str | None = None
    start_token: Annotated[str, msgspec.Meta(max_length=100)] | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a submission came from; only salted hashes of these are ever stored."""

    ip: str | None
    device_id: str | None
    channel: str  # "form" | "api"


@dataclass(frozen=True, slots=True)
class Submitted:
    id: int
    client_submission_id: uuid.UUID
    created: bool
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    code: str
    name_zh: str
    name_en: str
    address: str | None
    is_demo: bool


@dataclass(frozen=True, slots=True)
class AnswerRow:
    key: str
    num: float | None
    norm: float | None
    text: str | None


# --- lookups --------------------------------------------------------------------------------

_survey_cache: dict[str, tuple[float, Survey, VersionedQuestions]] = {}
_target_cache: dict[tuple[TargetKind, str], tuple[float, Target]] = {}


async def open_survey(slug: str) -> tuple[Survey, VersionedQuestions]:
    hit = _survey_cache.get(slug)
    now = time.monotonic()
    if hit and now - hit[0] < CACHE_TTL_S:
        return hit[1], hit[2]
    survey = await Survey.get_or_none(slug=slug)
    if survey is None:
        raise NotFound(f"No survey {slug!r}")
    version = await current_version(survey)
    _survey_cache[slug] = (now, survey, version)
    return survey, version


USCC_LENGTH = 18
MAX_CODE = 32  # the longest area code the register holds


async def resolve_target(kind: TargetKind, code: str) -> Target:
    """The merchant (by USCC) or area (by code) a survey is about; active ones only."""
    key = (kind, code)
    hit = _target_cache.get(key)
    now = time.monotonic()
    if hit and now - hit[0] < TARGET_TTL_S:
        return hit[1]
    target: Target | None = None
    if len(code) > (USCC_LENGTH if kind == TargetKind.MERCHANT else MAX_CODE):
        pass  # longer than any code of its kind: nothing to look up
    elif kind == TargetKind.MERCHANT:
        m = await Merchant.get_or_none(uscc=code, status=MerchantStatus.ACTIVE)
        if m is not None:
            target = Target(kind, m.uscc, m.name, m.name, m.address or None, m.is_demo)
    else:
        a = await Area.get_or_none(code=code, kind=AreaKind(kind.value))
        if a is not None:
            target = Target(kind, a.code, a.name_zh, a.name_en, None, a.is_demo)
    if target is None:
        raise NotFound(f"No {kind.value.replace('_', ' ')} {code!r} to rate")
    _target_cache[key] = (now, target)
    return target


async def find_target(code: str) -> Target:
    """A target by its code alone: a USCC names a merchant, anything else an area."""
    if len(code) > MAX_CODE:
        raise NotFound("Nothing to rate with so long a code")
    if len(code) <= USCC_LENGTH and await Merchant.filter(uscc=code).exists():
        return await resolve_target(TargetKind.MERCHANT, code)
    area = await Area.get_or_none(code=code)
    if area is None or area.kind not in (AreaKind.STREET, AreaKind.SCENIC_SPOT):
        raise NotFound(f"Nothing to rate with code {code!r}")
    return await resolve_target(TargetKind(area.kind.value), code)


def forget_cached() -> None:
    _survey_cache.clear()
    _target_cache.clear()
    quality.forget_medians()


# --- validation -----------------------------------------------------------------------------

REQUIRED = N_("Please answer this question")
UNKNOWN = N_("Not a question of this survey")
OUT_OF_RANGE = N_("Choose a value from %(low)d to %(high)d")
NOT_A_CHOICE = N_("Choose one of the options given")
TOO_LONG = N_("At most %(limit)d characters")
BAD_TEXT = N_("This text contains characters that are not allowed")


MAX_ANSWER_DIGITS = 3  # no scale of a questionnaire goes beyond 0–100


def _number(q: Question, value: Any, errors: list[FieldError]) -> AnswerRow | None:
    low, high = q.scale or (0, 0)
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        # A form sends text: "²", "①" or 5,000 digits are no answer, not a crash.
        number = int_or_none(value.strip(), max_digits=MAX_ANSWER_DIGITS)
    if number is None or not low <= number <= high:
        errors.append(
            FieldError(f"answers.{q.key}", gettext(OUT_OF_RANGE) % {"low": low, "high": high})
        )
        return None
    return AnswerRow(q.key, float(number), q.normalise(number), None)


def _choices(q: Question, value: Any, errors: list[FieldError]) -> list[AnswerRow]:
    allowed = {c.key for c in q.choices}
    values = value if isinstance(value, list) else [value]
    if q.type == "single_choice" and len(values) != 1:
        errors.append(FieldError(f"answers.{q.key}", gettext(NOT_A_CHOICE)))
        return []
    picked: list[str] = []
    for v in values:
        if not isinstance(v, str) or v not in allowed:
            errors.append(FieldError(f"answers.{q.key}", gettext(NOT_A_CHOICE)))
            return []
        if v not in picked:
            picked.append(v)
    return [AnswerRow(q.key, None, None, v) for v in picked]


def _text(q: Question, value: Any, errors: list[FieldError]) -> AnswerRow | None:
    try:
        text = clean_text(value).strip() if isinstance(value, str) else None
    except NotText:
        text = None
    if text is None:
        errors.append(FieldError(f"answers.{q.key}", gettext(BAD_TEXT)))
        return None
    if len(text) > TEXT_LIMIT:
        errors.append(FieldError(f"answers.{q.key}", gettext(TOO_LONG) % {"limit": TEXT_LIMIT}))
        return None
    return AnswerRow(q.key, None, None, text) if text else None


def _is_blank(value: Any) -> bool:
    return value is None or value == "" or value == []


def check_answers(
    version: VersionedQuestions, answers: Mapping[str, Any]
) -> tuple[list[AnswerRow], list[FieldError]]:
    """Every answer checked against its question; every problem named by its key."""
    errors: list[FieldError] = []
    rows: list[AnswerRow] = []
    known = {q.key for q in version.questions}
    for key in answers:
        if key not in known:
            errors.append(FieldError(f"answers.{key}", gettext(UNKNOWN)))
    for q in version.questions:
        value = answers.get(q.key)
        if _is_blank(value):
            if q.required:
                errors.append(FieldError(f"answers.{q.key}", gettext(REQUIRED)))
            continue
        if q.scale is not None:
            row = _number(q, value, errors)
            rows.extend([row] if row else [])
        elif q.type in ("single_choice", "multi_choice"):
            rows.extend(_choices(q, value, errors))
        else:
            text_row = _text(q, value, errors)
            rows.extend([text_row] if text_row else [])
    return rows, errors


def scored_values(version: VersionedQuestions, rows: Sequence[AnswerRow]) -> list[float]:
    scored = {q.key for q in version.questions if q.scored}
    return [r.norm for r in rows if r.key in scored and r.norm is not None]


# --- identity -------------------------------------------------------------------------------


def hash_invite(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


# --- the start token -----------------------------------------------------------------------

START_PURPOSE = "start"
BAD_START_TOKEN = "not a start token issued for this survey and place, or older than a day"  # noqa: S105


def _start_mac(secret: str, survey_slug: str, target_code: str, issued: int) -> str:
    message = f"{START_PURPOSE}:{survey_slug}:{target_code}:{issued}"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()[:32]


def issue_start_token(
    secret: str, survey_slug: str, target_code: str, now: datetime | None = None
) -> str:
    """When the server showed the questionnaire: the speeder rule times from this, because
    a time the client reports can be anything the client likes."""
    issued = int((now or datetime.now(UTC)).timestamp())
    return f"{issued}.{_start_mac(secret, survey_slug, target_code, issued)}"


def started_from_token(
    secret: str, survey_slug: str, target_code: str, token: str, now: datetime
) -> datetime | None:
    """The issue time of a genuine, fresh token for this survey and target; else None."""
    issued_raw, _, mac = token.partition(".")
    issued = int_or_none(issued_raw, max_digits=12)
    if issued is None:
        return None
    if not hmac.compare_digest(_start_mac(secret, survey_slug, target_code, issued), mac):
        return None
    started = datetime.fromtimestamp(issued, UTC)
    if started > now + MAX_CLOCK_SKEW or started < now - MAX_FILL_TIME:
        return None
    return started


# --- the submission -------------------------------------------------------------------------


async def submit(
    survey_slug: str,
    data: SubmissionIn,
    origin: Origin,
    *,
    secret: str,
    now: datetime | None = None,
) -> Submitted:
    now = now or datetime.now(UTC)
    survey, version = await open_survey(survey_slug)
    if now < survey.opens_at:
        raise SurveyNotOpen(f"The survey opens on {survey.opens_at:%Y-%m-%d}")
    if survey.closes_at is not None and now >= survey.closes_at:
        raise SurveyNotOpen(f"The survey closed on {survey.closes_at:%Y-%m-%d}")
    target = await resolve_target(survey.target_kind, data.target)

    rows, errors = check_answers(version, data.answers)
    if data.started_at is not None:
        claimed = data.started_at if data.started_at.tzinfo else data.started_at.replace(tzinfo=UTC)
        if claimed > now + MAX_CLOCK_SKEW or claimed < now - MAX_FILL_TIME:
            errors.append(FieldError("started_at", "must be within the last day"))
    started: datetime | None = None
    if data.start_token:
        started = started_from_token(secret, survey.slug, target.code, data.start_token, now)
        # A form left open too long is still a person's answer: the form keeps it, untimed.
        # An API client is told, so that a client bug does not silently lose the timing.
        if started is None and origin.channel == "api":
            errors.append(FieldError("start_token", BAD_START_TOKEN))
    duration_ms = None if started is None else max(0, int((now - started).total_seconds() * 1000))
    invite_hash = hash_invite(data.invite_code) if data.invite_code else None
    if (
        invite_hash
        and not await InviteCode.filter(code_hash=invite_hash, survey_id=survey.id).exists()
    ):
        errors.append(FieldError("invite_code", "not an invitation code of this survey"))
    if errors:
        raise InvalidInput("The answers are not valid", errors)

    # Without a device id (an API client that keeps no cookie) the address stands in for the
    # device: otherwise leaving the cookie out would be enough to answer again and again.
    device = origin.device_id or (f"address:{origin.ip}" if origin.ip else None)
    device_hash = salted_hash(secret, "device", device) if device else None
    ip_hash = salted_hash(secret, "ip", origin.ip) if origin.ip else None
    rules = quality.RULES
    flags: list[FlagKind] = []
    if quality.is_straightliner(scored_values(version, rows), rules):
        flags.append(FlagKind.STRAIGHTLINER)
    n, median = await quality.median_duration(survey.id)
    if quality.is_speeder(duration_ms, median, n, rules):
        flags.append(FlagKind.SPEEDER)
    new = NewResponse(
        survey_id=survey.id,
        version=version.version,
        target_kind=target.kind,
        target_code=target.code,
        client_submission_id=data.client_submission_id,
        started_at=started,
        submitted_at=now,
        duration_ms=duration_ms,
        device_hash=device_hash,
        ip_hash=ip_hash,
        channel=origin.channel,
        invite_hash=invite_hash,
        answers=[(r.key, r.num, r.norm, r.text) for r in rows],
        flags=flags,
        device_since=now - timedelta(days=survey.period_days),
        burst_since=now - timedelta(minutes=rules.burst_minutes),
        burst_count=rules.burst_count,
    )
    try:
        outcome = await store_for(new).insert(new)
    except InvitationAlreadyUsed as exc:
        raise InvitationUsed("This invitation code has already been used") from exc
    if outcome.response_id is None:
        # Nothing inserted: a retry of an earlier submission (answered as it was), or a
        # device that already rated this place.
        earlier = await _earlier(data.client_submission_id, survey.id, target.code)
        if earlier is not None:
            return earlier
        if outcome.device_seen:
            raise AlreadyAnswered("This device has already rated this place recently; thank you")
        raise Conflict("The submission could not be stored; please retry")
    return Submitted(outcome.response_id, data.client_submission_id, True, outcome.flags)


async def _earlier(csid: uuid.UUID, survey_id: int, target: str) -> Submitted | None:
    row = await Response.filter(client_submission_id=csid).values("id", "survey_id", "target_code")
    if not row:
        return None
    if row[0]["survey_id"] != survey_id or row[0]["target_code"] != target:
        raise Conflict("This client_submission_id was already used for another submission")
    return Submitted(row[0]["id"], csid, False)
