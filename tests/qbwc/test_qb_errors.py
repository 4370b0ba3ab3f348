"""Web Connector errors in plain language: the pure table, getLastError over real SOAP, the sessions admin."""

from __future__ import annotations

from typing import Any

import pytest

from peers.qbwc_simulator.company import Faults
from qbwc import qb_errors
from qbwc.models import QbwcSession
from tests.harness_qbwc import QbwcHarness


@pytest.mark.parametrize(
    ("hresult", "message", "code"),
    [
        ("0x80040408", "Could not start QuickBooks.", "0x80040408"),
        ("80040408", "", "0x80040408"),
        ("-2147220472", "", "0x80040408"),  # the same HRESULT printed as a signed 32-bit number
        ("0x8004041a", "", "0x8004041A"),
        ("", "The Web Connector could not open QuickBooks: x (0x80040410)", "0x80040410"),
        ("", "Bills: QuickBooks status 3200: The provided edit sequence is out-of-date.", "3200"),
        ("", "QuickBooks offers qbXML 1.0; ml-connector needs one of 13.0", qb_errors.QBXML_VERSION_UNSUPPORTED),
    ],
)
def test_codes_are_found_in_the_hresult_or_the_stored_text(hresult: str, message: str, code: str) -> None:
    found = qb_errors.explain(hresult=hresult, message=message)
    assert found is not None and found.code == code


def test_every_entry_says_what_to_do_and_names_its_code() -> None:
    for table in (qb_errors.HRESULTS, qb_errors.STATUS_CODES):
        for code, entry in table.items():
            assert entry.code == code and entry.cause and entry.fix
            assert code in entry.text()


@pytest.mark.parametrize(
    "code",
    [
        "0x80040400",
        "0x80040408",
        "0x80040410",
        "0x80040416",
        "0x80040417",
        "0x8004041A",
        "0x80040420",
        "0x80040422",
        "0x80040424",
    ],
)
def test_the_codes_quickbooks_returns_most_are_in_the_table(code: str) -> None:
    assert code in qb_errors.HRESULTS


def test_an_unknown_code_keeps_the_raw_text_alone() -> None:
    assert qb_errors.explain(hresult="0x80049999", message="odd") is None
    assert qb_errors.for_bookkeeper(hresult="0x80049999", message="odd") == "odd"
    assert qb_errors.for_bookkeeper(hresult="", message="") == ""


def test_hostile_hresults_are_not_codes() -> None:
    for raw in ["0x" + "f" * 5000, "<script>", "0xZZZZZZZZ", " ", "12"]:
        assert qb_errors.normalize_hresult(raw) == ""


def test_the_plain_text_comes_first_and_the_raw_code_stays_beside_it() -> None:
    text = qb_errors.for_bookkeeper(hresult="0x80040408", message="Could not start QuickBooks.")
    assert text.startswith("QuickBooks could not be started on the office PC.")
    assert "Update Selected" in text and "0x80040408" in text and text.endswith("Could not start QuickBooks.")


def test_get_last_error_tells_the_bookkeeper_what_to_do(qbwc: QbwcHarness) -> None:
    result = qbwc.run(qbwc.company(faults=Faults(parse_error={"VendorQueryRq"})))
    assert result.outcome == "error"
    assert result.last_error.startswith(qb_errors.HRESULTS["0x80040400"].cause)
    assert "0x80040400" in result.last_error  # the raw code beside it
    assert "parsing the provided XML" in result.last_error  # and what QuickBooks said


def test_a_qbxml_status_error_reads_plainly_in_the_sessions_admin(qbwc: QbwcHarness, client: Any) -> None:
    from tests.factories import PASSWORD, make_member

    faults = Faults(qbxml_error={"BillQueryRq": ("3100", 'The name "x" of the list element is already in use.')})
    qbwc.run(qbwc.company(faults=faults))
    session = QbwcSession.objects.get()
    assert "3100" in session.last_error
    make_member("alice", qbwc.tenant)
    assert client.login(username="alice", password=PASSWORD)
    page = client.get("/admin/qbwc/qbwcsession/").content.decode()
    assert "reports a name that is already in use" in page and "3100" in page
    detail = client.get(f"/admin/qbwc/qbwcsession/{session.pk}/change/").content.decode()
    assert "rename one" in detail


def test_the_dashboard_shows_the_last_run_error_in_plain_words(qbwc: QbwcHarness, client: Any) -> None:
    from tests.factories import PASSWORD, make_member, make_tenant

    qbwc.run(qbwc.company(faults=Faults(connection_error=("0x80040408", "Could not start QuickBooks."))))
    make_member("alice", qbwc.tenant)
    globex = make_tenant(slug="globex", name="Globex Construction")
    make_member("charlie", globex)
    assert client.login(username="alice", password=PASSWORD)
    page = client.get("/admin/").content.decode()
    assert 'data-code="0x80040408"' in page and "QuickBooks could not be started on the office PC." in page
    assert "Could not start QuickBooks." in page  # the raw text beside it
    client.logout()
    assert client.login(username="charlie", password=PASSWORD)
    assert "0x80040408" not in client.get("/admin/").content.decode()
