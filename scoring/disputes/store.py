"""Complaints filed online, step by step: one function per step for the API, the pages, the
jobs and the tests.

Who may act on a complaint:
- the consumer, with the receipt code and the tracking secret (no account): follows it,
  answers the merchant's offer, withdraws, answers the follow-up. A wrong secret answers
  exactly as an unknown code does;
- the merchant complained about, signed in: answers first (offer or refusal) while the
  complaint is with it; another merchant's complaint is missing to it;
- officials of the merchant's district (any for the city bureau): see every complaint of
  the district and work the escalated ones (scoring.disputes.intake).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from scoring.credit.models import Followup, Resolution
from scoring.credit.rules import Rules
from scoring.disputes import contact, intake, odr, rules, timeline
from scoring.disputes.models import Dispute, DisputeFile, DisputeFollowup, DisputeOffer, find
from scoring.disputes.rules import (
    Category,
    DisputeStatus,
    EscalationReason,
    OfferAnswer,
    OfferKind,
    Policy,
    Step,
    Want,
)
from scoring.disputes.schemas import AnswerIn, DisputeIn, FollowupIn, OfferIn, ReasonIn
from scoring.disputes.timeline import CONSUMER, SYSTEM, party_of
from service.kernel import audit, outbox, uploads
from service.kernel.accounts import Principal, hash_token
from service.kernel.errors import Conflict, FangxinError, FieldError, InvalidInput, NotFound
from service.kernel.i18n import N_, gettext
from service.kernel.localtime import as_utc, to_local
from service.kernel.models import Merchant, MerchantStatus, Role
from service.kernel.privacy import salted_hash
from service.kernel.validation import check_text, in_range

S = DisputeStatus
EVIDENCE_DIR: Final = "evidence"  # under the data dir; carried by backups
CODE_ATTEMPTS: Final = 8
USCC_LENGTH: Final = 18

# What people read (the form, the tracking page, the API), in their language.
NO_MERCHANT = N_("No merchant with this code takes complaints here")
ONE_OF = N_("Choose one of: %(choices)s")
NOT_A_DATE = N_("Give the date as YYYY-MM-DD")
IN_THE_FUTURE = N_("This date has not come yet")
NOT_A_PHONE = N_("Give a mainland mobile number (11 digits)")
NEEDS_CONSENT = N_("We need your consent to contact you about this complaint")
NEEDS_DETAIL = N_("Say what you want")
NOT_A_KEY = N_("Not a UUID")
KEY_REUSED = N_("This client_submission_id was already used for another complaint")
DUPLICATE = N_("You already filed this complaint: %(code)s")
RATE_LIMITED = N_("Too many complaints from here; please try again tomorrow")
NOT_YOURS_TO_ANSWER = N_("This complaint is not waiting for your answer")
DEADLINE_PASSED = N_("The time to answer has passed: the complaint went to the bureau")
NEEDS_AMOUNT = N_("A refund needs its amount")
NO_AMOUNT = N_("Only a refund has an amount")
NO_OFFER = N_("There is no offer to answer")
ALREADY_ENDED = N_("This complaint has ended")
NO_FOLLOWUP = N_("This complaint cannot be followed up (not ended, or too long ago)")
ALREADY_FOLLOWED_UP = N_("You already answered the follow-up")
NOT_SHARED = N_("The consumer did not agree to share the number, or it is no longer kept")
FOLLOWUP_ANSWERS: Final = (Followup.SATISFIED, Followup.BASICALLY_SATISFIED, Followup.DISSATISFIED)


class TooManyComplaints(FangxinError):
    status = 429
    title = "Too many requests"


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a filing came from; only keyed hashes of these are kept."""

    ip: str | None
    device_id: str | None  # the signed device cookie's id (the surveys' device rule)


@dataclass(frozen=True, slots=True)
class Filed:
    dispute: Dispute
    secret: str  # the tracking secret, shown once
    created: bool  # False: a retry of an earlier filing


def evidence_store(data_dir: Path) -> uploads.FileStore:
    return uploads.FileStore(data_dir / EVIDENCE_DIR)


def tracking_secret(server_secret: str, key: uuid.UUID) -> str:
    """The tracking secret of the filing with this idempotency key: 128 bits of an HMAC
    under the server's secret, so a retried filing gets the same secret back while only its
    hash is stored. (Whoever holds the key, the merchant and the telephone number could
    replay the filing to read it again: the filer.)"""
    mac = hmac.new(server_secret.encode(), f"dispute-tracking:{key}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()[:16]).decode("ascii").rstrip("=")


def normalised_text(text: str) -> str:
    """The text as compared for duplicates: case, width and spacing do not make it new."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(folded.split())


E = TypeVar("E", Category, Want, OfferKind, Followup)


def _choice(errors: list[FieldError], field: str, value: str, enum: type[E]) -> E | None:
    try:
        return enum(value)
    except ValueError:
        choices = ", ".join(e.value for e in enum)
        errors.append(FieldError(field, gettext(ONE_OF) % {"choices": choices}))
        return None


# --- filing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Checked:
    """A filing whose every field is good."""

    merchant: Merchant
    category: Category
    description: str
    occurred_on: date
    amount_fen: int
    wants: Want
    wants_detail: str
    phone: str
    key: uuid.UUID
    share_contact: bool
    files: list[uploads.CheckedFile]


def _day(errors: list[FieldError], field: str, value: str, now: datetime) -> date | None:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        errors.append(FieldError(field, gettext(NOT_A_DATE)))
        return None
    if not in_range(day):
        errors.append(FieldError(field, gettext(NOT_A_DATE)))
        return None
    if day > to_local(now).date():
        errors.append(FieldError(field, gettext(IN_THE_FUTURE)))
        return None
    return day


async def check_filing(
    data: DisputeIn, files: Sequence[uploads.Upload], *, now: datetime, p: Policy
) -> Checked:
    """Every field checked, every problem named (422), before anything is stored."""
    errors: list[FieldError] = []
    uscc = data.merchant.strip()
    merchant = (
        await Merchant.get_or_none(uscc=uscc, status=MerchantStatus.ACTIVE)
        if len(uscc) <= USCC_LENGTH
        else None
    )
    if merchant is None:
        errors.append(FieldError("merchant", gettext(NO_MERCHANT)))
    category = _choice(errors, "category", data.category, Category)
    description = check_text(errors, "description", data.description, p.description_max)
    occurred_on = _day(errors, "occurred_on", data.occurred_on, now)
    amount = rules.fen_field(errors, "amount", data.amount)
    wants = _choice(errors, "wants", data.wants, Want)
    detail = check_text(
        errors, "wants_detail", data.wants_detail, p.wants_detail_max, required=False
    )
    if wants == Want.OTHER and not detail and not any(e.field == "wants_detail" for e in errors):
        errors.append(FieldError("wants_detail", gettext(NEEDS_DETAIL)))
    phone = contact.normalise_phone(data.phone)
    if phone is None:
        errors.append(FieldError("phone", gettext(NOT_A_PHONE)))
    if not data.consent_contact:
        errors.append(FieldError("consent_contact", gettext(NEEDS_CONSENT)))
    key: uuid.UUID | None = None
    try:
        key = uuid.UUID(data.client_submission_id.strip())
    except ValueError:
        errors.append(FieldError("client_submission_id", gettext(NOT_A_KEY)))
    kept, file_errors = uploads.check(
        files, field="files", max_files=p.max_files, max_bytes=p.max_bytes, strip=True
    )
    errors += file_errors
    if (
        errors
        or merchant is None
        or category is None
        or occurred_on is None
        or wants is None
        or phone is None
        or key is None
    ):
        raise InvalidInput("The complaint is not valid", errors)
    return Checked(
        merchant,
        category,
        description,
        occurred_on,
        amount,
        wants,
        detail,
        phone,
        key,
        data.share_contact,
        kept,
    )


async def file(
    data: DisputeIn,
    files: Sequence[uploads.Upload],
    *,
    origin: Origin,
    secret_key: str,
    data_dir: Path,
    credit: Rules,
    now: datetime | None = None,
    p: Policy | None = None,
    is_demo: bool = False,
) -> Filed:
    """A complaint from anyone, no account needed. Checks, in order: every field (422,
    each named); a retry of an earlier filing with the same ``client_submission_id`` is
    answered with that filing (the same code and secret; another complaint under the key is
    409); the address and the device have not filed too many lately (429); the same contact
    has not filed the same text against the same merchant within a day (422, naming the
    first receipt). Then, in one transaction: the complaint, its evidence, its first steps —
    to the merchant if it takes part in online dispute resolution, else straight to the
    bureau's intake — and the merchant's message."""
    now = as_utc(now or datetime.now(UTC))
    p = p or rules.policy()
    checked = await check_filing(data, files, now=now, p=p)
    secret = tracking_secret(secret_key, checked.key)
    key = contact.contact_key(data_dir)
    phone_hash = key.digest(checked.phone)
    earlier = await Dispute.get_or_none(idempotency_key=checked.key)
    if earlier is not None:
        return _retried(earlier, checked, phone_hash, secret)
    device = origin.device_id or (f"address:{origin.ip}" if origin.ip else None)
    ip_hash = salted_hash(secret_key, "dispute-ip", origin.ip) if origin.ip else None
    device_hash = salted_hash(secret_key, "dispute-device", device) if device else None
    await _within_rate(ip_hash, device_hash, now, p)
    text_hash = hashlib.sha256(normalised_text(checked.description).encode()).hexdigest()
    await _not_a_duplicate(phone_hash, checked.merchant.id, text_hash, now, p)
    flag = await _many(phone_hash, checked.merchant.id, now, p)
    store = evidence_store(data_dir)
    for f in checked.files:
        store.store(f)
    for _ in range(CODE_ATTEMPTS):
        code = rules.receipt_code(to_local(now).year)
        try:
            d = await _create(
                checked,
                code=code,
                secret_hash=hash_token(secret),
                sealed=key.seal(checked.phone, code),
                phone_hash=phone_hash,
                ip_hash=ip_hash,
                device_hash=device_hash,
                text_hash=text_hash,
                flag=flag,
                now=now,
                credit=credit,
                p=p,
                is_demo=is_demo,
            )
        except IntegrityError:
            # A concurrent retry of this very filing won the key, or (rarely) the code
            # was taken: answer the first, or draw another code.
            earlier = await Dispute.get_or_none(idempotency_key=checked.key)
            if earlier is not None:
                return _retried(earlier, checked, phone_hash, secret)
            continue
        return Filed(d, secret, created=True)
    raise Conflict("No free receipt code was found; please retry")


def _retried(earlier: Dispute, checked: Checked, phone_hash: str, secret: str) -> Filed:
    """A filing sent again: the same merchant and telephone number are the same complaint."""
    if earlier.merchant_id != checked.merchant.id or earlier.contact_hash != phone_hash:
        raise Conflict(gettext(KEY_REUSED))
    return Filed(earlier, secret, created=False)


async def _within_rate(
    ip_hash: str | None, device_hash: str | None, now: datetime, p: Policy
) -> None:
    since = now - p.rate_window
    if (
        ip_hash is not None
        and await Dispute.filter(ip_hash=ip_hash, filed_at__gte=since).count() >= p.per_address
    ):
        raise TooManyComplaints(gettext(RATE_LIMITED))
    if device_hash is not None:
        recent = await Dispute.filter(device_hash=device_hash, filed_at__gte=since).count()
        if recent >= p.per_device:
            raise TooManyComplaints(gettext(RATE_LIMITED))


async def _not_a_duplicate(
    phone_hash: str, merchant_id: int, text_hash: str, now: datetime, p: Policy
) -> None:
    first = (
        await Dispute.filter(
            contact_hash=phone_hash,
            merchant_id=merchant_id,
            text_hash=text_hash,
            filed_at__gte=now - p.duplicate_window,
        )
        .order_by("filed_at")
        .first()
    )
    if first is not None:
        message = gettext(DUPLICATE) % {"code": first.code}
        raise InvalidInput(message, [FieldError("description", message)])


async def _many(phone_hash: str, merchant_id: int, now: datetime, p: Policy) -> bool:
    """Whether this filing completes the many-complaints pattern (职业索赔)."""
    earlier: list[int] = await Dispute.filter(
        contact_hash=phone_hash, filed_at__gte=now - p.many_window
    ).values_list("merchant_id", flat=True)  # type: ignore[assignment]
    merchants = set(earlier) | {merchant_id}
    return rules.is_many(len(earlier) + 1, len(merchants), p)


async def _create(
    c: Checked,
    *,
    code: str,
    secret_hash: str,
    sealed: str,
    phone_hash: str,
    ip_hash: str | None,
    device_hash: str | None,
    text_hash: str,
    flag: bool,
    now: datetime,
    credit: Rules,
    p: Policy,
    is_demo: bool,
) -> Dispute:
    async with in_transaction() as tx:
        # Whether it goes to the bureau at once decides the locks: the intake's first.
        participating = await odr.participates(c.merchant.id, tx)
        if not participating:
            await intake.lock_intake(tx)
        d = await Dispute.create(
            using_db=tx,
            code=code,
            secret_hash=secret_hash,
            idempotency_key=c.key,
            merchant_id=c.merchant.id,
            district_id=c.merchant.district_id,
            status=S.SUBMITTED,
            category=c.category,
            description=c.description,
            occurred_on=c.occurred_on,
            amount_fen=c.amount_fen,
            wants=c.wants,
            wants_detail=c.wants_detail,
            contact_cipher=sealed,
            contact_hash=phone_hash,
            contact_masked=contact.mask(c.phone),
            share_contact=c.share_contact,
            ip_hash=ip_hash,
            device_hash=device_hash,
            text_hash=text_hash,
            flag_many=flag,
            participating=participating,
            filed_at=now,
            is_demo=is_demo,
        )
        for f in c.files:
            await DisputeFile.create(
                using_db=tx,
                dispute=d,
                **uploads.row_of(f, now),
            )
        await timeline.step(tx, d, Step.FILED, CONSUMER, now=now, details={"files": len(c.files)})
        if participating:
            await timeline.step(
                tx,
                d,
                Step.SENT_TO_MERCHANT,
                timeline.SYSTEM,
                now=now,
                to=S.WITH_MERCHANT,
                merchant_due=rules.merchant_due(now, p),
            )
        else:
            await intake.escalate(
                tx, d, EscalationReason.NOT_PARTICIPATING, SYSTEM, now=now, credit=credit, p=p
            )
        await outbox.enqueue(
            tx,
            "dispute.filed",
            {
                "code": d.code,
                "merchant": c.merchant.uscc,
                "category": d.category.value,
                "with_merchant": participating,
                "merchant_due": d.merchant_due.isoformat() if d.merchant_due else None,
            },
            now=now,
        )
    return d


# --- the consumer ----------------------------------------------------------------------------

NOT_TRACKED = "No complaint with this code and key"


async def tracked(code: str, secret: str | None) -> Dispute:
    """The complaint its consumer follows: the receipt code and the tracking secret. A wrong
    secret answers exactly as an unknown code (404)."""
    d = await find(code)
    given = hash_token(secret or "")
    if d is None or not secret or not hmac.compare_digest(d.secret_hash, given):
        raise NotFound(NOT_TRACKED)
    return d


async def escalate_late(
    d: Dispute,
    reason: EscalationReason,
    *,
    credit: Rules,
    now: datetime,
    p: Policy,
) -> bool:
    """Escalate a complaint whose answer is overdue (the merchant's, or the consumer's to an
    offer), in its own transaction; False if it had moved on meanwhile."""
    status, due_field = (
        (S.WITH_MERCHANT, "merchant_due")
        if reason == EscalationReason.DEADLINE
        else (S.OFFERED, "answer_due")
    )
    try:
        async with in_transaction() as tx:
            await intake.lock_intake(tx)
            fresh = await Dispute.filter(id=d.id).using_db(tx).get()
            due: date | None = getattr(fresh, due_field)
            if fresh.status != status or due is None or not rules.is_past(due, now):
                return False
            await intake.escalate(tx, fresh, reason, SYSTEM, now=now, credit=credit, p=p)
    except Conflict:
        return False
    return True


async def _refuse_if_late(
    d: Dispute, reason: EscalationReason, *, credit: Rules, now: datetime, p: Policy
) -> None:
    due = d.merchant_due if reason == EscalationReason.DEADLINE else d.answer_due
    if due is not None and rules.is_past(due, now):
        await escalate_late(d, reason, credit=credit, now=now, p=p)
        raise Conflict(gettext(DEADLINE_PASSED))


async def consumer_accept(
    code: str, secret: str | None, *, credit: Rules, now: datetime | None = None
) -> Dispute:
    """The consumer accepts the merchant's offer: settled by the merchant (``merchant_odr``),
    the offer's amount recovered; written to the intake so the report counts it."""
    now = as_utc(now or datetime.now(UTC))
    p = rules.policy()
    d = await tracked(code, secret)
    if d.status != S.OFFERED:
        raise Conflict(gettext(NO_OFFER))
    await _refuse_if_late(d, EscalationReason.UNANSWERED, credit=credit, now=now, p=p)
    async with in_transaction() as tx:
        await intake.lock_intake(tx)
        offer = await _open_offer(tx, d)
        await timeline.step(
            tx,
            d,
            Step.ACCEPTED,
            CONSUMER,
            now=now,
            to=S.SETTLED,
            closed_at=now,
            resolution=Resolution.MERCHANT_ODR,
            amount_recovered_fen=offer.amount_fen,
            answer_due=None,
        )
        await _answer(tx, offer, OfferAnswer.ACCEPTED, "", now)
        await intake.record_settlement(tx, d, offer, now=now, credit=credit)
        await intake.offer_followup(tx, d, now)
    return d


async def _open_offer(tx: BaseDBAsyncClient, d: Dispute) -> DisputeOffer:
    offer = (
        await DisputeOffer.filter(dispute_id=d.id, answer__isnull=True)
        .using_db(tx)
        .order_by("-round")
        .first()
    )
    if offer is None:
        raise Conflict(gettext(NO_OFFER))
    return offer


async def _answer(
    tx: BaseDBAsyncClient, offer: DisputeOffer, answer: OfferAnswer, note: str, now: datetime
) -> None:
    updated = (
        await DisputeOffer.filter(id=offer.id, answer__isnull=True)
        .using_db(tx)
        .update(answer=answer, answered_at=now, answer_note=note)
    )
    if updated != 1:
        raise Conflict(gettext(timeline.MOVED_ON))


async def consumer_reject(
    code: str, secret: str | None, data: AnswerIn, *, credit: Rules, now: datetime | None = None
) -> Dispute:
    """The consumer rejects the offer: while the merchant's deadline runs the complaint goes
    back to the merchant, which may offer again (settlement is a negotiation); once it has
    passed, the complaint goes to the bureau."""
    now = as_utc(now or datetime.now(UTC))
    p = rules.policy()
    d = await tracked(code, secret)
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", data.reason, p.reason_max, required=False)
    if errors:
        raise InvalidInput("The answer is not valid", errors)
    if d.status != S.OFFERED:
        raise Conflict(gettext(NO_OFFER))
    await _refuse_if_late(d, EscalationReason.UNANSWERED, credit=credit, now=now, p=p)
    back_to_merchant = d.merchant_due is not None and not rules.is_past(d.merchant_due, now)
    async with in_transaction() as tx:
        await intake.lock_intake(tx)
        offer = await _open_offer(tx, d)
        await _answer(tx, offer, OfferAnswer.REJECTED, reason, now)
        if back_to_merchant:
            await timeline.step(
                tx,
                d,
                Step.REJECTED,
                CONSUMER,
                now=now,
                to=S.WITH_MERCHANT,
                note=reason,
                answer_due=None,
            )
        else:
            await timeline.step(tx, d, Step.REJECTED, CONSUMER, now=now, note=reason)
            await intake.escalate(
                tx, d, EscalationReason.REJECTED, CONSUMER, now=now, credit=credit, p=p
            )
    return d


async def withdraw(
    code: str, secret: str | None, data: AnswerIn, *, credit: Rules, now: datetime | None = None
) -> Dispute:
    """The consumer withdraws, at any time before the complaint ends; with the bureau, its
    intake record ends too (withdrawn)."""
    now = as_utc(now or datetime.now(UTC))
    p = rules.policy()
    d = await tracked(code, secret)
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", data.reason, p.reason_max, required=False)
    if errors:
        raise InvalidInput("The withdrawal is not valid", errors)
    if d.status in rules.FINAL:
        raise Conflict(gettext(ALREADY_ENDED))
    async with in_transaction() as tx:
        await intake.lock_intake(tx)
        await timeline.step(
            tx,
            d,
            Step.WITHDRAWN,
            CONSUMER,
            now=now,
            to=S.WITHDRAWN,
            note=reason,
            closed_at=now,
            resolution=Resolution.WITHDRAWN,
            answer_due=None,
        )
        await intake.record_withdrawal(tx, d, now=now, credit=credit)
    return d


async def follow_up(
    code: str, secret: str | None, data: FollowupIn, *, now: datetime | None = None
) -> Dispute:
    """The one follow-up (回访) of an ended complaint, within the policy's window: written to
    the complaint and to its intake record."""
    now = as_utc(now or datetime.now(UTC))
    p = rules.policy()
    d = await tracked(code, secret)
    errors: list[FieldError] = []
    answer = _choice(errors, "answer", data.answer, Followup)
    if answer is not None and answer not in FOLLOWUP_ANSWERS:
        choices = ", ".join(a.value for a in FOLLOWUP_ANSWERS)
        errors.append(FieldError("answer", gettext(ONE_OF) % {"choices": choices}))
    comment = check_text(errors, "comment", data.comment, p.comment_max, required=False)
    if errors or answer is None:
        raise InvalidInput("The follow-up is not valid", errors)
    if not rules.followup_open(d.status, d.closed_at, now, p):
        raise Conflict(gettext(NO_FOLLOWUP))
    try:
        async with in_transaction() as tx:
            await DisputeFollowup.create(
                using_db=tx, dispute=d, answer=answer, comment=comment, answered_at=now
            )
            await timeline.step(
                tx,
                d,
                Step.FOLLOWED_UP,
                CONSUMER,
                now=now,
                note=comment,
                details={"answer": answer.value},
            )
            await intake.record_followup(tx, d, answer.value, now)
    except IntegrityError:
        raise Conflict(gettext(ALREADY_FOLLOWED_UP)) from None
    return d


# --- the merchant ----------------------------------------------------------------------------


async def for_merchant(code: str, who: Principal) -> Dispute:
    """The complaint if it is about this merchant's own business; any other is missing."""
    d = await find(code)
    if d is None or who.role != Role.MERCHANT or d.merchant_id != who.merchant_id:
        raise NotFound(f"No complaint {code}")
    return d


async def merchant_offer(
    code: str, data: OfferIn, *, who: Principal, credit: Rules, now: datetime | None = None
) -> Dispute:
    """The merchant's offer — a refund of an amount, an exchange, a repair or an explanation
    — while the complaint is with it and its deadline has not passed; after a rejection it
    may offer again. One open offer at a time: a second sent at the same instant is refused
    by the database."""
    now = as_utc(now or datetime.now(UTC))
    p = rules.policy()
    d = await for_merchant(code, who)
    errors: list[FieldError] = []
    kind = _choice(errors, "kind", data.kind, OfferKind)
    amount = rules.fen_field(errors, "amount", data.amount)
    note = check_text(
        errors, "note", data.note, p.reason_max, required=kind == OfferKind.EXPLANATION
    )
    if kind == OfferKind.REFUND and amount == 0 and not any(e.field == "amount" for e in errors):
        errors.append(FieldError("amount", gettext(NEEDS_AMOUNT)))
    if kind not in (None, OfferKind.REFUND) and amount:
        errors.append(FieldError("amount", gettext(NO_AMOUNT)))
    if errors or kind is None:
        raise InvalidInput("The offer is not valid", errors)
    if d.status != S.WITH_MERCHANT:
        raise Conflict(gettext(NOT_YOURS_TO_ANSWER))
    await _refuse_if_late(d, EscalationReason.DEADLINE, credit=credit, now=now, p=p)
    due = rules.answer_due(now, p)
    try:
        async with in_transaction() as tx:
            # The complaint's row first, as a refusal racing this offer takes it: the offer's
            # row would otherwise hold a key-share lock on it that the refusal's escalation
            # (which sets its unique complaint_id) waits for while this offer waits for the
            # refusal's row lock: a deadlock, a 500 instead of one 409.
            await Dispute.filter(id=d.id).using_db(tx).select_for_update().first()
            # The next round: two offers sent at once both take it, and the database's
            # unique (dispute, round) keeps only the first.
            earlier = await DisputeOffer.filter(dispute_id=d.id).using_db(tx).count()
            await DisputeOffer.create(
                using_db=tx,
                dispute=d,
                round=earlier + 1,
                kind=kind,
                amount_fen=amount,
                note=note,
                offered_at=now,
                offered_by=str(who.actor),
            )
            await timeline.step(
                tx,
                d,
                Step.OFFERED,
                party_of(who),
                now=now,
                to=S.OFFERED,
                note=note,
                details={"kind": kind.value, "amount_fen": amount},
                answer_due=due,
            )
            await outbox.enqueue(
                tx,
                "dispute.offered",
                {"code": d.code, "kind": kind.value, "answer_due": due.isoformat()},
                now=now,
            )
    except IntegrityError:
        raise Conflict(gettext(NOT_YOURS_TO_ANSWER)) from None
    return d


async def merchant_refuse(
    code: str, data: ReasonIn, *, who: Principal, credit: Rules, now: datetime | None = None
) -> Dispute:
    """The merchant refuses, with its reasons: the complaint goes to the bureau at once."""
    now = as_utc(now or datetime.now(UTC))
    p = rules.policy()
    d = await for_merchant(code, who)
    errors: list[FieldError] = []
    reason = check_text(errors, "reason", data.reason, p.reason_max)
    if errors:
        raise InvalidInput("The refusal is not valid", errors)
    if d.status != S.WITH_MERCHANT:
        raise Conflict(gettext(NOT_YOURS_TO_ANSWER))
    await _refuse_if_late(d, EscalationReason.DEADLINE, credit=credit, now=now, p=p)
    async with in_transaction() as tx:
        await intake.lock_intake(tx)
        by = party_of(who)
        await timeline.step(tx, d, Step.REFUSED, by, now=now, note=reason, refusal_reason=reason)
        await intake.escalate(tx, d, EscalationReason.REFUSED, by, now=now, credit=credit, p=p)
    return d


# --- reading ---------------------------------------------------------------------------------


async def get_for(code: str, who: Principal) -> Dispute:
    """The complaint as a signed-in party may see it: the merchant its own, officials their
    district's."""
    if who.role == Role.MERCHANT:
        return await for_merchant(code, who)
    return await intake.for_official(code, who)


async def file_for(
    code: str, file_id: int, *, who: Principal | None = None, secret: str | None = None
) -> DisputeFile:
    """A file of evidence, for the consumer (with the secret), the merchant concerned or an
    official of the district; to anyone else it is missing."""
    d = await tracked(code, secret) if who is None else await get_for(code, who)
    f = await DisputeFile.get_or_none(id=file_id, dispute_id=d.id)
    if f is None:
        raise NotFound(f"No file {file_id}")
    return f


async def reveal_contact(code: str, who: Principal, data_dir: Path) -> str:
    """The consumer's telephone number in full, audited: for the merchant only while the
    complaint is with it and the consumer agreed to share it; for an official of the
    district while it is kept."""
    d = await get_for(code, who)
    if d.contact_cipher is None or (
        who.role == Role.MERCHANT
        and (not d.share_contact or d.status not in (S.WITH_MERCHANT, S.OFFERED))
    ):
        raise Conflict(gettext(NOT_SHARED))
    phone = contact.contact_key(data_dir).open(d.contact_cipher, d.code)
    async with in_transaction() as tx:
        await audit.record(tx, who.actor, "dispute.contact_revealed", f"dispute:{d.code}", {})
    return phone
