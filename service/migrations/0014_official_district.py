"""An official account may be bound to one district: a district bureau's staff see and act on
their district only (service/scope.py), the city bureau's stay unbound. Nullable, so every
existing account keeps its city-wide reach; only officials ever get one (service/accounts.py).
"""

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [("models", "0013_intake")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Account",
            name="district",
            field=fields.ForeignKeyField(
                "models.Area",
                source_field="district_id",
                null=True,
                db_constraint=True,
                to_field="id",
                related_name="officials",
                on_delete=OnDelete.RESTRICT,
            ),
        ),
    ]
