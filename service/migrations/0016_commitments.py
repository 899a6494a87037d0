"""Merchants' commitments (承诺) with their history, and the complaint's broken_commitment
marker (nullable: no backfill). The kind enum is copied here, not imported, so this migration
means the same thing whatever commitments/models.py later becomes."""

from enum import StrEnum

from tortoise import migrations
from tortoise.migrations import operations as ops


class CommitmentKind(StrEnum):
    RETURNS = "returns"
    PAY_FIRST = "pay_first"
    MARKED_PRICES = "marked_prices"

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0015_advisories')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Commitment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='commitments', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharEnumField(description='RETURNS: returns\nPAY_FIRST: pay_first\nMARKED_PRICES: marked_prices', enum_type=CommitmentKind, max_length=16)),
                ('returns_days', fields.IntField(null=True)),
                ('exclusions', fields.TextField(default='', unique=False)),
                ('other_branches', fields.BooleanField(default=False)),
                ('valid_from', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('valid_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('declared_by', fields.CharField(max_length=100)),
                ('declared_as', fields.CharField(max_length=16)),
                ('declared_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('ended_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ended_by', fields.CharField(null=True, max_length=100)),
                ('replaces_id', fields.IntField(null=True)),
            ],
            options={'table': 'merchant_commitment', 'app': 'models', 'indexes': [Index(fields=['merchant_id', 'kind']), Index(fields=['kind', 'ended_at'])], 'pk_attr': 'id', 'table_description': 'What a merchant promises the public from valid_from until valid_until (open-ended when'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Complaint',
            name='broken_commitment',
            field=fields.CharField(null=True, max_length=16),
        ),
    ]
