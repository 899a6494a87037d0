"""The 12315 intake made whole: consultations and reports beside complaints, channel, handling
body and district, resolution mode, follow-up visit, parties not in the register; counter
visit tallies; Red Shield spot-check campaigns, rounds and batches.

Existing complaints were all complaints handled by the regulator, in their merchant's
district: the new columns that may not be empty are added nullable, filled in so, then made not null. The enums are
copied here, not imported, so this migration means the same thing whatever
scoring/credit/models.py later becomes.
"""

from enum import StrEnum
from typing import Any

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops


class IntakeKind(StrEnum):
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    REPORT = "report"


class Channel(StrEnum):
    HOTLINE = "hotline"
    WEB = "web"
    WECHAT = "wechat"
    SMS = "sms"
    QQ = "qq"
    WALK_IN = "walk_in"
    LETTER = "letter"
    OTHER = "other"


class Handler(StrEnum):
    CONSUMER_ASSOCIATION = "consumer_association"
    REGULATOR = "regulator"


class Resolution(StrEnum):
    MEDIATED = "mediated"
    MERCHANT_ODR = "merchant_odr"
    PEOPLE_MEDIATION = "people_mediation"
    COURT_MEDIATION = "court_mediation"
    WITHDRAWN = "withdrawn"
    REFUSED = "refused"
    TERMINATED = "terminated"


class Followup(StrEnum):
    SATISFIED = "satisfied"
    BASICALLY_SATISFIED = "basically_satisfied"
    DISSATISFIED = "dissatisfied"
    NOT_REACHED = "not_reached"


BACKFILL = (
    "UPDATE complaint SET kind = 'complaint', handled_by = 'regulator', party_name = '',"
    " party_address = '',"
    " handling_district_id = (SELECT m.district_id FROM merchant m WHERE m.id = complaint.merchant_id)"
)


async def _backfill(apps: Any, schema_editor: Any) -> None:
    await schema_editor.client.execute_script(BACKFILL)

class Migration(migrations.Migration):
    dependencies = [('models', '0012_job_run')]

    initial = False

    operations = [
        ops.CreateModel(
            name='CounterVisit',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('source', fields.CharField(max_length=64)),
                ('external_id', fields.CharField(max_length=128)),
                ('day', fields.DateField()),
                ('handled_by', fields.CharEnumField(default=Handler.REGULATOR, description='CONSUMER_ASSOCIATION: consumer_association\nREGULATOR: regulator', enum_type=Handler, max_length=24)),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', null=True, db_constraint=True, to_field='id', related_name='counter_visits', on_delete=OnDelete.RESTRICT)),
                ('visits', fields.IntField(default=0)),
                ('consultations', fields.IntField(default=0)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'counter_visit', 'app': 'models', 'unique_together': (('source', 'external_id'),), 'indexes': [Index(fields=['day'])], 'pk_attr': 'id', 'table_description': 'A tally of people received in person (接待来访、咨询) on one day at one desk: bureaus'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SpotCheckCampaign',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('year', fields.IntField()),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', null=True, db_constraint=True, to_field='id', related_name='spot_check_campaigns', on_delete=OnDelete.RESTRICT)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'spot_check_campaign', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A Red Shield (红盾) quality campaign: rounds of sampling goods in circulation.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SpotCheckRound',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('campaign', fields.ForeignKeyField('models.SpotCheckCampaign', source_field='campaign_id', db_constraint=True, to_field='id', related_name='rounds', on_delete=OnDelete.CASCADE)),
                ('number', fields.IntField()),
                ('held_on', fields.DateField()),
            ],
            options={'table': 'spot_check_round', 'app': 'models', 'unique_together': (('campaign', 'number'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SpotCheckBatch',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('round', fields.ForeignKeyField('models.SpotCheckRound', source_field='round_id', db_constraint=True, to_field='id', related_name='batches', on_delete=OnDelete.CASCADE)),
                ('batch_no', fields.CharField(max_length=64)),
                ('category', fields.CharField(max_length=64)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', null=True, db_constraint=True, to_field='id', related_name='spot_check_batches', on_delete=OnDelete.RESTRICT)),
                ('party_name', fields.CharField(default='', max_length=200)),
                ('party_uscc', fields.CharField(null=True, db_index=True, max_length=18)),
                ('failed', fields.BooleanField(default=False)),
                ('case_opened', fields.BooleanField(default=False)),
            ],
            options={'table': 'spot_check_batch', 'app': 'models', 'unique_together': (('round', 'batch_no'),), 'pk_attr': 'id', 'table_description': 'One batch of goods sampled in a round. A failed batch names the merchant it was taken'},
            bases=['Model'],
        ),
        ops.AlterModelOptions(
            name='Complaint',
            options={'table': 'complaint', 'app': 'models', 'unique_together': (('source', 'external_id'),), 'indexes': [Index(fields=['received_at']), Index(fields=['merchant_id', 'received_at'])], 'pk_attr': 'id', 'table_description': 'One record of the 12315 intake — a consultation, a complaint or a report — as the'},
        ),
        ops.AlterField(
            model_name='Complaint',
            name='accept_due',
            field=fields.DateField(null=True),
        ),
        ops.AlterField(
            model_name='Complaint',
            name='merchant',
            field=fields.ForeignKeyField('models.Merchant', source_field='merchant_id', null=True, db_constraint=True, to_field='id', related_name='complaints', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Complaint',
            name='channel',
            field=fields.CharEnumField(null=True, description='HOTLINE: hotline\nWEB: web\nWECHAT: wechat\nSMS: sms\nQQ: qq\nWALK_IN: walk_in\nLETTER: letter\nOTHER: other', enum_type=Channel, max_length=16),
        ),
        ops.AddField(
            model_name='Complaint',
            name='followup',
            field=fields.CharEnumField(null=True, description='SATISFIED: satisfied\nBASICALLY_SATISFIED: basically_satisfied\nDISSATISFIED: dissatisfied\nNOT_REACHED: not_reached', enum_type=Followup, max_length=24),
        ),
        ops.AddField(
            model_name='Complaint',
            name='followup_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Complaint',
            name='handled_by',
            field=fields.CharEnumField(default=Handler.REGULATOR, description='CONSUMER_ASSOCIATION: consumer_association\nREGULATOR: regulator', enum_type=Handler, max_length=24, null=True),
        ),
        ops.AddField(
            model_name='Complaint',
            name='handling_district',
            field=fields.ForeignKeyField('models.Area', source_field='handling_district_id', null=True, db_constraint=True, to_field='id', related_name='handled_records', on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Complaint',
            name='kind',
            field=fields.CharEnumField(default=IntakeKind.COMPLAINT, description='CONSULTATION: consultation\nCOMPLAINT: complaint\nREPORT: report', enum_type=IntakeKind, max_length=16, null=True),
        ),
        ops.AddField(
            model_name='Complaint',
            name='party_address',
            field=fields.CharField(default='', max_length=300, null=True),
        ),
        ops.AddField(
            model_name='Complaint',
            name='party_name',
            field=fields.CharField(default='', max_length=200, null=True),
        ),
        ops.AddField(
            model_name='Complaint',
            name='party_uscc',
            field=fields.CharField(null=True, db_index=True, max_length=18),
        ),
        ops.AddField(
            model_name='Complaint',
            name='resolution',
            field=fields.CharEnumField(null=True, description='MEDIATED: mediated\nMERCHANT_ODR: merchant_odr\nPEOPLE_MEDIATION: people_mediation\nCOURT_MEDIATION: court_mediation\nWITHDRAWN: withdrawn\nREFUSED: refused\nTERMINATED: terminated', enum_type=Resolution, max_length=24),
        ),
        ops.RunPython(_backfill, ops.RunPython.noop),
        ops.AlterField(
            model_name='Complaint',
            name='party_name',
            field=fields.CharField(default='', max_length=200),
        ),
        ops.AlterField(
            model_name='Complaint',
            name='party_address',
            field=fields.CharField(default='', max_length=300),
        ),
        ops.AlterField(
            model_name='Complaint',
            name='kind',
            field=fields.CharEnumField(default=IntakeKind.COMPLAINT, description='CONSULTATION: consultation\nCOMPLAINT: complaint\nREPORT: report', enum_type=IntakeKind, max_length=16),
        ),
        ops.AlterField(
            model_name='Complaint',
            name='handled_by',
            field=fields.CharEnumField(default=Handler.REGULATOR, description='CONSUMER_ASSOCIATION: consumer_association\nREGULATOR: regulator', enum_type=Handler, max_length=24),
        ),
    ]
