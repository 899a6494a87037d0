from tortoise import migrations
from tortoise.migrations import operations as ops
from certificates.models import Decision
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_outbox')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Reply',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('certificate', fields.ForeignKeyField('models.Certificate', source_field='certificate_id', db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.CASCADE)),
                ('change', fields.ForeignKeyField('models.StatusChange', source_field='change_id', db_constraint=True, to_field='id', related_name='replies', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('submitted_by', fields.CharField(max_length=100)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decision', fields.CharEnumField(null=True, description='UPHELD: upheld\nDISMISSED: dismissed', enum_type=Decision, max_length=16)),
                ('decision_note', fields.TextField(default='', unique=False)),
                ('decided_by', fields.CharField(null=True, max_length=100)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'certificate_reply', 'app': 'models', 'unique_together': (('change_id',),), 'pk_attr': 'id', 'table_description': "A holder's reply to a revocation or suspension (an appeal), and the official decision."},
            bases=['Model'],
        ),
    ]
