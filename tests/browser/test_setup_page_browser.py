"""The customer setup page, in a real browser: from an empty tenant to an all-green checklist.

alice (acme's accountant) keeps the setup page open; the Web Connector simulator polls
over real SOAP, support connects Procore (the emulator over real HTTP), alice maps the
jobs and vendors, and each checklist item turns green on the open page without a reload.
Screenshots go to build/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from procore_sync.services.mappings import jobs_seen
from tenants.models import BillTarget
from tests.browser.conftest import shot
from tests.conftest import Cast
from tests.factories import PASSWORD, make_connection
from tests.harness_procore import Emu

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GREEN_WAIT_MS = 15_000


def _state(page: Any, key: str) -> str:
    return str(page.locator(f"#check-{key}").get_attribute("class"))


def _wait_green(page: Any, key: str) -> None:
    page.wait_for_selector(f"#check-{key}.done", timeout=GREEN_WAIT_MS)


def _save_form(page: Any, url: str, fields: dict[str, str]) -> None:
    page.goto(url)
    page.select_option("#id_tenant", label="Acme Builders")
    for selector, value in fields.items():
        page.fill(selector, value)
    with page.expect_navigation():
        page.click('input[name="_save"]')
    assert "was added successfully" in page.locator("ul.messagelist").inner_text()


def test_an_empty_tenant_turns_all_green(
    cast: Cast, procore_emulator: Emu, open_as: Any, live_server: Any, settings: Any
) -> None:
    from peers.qbwc_simulator.client import WebConnector
    from peers.qbwc_simulator.company import FakeCompany
    from peers.qbwc_simulator.dataset import build

    settings.QBWC_MIN_SECONDS_BETWEEN_RUNS = 0
    acme = cast.acme
    acme.procore_company_id = procore_emulator.seeds[0]["company"]["id"]
    acme.procore_project_id = procore_emulator.ids[
        "project:" + procore_emulator.seeds[0]["connector_hints"]["default_project"]
    ]
    acme.bill_target = BillTarget.DIRECT_COST_ONLY
    acme.save()
    base = live_server.url

    # alice finds the setup page from her dashboard: nothing is done yet.
    page = open_as("alice")
    with page.expect_navigation():
        page.click("#dashboard-acme .setup-link a")
    assert page.url == f"{base}/admin/setup/{acme.pk}/"
    for key in ("first_poll", "procore", "projects", "vendors"):
        assert _state(page, key) == "todo", key
    assert "acme-qbwc" in page.locator(".setup-steps").first.inner_text()
    shot(page, "11-setup-page-empty-tenant")

    # Step: download the .qwc (what she imports into the Web Connector).
    with page.expect_download() as download:
        page.click("#download-qwc")
    qwc = Path(download.value.path()).read_text(encoding="utf-8")
    assert "<UserName>acme-qbwc</UserName>" in qwc and f"{base}/qbwc/</AppURL>" in qwc

    # The Web Connector (simulator) polls with the password from the setup steps.
    data = build(bills=3, vendors=2, changes=False)
    result = WebConnector(f"{base}/qbwc/", acme.qbwc_username, PASSWORD, FakeCompany(data)).run()
    assert result.outcome == "done", result.last_error
    _wait_green(page, "first_poll")  # on the open page, no reload
    assert _state(page, "procore") == "todo"
    shot(page, "12-setup-page-first-poll-seen")

    # Support connects Procore (the emulator) and tests the connection.
    client = procore_emulator.seeds[0]["clients"][0]
    conn = make_connection(acme, client_id=client["client_id"], client_secret=client["client_secret"])
    support = open_as("sam")
    support.goto(f"{base}/admin/tenants/procoreconnection/{conn.pk}/change/")
    with support.expect_navigation():
        support.click("#test-connection")
    assert "Connected to Procore company" in support.locator("ul.messagelist").inner_text()
    _wait_green(page, "procore")
    shot(page, "13-setup-page-procore-connected")

    # alice maps every QuickBooks job to a project and every vendor with bills to a cost code.
    forms = page.context.new_page()
    jobs = sorted({job for _, job in jobs_seen(tenant_ids=[acme.pk])})
    project_id = str(procore_emulator.ids["project:" + procore_emulator.seeds[0]["connector_hints"]["default_project"]])
    for job in jobs:
        assert _state(page, "projects") == "todo"
        _save_form(
            forms,
            f"{base}/admin/procore_sync/jobprojectmapping/add/",
            {"#id_customer_full_name": job, "#id_project_id": project_id},
        )
    _wait_green(page, "projects")
    vendor_ids = sorted({b["VendorRef"]["ListID"] for b in data.bills})
    for list_id in vendor_ids:
        assert _state(page, "vendors") == "todo"
        _save_form(
            forms,
            f"{base}/admin/procore_sync/costcodemapping/add/",
            {"#id_vendor_list_id": list_id, "#id_cost_code": "09-250"},
        )
    _wait_green(page, "vendors")
    page.wait_for_selector("#all-done:not([hidden])", timeout=GREEN_WAIT_MS)
    shot(page, "14-setup-page-all-green")


def test_charlie_cannot_open_acmes_setup_page(cast: Cast, open_as: Any, live_server: Any) -> None:
    page = open_as("charlie")
    for path in (f"/admin/setup/{cast.acme.pk}/", f"/admin/setup/{cast.acme.pk}/status/"):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 404, path
    response = page.goto(f"{live_server.url}/admin/setup/{cast.globex.pk}/")
    assert response is not None and response.status == 200
    assert "Acme" not in page.content()
