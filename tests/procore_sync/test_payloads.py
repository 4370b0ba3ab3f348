"""PURE payloads: QuickBooks dataclasses → Procore request bodies (plain asserts, no DB, no HTTP)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from audit.qbtypes import QbAddress, QbBill, QbBillLine, QbVendor
from peers.procore_emulator.api import (
    DIRECT_COST_LINE_SYNC_FIELDS,
    DIRECT_COST_SYNC_FIELDS,
    REQUISITION_BODY,
    REQUISITION_FIELDS,
    REQUISITION_ITEM_FIELDS,
    VENDOR_SYNC_FIELDS,
)
from procore_sync.payloads import (
    bill_split,
    country_code,
    direct_cost_header,
    direct_cost_line,
    payload_hash,
    requisition_create_body,
    requisition_header,
    requisition_update_body,
    state_code,
    vendor_payload,
)


def vendor(**kw: object) -> QbVendor:
    values: dict[str, object] = {
        "list_id": "80000001-1700000001",
        "edit_sequence": "1700000123",
        "name": "Apex Concrete",
        "company_name": "Apex Concrete, Inc.",
        "address": QbAddress(
            addr1="Apex Concrete",
            addr2="12 Main St",
            addr3="Suite 4",
            city="Denver",
            state="Colorado",
            postal_code="80202",
            country="USA",
        ),
        "phone": "303-555-0100",
        "fax": "303-555-0101",
        "email": "ap@apex.example",
        "account_number": "AC-7",
    }
    values.update(kw)
    return QbVendor(**values)  # type: ignore[arg-type]


def bill(lines: list[tuple[str, str]], amount_due: str | None = None) -> QbBill:
    qb_lines = tuple(
        QbBillLine(txn_line_id=str(i), kind="expense", amount=Decimal(a), customer_full_name=job, description=f"d{i}")
        for i, (a, job) in enumerate(lines)
    )
    total = Decimal(amount_due) if amount_due else sum((li.amount for li in qb_lines), Decimal("0"))
    return QbBill(
        txn_id="TX-1",
        edit_sequence="9",
        vendor_list_id="V1",
        vendor_name="Apex",
        txn_date=date(2026, 3, 31),
        amount_due=total,
        ref_number="INV-77",
        memo="March pour",
        lines=qb_lines,
    )


def test_vendor_payload_maps_every_field_and_keeps_the_list_id_as_origin() -> None:
    p = vendor_payload(vendor())
    assert p["name"] == "Apex Concrete" and "legal_name" not in p  # not a writable vendor field
    assert p["address"] == "12 Main St, Suite 4"  # the repeated company name is dropped
    assert (p["city"], p["state_code"], p["zip"], p["country_code"]) == ("Denver", "CO", "80202", "US")
    assert (p["business_phone"], p["fax_number"], p["email_address"]) == (
        "303-555-0100",
        "303-555-0101",
        "ap@apex.example",
    )
    assert p["is_active"] is True and p["origin_id"] == "80000001-1700000001" and p["origin_code"] == "AC-7"
    assert json.loads(p["origin_data"]) == {"edit_sequence": "1700000123"}
    assert vendor_payload(vendor(is_active=False))["is_active"] is False


def test_country_and_state_codes_are_iso_or_empty() -> None:
    assert country_code("United States") == "US" and country_code("canada") == "CA" and country_code("de") == "DE"
    assert country_code("Narnia") == "" and country_code("") == ""
    assert state_code("ca", "US") == "CA" and state_code("Ontario", "CA") == "ON" and state_code("Tx.", "US") == "TX"
    assert state_code("Somewhere", "US") == ""
    no_country = vendor(address=QbAddress(state="NY"))
    assert vendor_payload(no_country)["country_code"] == "US"


def test_a_bill_split_across_jobs_gives_one_part_per_project_to_the_cent() -> None:
    b = bill([("100.10", ""), ("0.01", "Port:Bridge"), ("250.00", "Port:Bridge"), ("-10.00", "")])
    parts = bill_split(b, job_projects={"Port:Bridge": 22}, default_project_id=11)
    assert [(p.project_id, p.amount) for p in parts] == [(11, Decimal("90.10")), (22, Decimal("250.01"))]
    assert sum(p.amount for p in parts) == b.amount_due


def test_a_bill_without_lines_or_with_a_gap_puts_the_rest_on_the_default_project() -> None:
    assert [
        (p.project_id, p.amount) for p in bill_split(bill([], "75.50"), job_projects={}, default_project_id=11)
    ] == [(11, Decimal("75.50"))]
    parts = bill_split(bill([("10.00", "J")], "12.00"), job_projects={"J": 5}, default_project_id=11)
    assert [(p.project_id, p.amount) for p in parts] == [(5, Decimal("10.00")), (11, Decimal("2.00"))]


@given(
    st.lists(
        st.tuples(st.decimals(min_value=-10_000, max_value=100_000, places=2), st.sampled_from(["", "A", "B", "C"])),
        min_size=1,
        max_size=20,
    )
)
def test_parts_always_add_up_to_amount_due(lines: list[tuple[Decimal, str]]) -> None:
    b = bill([(str(a), job) for a, job in lines])
    parts = bill_split(b, job_projects={"A": 1, "B": 2}, default_project_id=9)
    assert sum((p.amount for p in parts), Decimal("0")) == b.amount_due
    assert all(isinstance(p.amount, Decimal) for p in parts)


def test_requisition_and_direct_cost_payloads_carry_the_bill_identity_and_exact_amounts() -> None:
    b = bill([("1234.50", "")])
    [part] = bill_split(b, job_projects={}, default_project_id=3)
    header = requisition_header(b, part)
    assert header == {
        "invoice_number": "INV-77",
        "billing_date": "2026-03-31",
        "origin_id": "TX-1",
        "origin_data": header["origin_data"],
    }
    create = requisition_create_body(b, part, project_id=3, commitment_id=4, line_item_id=7)
    assert (create["project_id"], create["commitment_id"]) == (3, 4)
    assert create["requisition"]["items"] == [
        {"line_item_id": 7, "item_type": "contract_item", "work_completed_this_period": "1234.50"}
    ]
    update = requisition_update_body(b, part, project_id=3, commitment_id=4, item_id=70, zero_item_ids=[70, 71])
    assert update["requisition"]["items"] == [
        {"id": 70, "item_type": "contract_item", "work_completed_this_period": "1234.50"},
        {"id": 71, "item_type": "contract_item", "work_completed_this_period": "0.00"},
    ]
    dc = direct_cost_header(b, part, vendor_id=5)
    assert dc["direct_cost_type"] == "invoice" and dc["vendor_id"] == 5 and dc["origin_id"] == "TX-1" and "id" not in dc
    # The type can only be set when creating (DirectCostItem3.md): an update by id leaves it out.
    assert "direct_cost_type" not in direct_cost_header(b, part, vendor_id=5, direct_cost_id=9)
    line = direct_cost_line(b, part, direct_cost_id=9, cost_code_id=6, line_item_type_id=8)
    assert line == {
        "direct_cost_id": 9,
        "cost_code_id": 6,
        "line_item_type_id": 8,
        "description": "d0",
        "amount": "1234.50",
        "origin_id": "TX-1/1",
    }
    assert direct_cost_line(b, part, direct_cost_id=9, cost_code_id=6, line_item_type_id=8, line_id=99)["id"] == 99


def test_each_part_of_a_split_bill_has_its_own_origin_id() -> None:
    # Origin IDs are unique within a company across projects (Procore, Using Sync Actions).
    parts = bill_split(bill([("1.00", ""), ("2.00", "J")]), job_projects={"J": 5}, default_project_id=3)
    assert [p.origin_id for p in parts] == ["TX-1:3", "TX-1:5"]
    [alone] = bill_split(bill([("1.00", "")]), job_projects={}, default_project_id=3)
    assert alone.origin_id == "TX-1"


def test_every_field_sent_is_a_documented_request_field() -> None:
    """The field lists come from the SDK pages' request models (see docs/procore-contract.md)."""
    b = bill([("12.00", "")])
    [part] = bill_split(b, job_projects={}, default_project_id=3)
    assert set(vendor_payload(vendor())) <= set(VENDOR_SYNC_FIELDS)
    for body in (
        requisition_create_body(b, part, project_id=3, commitment_id=4, line_item_id=7),
        requisition_update_body(b, part, project_id=3, commitment_id=4, item_id=70, zero_item_ids=[71]),
    ):
        assert set(body) <= set(REQUISITION_BODY) and set(body["requisition"]) <= set(REQUISITION_FIELDS)
        assert all(set(i) <= set(REQUISITION_ITEM_FIELDS) for i in body["requisition"]["items"])
    assert set(direct_cost_header(b, part, vendor_id=5)) <= set(DIRECT_COST_SYNC_FIELDS)
    assert set(direct_cost_header(b, part, vendor_id=5, direct_cost_id=1)) <= set(DIRECT_COST_SYNC_FIELDS)
    line = direct_cost_line(b, part, direct_cost_id=9, cost_code_id=6, line_item_type_id=8, line_id=2)
    assert set(line) <= set(DIRECT_COST_LINE_SYNC_FIELDS)


def test_payload_hash_is_stable_and_sensitive() -> None:
    assert payload_hash({"a": 1, "b": [1, 2]}) == payload_hash({"b": [1, 2], "a": 1})
    assert payload_hash({"a": Decimal("1.10")}) != payload_hash({"a": Decimal("1.11")})
