from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from service.kernel.models import AreaKind, MerchantCategory, MerchantStatus, Role
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='ApiToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=100)),
                ('role', fields.CharEnumField(description='MERCHANT: merchant\nOFFICIAL: official\nADMIN: admin\nFEED: feed', enum_type=Role, max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'api_token', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Area',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code', fields.CharField(unique=True, max_length=32)),
                ('kind', fields.CharEnumField(db_index=True, description='CITY: city\nDISTRICT: district\nSTREET: street\nSCENIC_SPOT: scenic_spot', enum_type=AreaKind, max_length=16)),
                ('name_zh', fields.CharField(max_length=100)),
                ('name_en', fields.CharField(max_length=200)),
                ('parent', fields.ForeignKeyField('models.Area', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name='children', on_delete=OnDelete.RESTRICT)),
                ('is_demo', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'area', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor', fields.CharField(max_length=100)),
                ('action', fields.CharField(db_index=True, max_length=64)),
                ('subject', fields.CharField(db_index=True, max_length=200)),
                ('details', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('prev_hash', fields.CharField(max_length=64)),
                ('hash', fields.CharField(unique=True, max_length=64)),
            ],
            options={'table': 'audit_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One entry of the tamper-evident audit log.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Merchant',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('uscc', fields.CharField(unique=True, max_length=18)),
                ('uscc_override', fields.BooleanField(default=False)),
                ('name', fields.CharField(db_index=True, max_length=200)),
                ('category', fields.CharEnumField(db_index=True, description='CATERING: catering\nRETAIL: retail\nLODGING: lodging\nTOURISM: tourism_services\nENTERTAINMENT: entertainment\nSERVICES: personal_services\nAUTOMOTIVE: automotive\nHEALTH: pharmacy_health', enum_type=MerchantCategory, max_length=32)),
                ('address', fields.CharField(default='', max_length=300)),
                ('district', fields.ForeignKeyField('models.Area', source_field='district_id', db_constraint=True, to_field='id', related_name='district_merchants', on_delete=OnDelete.RESTRICT)),
                ('street', fields.ForeignKeyField('models.Area', source_field='street_id', null=True, db_constraint=True, to_field='id', related_name='street_merchants', on_delete=OnDelete.RESTRICT)),
                ('scenic_spot', fields.ForeignKeyField('models.Area', source_field='scenic_spot_id', null=True, db_constraint=True, to_field='id', related_name='scenic_merchants', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=MerchantStatus.ACTIVE, db_index=True, description='ACTIVE: active\nCLOSED: closed', enum_type=MerchantStatus, max_length=16)),
                ('is_demo', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'merchant', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Account',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('username', fields.CharField(unique=True, max_length=64)),
                ('password_hash', fields.CharField(max_length=255)),
                ('role', fields.CharEnumField(description='MERCHANT: merchant\nOFFICIAL: official\nADMIN: admin\nFEED: feed', enum_type=Role, max_length=16)),
                ('merchant', fields.ForeignKeyField('models.Merchant', source_field='merchant_id', null=True, db_constraint=True, to_field='id', related_name='accounts', on_delete=OnDelete.RESTRICT)),
                ('active', fields.BooleanField(default=True)),
                ('failed_logins', fields.IntField(default=0)),
                ('locked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('is_demo', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'account', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
    ]
