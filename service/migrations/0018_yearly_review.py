"""The yearly review (后评价) of certificate holders and its lines. The enums are copied here,
not imported, so this migration means the same thing whatever certificates/models.py later
becomes."""

import functools
from enum import StrEnum
from json import dumps, loads

from tortoise import migrations
from tortoise.migrations import operations as ops


class ReviewStatus(StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"


class Section(StrEnum):
    RETAINED = "retained"
    WITHDRAWN = "withdrawn"
    ENTERED = "entered"
    EXITED = "exited"
    IMPROVED = "improved"


class Kind(StrEnum):
    MERCHANT = "merchant"
    STREET = "street"
    SCENIC_SPOT = "scenic_spot"

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0017_applications')]

    initial = False

    operations = [
        ops.CreateModel(
            name='YearlyReview',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('year', fields.IntField(unique=True)),
                ('status', fields.CharEnumField(default=ReviewStatus.DRAFT, description='DRAFT: draft\nCONFIRMED: confirmed', enum_type=ReviewStatus, max_length=16)),
                ('policy_version', fields.CharField(max_length=32)),
                ('improved_by', fields.FloatField()),
                ('built_by', fields.CharField(max_length=100)),
                ('built_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('confirmed_by', fields.CharField(null=True, max_length=100)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('score_run_id', fields.IntField(null=True)),
                ('previous_run_id', fields.IntField(null=True)),
                ('is_demo', fields.BooleanField(default=False)),
            ],
            options={'table': 'yearly_review', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The yearly review (后评价) of one year: a draft officials check, then confirm, after'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReviewItem',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('review', fields.ForeignKeyField('models.YearlyReview', source_field='review_id', db_constraint=True, to_field='id', related_name='items', on_delete=OnDelete.CASCADE)),
                ('section', fields.CharEnumField(description='RETAINED: retained\nWITHDRAWN: withdrawn\nENTERED: entered\nEXITED: exited\nIMPROVED: improved', enum_type=Section, max_length=16)),
                ('serial', fields.CharField(max_length=32)),
                ('kind', fields.CharEnumField(description='MERCHANT: merchant\nSTREET: street\nSCENIC_SPOT: scenic_spot', enum_type=Kind, max_length=16)),
                ('code', fields.CharField(max_length=32)),
                ('name', fields.CharField(max_length=200)),
                ('reasons', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('detail', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('excluded', fields.BooleanField(default=False)),
                ('excluded_note', fields.TextField(default='', unique=False)),
                ('excluded_by', fields.CharField(null=True, max_length=100)),
                ('excluded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'yearly_review_item', 'app': 'models', 'indexes': [Index(fields=['review_id', 'section'])], 'pk_attr': 'id', 'table_description': 'One line of a review: a holder retained or withdrawn (with reason codes), a'},
            bases=['Model'],
        ),
    ]
