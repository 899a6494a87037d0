"""Complaint disclosure (issue 31): files of evidence for a merchant's correction request."""

from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0024_complaint_disclosure')]

    initial = False

    operations = [
        ops.CreateModel(
            name='ComplaintCorrectionFile',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('correction', fields.ForeignKeyField('models.ComplaintCorrection', source_field='correction_id', db_constraint=True, to_field='id', related_name='files', on_delete=OnDelete.CASCADE)),
                ('filename', fields.CharField(max_length=200)),
                ('media_type', fields.CharField(max_length=32)),
                ('size', fields.IntField()),
                ('sha256', fields.CharField(max_length=64)),
                ('uploaded_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'complaint_correction_file', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A file of evidence for a correction request, kept under the data directory by its'},
            bases=['Model'],
        ),
    ]
