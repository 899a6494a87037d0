"""Credit repair (issue 31): a merchant's application to have a penalty or a listing stop
counting, its evidence files, and the moment an event was repaired (kept, never deleted).

One pending application per credit event is held by the database: a partial unique index
(raw SQL, as in 0019: Tortoise's partial indexes know only "=" conditions, and both
PostgreSQL and SQLite have them). The enum is copied here, not imported, so this migration
means the same thing whatever scoring/credit/models.py later becomes."""

from enum import StrEnum
from typing import Any

from tortoise import migrations
from tortoise.migrations import operations as ops


class RepairStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"


INDEX = "uniq_credit_repair_pending"
# Rescoring now reads only unrepaired events: the covering index of 0006 carries
# repaired_at too, so that read stays an index-only scan on PostgreSQL.
COVERING = "idx_credit_even_merchan_23c9e8"


async def _one_pending(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    await client.execute_script(
        f"CREATE UNIQUE INDEX {INDEX} ON credit_repair (event_id) WHERE status = 'pending'"
    )
    if client.capabilities.dialect == "postgres":
        await client.execute_script(
            f"DROP INDEX IF EXISTS {COVERING}; CREATE INDEX {COVERING} ON credit_event"
            " (merchant_id, occurred_at) INCLUDE (kind, risk_class, repaired_at)"
        )


async def _drop_index(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    await client.execute_script(f"DROP INDEX IF EXISTS {INDEX}")
    if client.capabilities.dialect == "postgres":
        await client.execute_script(
            f"DROP INDEX IF EXISTS {COVERING}; CREATE INDEX {COVERING} ON credit_event"
            " (merchant_id, occurred_at) INCLUDE (kind, risk_class)"
        )

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0022_disputes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CreditRepair',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='credit_repairs', on_delete=OnDelete.RESTRICT)),
                ('event', fields.ForeignKeyField('models.CreditEvent', source_field='event_id', db_constraint=True, to_field='id', related_name='repairs', on_delete=OnDelete.RESTRICT)),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', db_constraint=True, to_field='id', related_name='credit_repairs', on_delete=OnDelete.RESTRICT)),
                ('applicant', fields.ForeignKeyField('models.Account', source_field='applicant_id', null=True, db_constraint=True, to_field='id', related_name='credit_repairs', on_delete=OnDelete.SET_NULL)),
                ('applicant_name', fields.CharField(max_length=100)),
                ('correction', fields.TextField(unique=False)),
                ('signatory', fields.CharField(max_length=100)),
                ('pledge_version', fields.CharField(max_length=32)),
                ('pledge_sha256', fields.CharField(max_length=64)),
                ('status', fields.CharEnumField(db_index=True, description='PENDING: pending\nAPPROVED: approved\nREFUSED: refused', enum_type=RepairStatus, max_length=16)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decide_by', fields.DateField()),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(null=True, max_length=100)),
                ('decision_reason', fields.TextField(default='', unique=False)),
                ('is_demo', fields.BooleanField(default=False)),
            ],
            options={'table': 'credit_repair', 'app': 'models', 'indexes': [Index(fields=['merchant_id', 'status']), Index(fields=['district_id', 'status']), Index(fields=['event_id', 'status'])], 'pk_attr': 'id', 'table_description': "A merchant's application for credit repair (信用修复) of one credit event — a penalty"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditRepairFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('repair', fields.ForeignKeyField('models.CreditRepair', source_field='repair_id', db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=200)),
                ('media_type', fields.CharField(max_length=32)),
                ('size', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_repair_file', 'app': 'models', 'pk_attr': 'id', 'table_description': "A file of evidence for a repair, kept under the data directory by its content's hash."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='CreditEvent',
            name='repaired_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.RunPython(_one_pending, _drop_index),
    ]
