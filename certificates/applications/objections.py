"""The public notice (公示) and its objections: anyone may object while a notice is open, with
no account; objections are screened like survey answers and rate limited per address, and
officials answer each one.

What we keep of an objector: the text, a keyed hash of the address it came from (for the rate
limit, never shown, not reversible: service.kernel.privacy) and, only if the objector gives one, a
contact (a telephone or e-mail) for the official who looks into it — shown to officials, never
on the public page. Nothing else about the person is asked for or stored.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Final

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from certificates.applications import transitions
from certificates.applications.models import (
    Application,
    ApplicationStatus,
    Objection,
    ObjectionOutcome,
)
from certificates.applications.schemas import AnswerIn, NoticeOut, ObjectionIn, SubjectOut
from certificates.applications.store import OFFICIAL_ROLES, objection_out
from service.kernel import audit, db, scope
from service.kernel.accounts import Principal
from service.kernel.audit import Actor
from service.kernel.errors import (
    Conflict,
    FangxinError,
    FieldError,
    InvalidInput,
    NotFound,
)
from service.kernel.i18n import N_, gettext
from service.kernel.privacy import salted_hash
from service.kernel.validation import NotText, check_text, clean_text

S = ApplicationStatus
TEXT_MIN: Final = 10
TEXT_MAX: Final = 1000
CONTACT_MAX: Final = 100
REPLY_MAX: Final = 2000
MAX_LINKS: Final = 1  # one link may point to evidence; more is advertising
# Per address: a person with something to say says it in a few objections; more is a flood.
PER_ADDRESS: Final = 3
PER_WINDOW: Final = timedelta(hours=1)
RECENTLY_ENDED: Final = timedelta(days=30)  # ended notices stay listed this long
_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_ALLOWED_CONTROLS = frozenset("\n\t")


# What the public reads on the form (and the API): in its language, as the survey's are.
TOO_SHORT = N_("At least %(limit)d characters")
TOO_LONG = N_("At most %(limit)d characters")
BAD_TEXT = N_("This text contains characters that are not allowed")
TOO_MANY_LINKS = N_("At most one link, please")
BAD_CONTACT = N_("A telephone number or an e-mail address only")
DUPLICATE = N_("This objection was already lodged")
NOT_OPEN = N_("This notice is not open for objections")
RATE_LIMITED = N_("Too many objections from this address; please try again in an hour")


class TooManyObjections(FangxinError):
    status = 429
    title = "Too many requests"


def _bad_characters(text: str) -> bool:
    """Control and format characters (bidi overrides, zero-width joiners used to slip past
    filters) other than a new line or a tab: stricter than the kernel's rule for every text,
    for the one form anybody may fill in anonymously."""
    return any(
        unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") and c not in _ALLOWED_CONTROLS
        for c in text
    )


def _kept(value: str) -> str | None:
    """The text as kept (the kernel's rule: line breaks, NFC; then this form's own), or None
    when it holds a character either refuses."""
    try:
        text = clean_text(value).strip()
    except NotText:
        return None
    return None if _bad_characters(text) else text


def normalised(text: str) -> str:
    """The text as compared for duplicates: case, width and spacing do not make it new
    (Chinese puts no spaces between words, so none are kept)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(folded.split())


def screen(data: ObjectionIn) -> tuple[str, str, list[FieldError]]:
    """The text and contact as kept, and every problem by field."""
    kept_text, kept_contact = _kept(data.text), _kept(data.contact)
    text = data.text.strip() if kept_text is None else kept_text
    contact = data.contact.strip() if kept_contact is None else kept_contact
    errors: list[FieldError] = []
    if len(text) < TEXT_MIN:
        errors.append(FieldError("text", gettext(TOO_SHORT) % {"limit": TEXT_MIN}))
    elif len(text) > TEXT_MAX:
        errors.append(FieldError("text", gettext(TOO_LONG) % {"limit": TEXT_MAX}))
    elif kept_text is None:
        errors.append(FieldError("text", gettext(BAD_TEXT)))
    elif len(_LINK.findall(text)) > MAX_LINKS:
        errors.append(FieldError("text", gettext(TOO_MANY_LINKS)))
    if len(contact) > CONTACT_MAX:
        errors.append(FieldError("contact", gettext(TOO_LONG) % {"limit": CONTACT_MAX}))
    elif kept_contact is None or "\n" in contact or _LINK.search(contact):
        errors.append(FieldError("contact", gettext(BAD_CONTACT)))
    return text, contact, errors


def is_open(a: Application, now: datetime) -> bool:
    return (
        a.status == S.IN_NOTICE
        and a.notice_starts_at is not None
        and a.notice_ends_at is not None
        and a.notice_starts_at <= now < a.notice_ends_at
    )


async def lodge(
    application_id: int,
    data: ObjectionIn,
    *,
    address: str | None,
    secret: str,
    now: datetime | None = None,
) -> Objection:
    """An objection to an open notice. Refused: a notice not open (409), bad text (422), the
    same text again on this notice (422), more than PER_ADDRESS from one address within
    PER_WINDOW (429)."""
    now = now or datetime.now(UTC)
    application = await Application.get_or_none(id=application_id)
    if application is None or application.notice_starts_at is None:
        raise NotFound(f"No notice {application_id}")
    if not is_open(application, now):
        raise Conflict(gettext(NOT_OPEN))
    text, contact, errors = screen(data)
    if errors:
        raise InvalidInput("The objection is not valid", errors)
    address_hash = salted_hash(secret, "objection-address", address) if address else None
    text_hash = hashlib.sha256(normalised(text).encode()).hexdigest()
    async with in_transaction() as tx:
        # The duplicate and the limit are judged and the objection stored in one turn per
        # notice and per address (always taken in that order): simultaneous objections are
        # counted one after another, never all against the same count.
        await db.serialise(tx, Objection, f"application:{application.id}")
        if address_hash is not None:
            await db.serialise(tx, Objection, address_hash)
            recent = (
                await Objection.filter(address_hash=address_hash, lodged_at__gte=now - PER_WINDOW)
                .using_db(tx)
                .count()
            )
            if recent >= PER_ADDRESS:
                raise TooManyObjections(gettext(RATE_LIMITED))
        if (
            await Objection.filter(application_id=application.id, text_hash=text_hash)
            .using_db(tx)
            .exists()
        ):
            raise InvalidInput(
                "The objection is not valid", [FieldError("text", gettext(DUPLICATE))]
            )
        objection = await Objection.create(
            using_db=tx,
            application=application,
            text=text,
            text_hash=text_hash,
            contact=contact,
            address_hash=address_hash,
            lodged_at=now,
        )
        await audit.record(
            tx,
            Actor("public", "objector"),
            "objection.lodged",
            f"application:{application.id}",
            {"objection": objection.id},
        )
    return objection


async def answer(
    objection_id: int, data: AnswerIn, *, who: Principal, now: datetime | None = None
) -> Objection:
    """An official upholds or dismisses an objection, with a reply shown on the public page;
    upheld, the notice ends there and the application is blocked."""
    now = now or datetime.now(UTC)
    missing = NotFound(f"No objection {objection_id}")
    objection = await Objection.get_or_none(id=objection_id)
    if objection is None or who.role not in OFFICIAL_ROLES:
        raise missing
    application = await Application.get(id=objection.application_id)
    district = await scope.district_of(who)
    if district is not None and application.district_id != district.id:
        raise missing
    errors: list[FieldError] = []
    try:
        outcome = ObjectionOutcome(data.outcome)
    except ValueError:
        errors.append(FieldError("outcome", "must be upheld or dismissed"))
    reply = check_text(errors, "reply", data.reply, REPLY_MAX)
    if errors:
        raise InvalidInput("The answer is not valid", errors)
    async with in_transaction() as tx:
        objection = await Objection.filter(id=objection_id).using_db(tx).select_for_update().get()
        if objection.outcome is not None:
            raise Conflict(f"Objection {objection_id} is answered already")
        objection.outcome, objection.reply = outcome, reply
        objection.answered_by, objection.answered_at = str(who.actor), now
        await objection.save(
            using_db=tx, update_fields=["outcome", "reply", "answered_by", "answered_at"]
        )
        await audit.record(
            tx,
            who.actor,
            "objection.answered",
            f"application:{application.id}",
            {"objection": objection.id, "outcome": outcome.value},
        )
        if outcome == ObjectionOutcome.UPHELD:
            application = await Application.filter(id=application.id).using_db(tx).get()
            if application.status == S.IN_NOTICE:
                await transitions.move(
                    tx,
                    application,
                    S.BLOCKED,
                    actor=who.actor,
                    reason=reply,
                    now=now,
                    details={"objection": objection.id},
                )
    return objection


# --- the public notice -----------------------------------------------------------------------


async def notice_out(a: Application, now: datetime) -> NoticeOut:
    assert a.notice_starts_at is not None
    assert a.notice_ends_at is not None
    objections = await Objection.filter(application_id=a.id).order_by("lodged_at", "id")
    return NoticeOut(
        id=a.id,
        subject=SubjectOut(a.kind, a.subject_code, a.subject_name),
        status=a.status.value,
        notice_starts_at=a.notice_starts_at,
        notice_ends_at=a.notice_ends_at,
        open=is_open(a, now),
        objections=[objection_out(o) for o in objections],
    )


async def notices(now: datetime | None = None) -> list[NoticeOut]:
    """Notices open now, then those ended within RECENTLY_ENDED, newest first."""
    now = now or datetime.now(UTC)
    rows = await Application.filter(
        Q(status=S.IN_NOTICE) | Q(notice_ends_at__gte=now - RECENTLY_ENDED),
        notice_starts_at__isnull=False,
        notice_starts_at__lte=now,
        status__in=(S.IN_NOTICE, S.ISSUED, S.BLOCKED),
    ).order_by("-notice_starts_at", "-id")
    listed = [await notice_out(a, now) for a in rows]
    return sorted(listed, key=lambda n: not n.open)


async def notice(application_id: int, now: datetime | None = None) -> NoticeOut:
    now = now or datetime.now(UTC)
    a = await Application.get_or_none(id=application_id)
    if (
        a is None
        or a.notice_starts_at is None
        or a.notice_starts_at > now
        or a.status not in (S.IN_NOTICE, S.ISSUED, S.BLOCKED)
    ):
        raise NotFound(f"No notice {application_id}")
    return await notice_out(a, now)
