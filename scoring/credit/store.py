"""Credit in the database: events in, standings rescored, every change recorded and announced.

Writers of credit lock what they rescore, inside their transaction: two batches about one
merchant must not each score it without the other's events. On PostgreSQL a batch of events
takes a shared lock on credit and an exclusive advisory lock per merchant it touches (in
ascending order, so batches never deadlock), so batches about different merchants run side by
side; a full recompute or a complaint batch takes credit exclusively. SQLite serialises
writers anyway. Rescoring runs ``credit.credit_scores`` on the merchants touched
(a frame of their events), so a batch and a full recompute give the same result by
construction. Bulk reads and writes go through the transaction's own connection (COPY and
``unnest`` on PostgreSQL, ``executemany`` on SQLite): an ORM object per event would cap
ingest far below what the feeds send.
"""

from __future__ import annotations

import io
import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import anyio
import polars as pl
from tortoise.backends.base.client import BaseDBAsyncClient

from scoring.credit.feeds import Feed, ingest

# Re-exported: the feeds' callers know it as store.IngestResult.
from scoring.credit.feeds import IngestResult as IngestResult
from scoring.credit.models import CreditEvent
from scoring.credit.rules import CLASSES, DEFAULT_RULES, Rules, credit_scores
from scoring.credit.schemas import CreditEventIn
from service.kernel import events
from service.kernel.audit import Actor
from service.kernel.db import chunked
from service.kernel.errors import FieldError, InvalidInput
from service.kernel.events import CreditChanged, CreditState
from service.kernel.validation import FUTURE_TOLERANCE, check_text, parse_time

# pg_advisory_xact_lock key shared by every writer of credit ("FXCR"), and the key space of
# the per-merchant locks.
CREDIT_LOCK_KEY = 0x46584352
MERCHANT_LOCK_SPACE = 0x4D43
# Sources of the events derived from complaints (scoring.credit.complaints): never a feed's.
DERIVED_SOURCE_PREFIX = "complaint:"
SPOT_CHECK_SOURCE = "spot_check"  # events derived from failed Red Shield batches
NOTE_MAX = 2000
EVENT_SCHEMA: dict[str, Any] = {
    "merchant_id": pl.Int64,
    "kind": pl.String,
    "occurred_at": pl.Datetime("us", "UTC"),
    "class": pl.String,
}
STANDING_SCHEMA: dict[str, Any] = {
    "merchant_id": pl.Int64,
    "old_score": pl.Float64,
    "old_class": pl.String,
    "old_abnormal": pl.Boolean,
    "old_serious": pl.Boolean,
}


@lru_cache(maxsize=4)
def rules_for(path: Path | None) -> Rules:
    """The city's rule table when configured, else the shipped one; read once."""
    return Rules.load(path or DEFAULT_RULES)


def start_state(rules: Rules) -> CreditState:
    """A merchant with no events: the starting score and its class."""
    risk_class = next((c for c in CLASSES[:3] if rules.start >= rules.thresholds[c]), CLASSES[3])
    return CreditState(rules.start, risk_class, abnormal_listed=False, serious_listed=False)


@dataclass(frozen=True, slots=True)
class EventRow:
    merchant_id: int
    kind: str
    occurred_at: datetime
    source: str
    external_ref: str
    note: str
    risk_class: str | None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.external_ref)

    def content(self) -> tuple[object, ...]:
        return (self.merchant_id, self.kind, self.occurred_at, self.note, self.risk_class)


def check_events(
    items: Sequence[CreditEventIn],
    merchant_ids: dict[str, int],
    rules: Rules,
    now: datetime,
) -> tuple[list[EventRow], list[FieldError]]:
    """Every item checked, every problem named by its index; rows only when all are good."""
    errors: list[FieldError] = []
    rows: list[EventRow] = []
    kinds = rules.kinds
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(items):
        at = f"events[{i}]"
        bad: list[FieldError] = []
        merchant_id = merchant_ids.get(item.uscc)
        if merchant_id is None:
            bad.append(FieldError(f"{at}.uscc", f"no merchant with USCC {item.uscc!r}"))
        if item.kind not in kinds:
            bad.append(FieldError(f"{at}.kind", f"unknown kind {item.kind!r}"))
        if item.kind == "external_class":
            if item.risk_class not in CLASSES:
                bad.append(FieldError(f"{at}.class", "must be one of A, B, C, D"))
        elif item.risk_class is not None:
            bad.append(FieldError(f"{at}.class", "is only for kind external_class"))
        try:
            occurred_at = parse_time(item.occurred_at)
            if occurred_at > now + FUTURE_TOLERANCE:
                bad.append(FieldError(f"{at}.occurred_at", "is in the future"))
        except ValueError as exc:
            bad.append(FieldError(f"{at}.occurred_at", str(exc)))
        # A feed's texts are checked by the one text rule but kept as sent, not cleaned: a
        # replay is matched by its key and compared by its content with what is stored.
        check_text(bad, f"{at}.source", item.source, 64)
        if item.source.startswith(DERIVED_SOURCE_PREFIX) or item.source == SPOT_CHECK_SOURCE:
            bad.append(
                FieldError(f"{at}.source", "is reserved for events derived from intake records")
            )
        check_text(bad, f"{at}.external_ref", item.external_ref, 128)
        check_text(bad, f"{at}.note", item.note, NOTE_MAX, required=False)
        key = (item.source, item.external_ref)
        if key in seen:
            bad.append(FieldError(f"{at}.external_ref", f"repeats item {seen[key]} of this batch"))
        seen.setdefault(key, i)
        if bad or merchant_id is None:
            errors.extend(bad)  # an unknown merchant left its error above
            continue
        rows.append(
            EventRow(
                merchant_id,
                item.kind,
                occurred_at,
                item.source,
                item.external_ref,
                item.note,
                item.risk_class,
            )
        )
    return rows, errors


# --- the database, per dialect -------------------------------------------------------------


class CreditSql(Protocol):
    # Whether a feed's events may be inserted before their merchants are locked, so that
    # batches touching the same merchants wait for each other only while rescoring.
    insert_before_lock: bool

    async def lock(self, merchant_ids: Collection[int] | None = None) -> None:
        """Exclusive over all credit (None), or over these merchants only."""

    async def merchant_ids(self, usccs: Collection[str]) -> dict[str, int]: ...

    async def usccs(self, merchant_ids: Collection[int]) -> dict[int, str]: ...

    async def existing(
        self, keys: Collection[tuple[str, str]]
    ) -> dict[tuple[str, str], EventRow]: ...

    async def insert_events(
        self, rows: Sequence[EventRow], now: datetime
    ) -> list[tuple[int, int, str, str]]:
        """(id, merchant id, source, external reference) of each row stored; a key already
        stored, or being stored by a transaction that then commits, is skipped."""

    async def events(self, merchant_ids: Collection[int] | None) -> pl.DataFrame: ...

    async def standings(self, merchant_ids: Collection[int] | None) -> pl.DataFrame: ...

    async def upsert_standings(self, rows: Sequence[tuple[Any, ...]]) -> None: ...

    async def insert_changes(self, rows: Sequence[tuple[Any, ...]]) -> None: ...


STANDING_COLUMNS = (
    "merchant_id",
    "score",
    "risk_class",
    "abnormal_listed",
    "serious_listed",
    "external_class",
    "rules_version",
    "updated_at",
)
CHANGE_COLUMNS = (
    "merchant_id",
    "changed_at",
    "old_score",
    "old_class",
    "new_score",
    "new_class",
    "cause",
    "event_ids",
    "rules_version",
)


# A repaired event (scoring/credit/repair.py) is kept but counts no more: every read that
# scores leaves it out.
_PG_EVENTS = (
    "SELECT merchant_id, kind, (extract(epoch FROM occurred_at) * 1000000)::bigint,"
    " risk_class FROM credit_event WHERE repaired_at IS NULL"
)
_PG_EVENTS_OF_MERCHANTS = " AND merchant_id = ANY($1::int[])"
_PG_STANDINGS = (
    "SELECT merchant_id, score, risk_class, abnormal_listed::int, serious_listed::int"
    " FROM credit_standing"
)
_PG_OF_MERCHANTS = " WHERE merchant_id = ANY($1::int[])"


def _arrow_events(url: str) -> pl.DataFrame:
    """Every event, as Arrow over ADBC: 2M rows in a fraction of what COPY as text takes."""
    from scoring.arrow import PostgresSource

    source = PostgresSource(url)
    try:
        frame = source.read(
            "SELECT merchant_id, kind, occurred_at, risk_class AS class FROM credit_event"
            " WHERE repaired_at IS NULL"
        )
    finally:
        source.close()
    return frame.select(pl.col(name).cast(dtype) for name, dtype in EVENT_SCHEMA.items())


class PostgresCreditSql:
    """COPY out to polars, ``unnest`` arrays in: one round trip per step, whatever the size."""

    insert_before_lock = True

    def __init__(self, tx: BaseDBAsyncClient, arrow_url: str | None = None) -> None:
        # The connection is taken per statement, not for the whole transaction: ORM calls on
        # the same transaction (audit, listeners) take it too.
        self.tx = tx
        self.arrow_url = arrow_url

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async with self.tx.acquire_connection() as raw:
            return await getattr(raw, method)(*args, **kwargs)

    async def lock(self, merchant_ids: Collection[int] | None = None) -> None:
        if merchant_ids is None:
            await self._call("execute", "SELECT pg_advisory_xact_lock($1)", CREDIT_LOCK_KEY)
            return
        await self._call("execute", "SELECT pg_advisory_xact_lock_shared($1)", CREDIT_LOCK_KEY)
        await self._call(
            "execute",
            "SELECT count(pg_advisory_xact_lock($1::int, m)) FROM"
            " (SELECT m FROM unnest($2::int[]) AS m ORDER BY m) AS ordered",
            MERCHANT_LOCK_SPACE,
            sorted(set(merchant_ids)),
        )

    async def merchant_ids(self, usccs: Collection[str]) -> dict[str, int]:
        rows = await self._call(
            "fetch", "SELECT uscc, id FROM merchant WHERE uscc = ANY($1::text[])", list(usccs)
        )
        return {r[0]: r[1] for r in rows}

    async def usccs(self, merchant_ids: Collection[int]) -> dict[int, str]:
        rows = await self._call(
            "fetch", "SELECT id, uscc FROM merchant WHERE id = ANY($1::int[])", list(merchant_ids)
        )
        return {r[0]: r[1] for r in rows}

    async def existing(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], EventRow]:
        rows = await self._call(
            "fetch",
            "SELECT e.merchant_id, e.kind, e.occurred_at, e.source, e.external_ref, e.note,"
            " e.risk_class FROM credit_event e JOIN unnest($1::text[], $2::text[]) AS k(s, r)"
            " ON e.source = k.s AND e.external_ref = k.r",
            [k[0] for k in keys],
            [k[1] for k in keys],
        )
        return {(r[3], r[4]): EventRow(*r) for r in rows}

    async def insert_events(
        self, rows: Sequence[EventRow], now: datetime
    ) -> list[tuple[int, int, str, str]]:
        out = await self._call(
            "fetch",
            "INSERT INTO credit_event (merchant_id, kind, occurred_at, source, external_ref,"
            " note, risk_class, recorded_at) SELECT m, k, o, s, e, n, c, $8 FROM unnest("
            "$1::int[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],"
            " $7::text[]) AS t(m, k, o, s, e, n, c)"
            # A retry racing its own first attempt: the first one's row stands.
            " ON CONFLICT (source, external_ref) DO NOTHING"
            " RETURNING id, merchant_id, source, external_ref",
            [r.merchant_id for r in rows],
            [r.kind for r in rows],
            [r.occurred_at for r in rows],
            [r.source for r in rows],
            [r.external_ref for r in rows],
            [r.note for r in rows],
            [r.risk_class for r in rows],
            now,
        )
        return [(r[0], r[1], r[2], r[3]) for r in out]

    async def _frame(self, sql: str, args: list[Any], schema: dict[str, Any]) -> pl.DataFrame:
        buf = io.BytesIO()
        await self._call("copy_from_query", sql, *args, output=buf, format="csv")
        if not buf.getbuffer().nbytes:
            return pl.DataFrame(schema=schema)
        buf.seek(0)
        return pl.read_csv(buf, has_header=False, new_columns=list(schema), schema_overrides=schema)

    async def events(self, merchant_ids: Collection[int] | None) -> pl.DataFrame:
        schema = {**EVENT_SCHEMA, "occurred_at": pl.Int64}
        if merchant_ids is None and self.arrow_url:
            return await anyio.to_thread.run_sync(_arrow_events, self.arrow_url)
        if merchant_ids is None:
            frame = await self._frame(_PG_EVENTS, [], schema)
        else:
            frame = await self._frame(
                _PG_EVENTS + _PG_EVENTS_OF_MERCHANTS, [list(merchant_ids)], schema
            )
        return frame.with_columns(pl.col("occurred_at").cast(pl.Datetime("us", "UTC")))

    async def standings(self, merchant_ids: Collection[int] | None) -> pl.DataFrame:
        schema = {**STANDING_SCHEMA, "old_abnormal": pl.Int8, "old_serious": pl.Int8}
        if merchant_ids is None:
            frame = await self._frame(_PG_STANDINGS, [], schema)
        else:
            frame = await self._frame(
                _PG_STANDINGS + _PG_OF_MERCHANTS, [list(merchant_ids)], schema
            )
        return frame.with_columns(pl.col("old_abnormal", "old_serious").cast(pl.Boolean))

    async def upsert_standings(self, rows: Sequence[tuple[Any, ...]]) -> None:
        # Binary COPY into a scratch table, then one upsert from it: for a city-wide
        # recompute's 100,000 rows a fraction of what binding them as arrays costs.
        async with self.tx.acquire_connection() as raw:
            await raw.execute(
                "CREATE TEMP TABLE IF NOT EXISTS standing_in"
                " (LIKE credit_standing INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            await raw.execute("TRUNCATE standing_in")  # a second call in one transaction
            await raw.copy_records_to_table("standing_in", records=rows, columns=STANDING_COLUMNS)
            await raw.execute(
                f"INSERT INTO credit_standing ({', '.join(STANDING_COLUMNS)})"  # noqa: S608 - constants
                f" SELECT {', '.join(STANDING_COLUMNS)} FROM standing_in"
                " ON CONFLICT (merchant_id) DO UPDATE SET"
                " score = EXCLUDED.score, risk_class = EXCLUDED.risk_class,"
                " abnormal_listed = EXCLUDED.abnormal_listed,"
                " serious_listed = EXCLUDED.serious_listed,"
                " external_class = EXCLUDED.external_class,"
                " rules_version = EXCLUDED.rules_version, updated_at = EXCLUDED.updated_at"
            )

    async def insert_changes(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await self._call(
            "copy_records_to_table", "credit_change", records=rows, columns=CHANGE_COLUMNS
        )


def _sqlite_time(at: datetime) -> str:
    return at.isoformat(" ")  # what Tortoise's SQLite adapter writes and reads back


def _parse_sqlite_times(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.col(column).str.to_datetime("%Y-%m-%d %H:%M:%S%.f%:z", time_zone="UTC")
    )


class SqliteCreditSql:
    """The same steps on SQLite: ``json_each`` for id lists, ``executemany`` for rows."""

    # Its lock is the database's one write lock: taken first, it makes the ids above the
    # highest before the insert ours.
    insert_before_lock = False

    def __init__(self, tx: BaseDBAsyncClient) -> None:
        # The connection is taken per statement, not for the whole transaction: ORM calls on
        # the same transaction (audit, listeners) take it too.
        self.tx = tx

    async def lock(self, merchant_ids: Collection[int] | None = None) -> None:
        # A write that changes nothing takes SQLite's write lock for the transaction now.
        await self._run("DELETE FROM credit_standing WHERE 0", ())

    async def _run(self, sql: str, params: Sequence[Any]) -> None:
        async with self.tx.acquire_connection() as raw:
            cursor = await raw.execute(sql, params)
            await cursor.close()

    async def _many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.tx.acquire_connection() as raw:
            cursor = await raw.executemany(sql, rows)
            await cursor.close()

    async def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        async with self.tx.acquire_connection() as raw:
            return list(await raw.execute_fetchall(sql, params))

    async def merchant_ids(self, usccs: Collection[str]) -> dict[str, int]:
        rows = await self._all(
            "SELECT uscc, id FROM merchant WHERE uscc IN (SELECT value FROM json_each(?))",
            (json.dumps(list(usccs)),),
        )
        return {r[0]: r[1] for r in rows}

    async def usccs(self, merchant_ids: Collection[int]) -> dict[int, str]:
        rows = await self._all(
            "SELECT id, uscc FROM merchant WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(merchant_ids)),),
        )
        return {r[0]: r[1] for r in rows}

    async def existing(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], EventRow]:
        rows = await self._all(
            "SELECT merchant_id, kind, occurred_at, source, external_ref, note, risk_class"
            " FROM credit_event WHERE (source, external_ref) IN (SELECT value ->> 0,"
            " value ->> 1 FROM json_each(?))",
            (json.dumps([list(k) for k in keys]),),
        )
        return {
            (r[3], r[4]): EventRow(r[0], r[1], datetime.fromisoformat(r[2]), *r[3:]) for r in rows
        }

    async def insert_events(
        self, rows: Sequence[EventRow], now: datetime
    ) -> list[tuple[int, int, str, str]]:
        highest = (await self._all("SELECT COALESCE(MAX(id), 0) FROM credit_event"))[0][0]
        await self._many(
            "INSERT INTO credit_event (merchant_id, kind, occurred_at, source, external_ref,"
            " note, risk_class, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (source, external_ref) DO NOTHING",
            (
                (
                    r.merchant_id,
                    r.kind,
                    _sqlite_time(r.occurred_at),
                    r.source,
                    r.external_ref,
                    r.note,
                    r.risk_class,
                    _sqlite_time(now),
                )
                for r in rows
            ),
        )
        # Writers are serialised (see lock), so every id above the old highest is ours.
        out = await self._all(
            "SELECT id, merchant_id, source, external_ref FROM credit_event WHERE id > ?"
            " ORDER BY id",
            (highest,),
        )
        return [(r[0], r[1], r[2], r[3]) for r in out]

    async def events(self, merchant_ids: Collection[int] | None) -> pl.DataFrame:
        sql = (
            "SELECT merchant_id, kind, occurred_at, risk_class FROM credit_event"
            " WHERE repaired_at IS NULL"
        )
        params: tuple[Any, ...] = ()
        if merchant_ids is not None:
            sql += " AND merchant_id IN (SELECT value FROM json_each(?))"
            params = (json.dumps(list(merchant_ids)),)
        rows = await self._all(sql, params)
        frame = pl.DataFrame(rows, schema={**EVENT_SCHEMA, "occurred_at": pl.String}, orient="row")
        return _parse_sqlite_times(frame, "occurred_at")

    async def standings(self, merchant_ids: Collection[int] | None) -> pl.DataFrame:
        sql = (
            "SELECT merchant_id, score, risk_class, abnormal_listed, serious_listed"
            " FROM credit_standing"
        )
        params: tuple[Any, ...] = ()
        if merchant_ids is not None:
            sql += " WHERE merchant_id IN (SELECT value FROM json_each(?))"
            params = (json.dumps(list(merchant_ids)),)
        rows = await self._all(sql, params)
        return pl.DataFrame(rows, schema=STANDING_SCHEMA, orient="row")

    async def upsert_standings(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await self._many(
            "INSERT INTO credit_standing (merchant_id, score, risk_class, abnormal_listed,"
            " serious_listed, external_class, rules_version, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id) DO UPDATE SET"
            " score = excluded.score, risk_class = excluded.risk_class,"
            " abnormal_listed = excluded.abnormal_listed,"
            " serious_listed = excluded.serious_listed, external_class = excluded.external_class,"
            " rules_version = excluded.rules_version, updated_at = excluded.updated_at",
            ((*r[:7], _sqlite_time(r[7])) for r in rows),
        )

    async def insert_changes(self, rows: Sequence[tuple[Any, ...]]) -> None:
        await self._many(
            "INSERT INTO credit_change (merchant_id, changed_at, old_score, old_class,"
            " new_score, new_class, cause, event_ids, rules_version)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ((r[0], _sqlite_time(r[1]), *r[2:]) for r in rows),
        )


def credit_sql(tx: BaseDBAsyncClient, database_url: str | None = None) -> CreditSql:
    """The dialect's bulk steps on the transaction. ``database_url`` lets a full rescore of
    PostgreSQL read all events as Arrow (committed rows only: see complaints.recompute)."""
    dialect = tx.capabilities.dialect
    if dialect == "postgres":
        return PostgresCreditSql(tx, database_url)
    if dialect == "sqlite":
        return SqliteCreditSql(tx)
    raise ValueError(f"unsupported database dialect {dialect!r}")


# --- rescoring ------------------------------------------------------------------------------


async def rescore(
    sql: CreditSql,
    conn: BaseDBAsyncClient,
    rules: Rules,
    merchant_ids: Collection[int] | None,
    *,
    as_of: datetime,
    cause: str,
    new_events: dict[int, list[int]] | None = None,
    usccs: dict[int, str] | None = None,
) -> list[CreditChanged]:
    """Score the merchants (all when ``merchant_ids`` is None) from all their events, record
    each change of score, class or listing, and announce it — on ``conn``, in its transaction."""
    new_events = new_events or {}
    frame = await sql.events(merchant_ids)
    scores = credit_scores(frame, rules, as_of, key="merchant_id")
    old = await sql.standings(merchant_ids)
    start = start_state(rules)
    joined = scores.join(old, on="merchant_id", how="full", coalesce=True).with_columns(
        pl.col("score").fill_null(start.score),
        pl.col("class").fill_null(start.risk_class),
        pl.col("listed_abnormal").fill_null(False),
        pl.col("listed_serious").fill_null(False),
        pl.col("old_score").fill_null(start.score),
        pl.col("old_class").fill_null(start.risk_class),
        pl.col("old_abnormal").fill_null(False),
        pl.col("old_serious").fill_null(False),
    )
    changed = joined.filter(
        (pl.col("score") != pl.col("old_score"))
        | (pl.col("class") != pl.col("old_class"))
        | (pl.col("listed_abnormal") != pl.col("old_abnormal"))
        | (pl.col("listed_serious") != pl.col("old_serious"))
    ).sort("merchant_id")
    if changed.is_empty():
        return []
    ids = changed["merchant_id"].to_list()
    if usccs is None or any(i not in usccs for i in ids):
        usccs = await sql.usccs(ids)
    # Column by column, not row by row: a daily recompute changes tens of thousands.
    col = {name: changed[name].to_list() for name in changed.columns}
    event_ids = [tuple(new_events.get(mid, ())) for mid in ids]
    n = len(ids)
    standings = list(
        zip(
            ids,
            col["score"],
            col["class"],
            col["listed_abnormal"],
            col["listed_serious"],
            col["external_class"],
            [rules.version] * n,
            [as_of] * n,
            strict=True,
        )
    )
    history = list(
        zip(
            ids,
            [as_of] * n,
            col["old_score"],
            col["old_class"],
            col["score"],
            col["class"],
            [cause] * n,
            [json.dumps(list(e)) for e in event_ids],
            [rules.version] * n,
            strict=True,
        )
    )
    announced = [
        CreditChanged(
            mid,
            usccs[mid],
            CreditState(old_score, old_class, old_abnormal, old_serious),
            CreditState(score, risk_class, abnormal, serious),
            cause,
            these_events,
            as_of,
        )
        for (
            mid,
            old_score,
            old_class,
            old_abnormal,
            old_serious,
            score,
            risk_class,
            abnormal,
            serious,
            these_events,
        ) in zip(
            ids,
            col["old_score"],
            col["old_class"],
            col["old_abnormal"],
            col["old_serious"],
            col["score"],
            col["class"],
            col["listed_abnormal"],
            col["listed_serious"],
            event_ids,
            strict=True,
        )
    ]
    await sql.upsert_standings(standings)
    await sql.insert_changes(history)
    await events.emit(conn, announced)
    return announced


@dataclass(frozen=True, slots=True)
class EventsStored:
    stored: int
    unchanged: int
    changes: list[CreditChanged]


async def replace_derived_events(
    sql: CreditSql,
    tx: BaseDBAsyncClient,
    wanted: Sequence[EventRow],
    refs: dict[str, list[str]],
    rules: Rules,
    now: datetime,
) -> list[CreditChanged]:
    """Make the stored events derived from some records (complaints, spot checks) exactly
    ``wanted``: of the events under ``refs`` (source → external references those records may
    have given rise to), the ones no longer wanted or no longer alike are withdrawn, the
    missing ones stored, and the merchants concerned rescored."""
    wanted_keys = {e.key: e for e in wanted}
    stale: list[int] = []
    stale_merchants: set[int] = set()
    for source, source_refs in refs.items():
        stored: list[CreditEvent] = []
        for chunk in chunked(list(source_refs)):
            stored += await CreditEvent.filter(source=source, external_ref__in=chunk).using_db(tx)
        for e in stored:
            want = wanted_keys.get((e.source, e.external_ref))
            row = EventRow(
                e.merchant_id, e.kind, e.occurred_at, e.source, e.external_ref, e.note, None
            )
            if want is None or want.content() != row.content():
                stale.append(e.id)
                stale_merchants.add(e.merchant_id)
    if stale:
        for ids in chunked(stale):
            await CreditEvent.filter(id__in=ids).using_db(tx).delete()
    if not wanted and not stale_merchants:
        return []
    result = await store_events(sql, tx, wanted, rules, now, extra_rescore=stale_merchants)
    return result.changes


async def store_events(
    sql: CreditSql,
    conn: BaseDBAsyncClient,
    rows: Sequence[EventRow],
    rules: Rules,
    now: datetime,
    *,
    extra_rescore: Collection[int] = (),
    usccs: dict[int, str] | None = None,
    lock: Collection[int] | None = None,
) -> EventsStored:
    """Append the new events, skip exact replays, refuse a known key with other content, and
    rescore the merchants concerned. Raises InvalidInput naming each refused item.

    ``lock``: merchants to lock after the insert and before rescoring (the caller holds no
    lock yet). Rescoring then waits only for batches rescoring the same merchants, and sees
    their events once they commit.

    The insert comes first and skips stored keys; only the keys it skipped are read back and
    compared. A fresh batch, the common case, then costs no lookup of its keys, and a key
    another batch stored meanwhile is checked like any stored one: the insert waited for that
    batch to commit."""
    inserted = await sql.insert_events(rows, now) if rows else []
    skipped = {r.key for r in rows} - {(source, ref) for _, _, source, ref in inserted}
    if skipped:
        _refuse_conflicts(rows, await sql.existing(skipped))
    if lock is not None:
        await sql.lock(lock)
    new_events: dict[int, list[int]] = {}
    for event_id, merchant_id, _, _ in inserted:
        new_events.setdefault(merchant_id, []).append(event_id)
    touched = set(new_events) | set(extra_rescore)
    changes = (
        await rescore(
            sql,
            conn,
            rules,
            sorted(touched),
            as_of=now,
            cause="events",
            new_events=new_events,
            usccs=usccs,
        )
        if touched
        else []
    )
    return EventsStored(len(inserted), len(rows) - len(inserted), changes)


def _refuse_conflicts(rows: Sequence[EventRow], stored: dict[tuple[str, str], EventRow]) -> None:
    errors = [
        FieldError(f"events[{i}].external_ref", "was already recorded with different content")
        for i, r in enumerate(rows)
        if r.key in stored and stored[r.key].content() != r.content()
    ]
    if errors:
        raise InvalidInput(
            f"{len(errors)} item(s) conflict with stored events; nothing was stored", errors
        )


async def ingest_events(
    items: Sequence[CreditEventIn],
    *,
    actor: Actor,
    rules: Rules,
    now: datetime | None = None,
    origin: str = "api",
    dry_run: bool = False,
) -> IngestResult:
    """One batch from a credit feed: all of it or none of it, audited."""
    feed = EventFeed(items, rules, now or datetime.now(UTC))
    return await ingest(feed, actor=actor, origin=origin, dry_run=dry_run)


@dataclass(frozen=True, slots=True)
class CheckedEvents:
    """The rows, with the merchants the check found: rescoring names each by its USCC in what
    it announces, and need not look them up again."""

    sql: CreditSql
    rows: list[EventRow]
    merchant_ids: dict[str, int]  # by USCC


@dataclass(frozen=True, slots=True)
class EventFeed(Feed[CheckedEvents]):
    """Credit events lock only the merchants they touch, and only once the batch is known good
    (on PostgreSQL once it is inserted: see CreditSql.insert_before_lock), so batches about
    other merchants go on side by side."""

    action = "credit.ingest"
    subject = "credit_events"
    counts = ("received", "stored", "unchanged", "merchants_changed")

    items: Sequence[CreditEventIn]
    rules: Rules
    now: datetime

    async def check(self, tx: BaseDBAsyncClient) -> tuple[CheckedEvents, list[FieldError]]:
        sql = credit_sql(tx)
        ids = await sql.merchant_ids({i.uscc for i in self.items})
        rows, errors = check_events(self.items, ids, self.rules, self.now)
        return CheckedEvents(sql, rows, ids), errors

    async def write(self, tx: BaseDBAsyncClient, checked: CheckedEvents) -> IngestResult:
        sql = checked.sql
        merchants = {r.merchant_id for r in checked.rows}
        late = sql.insert_before_lock
        if not late:
            await sql.lock(merchants)
        usccs = {v: k for k, v in checked.merchant_ids.items()}
        stored = await store_events(
            sql,
            tx,
            checked.rows,
            self.rules,
            self.now,
            usccs=usccs,
            lock=merchants if late else None,
        )
        return IngestResult(
            len(self.items), stored.stored, 0, stored.unchanged, len(stored.changes)
        )
