from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_scoring')]

    initial = False

    operations = [
        ops.AddField(
            model_name='UnitScore',
            name='merchants_scored',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='UnitScore',
            name='share_certifiable',
            field=fields.FloatField(null=True),
        ),
    ]
