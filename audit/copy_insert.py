"""Inserting a page's new rows with PostgreSQL's COPY: the ingest's bulk path (issue 11).

A QuickBooks page adds hundreds of records, audit events and outbox rows. Django's
`bulk_create` on PostgreSQL sends them as one `INSERT … SELECT * FROM UNNEST(%s, …)`,
and with psycopg's client-side binding (Django's default) every column array is quoted
in Python: about a third of a 500-bill page's time here (bench/bench_qbwc.py, profiled).
`COPY … FROM STDIN` streams the same rows through psycopg's C dumpers instead
(PostgreSQL manual, "COPY"; psycopg 3 docs, "Using COPY TO and COPY FROM").

COPY returns no ids, so they are taken from the table's own sequence first, in one
statement (`nextval` over `generate_series`), and set on the objects as `bulk_create`
would. Constraints, defaults already applied by the model, and the caller's transaction
are the same as for `bulk_create`. Elsewhere (SQLite) it is `bulk_create`.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Field, Model

M = TypeVar("M", bound=Model)


def copy_insert(objs: Sequence[M]) -> list[M]:
    """Insert `objs` (all of one model, none saved yet) and set their primary keys. Returns them."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    if connection.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)  # type: ignore[attr-defined,no-any-return]
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    # Columns whose attribute psycopg takes as it is first (read in one C-level attrgetter call
    # per row), then those Django must prepare (auto_now stamps, JSON → Jsonb, ...).
    plain = [f for f in meta.concrete_fields if _as_is(f)]
    prepared = [f for f in meta.concrete_fields if not _as_is(f)]
    table = connection.ops.quote_name(meta.db_table)
    columns = ", ".join(connection.ops.quote_name(str(f.column)) for f in plain + prepared)
    names = [f.attname for f in plain]  # the primary key at least
    read_plain = operator.attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, pk.column, len(objs)],
        )
        for obj, (new_id,) in zip(objs, cursor.fetchall(), strict=True):
            setattr(obj, pk.attname, new_id)
        rows = [
            (*read_plain(obj), *(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in prepared))
            for obj in objs
        ]
        sql = f"COPY {table} ({columns}) FROM STDIN"

        def copy_rows(_sql: str, _params: Any, _many: bool, _context: dict[str, Any]) -> None:
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

        # Through the connection's execute wrappers, as every other statement goes (Django's
        # CursorWrapper does the same), so what counts or instruments statements sees it too.
        run = copy_rows
        for wrapper in reversed(connection.execute_wrappers):
            run = functools.partial(wrapper, run)
        run(sql, None, False, {"connection": connection, "cursor": cursor})
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)


# Field types whose attribute value psycopg adapts exactly as Django's get_db_prep_save would
# hand it over on PostgreSQL (its adapt_* operations return these values unchanged).
_AS_IS = frozenset({
    "AutoField", "BigAutoField", "SmallAutoField", "BigIntegerField", "IntegerField", "SmallIntegerField",
    "PositiveBigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "BooleanField", "CharField",
    "TextField", "SlugField", "EmailField", "ForeignKey", "OneToOneField", "DecimalField", "DateField",
})  # fmt: skip


def _as_is(field: Field[Any, Any]) -> bool:
    internal = field.get_internal_type()
    auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
    return internal in _AS_IS or (internal == "DateTimeField" and not auto)


__all__ = ["copy_insert"]
