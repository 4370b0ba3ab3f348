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
import json
import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.utils import timezone

M = TypeVar("M", bound=Model)


def copy_insert(objs: Sequence[M]) -> list[M]:
    """Insert `objs` (all of one model, none saved yet) and set their primary keys. Returns them."""
    if not objs:
        return list(objs)
    model = type(objs[0])
    # This thread's connection object, not the `connection` proxy: each proxy access is a
    # context-local lookup, and fields read it per column and row.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        return model._default_manager.bulk_create(objs)  # type: ignore[attr-defined,no-any-return]
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    # Columns whose attribute psycopg takes as it is first (read in one C-level attrgetter call
    # per row), then those Django must prepare (auto_now stamps, JSON → Jsonb, ...).
    plain = [f for f in meta.concrete_fields if _as_is(f)]
    prepared = [f for f in meta.concrete_fields if not _as_is(f)]
    names = [f.attname for f in plain]  # the primary key at least
    read_plain = operator.attrgetter(*names) if len(names) > 1 else (lambda obj: (getattr(obj, names[0]),))
    with db.cursor() as cursor:
        for obj, new_id in zip(objs, _next_ids(cursor, model, len(objs)), strict=True):
            setattr(obj, pk.attname, new_id)
        rows = [(*read_plain(obj), *(f.get_db_prep_save(f.pre_save(obj, True), db) for f in prepared)) for obj in objs]
        sql = _copy_sql(db, meta.db_table, plain + prepared)

        def copy_rows(_sql: str, _params: Any, _many: bool, _context: dict[str, Any]) -> None:
            with cursor.cursor.copy(sql) as copy:
                for row in rows:
                    copy.write_row(row)

        _wrapped(db, copy_rows, sql, cursor)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db.alias
    return list(objs)


class JsonText(str):
    """A JSON column's value already encoded as JSON text (copy_insert_rows sends it as it is)."""

    __slots__ = ()


class JsonLater:
    """A JSON column's value encoded only when its row is written: `encode(value)` gives its JSON
    text. A batch's rows then hold what they describe, not also its JSON text: a bill's payload
    text was ~2 KB in memory beside the ~2.7 KB record it encodes, for every row of the batch
    until the COPY ran (bench/bench_qbwc.py section 4, the page's peak memory)."""

    __slots__ = ("encode", "value")

    def __init__(self, value: Any, encode: Callable[[Any], str]) -> None:
        self.value, self.encode = value, encode

    def text(self) -> str:
        return self.encode(self.value)


def copy_insert_rows(
    model: type[Model],
    *,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    same: Mapping[str, Any] | None = None,
    ids: bool | Sequence[int] = False,
) -> list[int]:
    """Insert `rows` of `model` without building a model object per row (a first sync's pages).

    Each row holds the values of `columns` (attribute names) as the fields take them in
    Python, or for a JSON column its JSON text as JsonText or JsonLater; `same` holds values every row shares; every other field gets its default once
    for the whole call (auto_now / auto_now_add: now), as `bulk_create` would give each row.
    With `ids`, the new primary keys come back in row order (PostgreSQL: from the table's
    sequence first, as copy_insert takes them; or `ids` are those keys, one per row, already
    taken by reserve_ids); without, the table's default sets them and that statement is
    saved. Elsewhere (SQLite) the rows become objects for `bulk_create`.
    """
    if not rows:
        return []
    db = connections[DEFAULT_DB_ALIAS]
    meta = model._meta
    pk = meta.pk
    assert pk is not None
    shared = _shared_values(model, columns, same or {}, db)
    if db.vendor != "postgresql":
        objs = [model(**{k: _decoded(v) for k, v in zip(columns, row, strict=True)}, **shared) for row in rows]
        model._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
        return [int(obj.pk) for obj in objs] if ids else []
    fields = [meta.get_field(name) for name in columns]
    # Per-row values psycopg takes as they are go straight into the row; dates and times as
    # their ISO text; only the others (JSON -> Jsonb, ...) go through Django's preparation.
    preparers: list[tuple[int, Callable[[Any], Any]]] = []
    for i, field in enumerate(fields):
        prepare = _preparer(field, db) if isinstance(field, Field) else None
        if prepare is not None:
            preparers.append((i, prepare))
    tail = tuple(_iso(value) for value in shared.values())
    new_ids: list[int] = []
    with db.cursor() as cursor:
        if ids is True:
            new_ids = _next_ids(cursor, model, len(rows))
        elif ids:
            new_ids = list(ids)
            if len(new_ids) != len(rows):
                raise ValueError(f"copy_insert_rows: {len(new_ids)} ids for {len(rows)} rows")
        shared_fields = [meta.get_field(name) for name in shared]
        head = [pk] if ids else []
        sql = _copy_sql(db, meta.db_table, [*head, *fields, *shared_fields])  # type: ignore[list-item]

        def copy_rows(_sql: str, _params: Any, _many: bool, _context: dict[str, Any]) -> None:
            with cursor.cursor.copy(sql) as copy:
                for n, row in enumerate(rows):
                    if preparers:
                        values = list(row)
                        for i, prepare in preparers:
                            values[i] = prepare(values[i])
                        row = tuple(values)
                    copy.write_row(((new_ids[n],) if ids else ()) + row + tail)

        _wrapped(db, copy_rows, sql, cursor)
    return new_ids


def json_text(value: Any) -> JsonText:
    """A JSON-like value (dicts, lists, str, int, None, ...) as JsonText, encoded by orjson (one C
    call; json.dumps for what orjson refuses, such as an int beyond 64 bits)."""
    try:
        return JsonText(orjson.dumps(value).decode())
    except (TypeError, orjson.JSONEncodeError):
        return JsonText(json.dumps(value))


def _iso(value: Any) -> Any:
    # COPY reads a date or time from its ISO text; psycopg's own dumper was 1 us a value, a
    # third of writing a row of three timestamps (each outbox row), str 0.1 us.
    return value.isoformat() if isinstance(value, datetime | date) else value


def _preparer(field: Field[Any, Any], db: BaseDatabaseWrapper) -> Callable[[Any], Any] | None:
    """How a per-row value of `field` becomes what COPY is given (None: as it is)."""
    if field.get_internal_type() in ("DateTimeField", "DateField") and _as_is(field):
        return _iso
    if _as_is(field):
        return None

    def prepare(value: Any) -> Any:
        # JSON text goes as it is; anything else as Django prepares it (JSON -> Jsonb, ...).
        cls = value.__class__
        if cls is JsonText:
            return value
        if cls is JsonLater:
            return value.text()
        return field.get_db_prep_save(value, db)

    return prepare


def _decoded(value: Any) -> Any:
    cls = value.__class__
    if cls is JsonLater:
        return json.loads(value.text())
    return json.loads(value) if cls is JsonText else value


def _shared_values(
    model: type[Model], columns: Sequence[str], same: Mapping[str, Any], db: BaseDatabaseWrapper
) -> dict[str, Any]:
    """`same`, then every other field's default (now for auto_now / auto_now_add), once per call,
    prepared for the database on PostgreSQL (kept as Python values for bulk_create elsewhere)."""
    now = timezone.now()
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        name = field.attname
        if field.primary_key or name in columns:
            continue
        if name in same:
            value = same[name]
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = now
        else:
            value = field.get_default()
        values[name] = value if db.vendor != "postgresql" or _as_is(field) else field.get_db_prep_save(value, db)
    unknown = set(same) - set(values)
    if unknown:
        raise TypeError(f"copy_insert_rows: not a field of {model.__name__} to share: {sorted(unknown)}")
    return values


def reserve_ids(models: Sequence[type[Model]], n: int) -> list[list[int]] | None:
    """`n` new primary keys of each model, from each table's own sequence, in one statement (a
    batch's records and their outbox jobs: one round trip instead of one per table, ~1 ms each
    on the bench's machine). None elsewhere than PostgreSQL (the tables' defaults set them)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or n <= 0:
        return None
    keys = []
    for model in models:
        assert model._meta.pk is not None
        keys += [model._meta.db_table, model._meta.pk.column]
    columns = ", ".join("nextval(pg_get_serial_sequence(%s, %s))" for _ in models)
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM generate_series(1, %s)", [*keys, n])  # noqa: S608 (placeholders only)
        rows = cursor.fetchall()
    return [[row[i] for row in rows] for i in range(len(models))]


def _next_ids(cursor: Any, model: type[Model], n: int) -> list[int]:
    """`n` new primary keys from the table's own sequence, in one statement (COPY returns none)."""
    meta = model._meta
    assert meta.pk is not None
    cursor.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
        [meta.db_table, meta.pk.column, n],
    )
    return [new_id for (new_id,) in cursor.fetchall()]


def _copy_sql(db: BaseDatabaseWrapper, table: str, fields: Sequence[Field[Any, Any]]) -> str:
    # Table and column names come from the model.
    columns = ", ".join(db.ops.quote_name(str(f.column)) for f in fields)
    return f"COPY {db.ops.quote_name(table)} ({columns}) FROM STDIN"


def _wrapped(
    db: BaseDatabaseWrapper, copy: Callable[[str, Any, bool, dict[str, Any]], None], sql: str, cursor: Any
) -> None:
    # Through the connection's execute wrappers, as every other statement goes (Django's
    # CursorWrapper does the same), so what counts or instruments statements sees it too.
    run = copy
    for wrapper in reversed(db.execute_wrappers):
        run = functools.partial(wrapper, run)
    run(sql, None, False, {"connection": db, "cursor": cursor})


# How many characters (or bytes) of a streamed text go to the server at a time.
STREAM_CHARS = 64 * 1024


def _escape(text: str) -> str:
    # COPY's text format (PostgreSQL manual, "COPY", File Formats: Text Format): a backslash and
    # the column and row delimiters are written as backslash escapes. Four C-speed passes (str.translate to multi-character strings is several times slower).
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _escape_utf8(data: bytes) -> bytes:
    # The same escapes over UTF-8: the four are ASCII, and no byte of a multi-byte UTF-8
    # sequence is below 0x80, so a slice cut anywhere escapes the same as the whole.
    return data.replace(b"\\", b"\\\\").replace(b"\t", b"\\t").replace(b"\n", b"\\n").replace(b"\r", b"\\r")


def _utf8_pieces(data: bytes, size: int) -> Iterator[bytes]:
    """`data` in pieces of about `size` bytes, each cut before a character's first byte (never
    inside one, so each message of the COPY holds whole characters as the str path's do)."""
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        while end > start and end < len(data) and 0x80 <= data[end] < 0xC0:  # a continuation byte
            end -= 1
        if end == start:  # a character longer than `size`: the piece is that character
            end = start + 1
            while end < len(data) and 0x80 <= data[end] < 0xC0:
                end += 1
        yield data[start:end]
        start = end


def copy_text(value: Any) -> str:
    """One column value in COPY's text format (None is \\N). Only the types a streamed row needs."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, int | Decimal | str):
        return _escape(str(value))
    raise TypeError(f"copy_text: {type(value).__name__} is not a streamed-row column type")


def copy_insert_streaming(obj: Model, *, text_field: str) -> None:
    """Insert one unsaved object whose `text_field` may be megabytes (a raw qbXML answer).

    The field holds text, or its UTF-8 as bytes (a raw answer as the SOAP reader keeps it).
    On PostgreSQL the text goes to COPY in slices, each escaped (and a str encoded) on its
    own, so no escaped or encoded copy of the whole text is ever held: a bound parameter
    (psycopg's client-side binding, Django's default) would build the whole statement text
    with the escaped value, twice the text again. UTF-8 goes as it is: the connection's
    client_encoding is UTF8 (Django's PostgreSQL backend sets it), and the bytes were decoded
    by lxml, so they are valid. The primary key comes from the table's default and is not
    read back. Elsewhere (SQLite binds the text as it is) it is a plain save() of the text.
    """
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql":
        value = getattr(obj, text_field)
        if isinstance(value, bytes):  # SQLite would store bytes as a BLOB
            setattr(obj, text_field, value.decode("utf-8"))
        obj.save(force_insert=True)
        return
    meta = obj._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key and f.attname != text_field]
    big = meta.get_field(text_field)
    assert isinstance(big, Field)
    head = "".join(copy_text(f.get_db_prep_save(f.pre_save(obj, True), db)) + "\t" for f in fields)
    text: str | bytes = getattr(obj, text_field)
    sql = _copy_sql(db, meta.db_table, [*fields, big])

    def copy_row(_sql: str, _params: Any, _many: bool, _context: dict[str, Any]) -> None:
        with cursor.cursor.copy(sql) as copy:
            copy.write(head.encode("utf-8"))
            if isinstance(text, bytes):
                for piece in _utf8_pieces(text, STREAM_CHARS):
                    copy.write(_escape_utf8(piece))
            else:
                for start in range(0, len(text), STREAM_CHARS):
                    copy.write(_escape(text[start : start + STREAM_CHARS]).encode("utf-8"))
            copy.write(b"\n")

    with db.cursor() as cursor:
        _wrapped(db, copy_row, sql, cursor)


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


__all__ = [
    "JsonLater", "JsonText", "copy_insert", "copy_insert_rows", "copy_insert_streaming", "copy_text", "json_text", "reserve_ids",
]  # fmt: skip
