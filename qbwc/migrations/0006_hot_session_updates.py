"""Let a SOAP call's session and mark writes be heap-only (HOT) updates on PostgreSQL (issue 11).

A no-change Web Connector session updates its session row about ten times and upserts four
marks. PostgreSQL can write an updated row as a heap-only tuple, touching no index, only when
no indexed column changed and the new version fits on the same page (PostgreSQL manual,
"Heap-Only Tuples (HOT)", storage-hot.html). Before this migration none of them could be:

- `qbwcsession.last_seen_at` was indexed and every guarded write sets it, so each UPDATE also
  wrote a new entry into all six of the table's indexes. Nothing filters sessions on it alone
  (the dashboards take the newest per tenant through the tenant index): unindexed.
- `watermark.session_id` was indexed and every mark upsert sets it. Nothing reads marks by
  session: unindexed.
- The tenant foreign keys' own indexes repeat the leading column of (tenant, state) and of
  the (tenant, query) unique constraint: dropped, one index fewer to write per new row.
- authenticate reads the tenant's newest sessions (its last finished run, its last address):
  a (tenant, started_at) index serves both in a few index entries, where the tenant index
  read all of a tenant's sessions (96 a day at 15-minute polls; they are kept). started_at
  never changes, so this index does not stand in the way of HOT updates.
- fillfactor leaves room on each page for the updated versions: 50 for sessions (a new row
  is updated about ten times within seconds, then never again), 70 for the small mark rows.
  It applies to pages written from now on; no table is rewritten.

pg_stat_user_tables.n_tup_hot_upd shows the effect (bench/bench_scale.py, 1 000 tenants):
0 of 9 514 session updates were HOT before.
"""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

_FILLFACTOR = {"qbwc_qbwcsession": 50, "qbwc_watermark": 70}


def _fillfactor(apps: Any, schema_editor: Any, *, reset: bool = False) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return  # a storage parameter of PostgreSQL's heap; SQLite has no such thing
    for table, percent in _FILLFACTOR.items():
        quoted = schema_editor.quote_name(table)
        schema_editor.execute(
            f"ALTER TABLE {quoted} RESET (fillfactor)" if reset else f"ALTER TABLE {quoted} SET (fillfactor = {percent})"
        )


def _reset(apps: Any, schema_editor: Any) -> None:
    _fillfactor(apps, schema_editor, reset=True)


class Migration(migrations.Migration):
    dependencies = [
        ("qbwc", "0005_rawresponse_body_lz4"),
        ("tenants", "0003_issue10_qbwc_password_changed_at"),
    ]

    operations = [
        migrations.AlterField(
            model_name="qbwcsession",
            name="last_seen_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AlterField(
            model_name="qbwcsession",
            name="tenant",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
            ),
        ),
        migrations.AlterField(
            model_name="watermark",
            name="session",
            field=models.ForeignKey(
                blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL,
                related_name="+", to="qbwc.qbwcsession",
            ),  # fmt: skip
        ),
        migrations.AlterField(
            model_name="watermark",
            name="tenant",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="tenants.tenant"
            ),
        ),
        migrations.AddIndex(
            model_name="qbwcsession",
            index=models.Index(fields=["tenant", "-started_at"], name="qbwc_session_tenant_newest"),
        ),
        migrations.RunPython(_fillfactor, _reset),
    ]
