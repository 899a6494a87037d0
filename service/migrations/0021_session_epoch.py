"""Every account gets a session epoch (issue 29, item 4): a session is honoured only while
the epoch it was opened in is still the account's, and a new password, a lock or a changed
role raises it. The database default puts existing rows at 0, the epoch every session open
before this migration is read as, so nobody is signed out by the upgrade itself."""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    # 0019 and 0020 are written beside this one; whoever merges them re-chains this.
    dependencies = [("models", "0020_score_run_lease")]

    initial = False

    operations = [
        ops.AddField(
            model_name="Account",
            name="session_epoch",
            field=fields.IntField(default=0, db_default=0),
        ),
    ]
