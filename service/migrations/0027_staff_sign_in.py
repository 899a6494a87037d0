"""Staff sign-in (issue 32, item 4): TOTP second factors, their recovery codes, and the
link of an account to its identity at an OpenID Connect provider."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0026_password_resets')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ExternalIdentity',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='external_identities', on_delete=OnDelete.CASCADE)),
                ('issuer', fields.CharField(max_length=255)),
                ('subject', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('last_login_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'external_identity', 'app': 'models', 'unique_together': (('issuer', 'subject'),), 'pk_attr': 'id', 'table_description': 'The identity of an account at an OpenID Connect provider: (issuer, subject) is the link,'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='RecoveryCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='recovery_codes', on_delete=OnDelete.CASCADE)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'recovery_code', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A single-use code that stands in for the authenticator, kept as its SHA-256 only'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SecondFactor',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.OneToOneField('models.Account', source_field='account_id', db_constraint=True, to_field='id', related_name='second_factor', on_delete=OnDelete.CASCADE)),
                ('secret_sealed', fields.CharField(max_length=200)),
                ('confirmed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_step', fields.BigIntField(default=0)),
                ('failures', fields.IntField(default=0)),
                ('blocked_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'second_factor', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The TOTP authenticator (RFC 6238) of an account, its secret sealed at rest'},
            bases=['Model'],
        ),
    ]
