# Issue 9: PushJob (the outbox) is part of the shared contract and moves from procore_sync to
# audit. State only: the table keeps its name (procore_sync_pushjob) and its rows; the paired
# procore_sync.0003_issue9_pushjob_to_audit drops the old model from procore_sync's state.

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def content_type_to_audit(apps, schema_editor):
    # Keep permissions and admin log entries attached to the moved model.
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="audit", model="pushjob").exists():
        ContentType.objects.filter(app_label="procore_sync", model="pushjob").update(app_label="audit")


def content_type_to_procore_sync(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if not ContentType.objects.filter(app_label="procore_sync", model="pushjob").exists():
        ContentType.objects.filter(app_label="audit", model="pushjob").update(app_label="procore_sync")


class Migration(migrations.Migration):

    dependencies = [
        ('audit', '0001_initial'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('procore_sync', '0002_catalog_cache'),
        ('tenants', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='PushJob',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('op', models.CharField(choices=[('vendor_upsert', 'Vendor create/update'), ('vendor_deactivate', 'Vendor deactivate'), ('bill_upsert', 'Bill create/update'), ('bill_delete', 'Bill delete')], max_length=30)),
                        ('state', models.CharField(choices=[('pending', 'Pending'), ('in_flight', 'In flight'), ('waiting', 'Waiting'), ('done', 'Done'), ('failed', 'Failed'), ('cancelled', 'Cancelled')], default='pending', max_length=20)),
                        ('reason', models.CharField(blank=True, choices=[('', '—'), ('transient', 'Transient error (will retry)'), ('permanent', 'Permanent error'), ('needs_mapping', 'Needs a cost-code or project mapping'), ('needs_vendor', 'Waiting for the vendor to reach Procore'), ('needs_reconnect', 'Procore connection must be reconnected'), ('superseded', 'Superseded by a newer job')], default='', max_length=30)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('not_before', models.DateTimeField(default=django.utils.timezone.now)),
                        ('in_flight_since', models.DateTimeField(blank=True, null=True)),
                        ('last_error', models.TextField(blank=True, default='')),
                        ('created_at', models.DateTimeField(auto_now_add=True)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('record', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='push_jobs', to='audit.syncrecord')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='tenants.tenant')),
                    ],
                    options={
                        'db_table': 'procore_sync_pushjob',
                        'indexes': [models.Index(fields=['state', 'not_before'], name='procore_syn_state_481de2_idx'), models.Index(fields=['tenant', 'state'], name='procore_syn_tenant__cb5b4c_idx')],
                        'constraints': [models.UniqueConstraint(condition=models.Q(('state__in', ['pending', 'waiting'])), fields=('record', 'op'), name='pushjob_one_queued_per_record_op')],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_type_to_audit, content_type_to_procore_sync, elidable=True),
    ]
