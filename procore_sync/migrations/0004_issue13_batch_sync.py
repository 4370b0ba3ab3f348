# Issue 13: cost codes keep their cost type (Procore's cost codes carry no WBS code id), the id
# map keeps requisition item and direct-cost line ids, and each connection its rate window.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("procore_sync", "0003_issue9_pushjob_to_audit"),
        ("tenants", "0002_encrypted_secrets_nullable"),
    ]

    operations = [
        migrations.RenameField(
            model_name="cachedcostcode",
            old_name="wbs_code_id",
            new_name="line_item_type_id",
        ),
        migrations.AlterField(
            model_name="externalid",
            name="procore_kind",
            field=models.CharField(
                choices=[
                    ("vendor", "Company vendor"),
                    ("project_vendor", "Vendor in project directory"),
                    ("requisition", "Subcontractor invoice (requisition)"),
                    ("requisition_item", "Subcontractor invoice item"),
                    ("direct_cost", "Direct cost"),
                    ("direct_cost_line", "Direct cost line item"),
                ],
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="ConnectionRate",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("limit", models.IntegerField(blank=True, null=True)),
                ("remaining", models.IntegerField(blank=True, null=True)),
                ("reset_at", models.FloatField(blank=True, help_text="epoch seconds", null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "connection",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rate",
                        to="tenants.procoreconnection",
                    ),
                ),
            ],
        ),
    ]
