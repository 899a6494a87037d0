from tortoise import migrations
from tortoise.migrations import operations as ops
from surveys.models import FlagKind
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0009_replies')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='ResponseFlag',
            name='kind',
            field=fields.CharEnumField(description='SPEEDER: speeder\nSTRAIGHTLINER: straightliner\nDUPLICATE_DEVICE: duplicate_device\nBURST: burst\nSURGE: surge', enum_type=FlagKind, max_length=24),
        ),
    ]
