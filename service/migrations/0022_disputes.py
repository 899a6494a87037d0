"""Complaints filed online (issue 30): the dispute, its timeline, offer, evidence and
follow-up, and merchants' participation in online dispute resolution. The enums are copied
here, not imported, so this migration means the same thing whatever scoring/disputes/rules.py
and scoring/credit/models.py later become."""

import functools
from enum import StrEnum
from json import dumps, loads

from tortoise import migrations
from tortoise.migrations import operations as ops


class DisputeStatus(StrEnum):
    SUBMITTED = "submitted"
    WITH_MERCHANT = "with_merchant"
    OFFERED = "offered"
    SETTLED = "settled"
    ESCALATED = "escalated"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"


class Category(StrEnum):
    QUALITY = "quality"
    PRICE = "price"
    SERVICE = "service"
    CONTRACT = "contract"
    FALSE_ADVERTISING = "false_advertising"
    SAFETY = "safety"
    OTHER = "other"


class Want(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    APOLOGY = "apology"
    OTHER = "other"


class OfferKind(StrEnum):
    REFUND = "refund"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    EXPLANATION = "explanation"


class OfferAnswer(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class EscalationReason(StrEnum):
    NOT_PARTICIPATING = "not_participating"
    REFUSED = "refused"
    REJECTED = "rejected"
    DEADLINE = "deadline"
    UNANSWERED = "unanswered"


class Step(StrEnum):
    FILED = "filed"
    SENT_TO_MERCHANT = "sent_to_merchant"
    OFFERED = "offered"
    REFUSED = "refused"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ESCALATED = "escalated"
    BUREAU_ACCEPTED = "bureau_accepted"
    BUREAU_REFUSED = "bureau_refused"
    MEDIATOR_ASSIGNED = "mediator_assigned"
    OUTCOME = "outcome"
    FOLLOWED_UP = "followed_up"
    CONTACT_PURGED = "contact_purged"
    LINKED_12315 = "linked_12315"


class MediationMode(StrEnum):
    BUREAU = "bureau"
    PEOPLE = "people_mediation"
    COURT = "court_mediation"
    VOLUNTEER = "volunteer"
    LAWYER = "lawyer"


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

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0021_session_epoch')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Dispute',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=16)),
                ('secret_hash', fields.CharField(max_length=64)),
                ('idempotency_key', fields.UUIDField(null=True, unique=True)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.RESTRICT)),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', db_constraint=True, to_field='id', related_name='disputes', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(description='SUBMITTED: submitted\nWITH_MERCHANT: with_merchant\nOFFERED: offered\nSETTLED: settled\nESCALATED: escalated\nCLOSED: closed\nWITHDRAWN: withdrawn', enum_type=DisputeStatus, max_length=16)),
                ('category', fields.CharEnumField(description='QUALITY: quality\nPRICE: price\nSERVICE: service\nCONTRACT: contract\nFALSE_ADVERTISING: false_advertising\nSAFETY: safety\nOTHER: other', enum_type=Category, max_length=32)),
                ('description', fields.TextField(unique=False)),
                ('occurred_on', fields.DateField()),
                ('amount_fen', fields.BigIntField(default=0)),
                ('wants', fields.CharEnumField(description='REFUND: refund\nEXCHANGE: exchange\nREPAIR: repair\nAPOLOGY: apology\nOTHER: other', enum_type=Want, max_length=16)),
                ('wants_detail', fields.CharField(default='', max_length=200)),
                ('contact_cipher', fields.TextField(null=True, unique=False)),
                ('contact_hash', fields.CharField(null=True, max_length=64)),
                ('contact_masked', fields.CharField(null=True, max_length=16)),
                ('share_contact', fields.BooleanField(default=False)),
                ('contact_purged_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('ip_hash', fields.CharField(null=True, max_length=64)),
                ('device_hash', fields.CharField(null=True, max_length=64)),
                ('text_hash', fields.CharField(max_length=64)),
                ('flag_many', fields.BooleanField(default=False)),
                ('participating', fields.BooleanField(default=False)),
                ('filed_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('merchant_due', fields.DateField(null=True)),
                ('answer_due', fields.DateField(null=True)),
                ('reminded_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('refusal_reason', fields.TextField(default='', unique=False)),
                ('escalated_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('escalation_reason', fields.CharEnumField(null=True, description='NOT_PARTICIPATING: not_participating\nREFUSED: refused\nREJECTED: rejected\nDEADLINE: deadline\nUNANSWERED: unanswered', enum_type=EscalationReason, max_length=24)),
                ('complaint', fields.OneToOneField('models.Complaint', source_field='complaint_id', null=True, db_constraint=True, to_field='id', related_name='dispute', on_delete=OnDelete.RESTRICT)),
                ('mediation_mode', fields.CharEnumField(null=True, description='BUREAU: bureau\nPEOPLE: people_mediation\nCOURT: court_mediation\nVOLUNTEER: volunteer\nLAWYER: lawyer', enum_type=MediationMode, max_length=24)),
                ('mediator', fields.CharField(default='', max_length=100)),
                ('outcome_note', fields.TextField(default='', unique=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('resolution', fields.CharEnumField(null=True, description='MEDIATED: mediated\nMERCHANT_ODR: merchant_odr\nPEOPLE_MEDIATION: people_mediation\nCOURT_MEDIATION: court_mediation\nWITHDRAWN: withdrawn\nREFUSED: refused\nTERMINATED: terminated', enum_type=Resolution, max_length=24)),
                ('amount_recovered_fen', fields.BigIntField(default=0)),
                ('feed_ref', fields.CharField(null=True, max_length=200)),
                ('is_demo', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'dispute', 'app': 'models', 'indexes': [Index(fields=['merchant_id', 'status']), Index(fields=['district_id', 'status']), Index(fields=['status', 'merchant_due']), Index(fields=['contact_hash', 'filed_at']), Index(fields=['ip_hash', 'filed_at']), Index(fields=['device_hash', 'filed_at']), Index(fields=['closed_at'])], 'pk_attr': 'id', 'table_description': 'One complaint filed online, from filing to its end. Once escalated it is worked as'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisputeEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dispute', fields.ForeignKeyField('models.Dispute', source_field='dispute_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('step', fields.CharEnumField(description='FILED: filed\nSENT_TO_MERCHANT: sent_to_merchant\nOFFERED: offered\nREFUSED: refused\nACCEPTED: accepted\nREJECTED: rejected\nWITHDRAWN: withdrawn\nESCALATED: escalated\nBUREAU_ACCEPTED: bureau_accepted\nBUREAU_REFUSED: bureau_refused\nMEDIATOR_ASSIGNED: mediator_assigned\nOUTCOME: outcome\nFOLLOWED_UP: followed_up\nCONTACT_PURGED: contact_purged\nLINKED_12315: linked_12315', enum_type=Step, max_length=24)),
                ('status', fields.CharEnumField(description='SUBMITTED: submitted\nWITH_MERCHANT: with_merchant\nOFFERED: offered\nSETTLED: settled\nESCALATED: escalated\nCLOSED: closed\nWITHDRAWN: withdrawn', enum_type=DisputeStatus, max_length=16)),
                ('actor_role', fields.CharField(max_length=16)),
                ('actor', fields.CharField(max_length=100)),
                ('note', fields.TextField(default='', unique=False)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'dispute_event', 'app': 'models', 'indexes': [Index(fields=['dispute_id', 'at'])], 'pk_attr': 'id', 'table_description': "One step of a complaint's timeline, shown to the consumer, the merchant and officials"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisputeFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dispute', fields.ForeignKeyField('models.Dispute', source_field='dispute_id', db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=200)),
                ('media_type', fields.CharField(max_length=32)),
                ('size', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dispute_file', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A file of evidence, kept under the data directory by the hash of its content.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisputeFollowup',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dispute', fields.OneToOneField('models.Dispute', source_field='dispute_id', db_constraint=True, to_field='id', related_name='followup', on_delete=OnDelete.CASCADE)),
                ('answer', fields.CharEnumField(description='SATISFIED: satisfied\nBASICALLY_SATISFIED: basically_satisfied\nDISSATISFIED: dissatisfied\nNOT_REACHED: not_reached', enum_type=Followup, max_length=24)),
                ('comment', fields.CharField(default='', max_length=200)),
                ('answered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'dispute_followup', 'app': 'models', 'pk_attr': 'id', 'table_description': "The consumer's one follow-up answer (the database refuses a second)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DisputeOffer',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('dispute', fields.ForeignKeyField('models.Dispute', source_field='dispute_id', db_constraint=True, to_field='id', related_name='offers', on_delete=OnDelete.CASCADE)),
                ('round', fields.IntField()),
                ('kind', fields.CharEnumField(description='REFUND: refund\nEXCHANGE: exchange\nREPAIR: repair\nEXPLANATION: explanation', enum_type=OfferKind, max_length=16)),
                ('amount_fen', fields.BigIntField(default=0)),
                ('note', fields.TextField(default='', unique=False)),
                ('offered_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('offered_by', fields.CharField(max_length=100)),
                ('answer', fields.CharEnumField(null=True, description='ACCEPTED: accepted\nREJECTED: rejected', enum_type=OfferAnswer, max_length=16)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('answer_note', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'dispute_offer', 'app': 'models', 'unique_together': (('dispute', 'round'),), 'pk_attr': 'id', 'table_description': "One of the merchant's offers and the consumer's answer. Offers come in rounds, one open"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OdrParticipation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', db_constraint=True, to_field='id', related_name='odr_participations', on_delete=OnDelete.RESTRICT)),
                ('joined_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('joined_by', fields.CharField(max_length=100)),
                ('left_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('left_by', fields.CharField(null=True, max_length=100)),
                ('leave_reason', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'odr_participation', 'app': 'models', 'indexes': [Index(fields=['merchant_id', 'left_at'])], 'pk_attr': 'id', 'table_description': "A merchant's taking part in online dispute resolution, from joining to leaving. A"},
            bases=['Model'],
        ),
    ]
