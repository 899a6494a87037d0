"""One open correction request per complaint entry, held by the database (issue 31).

A merchant may have one request pending about an entry, and none once one was accepted (the
entry is corrected for good). corrections.request holds this with a lock (kernel.db.serialise)
around its check and insert; a partial unique index on complaint_id over the requests that are
pending or accepted holds it against any writer (raw SQL, as in 0019 and 0023: Tortoise's
partial indexes know only "=" conditions; PostgreSQL and SQLite both have them).

Should a complaint already have several such requests, it keeps one: its accepted one if
any, else its oldest pending; the others are refused, saying why. The statuses are spelled
out here, not imported, so this migration means the same thing whatever the models become.
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "uniq_complaint_correction_open"
OPEN = "('pending', 'accepted')"
ACTOR = "system:migration"
NOTE = "Closed on upgrade: request {kept} about the same entry was already open or accepted"
REFUSE = {
    "postgres": "UPDATE complaint_correction SET status = 'refused', decided_at = $1,"
    " decided_by = $2, decision_note = $3 WHERE id = $4",
    "sqlite": "UPDATE complaint_correction SET status = 'refused', decided_at = ?,"
    " decided_by = ?, decision_note = ? WHERE id = ?",
}


def _surplus(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """(id to refuse, id its complaint keeps): the accepted one first, else the oldest."""
    by_complaint: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_complaint[row["complaint_id"]].append(row)
    out = []
    for group in by_complaint.values():
        kept = min(group, key=lambda r: (r["status"] != "accepted", r["id"]))
        out += [(r["id"], kept["id"]) for r in group if r is not kept]
    return out


async def _one_open(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    dialect = "postgres" if client.capabilities.dialect == "postgres" else "sqlite"
    rows = await client.execute_query_dict(
        "SELECT id, complaint_id, status FROM complaint_correction"
        " WHERE status IN ('pending', 'accepted')"
        " ORDER BY id"
    )
    now = datetime.now(UTC)
    for surplus, kept in _surplus(rows):
        await client.execute_query(REFUSE[dialect], [now, ACTOR, NOTE.format(kept=kept), surplus])
    await client.execute_script(
        f"CREATE UNIQUE INDEX {INDEX} ON complaint_correction (complaint_id) WHERE status IN {OPEN}"
    )


async def _drop_index(apps: Any, schema_editor: Any) -> None:
    await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("models", "0027_staff_sign_in")]

    initial = False

    operations = [ops.RunPython(_one_open, _drop_index)]
