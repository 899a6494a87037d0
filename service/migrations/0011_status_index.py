"""Each certificate's fixed bit in the published status lists (W3C Bitstring Status List).

The column is added nullable, existing certificates get distinct random indexes (herd
privacy: an index says nothing about when or in what order a certificate was issued), then
it becomes unique and not null. The list size rule is copied here, not imported, so this
migration means the same thing whatever certificates/status_lists.py later becomes.
"""

import secrets
from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

MIN_BITS = 131_072  # 16 KiB, the spec's minimum
UPDATE_POSTGRES = "UPDATE certificate SET status_index = $1 WHERE id = $2"
UPDATE_SQLITE = "UPDATE certificate SET status_index = ? WHERE id = ?"


def _size(count: int) -> int:
    size = MIN_BITS
    while count > size // 2:
        size *= 2
    return size


async def _backfill(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    rows = await client.execute_query_dict("SELECT id FROM certificate ORDER BY id")
    if not rows:
        return
    indexes = secrets.SystemRandom().sample(range(_size(len(rows))), len(rows))
    postgres = client.capabilities.dialect == "postgres"
    await client.execute_many(
        UPDATE_POSTGRES if postgres else UPDATE_SQLITE,
        [[index, row["id"]] for index, row in zip(indexes, rows, strict=True)],
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0010_surge_flag")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Certificate",
            name="status_index",
            field=fields.IntField(null=True),
        ),
        ops.RunPython(_backfill, ops.RunPython.noop),
        ops.AlterField(
            model_name="Certificate",
            name="status_index",
            field=fields.IntField(unique=True),
        ),
    ]
