"""Consumer advisories (消费提示) and the merchants and areas they name. The category enum is
copied here, not imported, so this migration means the same thing whatever advisories/models.py
later becomes."""

from enum import StrEnum

from tortoise import migrations
from tortoise.migrations import operations as ops


class AdvisoryCategory(StrEnum):
    PRICE = "price"
    QUALITY = "quality"
    SAFETY = "safety"
    PREPAID = "prepaid"
    ONLINE = "online"
    TRAVEL = "travel"
    FRAUD = "fraud"
    OTHER = "other"

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0014_official_district')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Advisory',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('title', fields.CharField(max_length=100)),
                ('text', fields.TextField(unique=False)),
                ('category', fields.CharEnumField(description='PRICE: price\nQUALITY: quality\nSAFETY: safety\nPREPAID: prepaid\nONLINE: online\nTRAVEL: travel\nFRAUD: fraud\nOTHER: other', enum_type=AdvisoryCategory, max_length=16)),
                ('valid_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', null=True, db_constraint=True, to_field='id', related_name='advisories', on_delete=OnDelete.RESTRICT)),
                ('published_by', fields.CharField(max_length=100)),
                ('published_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('withdrawn_by', fields.CharField(null=True, max_length=100)),
                ('withdrawn_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'consumer_advisory', 'app': 'models', 'indexes': [Index(fields=['valid_from'])], 'pk_attr': 'id', 'table_description': 'What officials warn consumers of, for a period. Withdrawn, it is no longer shown but'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AdvisorySubject',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('advisory', fields.ForeignKeyField('models.Advisory', source_field='advisory_id', db_constraint=True, to_field='id', related_name='subjects', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharField(max_length=16)),
                ('code', fields.CharField(max_length=32)),
            ],
            options={'table': 'consumer_advisory_subject', 'app': 'models', 'unique_together': (('advisory', 'kind', 'code'),), 'indexes': [Index(fields=['kind', 'code'])], 'pk_attr': 'id', 'table_description': 'A merchant (by USCC) or an area (by code) an advisory is about.'},
            bases=['Model'],
        ),
    ]
