"""One-time invitation codes for sampled respondents (stored only as hashes)."""

from __future__ import annotations

import secrets

from tortoise.transactions import in_transaction

from service.kernel import audit
from service.kernel.audit import Actor
from service.kernel.errors import FieldError, InvalidInput, NotFound
from surveys.models import InviteCode, Survey
from surveys.submit import hash_invite

# No 0/O, 1/I/L, 5/S, 2/Z: codes are read off paper and typed on phones.
ALPHABET = "346789ABCDEFGHJKMNPQRTUVWXY"
MAX_BATCH = 100_000


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


async def create_invites(survey_slug: str, count: int, *, actor: Actor) -> list[str]:
    """Make ``count`` codes; they are returned once and only their hashes are kept."""
    if not 1 <= count <= MAX_BATCH:
        raise InvalidInput("Bad count", [FieldError("count", f"between 1 and {MAX_BATCH}")])
    survey = await Survey.get_or_none(slug=survey_slug)
    if survey is None:
        raise NotFound(f"No survey {survey_slug!r}")
    codes = [new_code() for _ in range(count)]
    async with in_transaction() as conn:
        await InviteCode.bulk_create(
            [InviteCode(survey_id=survey.id, code_hash=hash_invite(c)) for c in codes],
            batch_size=1000,
            using_db=conn,
        )
        await audit.record(
            conn, actor, "survey.invites_created", f"survey:{survey_slug}", {"count": count}
        )
    return codes
