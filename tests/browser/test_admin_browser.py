"""The issue's "Done when", in a real browser: accountants map and watch bills reach Procore,
support replays a failed record, and globex's accountant never sees acme.

Headless Debian Chromium against the live server; Procore is the emulator over real HTTP.
Screenshots of the main screens go to build/screenshots/.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from audit.models import EventCode, JobReason, JobState, PushJob, RecordState, SyncEvent, SyncRecord
from tenants.models import BillTarget
from tests import builders
from tests.browser.conftest import drain, shot
from tests.conftest import Cast
from tests.factories import make_connection
from tests.harness_procore import Emu

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _acme_on_the_emulator(cast: Cast, procore_emulator: Emu) -> None:
    acme = cast.acme
    acme.procore_company_id = procore_emulator.seeds[0]["company"]["id"]
    acme.procore_project_id = procore_emulator.ids[
        "project:" + procore_emulator.seeds[0]["connector_hints"]["default_project"]
    ]
    acme.bill_target = BillTarget.DIRECT_COST_ONLY
    acme.save()
    client = procore_emulator.seeds[0]["clients"][0]
    make_connection(acme, client_id=client["client_id"], client_secret=client["client_secret"])


def _figure(page: Any, slug: str, name: str) -> int:
    text = page.locator(f'#dashboard-{slug} [data-figure="{name}"] .n').inner_text()
    return int(text)


def test_accountant_maps_a_vendor_and_the_waiting_bills_reach_procore(
    cast: Cast, procore_emulator: Emu, open_as: Any, live_server: Any, settings: Any
) -> None:
    from peers.qbwc_simulator.client import WebConnector
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import build
    from tests.factories import PASSWORD

    _acme_on_the_emulator(cast, procore_emulator)
    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 0
    # QuickBooks (the Web Connector simulator) sends one vendor and its bills over SOAP.
    data = build(bills=3, vendors=1, changes=False)
    result = WebConnector(f"{live_server.url}/qbwc/", cast.acme.qbwc_username, PASSWORD, FakeCompany(data)).run()
    assert result.outcome == "done", result.last_error
    list_id = data.vendors[0]["ListID"]
    bills = list(SyncRecord.objects.filter(tenant=cast.acme, kind="bill"))
    assert len(bills) == 3
    drain()  # the vendor goes to Procore; the bills wait for a cost code
    assert PushJob.objects.filter(record__in=bills, state=JobState.WAITING, reason=JobReason.NEEDS_MAPPING).count() == 3

    page = open_as("alice")
    assert _figure(page, "acme", "waiting") == 3
    assert _figure(page, "acme", "synced") == 1
    shot(page, "01-accountant-dashboard-before")

    with page.expect_navigation():
        page.click('#dashboard-acme [data-figure="waiting"]')
    row = page.locator(f'tr.unmapped-vendor[data-vendor="{list_id}"]')
    assert row.locator(".bills-waiting").inner_text() == "3"
    with page.expect_navigation():
        page.click("button.refresh-catalog")  # reads projects and cost codes from Procore
    assert "Procore catalog refreshed" in page.locator("ul.messagelist").inner_text()
    shot(page, "02-cost-code-mapping-unmapped-vendors")

    with page.expect_navigation():
        page.locator(f'tr.unmapped-vendor[data-vendor="{list_id}"] a.map-vendor').click()
    assert page.locator('#procore-cost-codes option[value="09-250"]').count() == 1
    page.fill("#id_cost_code", "09-250")
    shot(page, "03-cost-code-mapping-form")
    with page.expect_navigation():
        page.click('input[name="_save"]')
    assert "3 waiting bill(s) released to Procore" in page.locator("ul.messagelist").inner_text()

    drain()  # the worker picks up the released jobs
    for record in bills:
        found = procore_emulator.state.direct_costs_by_origin(record.qb_id)
        assert len(found) == 1, record.label

    page.goto(page.url.split("/admin/")[0] + "/admin/")
    assert _figure(page, "acme", "synced") == 4
    assert "never" not in page.locator("#dashboard-acme .last-contact").inner_text()
    assert _figure(page, "acme", "waiting") == 0
    shot(page, "04-accountant-dashboard-after")


def test_support_replays_a_failed_record_and_the_new_attempt_succeeds(
    cast: Cast, procore_emulator: Emu, open_as: Any
) -> None:
    _acme_on_the_emulator(cast, procore_emulator)
    vendor = builders.vendor(cast.acme, "Summit Drywall Co", list_id="80000099-1700000099")
    from procore_sync.services.mappings import costcode_map

    costcode_map(tenant=cast.acme, vendor_list_id=vendor.qb_id, vendor_name=vendor.label, cost_code="09-250")
    bill = builders.bill(cast.acme, vendor, "SD-2001", "1999.99")
    procore_emulator.state.inject("status", status=422, method="PATCH", path=r"/direct_costs/sync$", count=1)
    drain()
    bill.refresh_from_db()
    assert bill.state == RecordState.FAILED

    page = open_as("sam")
    shot(page, "05-support-dashboard-with-failure")
    with page.expect_navigation():
        page.click('#dashboard-acme [data-figure="failed"]')
    shot(page, "05b-sync-records-failed-list")
    with page.expect_navigation():
        page.click("text=SD-2001")
    assert page.locator("#timeline").is_visible()
    codes = page.locator("tr.timeline-event").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes[0] == EventCode.QB_RECEIVED and codes[-1] == EventCode.PUSH_FAILED_PERMANENT
    shot(page, "06-failed-record-timeline")

    with page.expect_navigation():
        page.click("#replay-button")
    assert "Replay queued" in page.locator("ul.messagelist").inner_text()
    drain()
    page.reload()
    codes = page.locator("tr.timeline-event").evaluate_all("rows => rows.map(r => r.dataset.code)")
    assert codes[-2:] == [EventCode.REPLAY_REQUESTED, EventCode.PUSH_SUCCEEDED]
    assert "In Procore" in page.locator(".field-state").inner_text()
    assert page.locator("#replay-button").count() == 0
    shot(page, "07-replayed-record-timeline")
    assert len(procore_emulator.state.direct_costs_by_origin(bill.qb_id)) == 1  # never a second record
    replay = SyncEvent.objects.get(record=bill, code=EventCode.REPLAY_REQUESTED)
    assert replay.acting_user == cast.sam


def test_globex_accountant_never_sees_acme(cast: Cast, open_as: Any, live_server: Any) -> None:
    vendor = builders.vendor(cast.acme, "Acme Concrete Supply")
    record = builders.fail(builders.bill(cast.acme, vendor, "ACME-SECRET-1"))
    gv = builders.vendor(cast.globex, "Globex Steel Works")
    builders.park_for_mapping(builders.bill(cast.globex, gv, "GLX-1"))
    page = open_as("charlie")
    base = live_server.url

    response = page.goto(f"{base}/admin/audit/syncrecord/{record.pk}/change/")
    assert response is not None and response.status == 404
    response = page.goto(f"{base}/admin/tenants/tenant/{cast.acme.pk}/change/")
    assert response is not None and response.status == 404

    screens = [
        "/admin/",
        "/admin/audit/syncrecord/",
        "/admin/audit/syncrecord/?_popup=1&_to_field=id",
        f"/admin/audit/syncrecord/?tenant={cast.acme.pk}",
        "/admin/procore_sync/costcodemapping/",
        "/admin/procore_sync/costcodemapping/add/",
        "/admin/procore_sync/jobprojectmapping/add/",
        "/admin/qbwc/qbwcsession/",
        "/admin/tenants/tenant/",
        "/admin/tenants/tenant/?_popup=1",
    ]
    for path in screens:
        page.goto(base + path)
        text = page.content()
        assert not re.search(r"Acme|ACME-SECRET|acme", text), path
    page.goto(f"{base}/admin/audit/syncrecord/")
    assert "GLX-1" in page.content()
    shot(page, "08-globex-accountant-record-list")
    page.goto(f"{base}/admin/procore_sync/costcodemapping/add/")
    options = page.locator("#id_tenant option").all_inner_texts()
    assert "Acme Builders" not in options and "Globex Construction" in options
    shot(page, "09-globex-accountant-mapping-form")
    assert SyncRecord.objects.filter(tenant=cast.acme).count() == 2


def test_support_tests_the_procore_connection_and_downloads_the_qwc(
    cast: Cast, procore_emulator: Emu, open_as: Any
) -> None:
    from qbwc.models import QbwcSession

    _acme_on_the_emulator(cast, procore_emulator)
    QbwcSession.objects.create(tenant=cast.acme, ticket_digest="b" * 64, ticket_hint="b1b2b3b4", bills_received=12)
    page = open_as("sam")
    with page.expect_navigation():
        page.click('#content-main a[href$="/admin/tenants/procoreconnection/"]')
    with page.expect_navigation():
        page.click("#result_list tbody a >> nth=0")
    secret = procore_emulator.seeds[0]["clients"][0]["client_secret"]
    assert secret not in page.content()
    with page.expect_navigation():
        page.click("#test-connection")
    message = page.locator("ul.messagelist").inner_text()
    assert f"Connected to Procore company “{procore_emulator.seeds[0]['company']['name']}”" in message
    shot(page, "10-procore-connection-tested")

    with page.expect_navigation():
        page.click('#nav-sidebar a[href$="/admin/tenants/tenant/"]')
    with page.expect_navigation():
        page.click("#result_list tbody a >> text=Acme Builders")
    with page.expect_download() as download:
        page.click("#download-qwc")
    body = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<UserName>acme-qbwc</UserName>" in body and "/qbwc/</AppURL>" in body
    shot(page, "11-tenant-page")

    with page.expect_navigation():
        page.click('#nav-sidebar a[href$="/admin/qbwc/qbwcsession/"]')
    assert "12 bills" in page.content()
    shot(page, "12-qbwc-sessions")
