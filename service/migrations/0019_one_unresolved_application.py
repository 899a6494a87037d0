"""One unresolved application per subject, held by the database (issue 29).

Simultaneous submissions each checked that the subject had no open application, then each
inserted one. A partial unique index on (kind, subject_code) over the applications that are
not final (refused, issued) lets only the first in. A blocked application is unresolved too,
so applying again cannot clear an upheld objection.

Subjects that the race already gave several unresolved applications keep one: the blocked
one if any (an upheld objection must stay in force), else the furthest along, else the
oldest; the others are refused, with the reason and a step on their timeline. Both
PostgreSQL and SQLite have partial indexes. The statuses are spelled out here, not imported,
so this migration means the same thing whatever the models later become.
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "uniq_cert_application_unresolved"
FINAL = "('refused', 'issued')"
# Which of a subject's unresolved applications is kept: the lowest rank, then the oldest.
RANK = {"blocked": 0, "in_notice": 1, "approved": 2, "under_review": 3, "submitted": 4}
ACTOR = "system:migration"
REASON = (
    "Closed on upgrade: application {kept} of the same subject was already open"
    " (one unresolved application per subject)"
)
REFUSE = {
    "postgres": "UPDATE cert_application SET status = 'refused', decided_at = $1,"
    " decided_by = $2, decision_reason = $3 WHERE id = $4",
    "sqlite": "UPDATE cert_application SET status = 'refused', decided_at = ?,"
    " decided_by = ?, decision_reason = ? WHERE id = ?",
}
STEP = {
    "postgres": "INSERT INTO cert_application_event"
    " (application_id, at, old_status, new_status, actor, reason)"
    " VALUES ($1, $2, $3, 'refused', $4, $5)",
    "sqlite": "INSERT INTO cert_application_event"
    " (application_id, at, old_status, new_status, actor, reason)"
    " VALUES (?, ?, ?, 'refused', ?, ?)",
}


def _surplus(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Each unresolved application to refuse, with the id of the one its subject keeps."""
    by_subject: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_subject[(row["kind"], row["subject_code"])].append(row)
    surplus = []
    for group in by_subject.values():
        kept = min(group, key=lambda r: (RANK.get(r["status"], len(RANK)), r["id"]))
        surplus += [(r, kept["id"]) for r in group if r is not kept]
    return surplus


async def _one_per_subject(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    dialect = "postgres" if client.capabilities.dialect == "postgres" else "sqlite"
    rows = await client.execute_query_dict(
        "SELECT id, kind, subject_code, status FROM cert_application"
        f" WHERE status NOT IN {FINAL} ORDER BY id"
    )
    now = datetime.now(UTC)
    for row, kept in _surplus(rows):
        reason = REASON.format(kept=kept)
        await client.execute_query(REFUSE[dialect], [now, ACTOR, reason, row["id"]])
        await client.execute_query(STEP[dialect], [row["id"], now, row["status"], ACTOR, reason])
    await client.execute_script(
        f"CREATE UNIQUE INDEX {INDEX} ON cert_application (kind, subject_code)"
        f" WHERE status NOT IN {FINAL}"
    )


async def _drop_index(apps: Any, schema_editor: Any) -> None:
    await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("models", "0018_yearly_review")]

    initial = False

    operations = [ops.RunPython(_one_per_subject, _drop_index)]
