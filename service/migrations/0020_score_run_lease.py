"""A score run's lease (issue 29): the process computing a run renews ``lease_until`` and
names itself in ``held_by``; a run still running past its lease was cut short and is marked
failed (scoring/satisfaction/runs.py).

Runs already running when this applies get a lease of ten minutes from now: one whose process
still computes (code from before this migration, which does not renew) has that long to
finish; one whose process died long ago — stuck as running, the bug — is marked failed then.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

LEASE = timedelta(minutes=10)  # scoring.satisfaction.runs.LEASE when this was written
GRANT = {
    "postgres": "UPDATE score_run SET lease_until = $1, held_by = $2 WHERE status = 'running'",
    "sqlite": "UPDATE score_run SET lease_until = ?, held_by = ? WHERE status = 'running'",
}


async def _lease_running(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    dialect = "postgres" if client.capabilities.dialect == "postgres" else "sqlite"
    await client.execute_query(
        GRANT[dialect], [datetime.now(UTC) + LEASE, "a process from before the upgrade"]
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0019_one_unresolved_application")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ScoreRun",
            name="held_by",
            field=fields.CharField(null=True, max_length=100),
        ),
        ops.AddField(
            model_name="ScoreRun",
            name="lease_until",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(_lease_running, ops.RunPython.noop),
    ]
