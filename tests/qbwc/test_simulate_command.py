from __future__ import annotations

from io import StringIO

import pytest
import requests
from django.core.management import CommandError, call_command

from audit.models import SyncRecord
from peers.qbwc_simulator.dataset import build, save
from qbwc.models import QbwcSession, SessionState
from tests.factories import PASSWORD
from tests.harness_qbwc import QbwcHarness


def test_the_command_runs_the_sample_three_times_and_prints_each_run(qbwc: QbwcHarness) -> None:
    out = StringIO()
    call_command(
        "qbwc_simulate", url=qbwc.url, username=qbwc.tenant.qbwc_username, password=PASSWORD, runs=3, stdout=out
    )
    text = out.getvalue()
    assert "Run 1" in text and "Run 3" in text
    assert "-> done: 4 requests sent; 30 vendors, 200 bills, 0 deletions received" in text
    assert "3 vendors, 4 bills, 3 deletions received" in text  # run 2: the sample's edits
    assert "VendorQueryRq" in text and "progress 100" in text
    assert QbwcSession.objects.filter(state=SessionState.CLOSED).count() == 3
    assert SyncRecord.objects.count() == 30 + 1 + 200 + 1


def test_the_command_takes_a_dataset_file_and_reports_a_wrong_password(qbwc: QbwcHarness, tmp_path) -> None:
    path = tmp_path / "small.json"
    save(build(bills=5, vendors=2, changes=False), path)
    out = StringIO()
    call_command(
        "qbwc_simulate",
        url=qbwc.url,
        username=qbwc.tenant.qbwc_username,
        password=PASSWORD,
        dataset=str(path),
        stdout=out,
    )
    assert "2 vendors, 5 bills, 0 deletions received" in out.getvalue()
    out = StringIO()
    call_command("qbwc_simulate", url=qbwc.url, username=qbwc.tenant.qbwc_username, password="x", stdout=out)
    assert "-> nvu" in out.getvalue()
    with pytest.raises(CommandError, match="cannot read dataset"):
        call_command("qbwc_simulate", url=qbwc.url, username="u", password="p", dataset=str(tmp_path / "nope.json"))


def test_the_wsdl_and_the_support_page_are_served(qbwc: QbwcHarness) -> None:
    wsdl = requests.get(qbwc.url + "?wsdl", timeout=10)
    assert wsdl.status_code == 200 and wsdl.headers["Content-Type"].startswith("text/xml")
    assert f'location="{qbwc.url}"' in wsdl.text
    assert wsdl.text.startswith('<?xml version="1.0" encoding="utf-8"?>\n<wsdl:definitions')
    support = requests.get(qbwc.url + "support/", timeout=10)
    assert support.status_code == 200 and "Web Connector" in support.text
    assert requests.put(qbwc.url, data=b"", timeout=10).status_code == 405
