"""audit.compiled_sql gives what the ORM gives (same objects, same rows changed, same conversions),
on whichever database the tests run on, and refuses shapes it does not support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Field, signals
from django.forms.models import model_to_dict

from audit import compiled_sql
from audit.compiled_sql import column_field, fetch_row, fetch_rows, get_one, insert_one, locked_any, update_where
from audit.models import SyncRecord
from qbwc.models import QbwcSession, SessionState
from tenants.models import Tenant
from tests.factories import make_tenant
from tests.statements import count_statements

STARTED = datetime(2026, 11, 30, 12, 0, 0, 123456, tzinfo=UTC)


def _session(tenant: Tenant, digest: str, **extra: Any) -> QbwcSession:
    values: dict[str, Any] = {
        "tenant": tenant, "ticket_digest": digest, "ticket_hint": digest[:6], "started_at": STARTED,
        "last_seen_at": STARTED, "marks": {"bills": ["2026-11-30T12:00:00+00:00", -300], "_offset": -300},
        "step_errors": [{"step": "bills", "text": "ü ' \\", "severity": "warn"}],
    }  # fmt: skip
    return QbwcSession.objects.create(**values | extra)


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}


@pytest.mark.django_db
def test_get_one_builds_the_objects_select_related_builds() -> None:
    acme, globex = make_tenant(slug="acme"), make_tenant(slug="globex")
    _session(acme, "a" * 64, pending_request="<QBXML/>", iterator_remaining=3)
    _session(globex, "b" * 64)

    ours = get_one(QbwcSession, related="tenant", where={"ticket_digest": "a" * 64})
    orm = QbwcSession.objects.select_related("tenant").get(ticket_digest="a" * 64)

    assert ours is not None
    assert _as_dict(ours) == _as_dict(orm)
    assert _as_dict(ours.tenant) == _as_dict(orm.tenant)  # the related row came with it: no query
    assert ours.started_at == STARTED and ours.started_at.tzinfo is not None
    assert ours.marks["_offset"] == -300 and ours.step_errors[0]["text"] == "ü ' \\"
    assert ours._state.adding is False and ours._state.db == "default"
    with count_statements() as count:
        assert ours.tenant.slug == "acme"
    assert count.sql == 0
    # The other tenant's session is not what the first ticket finds.
    other = get_one(QbwcSession, related="tenant", where={"ticket_digest": "b" * 64})
    assert other is not None and other.tenant.slug == "globex"
    assert get_one(QbwcSession, related="tenant", where={"ticket_digest": "c" * 64}) is None


@pytest.mark.django_db(transaction=True)
def test_get_one_locks_the_row_in_a_transaction() -> None:
    _session(make_tenant(slug="acme"), "a" * 64)
    with transaction.atomic(), count_statements() as count:
        locked = get_one(QbwcSession, related="tenant", where={"ticket_digest": "a" * 64}, lock=True)
        assert locked is not None
        locked.save(update_fields=["last_seen_at"])  # the lock is usable for a write
    assert count.sql == 2
    if connection.features.has_select_for_update_of:
        sql = next(v.sql for k, v in compiled_sql._shapes.items() if k[0] is compiled_sql._select_with and k[4])
        assert sql.endswith('FOR UPDATE OF "m"')


@pytest.mark.django_db
def test_update_where_changes_what_the_guarded_update_changes() -> None:
    acme = make_tenant(slug="acme")
    one, two = _session(acme, "a" * 64), _session(acme, "b" * 64)
    later = STARTED + timedelta(minutes=5)
    values = {"last_seen_at": later, "marks": {"vendors": ["x", None]}, "pending_request": "it's", "progress": 40}

    assert update_where(QbwcSession, values=values, where={"id": one.pk, "state": SessionState.OPEN}) == 1
    # A guard that no longer holds changes nothing: a concurrent duplicate call loses.
    assert update_where(QbwcSession, values={"progress": 99}, where={"id": two.pk, "state": SessionState.DONE}) == 0

    one.refresh_from_db()
    two.refresh_from_db()
    assert (one.last_seen_at, one.marks, one.pending_request, one.progress) == (
        later,
        {"vendors": ["x", None]},
        "it's",
        40,
    )
    assert model_to_dict(two)["progress"] == 0
    with count_statements() as count:
        update_where(QbwcSession, values={"progress": 41}, where={"id": one.pk})
    assert (count.sql, count.savepoints) == (1, 0)


@pytest.mark.django_db
def test_unsupported_shapes_are_refused_not_guessed() -> None:
    with pytest.raises(ValueError, match="unique"):
        get_one(QbwcSession, related="tenant", where={"state": "open"})
    with pytest.raises(ValueError, match="None"):
        update_where(QbwcSession, values={"progress": 1}, where={"finished_at": None})
    with pytest.raises(ValueError, match="primary key"):
        update_where(QbwcSession, values={"id": 5}, where={"ticket_digest": "x"})
    with pytest.raises(ValueError, match="not a concrete column"):
        column_field(QbwcSession, "responses")  # a reverse relation has no column


def _row_sql(qn: Any) -> tuple[str, list[Field[Any, Any]], list[Field[Any, Any] | None]]:
    table, started, tenant = qn(QbwcSession._meta.db_table), qn("started_at"), qn("tenant_id")
    sql = (
        f"SELECT (SELECT MAX({started}) FROM {table} WHERE {tenant} = %s), "
        f"EXISTS (SELECT 1 FROM {table} WHERE {tenant} = %s AND {started} >= %s)"
    )
    s = column_field
    return (
        sql,
        [s(QbwcSession, "tenant"), s(QbwcSession, "tenant"), s(QbwcSession, "started_at")],
        [
            s(QbwcSession, "started_at"),
            None,
        ],
    )


@pytest.mark.django_db
def test_fetch_row_prepares_parameters_and_converts_columns_as_the_orm_does() -> None:
    acme = make_tenant(slug="acme")
    _session(acme, "a" * 64)
    latest, exists = fetch_row(_row_sql, [acme.pk, acme.pk, STARTED]) or []
    # On SQLite MAX() of a datetime column is text; it comes back an aware datetime all the same.
    assert latest == STARTED and latest.tzinfo is not None
    assert bool(exists) is True
    latest, exists = fetch_row(_row_sql, [acme.pk + 1000, acme.pk, STARTED + timedelta(microseconds=1)]) or []
    assert latest is None and bool(exists) is False
    with pytest.raises(ValueError):
        fetch_row(_row_sql, [acme.pk])  # a parameter per %s, no fewer


def _rows_sql(qn: Any) -> tuple[str, list[Field[Any, Any]], list[Field[Any, Any] | None]]:
    started, tenant = column_field(QbwcSession, "started_at"), column_field(QbwcSession, "tenant")
    table, digest = qn(QbwcSession._meta.db_table), qn("ticket_digest")
    sql = f"SELECT {digest}, {qn('started_at')} FROM {table} WHERE {qn('tenant_id')} = %s ORDER BY {digest}"
    return sql, [tenant], [None, started]


@pytest.mark.django_db
def test_fetch_rows_gives_every_row_converted_and_none_for_no_match() -> None:
    acme, globex = make_tenant(slug="acme"), make_tenant(slug="globex")
    _session(acme, "b" * 64)
    _session(acme, "a" * 64)
    _session(globex, "c" * 64)
    rows = fetch_rows(_rows_sql, [acme.pk])
    assert [digest for digest, _ in rows] == ["a" * 64, "b" * 64]  # the SQL's order, this tenant only
    assert all(started == STARTED and started.tzinfo is not None for _, started in rows)
    assert fetch_rows(_rows_sql, [globex.pk + acme.pk + 1000]) == []


@pytest.mark.django_db
def test_get_one_without_a_join_reads_every_column_as_the_orm_does() -> None:
    make_tenant(slug="acme", sync_paused=True)
    make_tenant(slug="globex")
    ours = get_one(Tenant, where={"qbwc_username": "acme-qbwc"})
    orm = Tenant.objects.get(qbwc_username="acme-qbwc")
    assert ours is not None and _as_dict(ours) == _as_dict(orm)
    assert ours.sync_paused is True and ours.check_qbwc_password is not None
    assert get_one(Tenant, where={"qbwc_username": "nobody"}) is None


@pytest.mark.django_db
def test_insert_one_stores_the_row_save_would_store() -> None:
    acme = make_tenant(slug="acme")
    values: dict[str, Any] = {
        "tenant": acme, "ticket_hint": "abcdef", "started_at": STARTED, "last_seen_at": STARTED,
        "client_address": "10.0.0.7", "marks": {"bills": ["2026-11-30T12:00:00+00:00", -300]},
        "step_errors": [{"step": "bills", "text": "ü ' \\", "severity": "warn"}],
    }  # fmt: skip
    by_orm = QbwcSession.objects.create(ticket_digest="a" * 64, **values)
    by_us = insert_one(QbwcSession(ticket_digest="b" * 64, **values))
    assert by_us.pk is not None and by_us.pk != by_orm.pk and not by_us._state.adding
    stored = {s.ticket_digest: model_to_dict(s) for s in QbwcSession.objects.filter(pk__in=[by_orm.pk, by_us.pk])}
    ours, theirs = stored["b" * 64], stored["a" * 64]
    for row in (ours, theirs):
        del row["id"], row["ticket_digest"]
    assert ours == theirs


@pytest.mark.django_db
def test_get_one_builds_objects_the_orm_way_when_someone_listens_to_their_init() -> None:
    make_tenant(slug="acme")
    seen: list[object] = []

    def heard(sender: type[Tenant], instance: Tenant, **kwargs: Any) -> None:
        seen.append(instance)

    signals.post_init.connect(heard, sender=Tenant)
    try:
        tenant = get_one(Tenant, where={"slug": "acme"})
    finally:
        signals.post_init.disconnect(heard, sender=Tenant)
    assert seen == [tenant] and tenant is not None and not tenant._state.adding
    quiet = get_one(Tenant, where={"slug": "acme"})  # nobody listens: built without __init__, same object
    assert quiet is not None and model_to_dict(quiet) == model_to_dict(tenant) and not quiet._state.adding
    assert quiet._state.db == "default" and quiet.pk == tenant.pk


@pytest.mark.django_db(transaction=True)
def test_locked_any_builds_the_objects_the_locking_orm_query_builds() -> None:
    acme, globex = make_tenant(slug="acme"), make_tenant(slug="globex")
    stamp = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
    for tenant in (acme, globex):
        for kind, qb_id in (("bill", "T1"), ("bill", "T2"), ("vendor", "T1"), ("bill", "T3")):
            SyncRecord.objects.create(
                tenant=tenant, kind=kind, qb_id=qb_id, amount=Decimal("12.30"), qb_time_modified=stamp,
                payload={"memo": "ü ' \\", "lines": [{"amount": "1.00"}]}, deleted_in_qb=qb_id == "T2",
            )  # fmt: skip
    any_of = {"kind": {"bill"}, "qb_id": ["T2", "T1", "T9"]}
    with transaction.atomic(), count_statements() as count:
        got = locked_any(SyncRecord, where={"tenant": acme.pk}, any_of=any_of)
        assert connection.in_atomic_block
    expected = SyncRecord.objects.filter(tenant=acme, kind__in=["bill"], qb_id__in=["T2", "T1", "T9"]).order_by("pk")
    assert [_as_dict(r) for r in got] == [_as_dict(r) for r in expected] and len(got) == 2
    assert all(not r._state.adding and r._state.db == "default" for r in got)
    assert count.sql == 1
    assert locked_any(SyncRecord, where={"tenant": globex.pk}, any_of={"kind": ["vendor"], "qb_id": []}) == []


@pytest.mark.django_db
def test_unchanged_since_load_names_only_immutable_values_still_as_read() -> None:
    _session(make_tenant(slug="acme"), "a" * 64, pending_request="<QBXML/>", progress=40)
    session = get_one(QbwcSession, where={"ticket_digest": "a" * 64})
    assert session is not None
    names = ["progress", "pending_request", "last_seen_at", "step", "marks", "step_errors"]
    assert compiled_sql.unchanged_since_load(session, names) == {"progress", "pending_request", "last_seen_at", "step"}

    session.progress = 41
    session.last_seen_at = STARTED + timedelta(seconds=1)
    session.marks["bills"] = ["changed in place", None]  # a dict is never taken for unchanged
    assert compiled_sql.unchanged_since_load(session, names) == {"pending_request", "step"}
    session.progress = 40  # back to what was read: unchanged again
    assert "progress" in compiled_sql.unchanged_since_load(session, names)

    # After a write, what was written is what the database holds.
    session.progress = 50
    compiled_sql.mark_loaded(session, ["progress"])
    assert "progress" in compiled_sql.unchanged_since_load(session, ["progress"])
    # An object the ORM built carries no record of what it read: everything counts as changed.
    assert compiled_sql.unchanged_since_load(QbwcSession.objects.get(ticket_digest="a" * 64), names) == set()


@pytest.mark.django_db
def test_update_where_runs_its_before_statements_whatever_the_guard_finds() -> None:
    acme = make_tenant(slug="acme")
    session = _session(acme, "a" * 64)
    # Another table's row (PostgreSQL does not let one statement change the same row twice).
    table = Tenant._meta.db_table
    note = (f"UPDATE {table} SET name = %s WHERE id = %s", ["noted", acme.pk])
    with count_statements() as count:
        changed = update_where(
            QbwcSession, values={"progress": 7}, where={"id": session.pk, "state": SessionState.OPEN}, before=[note]
        )
    assert changed == 1
    # One round trip on PostgreSQL (a WITH query), two statements elsewhere.
    assert count.sql == (1 if connection.vendor == "postgresql" else 2)
    session.refresh_from_db()
    acme.refresh_from_db()
    assert (session.progress, acme.name) == (7, "noted")

    # A guard that no longer holds still leaves what `before` did, and reports no row.
    again = (f"UPDATE {table} SET name = %s WHERE id = %s", ["again", acme.pk])
    assert (
        update_where(QbwcSession, values={"progress": 9}, where={"id": session.pk, "state": "done"}, before=[again])
        == 0
    )
    session.refresh_from_db()
    acme.refresh_from_db()
    assert (session.progress, acme.name) == (7, "again")
