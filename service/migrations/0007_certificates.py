from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from certificates.models import Status
from certificates.policy import Kind
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0006_credit_event_covering_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Certificate',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('serial', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharEnumField(description='MERCHANT: merchant\nSTREET: street\nSCENIC_SPOT: scenic_spot', enum_type=Kind, max_length=16)),
                ('subject_code', fields.CharField(db_index=True, max_length=32)),
                ('subject_name', fields.CharField(max_length=200)),
                ('policy_version', fields.CharField(max_length=32)),
                ('score_run_id', fields.IntField(null=True)),
                ('basis', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('issued_by', fields.CharField(max_length=100)),
                ('issued_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(default=Status.ACTIVE, description='ACTIVE: active\nSUSPENDED: suspended\nREVOKED: revoked\nEXPIRED: expired', enum_type=Status, max_length=16)),
                ('status_reason', fields.CharField(null=True, max_length=64)),
                ('status_changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('grace_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('pdf_sha256', fields.CharField(null=True, max_length=64)),
                ('is_demo', fields.BooleanField(default=False)),
            ],
            options={'table': 'certificate', 'app': 'models', 'indexes': [Index(fields=['kind', 'status'])], 'pk_attr': 'id', 'table_description': 'One certificate: what it certifies, on what evidence, and its status now.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatusChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('certificate', fields.ForeignKeyField('models.Certificate', source_field='certificate_id', db_constraint=True, to_field='id', related_name='changes', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('old_status', fields.CharEnumField(null=True, description='ACTIVE: active\nSUSPENDED: suspended\nREVOKED: revoked\nEXPIRED: expired', enum_type=Status, max_length=16)),
                ('new_status', fields.CharEnumField(description='ACTIVE: active\nSUSPENDED: suspended\nREVOKED: revoked\nEXPIRED: expired', enum_type=Status, max_length=16)),
                ('reason', fields.CharField(max_length=64)),
                ('note', fields.TextField(default='', unique=False)),
                ('actor', fields.CharField(max_length=100)),
                ('evidence', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'certificate_status_change', 'app': 'models', 'indexes': [Index(fields=['certificate_id', 'at'])], 'pk_attr': 'id', 'table_description': 'Every change of a status, with who or what caused it and the evidence.'},
            bases=['Model'],
        ),
    ]
