"""Complaint disclosure (issue 31): merchants' requests to correct an entry of their public
complaint record (申请更正). The enum is copied here, not imported, so this migration means
the same thing whatever scoring/disclosure/models.py later becomes."""

from enum import StrEnum

from tortoise import migrations
from tortoise.migrations import operations as ops


class CorrectionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0023_credit_repair')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ComplaintCorrection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('complaint', fields.ForeignKeyField('models.Complaint', source_field='complaint_id', db_constraint=True, to_field='id', related_name='corrections', on_delete=OnDelete.RESTRICT)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='complaint_corrections', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(description='PENDING: pending\nACCEPTED: accepted\nREFUSED: refused', enum_type=CorrectionStatus, max_length=16)),
                ('reason', fields.TextField(unique=False)),
                ('evidence', fields.TextField(unique=False)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('requested_by', fields.CharField(max_length=100)),
                ('due', fields.DateField()),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(null=True, max_length=100)),
                ('decision_note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'complaint_correction', 'app': 'models', 'indexes': [Index(fields=['merchant_id', 'status']), Index(fields=['complaint_id', 'status']), Index(fields=['status', 'due'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
