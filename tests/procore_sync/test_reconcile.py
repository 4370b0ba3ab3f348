"""`manage.py reconcile` and the admin's reconciliation page against the Procore emulator.

Records are pushed by the real worker over real HTTP; then the emulator's state is
tampered with the way a person editing Procore by hand would, and the report must say so.
"""

from __future__ import annotations

import copy as copy_module
import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from audit.qbtypes import QbDeletion
from audit.services import record_mark_deleted, record_receive
from tenants.models import Membership, Role
from tests.factories import PASSWORD, make_user
from tests.harness_procore import Tenants, qb_bill, qb_vendor, wait_settled

pytestmark = pytest.mark.slow


def reconcile(slug: str) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("reconcile", slug, stdout=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def stage(tenants: Tenants) -> None:
    # As a Procore admin: deleting T-3 must not depend on which invoice of Apex's commitment is the
    # latest (the rules for non-admins are tested in tests/procore_sync/test_invoice_rules.py).
    tenants.emu.state.admin_clients.add("acme-client")
    apex = qb_vendor("V-APEX", "Apex Concrete")
    record_receive(tenant=tenants.acme, obj=apex, session_id=None)
    record_receive(tenant=tenants.acme, obj=qb_bill("T-1", apex, [("1200.10", "")]), session_id=None)
    # Split across two projects: Main Street (default) and Harbor Bridge (job mapping).
    record_receive(
        tenant=tenants.acme,
        obj=qb_bill("T-2", apex, [("300.00", ""), ("99.99", "Port Authority:Harbor Bridge")]),
        session_id=None,
    )
    record_receive(tenant=tenants.acme, obj=qb_bill("T-3", apex, [("50.00", "")]), session_id=None)
    wait_settled()


def test_everything_pushed_reconciles_and_tampering_is_reported(acme_globex: Tenants, celery_worker: Any) -> None:
    stage(acme_globex)
    code, text = reconcile("acme")
    assert code == 0, text
    assert "3 open QuickBooks bills (4 project shares)" in text
    assert "exactly once, to the cent" in text

    # Someone edits an amount in Procore by hand, and QuickBooks deletes T-3 while the worker is stopped.
    state = acme_globex.emu.state
    req = next(r for r in state.requisitions.values() if r["origin_id"] == "T-1")
    req["items"][0]["work_completed_this_period"] += Decimal("0.01")
    code, text = reconcile("acme")
    assert code == 1
    assert "INV-T-1: QuickBooks 1,200.10, Procore 1,200.11 — amount differs" in text


def test_deleted_duplicated_and_extra_records_are_reported(acme_globex: Tenants, celery_worker: Any) -> None:
    stage(acme_globex)
    record_mark_deleted(
        tenant=acme_globex.acme,
        deletion=QbDeletion(kind="bill", qb_id="T-3", time_deleted=datetime.now(UTC)),
        session_id=None,
    )
    wait_settled()
    code, text = reconcile("acme")
    assert code == 0, text  # the worker deleted T-3 in Procore: nothing extra remains
    assert "2 open QuickBooks bills" in text

    # By hand in Procore: T-1's invoice entered twice, and the deleted T-3 re-created.
    state = acme_globex.emu.state
    original = next(r for r in state.requisitions.values() if r["origin_id"] == "T-1")
    for origin in ("T-1", "T-3"):
        copy = copy_module.deepcopy(original)
        copy["id"] = state.next_id()
        copy["origin_id"] = origin
        state.requisitions[copy["id"]] = copy
    code, text = reconcile("acme")
    assert code == 1
    assert "INV-T-1: QuickBooks 1,200.10, Procore 2,400.20 — duplicated in Procore" in text
    assert "T-3: QuickBooks —, Procore 1,200.10 — in Procore but not an open QuickBooks bill" in text


def test_unknown_tenant_and_unreadable_procore_are_clear_errors(acme_globex: Tenants) -> None:
    with pytest.raises(CommandError, match="no tenant"):
        reconcile("nobody")
    acme_globex.emu.server.stop()
    with pytest.raises(CommandError, match="cannot read Procore"):
        reconcile("acme")


def test_the_admin_shows_the_same_report_only_to_the_tenants_people(acme_globex: Tenants, celery_worker: Any) -> None:
    stage(acme_globex)
    alice = make_user("alice")
    Membership.objects.create(user=alice, tenant=acme_globex.acme, role=Role.ACCOUNTANT)
    charlie = make_user("charlie")
    Membership.objects.create(user=charlie, tenant=acme_globex.globex, role=Role.ACCOUNTANT)

    client = Client()
    assert client.login(username="alice", password=PASSWORD)
    page = client.get(f"/admin/tenants/tenant/{acme_globex.acme.pk}/reconcile/")
    assert page.status_code == 200
    assert "Every open QuickBooks bill is in Procore exactly once, to the cent." in page.content.decode()

    other = Client()
    assert other.login(username="charlie", password=PASSWORD)
    assert other.get(f"/admin/tenants/tenant/{acme_globex.acme.pk}/reconcile/").status_code == 404
