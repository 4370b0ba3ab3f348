# Issue 9: PushJob moved to audit (see audit.0002_issue9_pushjob_to_audit). State only: the
# table procore_sync_pushjob and its rows stay where they are, now owned by audit.PushJob.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('procore_sync', '0002_catalog_cache'),
        ('audit', '0002_issue9_pushjob_to_audit'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name='PushJob')],
            database_operations=[],
        ),
    ]
