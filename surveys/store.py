"""Writing one response: the device rule, burst screening and the insert, atomically.

Two implementations of one role, chosen in ``store_for``: PostgreSQL does it all in a single
statement (data-modifying CTEs, one round trip, ``ON CONFLICT`` on the idempotency key);
SQLite, whose transactions already run one at a time, uses the ORM in a transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from service.kernel.db import connection
from surveys.models import (
    Answer,
    FlagKind,
    FlagStatus,
    InviteCode,
    Response,
    ResponseFlag,
    TargetKind,
)


class InvitationAlreadyUsed(Exception):
    """The invitation code was used by another response (the insert was rolled back)."""


@dataclass(frozen=True, slots=True)
class NewResponse:
    survey_id: int
    version: int
    target_kind: TargetKind
    target_code: str
    client_submission_id: uuid.UUID
    started_at: datetime | None
    submitted_at: datetime
    duration_ms: int | None
    device_hash: str | None
    ip_hash: str | None
    channel: str
    invite_hash: str | None
    # (question key, number, 0–100 score, text)
    answers: Sequence[tuple[str, float | None, float | None, str | None]]
    flags: Sequence[FlagKind]  # found from the answers alone (straight-lining, speed)
    device_since: datetime  # the device rule's period starts here
    burst_since: datetime  # the burst window starts here
    burst_count: int  # this many from one address (this one included) make a burst


@dataclass(frozen=True, slots=True)
class Outcome:
    response_id: int | None  # None: nothing inserted (see the two fields below)
    device_seen: bool  # the device already answered this target in the period
    flags: tuple[str, ...] = ()


class ResponseStore(Protocol):
    async def insert(self, r: NewResponse) -> Outcome: ...


FLAG_DETAIL = "screened on submission"

_PG_INSERT = """
WITH dev AS (
    SELECT $12::text IS NOT NULL AND EXISTS (
        SELECT 1 FROM response
        WHERE survey_id = $1::int AND target_code = $4::varchar AND device_hash = $12::text
          AND submitted_at >= $15::timestamptz) AS seen
), recent AS (
    SELECT CASE WHEN $13::text IS NULL THEN 0 ELSE (
        SELECT count(*) FROM response
        WHERE target_code = $4::varchar AND ip_hash = $13::text
          AND submitted_at >= $16::timestamptz) END AS n
), r AS (
    INSERT INTO response (survey_id, version, target_kind, target_code, client_submission_id,
                          started_at, submitted_at, duration_ms, device_hash, ip_hash,
                          invited, channel, excluded, is_demo)
    SELECT $1::int, $2::int, $3::varchar, $4::varchar, $5::uuid, $6::timestamptz,
           $7::timestamptz, $8::int, $12::varchar, $13::varchar, false, $14::varchar,
           cardinality($11::text[]) > 0 OR recent.n + 1 >= $17::int, false
    FROM dev, recent
    WHERE NOT dev.seen
    ON CONFLICT (client_submission_id) DO NOTHING
    RETURNING id
), a AS (
    INSERT INTO answer (response_id, question_key, value_num, value_norm, value_text)
    SELECT r.id, u.k, u.n, u.m, u.t
    FROM r, unnest($9::text[], $10::float8[], $18::float8[], $19::text[]) AS u(k, n, m, t)
), f AS (
    INSERT INTO response_flag (response_id, kind, status, detail, raised_at)
    SELECT r.id, x.kind, 'raised', $20::varchar, $7::timestamptz
    FROM r, (
        SELECT unnest($11::text[]) AS kind
        UNION ALL
        SELECT 'burst' FROM recent WHERE recent.n + 1 >= $17::int
    ) AS x
)
SELECT (SELECT id FROM r) AS id, (SELECT seen FROM dev) AS seen,
       (SELECT n FROM recent) AS recent
"""


class PostgresStore:
    """One statement, one round trip: the checks and the three inserts see one snapshot and
    commit together."""

    def __init__(self, conn: BaseDBAsyncClient) -> None:
        self.conn = conn

    async def insert(self, r: NewResponse) -> Outcome:
        flags = [f.value for f in r.flags]
        args = [
            r.survey_id,
            r.version,
            r.target_kind.value,
            r.target_code,
            r.client_submission_id,
            r.started_at,
            r.submitted_at,
            r.duration_ms,
            [a[0] for a in r.answers],
            [a[1] for a in r.answers],
            flags,
            r.device_hash,
            r.ip_hash,
            r.channel,
            r.device_since,
            r.burst_since,
            r.burst_count,
            [a[2] for a in r.answers],
            [a[3] for a in r.answers],
            FLAG_DETAIL,
        ]
        async with self.conn.acquire_connection() as raw:
            row = await raw.fetchrow(_PG_INSERT, *args)
        burst = row["recent"] + 1 >= r.burst_count
        found = tuple(flags) + (("burst",) if burst else ())
        return Outcome(row["id"], bool(row["seen"]), found if row["id"] else ())


class OrmStore:
    """The portable path (SQLite, and invitation codes everywhere): checks, then inserts,
    in one transaction."""

    async def insert(self, r: NewResponse) -> Outcome:
        try:
            async with in_transaction() as conn:
                return await self._insert(conn, r)
        except IntegrityError:
            # The idempotency key is taken: a concurrent retry won.
            return Outcome(None, False)

    async def _insert(self, conn: BaseDBAsyncClient, r: NewResponse) -> Outcome:
        if (
            r.device_hash is not None
            and await Response.filter(
                survey_id=r.survey_id,
                target_code=r.target_code,
                device_hash=r.device_hash,
                submitted_at__gte=r.device_since,
            )
            .using_db(conn)
            .exists()
        ):
            return Outcome(None, True)
        recent = 0
        if r.ip_hash is not None:
            recent = (
                await Response.filter(
                    target_code=r.target_code, ip_hash=r.ip_hash, submitted_at__gte=r.burst_since
                )
                .using_db(conn)
                .count()
            )
        flags = [*r.flags] + ([FlagKind.BURST] if recent + 1 >= r.burst_count else [])
        response = await Response.create(
            using_db=conn,
            survey_id=r.survey_id,
            version=r.version,
            target_kind=r.target_kind,
            target_code=r.target_code,
            client_submission_id=r.client_submission_id,
            started_at=r.started_at,
            submitted_at=r.submitted_at,
            duration_ms=r.duration_ms,
            device_hash=r.device_hash,
            ip_hash=r.ip_hash,
            invited=r.invite_hash is not None,
            channel=r.channel,
            excluded=bool(flags),
        )
        await Answer.bulk_create(
            [
                Answer(
                    response_id=response.id, question_key=k, value_num=n, value_norm=m, value_text=t
                )
                for k, n, m, t in r.answers
            ],
            using_db=conn,
        )
        if flags:
            await ResponseFlag.bulk_create(
                [
                    ResponseFlag(
                        response_id=response.id,
                        kind=k,
                        status=FlagStatus.RAISED,
                        detail=FLAG_DETAIL,
                    )
                    for k in flags
                ],
                using_db=conn,
            )
        if r.invite_hash is not None:
            used = (
                await InviteCode.filter(code_hash=r.invite_hash, used_at=None)
                .using_db(conn)
                .update(used_at=r.submitted_at, response_id=response.id)
            )
            if not used:
                raise InvitationAlreadyUsed
        return Outcome(response.id, False, tuple(f.value for f in flags))


def store_for(r: NewResponse) -> ResponseStore:
    conn = connection()
    if conn.capabilities.dialect == "postgres" and r.invite_hash is None:
        return PostgresStore(conn)
    return OrmStore()
