# Issue 13: a push job can wait for a person to act in Procore (choices only: no schema change).
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_issue9_pushjob_to_audit")]

    operations = [
        migrations.AlterField(
            model_name="pushjob",
            name="reason",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "—"),
                    ("transient", "Transient error (will retry)"),
                    ("permanent", "Permanent error"),
                    ("needs_mapping", "Needs a cost-code or project mapping"),
                    ("needs_vendor", "Waiting for the vendor to reach Procore"),
                    ("needs_reconnect", "Procore connection must be reconnected"),
                    ("needs_procore", "Needs a person to act in Procore (tried again by itself)"),
                    ("superseded", "Superseded by a newer job"),
                ],
                default="",
                max_length=30,
            ),
        ),
    ]
