"""Applications for certificates, their timeline, materials, inspections and the objections
to their public notice; area manager accounts (a role, and the street or scenic spot an
account manages). The enums are copied here, not imported, so this migration means the same
thing whatever the models later become."""

from enum import StrEnum

from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads


class ApplicationStatus(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    REFUSED = "refused"
    APPROVED = "approved"
    IN_NOTICE = "in_notice"
    ISSUED = "issued"
    BLOCKED = "blocked"


class InspectionKind(StrEnum):
    MATERIALS = "materials"
    ONSITE = "onsite"
    MYSTERY = "mystery_shopping"


class ObjectionOutcome(StrEnum):
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class Role(StrEnum):
    MERCHANT = "merchant"
    OFFICIAL = "official"
    ADMIN = "admin"
    FEED = "feed"
    AREA_MANAGER = "area_manager"

from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0016_commitments')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Application',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('kind', fields.CharField(max_length=16)),
                ('subject_code', fields.CharField(db_index=True, max_length=32)),
                ('subject_name', fields.CharField(max_length=200)),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.RESTRICT)),
                ('applicant', fields.ForeignKeyField('models.Account', source_field='applicant_id', null=True, db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.SET_NULL)),
                ('applicant_name', fields.CharField(max_length=100)),
                ('statement', fields.TextField(unique=False)),
                ('status', fields.CharEnumField(db_index=True, description='SUBMITTED: submitted\nUNDER_REVIEW: under_review\nREFUSED: refused\nAPPROVED: approved\nIN_NOTICE: in_notice\nISSUED: issued\nBLOCKED: blocked', enum_type=ApplicationStatus, max_length=16)),
                ('submitted_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('decided_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('decided_by', fields.CharField(null=True, max_length=100)),
                ('decision_reason', fields.TextField(null=True, unique=False)),
                ('notice_starts_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('notice_ends_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('certificate_serial', fields.CharField(null=True, max_length=40)),
                ('is_demo', fields.BooleanField(default=False)),
            ],
            options={'table': 'cert_application', 'app': 'models', 'indexes': [Index(fields=['kind', 'subject_code'])], 'pk_attr': 'id', 'table_description': "One applicant's request for a certificate of one subject (a merchant, street or scenic"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApplicationEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('models.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='events', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('old_status', fields.CharEnumField(null=True, description='SUBMITTED: submitted\nUNDER_REVIEW: under_review\nREFUSED: refused\nAPPROVED: approved\nIN_NOTICE: in_notice\nISSUED: issued\nBLOCKED: blocked', enum_type=ApplicationStatus, max_length=16)),
                ('new_status', fields.CharEnumField(description='SUBMITTED: submitted\nUNDER_REVIEW: under_review\nREFUSED: refused\nAPPROVED: approved\nIN_NOTICE: in_notice\nISSUED: issued\nBLOCKED: blocked', enum_type=ApplicationStatus, max_length=16)),
                ('actor', fields.CharField(max_length=100)),
                ('reason', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'cert_application_event', 'app': 'models', 'pk_attr': 'id', 'table_description': "One step of an application's timeline: the status it moved to, who moved it and why."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Inspection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('models.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='inspections', on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='MATERIALS: materials\nONSITE: onsite\nMYSTERY: mystery_shopping', enum_type=InspectionKind, max_length=20)),
                ('visited_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('checklist', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('passed', fields.BooleanField()),
                ('note', fields.TextField(default='', unique=False)),
                ('recorded_by', fields.CharField(max_length=100)),
                ('recorded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cert_application_inspection', 'app': 'models', 'pk_attr': 'id', 'table_description': "An official's check of the materials, a visit or a mystery-shopping visit (暗访): each"},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Material',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('models.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='materials', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=200)),
                ('media_type', fields.CharField(max_length=32)),
                ('size', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cert_application_material', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A file the applicant sent, kept under the data directory by the hash of its content.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Objection',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('application', fields.ForeignKeyField('models.Application', source_field='application_id', db_constraint=True, to_field='id', related_name='objections', on_delete=OnDelete.CASCADE)),
                ('text', fields.TextField(unique=False)),
                ('text_hash', fields.CharField(db_index=True, max_length=64)),
                ('contact', fields.CharField(default='', max_length=100)),
                ('address_hash', fields.CharField(null=True, db_index=True, max_length=64)),
                ('lodged_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('outcome', fields.CharEnumField(null=True, description='UPHELD: upheld\nDISMISSED: dismissed', enum_type=ObjectionOutcome, max_length=16)),
                ('reply', fields.TextField(null=True, unique=False)),
                ('answered_by', fields.CharField(null=True, max_length=100)),
                ('answered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'cert_application_objection', 'app': 'models', 'pk_attr': 'id', 'table_description': "An objection anyone lodged against a notice, and the official's answer. The objector is"},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='Account',
            name='role',
            field=fields.CharEnumField(description='MERCHANT: merchant\nOFFICIAL: official\nADMIN: admin\nFEED: feed\nAREA_MANAGER: area_manager', enum_type=Role, max_length=16),
        ),
        ops.AddField(
            model_name='Account',
            name='area',
            field=fields.ForeignKeyField('models.Area', source_field='area_id', null=True, db_constraint=True, to_field='id', related_name='managers', on_delete=OnDelete.RESTRICT),
        ),
        ops.AlterField(
            model_name='ApiToken',
            name='role',
            field=fields.CharEnumField(description='MERCHANT: merchant\nOFFICIAL: official\nADMIN: admin\nFEED: feed\nAREA_MANAGER: area_manager', enum_type=Role, max_length=16),
        ),
    ]
