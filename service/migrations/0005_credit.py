from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from scoring.credit.models import ComplaintStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0004_area_merchant_figures')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Complaint',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharField(max_length=64)),
                ('external_id', fields.CharField(max_length=128)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='complaints', on_delete=OnDelete.RESTRICT)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('accepted_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('status', fields.CharEnumField(description='RECEIVED: received\nACCEPTED: accepted\nREJECTED: rejected\nMEDIATING: mediating\nCLOSED: closed\nTERMINATED: terminated', enum_type=ComplaintStatus, max_length=16)),
                ('category', fields.CharField(max_length=32)),
                ('amount_disputed_fen', fields.BigIntField(default=0)),
                ('amount_recovered_fen', fields.BigIntField(default=0)),
                ('upheld', fields.BooleanField(null=True)),
                ('accept_due', fields.DateField()),
                ('mediation_due', fields.DateField(null=True)),
                ('overdue_since', fields.DateField(null=True)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'complaint', 'app': 'models', 'unique_together': (('source', 'external_id'),), 'indexes': [Index(fields=['received_at']), Index(fields=['merchant_id', 'received_at'])], 'pk_attr': 'id', 'table_description': 'A complaint as the 12315 platform reports it. A feed resends a complaint as it moves'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditChange',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='credit_changes', on_delete=OnDelete.CASCADE)),
                ('changed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('old_score', fields.FloatField()),
                ('old_class', fields.CharField(max_length=1)),
                ('new_score', fields.FloatField()),
                ('new_class', fields.CharField(max_length=1)),
                ('cause', fields.CharField(max_length=16)),
                ('event_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('rules_version', fields.CharField(max_length=32)),
            ],
            options={'table': 'credit_change', 'app': 'models', 'indexes': [Index(fields=['merchant_id', 'changed_at'])], 'pk_attr': 'id', 'table_description': 'Every change of the score or class of a merchant, with the events that came with it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='credit_events', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=32)),
                ('occurred_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('source', fields.CharField(max_length=64)),
                ('external_ref', fields.CharField(max_length=128)),
                ('note', fields.TextField(default='', unique=False)),
                ('risk_class', fields.CharField(null=True, max_length=1)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'credit_event', 'app': 'models', 'unique_together': (('source', 'external_ref'),), 'indexes': [Index(fields=['merchant_id', 'occurred_at'])], 'pk_attr': 'id', 'table_description': 'One fact that moves the credit of a merchant. Facts do not change: a resend with the same'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CreditStanding',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.OneToOneField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='credit', on_delete=OnDelete.CASCADE)),
                ('score', fields.FloatField()),
                ('risk_class', fields.CharField(max_length=1)),
                ('abnormal_listed', fields.BooleanField(default=False)),
                ('serious_listed', fields.BooleanField(default=False)),
                ('external_class', fields.CharField(null=True, max_length=1)),
                ('rules_version', fields.CharField(max_length=32)),
                ('updated_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'credit_standing', 'app': 'models', 'indexes': [Index(fields=['risk_class'])], 'pk_attr': 'id', 'table_description': 'The current credit of a merchant. No row means no events yet, so the starting score.'},
            bases=['Model'],
        ),
    ]
