from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from scoring.satisfaction.models import RunStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0002_surveys')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ScoreRun',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('status', fields.CharEnumField(default=RunStatus.RUNNING, description='RUNNING: running\nDRAFT: draft\nPUBLISHED: published\nDISCARDED: discarded\nFAILED: failed', enum_type=RunStatus, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('created_by', fields.CharField(max_length=100)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('published_by', fields.CharField(null=True, max_length=100)),
                ('superseded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('discarded_reason', fields.CharField(null=True, max_length=500)),
                ('error', fields.TextField(null=True, unique=False)),
                ('window_since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('window_until', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('params', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('code_version', fields.CharField(default='', max_length=64)),
                ('counts', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('priors', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('timings', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('fingerprint', fields.CharField(default='', max_length=64)),
            ],
            options={'table': 'score_run', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One computation over a window. Drafts are reviewed, and a published run is what the public'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UnitScore',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('run', fields.ForeignKeyField('models.ScoreRun', source_field='run_id', db_constraint=True, to_field='id', related_name='scores', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('code', fields.CharField(max_length=32)),
                ('parent', fields.CharField(null=True, max_length=32)),
                ('n', fields.IntField()),
                ('n_excluded', fields.IntField(default=0)),
                ('mean', fields.FloatField(null=True)),
                ('sd', fields.FloatField(null=True)),
                ('ci_low', fields.FloatField(null=True)),
                ('ci_high', fields.FloatField(null=True)),
                ('score', fields.FloatField(null=True)),
                ('nps', fields.FloatField(null=True)),
                ('nps_se', fields.FloatField(null=True)),
                ('insufficient_data', fields.BooleanField()),
                ('rank', fields.IntField(null=True)),
                ('tie_group', fields.IntField(null=True)),
                ('dimensions', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'unit_score', 'app': 'models', 'unique_together': (('run', 'kind', 'code'),), 'indexes': [Index(fields=['run_id', 'kind', 'rank'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
