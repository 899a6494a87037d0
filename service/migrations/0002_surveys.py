from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from surveys.models import FlagKind, FlagStatus, TargetKind
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Survey',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('slug', fields.CharField(unique=True, max_length=64)),
                ('title_zh', fields.CharField(max_length=200)),
                ('title_en', fields.CharField(max_length=200)),
                ('target_kind', fields.CharEnumField(description='MERCHANT: merchant\nSTREET: street\nSCENIC_SPOT: scenic_spot', enum_type=TargetKind, max_length=16)),
                ('opens_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closes_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('period_days', fields.IntField(default=30)),
                ('is_demo', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'survey', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Response',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('survey', fields.ForeignKeyField('models.Survey', source_field='survey_id', db_constraint=True, to_field='id', related_name='responses', on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('target_kind', fields.CharEnumField(description='MERCHANT: merchant\nSTREET: street\nSCENIC_SPOT: scenic_spot', enum_type=TargetKind, max_length=16)),
                ('target_code', fields.CharField(max_length=32)),
                ('client_submission_id', fields.UUIDField(unique=True)),
                ('started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('submitted_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('duration_ms', fields.IntField(null=True)),
                ('device_hash', fields.CharField(null=True, max_length=64)),
                ('ip_hash', fields.CharField(null=True, max_length=64)),
                ('invited', fields.BooleanField(default=False)),
                ('channel', fields.CharField(default='api', max_length=16)),
                ('excluded', fields.BooleanField(default=False)),
                ('is_demo', fields.BooleanField(default=False)),
            ],
            options={'table': 'response', 'app': 'models', 'indexes': [Index(fields=['survey_id', 'target_code', 'device_hash']), Index(fields=['target_code', 'ip_hash', 'submitted_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Answer',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('response', fields.ForeignKeyField('models.Response', source_field='response_id', db_constraint=True, to_field='id', related_name='answers', on_delete=OnDelete.CASCADE)),
                ('question_key', fields.CharField(max_length=64)),
                ('value_num', fields.FloatField(null=True)),
                ('value_norm', fields.FloatField(null=True)),
                ('value_text', fields.TextField(null=True, unique=False)),
            ],
            options={'table': 'answer', 'app': 'models', 'indexes': [Index(fields=['response_id'])], 'pk_attr': 'id', 'table_description': 'One answer in long format: a number (and its 0–100 normalisation) or a text/choice.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InviteCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('survey', fields.ForeignKeyField('models.Survey', source_field='survey_id', db_constraint=True, to_field='id', related_name='invites', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('response', fields.ForeignKeyField('models.Response', source_field='response_id', null=True, db_constraint=True, to_field='id', related_name='invite', on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'invite_code', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ResponseFlag',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('response', fields.ForeignKeyField('models.Response', source_field='response_id', db_constraint=True, to_field='id', related_name='flags', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='SPEEDER: speeder\nSTRAIGHTLINER: straightliner\nDUPLICATE_DEVICE: duplicate_device\nBURST: burst', enum_type=FlagKind, max_length=24)),
                ('status', fields.CharEnumField(default=FlagStatus.RAISED, description='RAISED: raised\nCONFIRMED: confirmed\nCLEARED: cleared', enum_type=FlagStatus, max_length=16)),
                ('detail', fields.CharField(default='', max_length=200)),
                ('raised_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('decided_by', fields.CharField(null=True, max_length=100)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('reason', fields.CharField(null=True, max_length=500)),
            ],
            options={'table': 'response_flag', 'app': 'models', 'unique_together': (('response', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SurveyVersion',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('survey', fields.ForeignKeyField('models.Survey', source_field='survey_id', db_constraint=True, to_field='id', related_name='versions', on_delete=OnDelete.RESTRICT)),
                ('version', fields.IntField()),
                ('definition', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('content_hash', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'survey_version', 'app': 'models', 'unique_together': (('survey', 'version'),), 'pk_attr': 'id', 'table_description': 'A published version, never changed: an edit of the questions makes a new one.'},
            bases=['Model'],
        ),
    ]
