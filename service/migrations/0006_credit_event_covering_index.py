"""PostgreSQL: the index that rescoring reads carries the event's kind and class.

Rescoring a batch reads every event of the merchants it touches; with the kind and class in
the index (INCLUDE), that read is an index-only scan instead of a heap fetch per event,
scattered over the table (0.2 s → 0.06 s for 5,000 merchants with 105,000 events, see
bench/credit.py). Same name and key columns as the index the model declares, so the models
and migrations still agree; SQLite keeps the plain index.
"""

from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops

INDEX = "idx_credit_even_merchan_23c9e8"


async def _covering(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_script(
        f"DROP INDEX IF EXISTS {INDEX}; CREATE INDEX {INDEX} ON credit_event"
        " (merchant_id, occurred_at) INCLUDE (kind, risk_class)"
    )


async def _plain(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_script(
        f"DROP INDEX IF EXISTS {INDEX}; CREATE INDEX {INDEX} ON credit_event"
        " (merchant_id, occurred_at)"
    )


class Migration(migrations.Migration):
    dependencies = [("models", "0005_credit")]

    initial = False

    operations = [ops.RunPython(_covering, _plain)]
