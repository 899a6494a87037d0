"""The periodic jobs' runs: one row per job and scheduled slot, whose uniqueness is the lease
that lets any number of workers share one schedule (service/jobs.py).

The outcome enum is copied here, not imported, so this migration means the same thing whatever
service/models.py later becomes.
"""

import functools
from enum import StrEnum
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class JobOutcome(StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"


class Migration(migrations.Migration):
    dependencies = [("models", "0011_status_index")]

    initial = False

    operations = [
        ops.CreateModel(
            name="JobRun",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("job", fields.CharField(max_length=32)),
                ("slot", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("worker", fields.CharField(max_length=100)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("lease_until", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("outcome", fields.CharEnumField(description="RUNNING: running\nOK: ok\nFAILED: failed", enum_type=JobOutcome, max_length=16)),
                ("error", fields.TextField(null=True, unique=False)),
                ("details", fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads)),
            ],
            options={
                "table": "job_run",
                "app": "models",
                "unique_together": (("job", "slot"),),
                "pk_attr": "id",
                "table_description": "One run of a periodic job for one scheduled slot (service/jobs.py).",
            },
            bases=["Model"],
        ),
    ]
