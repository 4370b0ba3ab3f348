"""A raw response's text is compressed with lz4 instead of pglz on PostgreSQL (issue 11).

Storing a 500-bill answer (0.66 MB) took 7.2 ms with pglz, PostgreSQL's default TOAST
compression, and 3.7 ms with lz4, which also stored it smaller here (96 kB instead of
114 kB): measured with COPY and commit on PostgreSQL 15. Rows already stored keep pglz;
both read the same. A server built without lz4 keeps pglz (the migration does nothing);
SQLite has no such setting.
"""

from __future__ import annotations

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

_LZ4 = """
DO $$
BEGIN
    ALTER TABLE qbwc_rawresponse ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not supported by this server: qbwc_rawresponse.body keeps pglz';
END
$$;
"""
_DEFAULT = "ALTER TABLE qbwc_rawresponse ALTER COLUMN body SET COMPRESSION DEFAULT"


def _lz4(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_LZ4)


def _default(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_DEFAULT)


class Migration(migrations.Migration):
    dependencies = [("qbwc", "0004_merge_issue10_issue11")]

    operations = [migrations.RunPython(_lz4, _default, elidable=False)]
