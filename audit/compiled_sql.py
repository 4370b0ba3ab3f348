"""Hot-path statements whose SQL is built once per shape, not compiled by the ORM on every call.

Django turns a queryset into SQL each time it runs it. For the statements every QBWC SOAP
call makes (find the session by its ticket, write the session back) that compile, and the
generic row-to-object path around it, cost more CPU than the database does: measured on
this machine (issue 11), the ticket lookup took 1.9 ms of Python per call, of which 0.6 ms
was compiling and under 0.1 ms waiting for PostgreSQL; a session makes nine of them.

Here the SQL text of a shape (a model, the columns it reads or writes, its WHERE columns) is
built once per database connection vendor from the model's own metadata. Values go through
the same field preparation Django applies (`get_db_prep_save` for SET, `get_db_prep_value`
for WHERE) and every column read through the same converters (`from_db_value`, the
backend's own), so the objects are the ones the ORM would build (`Model.from_db`). The
statements run on Django's cursor: execute wrappers, transactions and autocommit behave as
for any ORM statement.

Only equality WHERE clauses on non-null values, plain columns and one forward foreign key
are supported; anything else raises at build time rather than guessing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, ForeignKey, Model, signals
from django.db.models.base import ModelState

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, BaseDatabaseWrapper], Any]


def column_field(model: type[Model], name: str) -> Field[Any, Any]:
    """The concrete field `name` of `model` (what a RowSql builder names its parameters and columns by)."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field) or not field.concrete or field.many_to_many:
        raise ValueError(f"{model.__name__}.{name} is not a concrete column")
    return field


def _column(field: Field[Any, Any]) -> str:
    assert field.column is not None  # concrete fields always have one
    return field.column


def _where(
    model: type[Model], names: tuple[str, ...], alias: str, qn: Callable[[str], str]
) -> tuple[str, list[Field[Any, Any]]]:
    fields = [column_field(model, name) for name in names]
    if not fields:
        raise ValueError("a WHERE clause is required")
    prefix = f"{qn(alias)}." if alias else ""
    return " AND ".join(f"{prefix}{qn(_column(f))} = %s" for f in fields), fields


def _where_params(
    fields: list[Field[Any, Any]], where: Mapping[str, Any], connection: BaseDatabaseWrapper
) -> list[Any]:
    params = []
    for field in fields:
        value = where[field.name]
        if value is None:  # `= NULL` is never true: say so instead of matching nothing
            raise ValueError(f"WHERE {field.name} = None: use the ORM for IS NULL")
        params.append(field.get_db_prep_value(value, connection, prepared=False))
    return params


# Built shapes by (builder, its arguments, database vendor and alias): the SQL and converters
# depend on the backend only, so each thread's connection object of one alias shares them.
_shapes: dict[tuple[Any, ...], Any] = {}


def _shape(build: Callable[..., Any], *args: Any, connection: BaseDatabaseWrapper) -> Any:
    key = (build, *args, connection.vendor, connection.alias)
    shape = _shapes.get(key)
    if shape is None:
        shape = _shapes[key] = build(*args, connection)
    return shape


@dataclass(frozen=True)
class _Update:
    sql: str
    set_fields: list[Field[Any, Any]]
    where_fields: list[Field[Any, Any]]


def _update(
    model: type[Model], set_names: tuple[str, ...], where_names: tuple[str, ...], before: tuple[str, ...],
    connection: BaseDatabaseWrapper,
) -> _Update:  # fmt: skip
    qn = connection.ops.quote_name
    set_fields = [column_field(model, name) for name in set_names]
    for field in set_fields:
        if field.primary_key:
            raise ValueError(f"{model.__name__}.{field.name} is the primary key")
        if hasattr(field, "get_placeholder"):  # a custom SQL placeholder (e.g. geometry): ORM only
            raise ValueError(f"{model.__name__}.{field.name} needs its own placeholder")
    where_sql, where_fields = _where(model, where_names, "", qn)
    assignments = ", ".join(f"{qn(_column(f))} = %s" for f in set_fields)
    # Table and column names come from the model; every value is a bound parameter.
    sql = f"UPDATE {qn(model._meta.db_table)} SET {assignments} WHERE {where_sql}"  # noqa: S608
    if before:
        # PostgreSQL runs every data-modifying WITH statement to completion, whether or not the
        # UPDATE then matches a row (manual 7.8.4, "Data-Modifying Statements in WITH").
        sql = "WITH " + ", ".join(f"before_{n} AS ({text})" for n, text in enumerate(before)) + " " + sql
    return _Update(sql, set_fields, where_fields)


def update_where(
    model: type[Model], *, values: Mapping[str, Any], where: Mapping[str, Any],
    before: Sequence[tuple[str, list[Any]]] = (), using: str = DEFAULT_DB_ALIAS,
) -> int:  # fmt: skip
    """`model.objects.filter(**where).update(**values)` with SQL built once per shape. Returns the row count.

    `where` holds equality tests only (a guarded write: the primary key and the values read).
    `before`: statements (SQL with %s placeholders, their parameters; INSERT/UPDATE without
    RETURNING) that must run first whatever the UPDATE matches. On PostgreSQL they go in the
    same statement, as WITH queries (one round trip); elsewhere each runs on its own first.
    """
    if not values:
        return 0
    connection = connections[using]
    combined = connection.vendor == "postgresql"
    texts = tuple(text for text, _ in before) if combined else ()
    shape = _shape(_update, model, tuple(values), tuple(where), texts, connection=connection)
    params = [p for _, ps in before for p in ps] if combined else []
    params += [f.get_db_prep_save(values[f.name], connection) for f in shape.set_fields]
    params += _where_params(shape.where_fields, where, connection)
    with connection.cursor() as cursor:
        if not combined:
            for text, ps in before:
                cursor.execute(text, ps)
        cursor.execute(shape.sql, params)
        return int(cursor.rowcount)


@dataclass(frozen=True)
class _Insert:
    sql: str
    fields: list[Field[Any, Any]]
    returning: bool  # the new primary key comes back from the INSERT itself


def _insert(model: type[Model], connection: BaseDatabaseWrapper) -> _Insert:
    qn = connection.ops.quote_name
    pk = model._meta.pk
    if pk is None or not getattr(pk, "db_returning", False):
        raise ValueError(f"{model.__name__} has no database-generated primary key")
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    for field in fields:
        if hasattr(field, "get_placeholder") or getattr(field, "db_returning", False):
            raise ValueError(f"{model.__name__}.{field.name} needs the ORM's insert")
    columns = ", ".join(qn(_column(f)) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Table and column names come from the model; every value is a bound parameter.
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608
    returning = connection.features.can_return_columns_from_insert
    if returning:
        sql += f" RETURNING {qn(_column(pk))}"
    return _Insert(sql, fields, returning)


def insert_one(obj: M, *, using: str = DEFAULT_DB_ALIAS) -> M:
    """`obj.save(force_insert=True)` for a new row whose primary key the database assigns,
    with the INSERT built once per model. Sets and returns `obj` as saved.

    Every column is prepared as save() prepares it (`pre_save` for auto_now stamps, then
    `get_db_prep_save`). No pre_save/post_save signals are sent: for models nobody listens to.
    """
    connection = connections[using]
    model = type(obj)
    shape: _Insert = _shape(_insert, model, connection=connection)
    params = [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in shape.fields]
    pk = model._meta.pk
    assert pk is not None
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        if shape.returning:
            (new_id,) = cursor.fetchone()
        else:
            new_id = connection.ops.last_insert_id(cursor, model._meta.db_table, _column(pk))
    setattr(obj, pk.attname, new_id)
    obj._state.adding = False
    obj._state.db = using
    return obj


@dataclass(frozen=True)
class _Join:
    field: ForeignKey[Any, Any]  # the model's foreign key whose row comes along
    model: type[Model]  # its related model
    names: list[str]  # the related model's attnames, in column order


@dataclass(frozen=True)
class _Select:
    sql: str
    where_fields: list[Field[Any, Any]]
    own_names: list[str]
    join: _Join | None
    readers: list[tuple[Any, list[Converter]]]


def _reader(field: Field[Any, Any], alias: str, connection: BaseDatabaseWrapper) -> tuple[Any, list[Converter]]:
    """A column's expression and the converters Django's compiler would apply to it."""
    col = field.get_col(alias)
    return col, connection.ops.get_db_converters(col) + col.get_db_converters(connection)


def _readers(model: type[Model], alias: str, connection: BaseDatabaseWrapper) -> list[tuple[Any, list[Converter]]]:
    return [_reader(field, alias, connection) for field in model._meta.concrete_fields]


def _select_with(
    model: type[Model], related: str | None, where_names: tuple[str, ...], lock: bool, connection: BaseDatabaseWrapper
) -> _Select:
    qn = connection.ops.quote_name
    first = column_field(model, where_names[0]) if where_names else None
    if first is None or not (first.unique or first.primary_key):
        # One row or none: the lookup must be on a unique column (no ORDER BY / LIMIT guessing).
        raise ValueError("the first WHERE column must be unique")
    own_alias, rel_alias = "m", "r"
    own_fields = model._meta.concrete_fields
    columns = [f"{qn(own_alias)}.{qn(_column(f))}" for f in own_fields]
    readers = _readers(model, own_alias, connection)
    source = f"{qn(model._meta.db_table)} {qn(own_alias)}"
    join = None
    if related is not None:
        fk = model._meta.get_field(related)
        if not isinstance(fk, ForeignKey) or fk.null:
            raise ValueError(f"{model.__name__}.{related} is not a non-null foreign key")
        related_model = fk.related_model
        assert isinstance(related_model, type) and issubclass(related_model, Model)
        rel_fields = related_model._meta.concrete_fields
        join = _Join(fk, related_model, [f.attname for f in rel_fields])
        columns += [f"{qn(rel_alias)}.{qn(_column(f))}" for f in rel_fields]
        readers += _readers(related_model, rel_alias, connection)
        source += (
            f" INNER JOIN {qn(related_model._meta.db_table)} {qn(rel_alias)} "
            f"ON {qn(rel_alias)}.{qn(_column(fk.target_field))} = {qn(own_alias)}.{qn(_column(fk))}"
        )
    where_sql, where_fields = _where(model, where_names, own_alias, qn)
    sql = f"SELECT {', '.join(columns)} FROM {source} WHERE {where_sql}"  # noqa: S608
    if lock and connection.features.has_select_for_update:
        # Only the model's own row is locked, as select_for_update(of=("self",)) does.
        sql += f" FOR UPDATE OF {qn(own_alias)}" if connection.features.has_select_for_update_of else " FOR UPDATE"
    return _Select(
        sql=sql,
        where_fields=where_fields,
        own_names=[f.attname for f in own_fields],
        join=join,
        readers=readers,
    )


def get_one(
    model: type[M], *, where: Mapping[str, Any], related: str | None = None, lock: bool = False,
    using: str = DEFAULT_DB_ALIAS,
) -> M | None:  # fmt: skip
    """The one row matching `where` (its first column unique), as
    `model.objects.select_related(related).filter(**where).first()` would give it, or None.

    `related` names a non-null foreign key whose row comes in the same SELECT (a join);
    `lock` takes the model's own row lock (inside a transaction), like
    `select_for_update(of=("self",))`.
    """
    connection = connections[using]
    shape: _Select = _shape(_select_with, model, related, tuple(where), lock, connection=connection)
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, _where_params(shape.where_fields, where, connection))
        row = cursor.fetchone()
    if row is None:
        return None
    values = _convert(list(row), shape.readers, connection)
    n = len(shape.own_names)
    obj = _from_db(model, using, shape.own_names, values[:n])
    if shape.join is not None:
        shape.join.field.set_cached_value(obj, _from_db(shape.join.model, using, shape.join.names, values[n:]))
    return obj


def _from_db(model: type[M], using: str, names: list[str], values: list[Any]) -> M:
    """`model.from_db(using, names, values)` for a full row (every concrete column, in order).

    Model.__init__ sets the attributes one setattr at a time through generic argument
    handling: with the session and its tenant (50 columns) that was a tenth of a SOAP call's
    Python time (py-spy, issue 11). Every column is a plain instance attribute (a field's
    class attribute only reads a deferred value), so the same object is built by filling its
    __dict__. When anything listens to the model's pre_init/post_init signals (an image or
    generic-relation field does), it is built the ORM's way so they still fire.
    """
    if (signals.pre_init.receivers or signals.post_init.receivers) and (
        signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model)
    ):
        return model.from_db(using, names, values)  # type: ignore[no-any-return]
    obj = model.__new__(model)
    obj.__dict__.update(zip(names, values, strict=True))
    state = obj._state = ModelState()
    state.adding = False
    state.db = using
    state.loaded = dict(obj.__dict__)  # type: ignore[attr-defined]  # what unchanged_since_load compares with
    return obj


def unchanged_since_load(obj: Model, names: Collection[str]) -> set[str]:
    """The attributes among `names` that still hold what get_one read (so an UPDATE may leave them out).

    Only immutable values count as unchanged (str, int, datetime, None, ...): a dict or list may
    have been changed in place, so a JSON column is never reported unchanged. An object get_one
    did not build has no record of what it read: nothing is reported unchanged.
    """
    loaded: dict[str, Any] | None = getattr(obj._state, "loaded", None)
    if loaded is None:
        return set()
    current = obj.__dict__
    return {
        name
        for name in names
        if name in loaded
        and name in current
        and not isinstance(current[name], dict | list)
        and type(current[name]) is type(loaded[name])
        and current[name] == loaded[name]
    }


def mark_loaded(obj: Model, names: Collection[str]) -> None:
    """Record `names`' current values as what the database holds (after they were written)."""
    loaded: dict[str, Any] | None = getattr(obj._state, "loaded", None)
    if loaded is not None:
        for name in names:
            loaded[name] = obj.__dict__.get(name)


@dataclass(frozen=True)
class _Locked:
    sql: str
    where_fields: list[Field[Any, Any]]
    any_fields: list[Field[Any, Any]]
    names: list[str]
    readers: list[tuple[Any, list[Converter]]]


def _locked(
    model: type[Model], where_names: tuple[str, ...], any_names: tuple[str, ...], connection: BaseDatabaseWrapper
) -> _Locked:
    qn = connection.ops.quote_name
    where_sql, where_fields = _where(model, where_names, "", qn)
    any_fields = [column_field(model, name) for name in any_names]
    any_sql = "".join(f" AND {qn(_column(f))} = ANY(%s)" for f in any_fields)
    pk = model._meta.pk
    assert pk is not None
    fields = model._meta.concrete_fields
    columns = ", ".join(qn(_column(f)) for f in fields)
    # Table and column names come from the model; every value is a bound parameter.
    sql = (
        f"SELECT {columns} FROM {qn(model._meta.db_table)} WHERE {where_sql}{any_sql} "  # noqa: S608
        f"ORDER BY {qn(_column(pk))} FOR UPDATE"
    )
    return _Locked(sql, where_fields, any_fields, [f.attname for f in fields], _readers(model, "x", connection))


def locked_any(
    model: type[M], *, where: Mapping[str, Any], any_of: Mapping[str, Collection[Any]], using: str = DEFAULT_DB_ALIAS
) -> list[M]:
    """`model.objects.select_for_update().filter(**where, <name>__in=values...).order_by("pk")`, as objects.

    On PostgreSQL each list is one array parameter (`= ANY(%s)`), with SQL built once per shape:
    the ORM's `IN (%s, …)` of a batch's 250 QuickBooks ids cost 4.0 ms per batch to compile,
    quote and send, this 0.6 ms (in-process, issue 11). Elsewhere it is that ORM query. Rows are
    locked in primary-key order (a consistent lock order between writers).
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        lookups = {**where, **{f"{name}__in": list(values) for name, values in any_of.items()}}
        return list(model._default_manager.using(using).select_for_update().filter(**lookups).order_by("pk"))
    shape: _Locked = _shape(_locked, model, tuple(where), tuple(any_of), connection=connection)
    params = _where_params(shape.where_fields, where, connection)
    params += [[f.get_db_prep_value(v, connection, prepared=False) for v in any_of[f.name]] for f in shape.any_fields]
    with connection.cursor() as cursor:
        cursor.execute(shape.sql, params)
        rows = cursor.fetchall()
    return [_from_db(model, using, shape.names, _convert(list(row), shape.readers, connection)) for row in rows]


@dataclass(frozen=True)
class _Row:
    sql: str
    params: list[Field[Any, Any]]
    readers: list[tuple[Any, list[Converter]]]


# build(quote_name) -> (sql, a field per %s, per output column its field or None: no conversion)
RowSql: TypeAlias = "Callable[[Callable[[str], str]], tuple[str, list[Field[Any, Any]], list[Field[Any, Any] | None]]]"


def _row(build: RowSql, connection: BaseDatabaseWrapper) -> _Row:
    sql, param_fields, out_fields = build(connection.ops.quote_name)
    if sql.count("%s") != len(param_fields):
        raise ValueError("one field per %s placeholder")
    readers = [(None, []) if field is None else _reader(field, "x", connection) for field in out_fields]
    return _Row(sql, param_fields, readers)


def fetch_row(
    build: RowSql, params: list[Any], *, planned_each_time: bool = False, using: str = DEFAULT_DB_ALIAS
) -> list[Any] | None:
    """One row of a hand-written SELECT, or None.

    `build(quote_name)` returns (sql, a field per `%s`, a field per output column) and runs
    once per database: each parameter is prepared as its field would prepare a lookup value
    and each column converted as the ORM converts that field (on SQLite a datetime comes
    back as text, a boolean as 0/1).

    `planned_each_time` keeps the statement out of the connection's prepared statements
    (see _unprepared), for a query whose best plan depends on its values.
    """
    rows = fetch_rows(build, params, planned_each_time=planned_each_time, using=using)
    return rows[0] if rows else None


def fetch_rows(
    build: RowSql, params: list[Any], *, planned_each_time: bool = False, using: str = DEFAULT_DB_ALIAS
) -> list[list[Any]]:
    """Every row of a hand-written SELECT (see fetch_row), in the order the SQL gives them."""
    connection = connections[using]
    shape: _Row = _shape(_row, build, connection=connection)
    prepared = [f.get_db_prep_value(v, connection, prepared=False) for f, v in zip(shape.params, params, strict=True)]
    with connection.cursor() as cursor, _unprepared(connection, planned_each_time):
        cursor.execute(shape.sql, prepared)
        rows = cursor.fetchall()
    return [_convert(list(row), shape.readers, connection) for row in rows]


@contextmanager
def _unprepared(connection: BaseDatabaseWrapper, wanted: bool) -> Iterator[None]:
    """Run the statements inside unprepared on a psycopg connection that prepares repeated ones.

    PostgreSQL plans a prepared statement for its values for its first five executions, then
    may keep one generic plan for all values (plan_cache_mode=auto, "PREPARE" in its manual).
    That is right for lookups by a key, and wrong for a query whose selectivity depends on its
    values: authenticate's facts query got a plan that read a tenant's whole session history
    (69 ms against 0.7 ms with 35 000 sessions, PostgreSQL 15, issue 11). Such a query goes
    unnamed (psycopg: `prepare_threshold = None` turns preparing off, for queries prepared
    earlier too, psycopg/_preparing.py), so it is planned for its own values each time, while
    everything else, foreign-key checks included, keeps its cached plans.
    """
    raw = connection.connection
    threshold = getattr(raw, "prepare_threshold", None)
    if not wanted or threshold is None:
        yield
        return
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold


def _convert(
    values: list[Any], readers: list[tuple[Any, list[Converter]]], connection: BaseDatabaseWrapper
) -> list[Any]:
    for i, (col, converters) in enumerate(readers):
        if converters:
            value = values[i]
            for convert in converters:
                value = convert(value, col, connection)
            values[i] = value
    return values
