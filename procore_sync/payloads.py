"""PURE: QuickBooks dataclasses → Procore payload dicts. No ORM, no HTTP.

Money stays Decimal and travels as a two-decimal string ("1234.50"), which
Procore accepts for numeric fields; float never touches an amount, so totals
equal QuickBooks to the cent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from audit.qbtypes import QbAddress, QbBill, QbVendor

CENT = Decimal("0.01")

# QuickBooks stores free-text countries; Procore wants ISO-3166 alpha-2.
_COUNTRIES = {
    "us": "US", "usa": "US", "u.s.": "US", "u.s.a.": "US", "united states": "US",
    "united states of america": "US", "ca": "CA", "can": "CA", "canada": "CA",
    "mx": "MX", "mex": "MX", "mexico": "MX", "gb": "GB", "uk": "GB", "united kingdom": "GB",
}  # fmt: skip

_US_STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
}  # fmt: skip

_CA_PROVINCES = {
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "nova scotia": "NS", "ontario": "ON",
    "prince edward island": "PE", "quebec": "QC", "saskatchewan": "SK",
}  # fmt: skip


def country_code(raw: str) -> str:
    """ISO alpha-2 for a QuickBooks country; "" when unknown (never a guess)."""
    value = raw.strip().lower()
    if not value:
        return ""
    if value in _COUNTRIES:
        return _COUNTRIES[value]
    return raw.strip().upper() if len(value) == 2 and value.isalpha() else ""


def state_code(raw: str, country: str) -> str:
    """The subdivision part of ISO-3166-2 ("CA" for California); "" when unknown."""
    value = raw.strip().lower().rstrip(".")
    if not value:
        return ""
    table = _CA_PROVINCES if country == "CA" else _US_STATES
    if value in table:
        return table[value]
    codes = set(table.values())
    return value.upper() if value.upper() in codes else ""


def _street(address: QbAddress, skip: set[str]) -> str:
    # QuickBooks often repeats the company name in Addr1; Procore has a name field for that.
    lines = [address.addr1, address.addr2, address.addr3, address.addr4, address.addr5]
    return ", ".join(x.strip() for x in lines if x.strip() and x.strip().lower() not in skip)


def vendor_payload(vendor: QbVendor) -> dict[str, Any]:
    """A Procore company-vendor body; `origin_id` = ListID so it can always be found again.

    Every key is a field of CompanyVendorSyncBodyUpdatesInner.md and CompanyVendor.md (the
    sync and create/update request models of the SDK pages generated from Procore's OpenAPI).
    """
    address = vendor.address or QbAddress()
    country = country_code(address.country) or ("US" if address.state else "")
    skip = {vendor.name.strip().lower(), vendor.company_name.strip().lower()} - {""}
    return {
        # QuickBooks' CompanyName has no writable twin: `legal_name` is only in Procore's answers
        # (docs/RestV10VendorsGet200ResponseInner.md), not in CompanyVendorSyncBodyUpdatesInner.md.
        "name": vendor.name.strip(),
        "address": _street(address, skip),
        "city": address.city.strip(),
        "state_code": state_code(address.state, country),
        "zip": address.postal_code.strip(),
        "country_code": country,
        "business_phone": vendor.phone.strip(),
        "fax_number": vendor.fax.strip(),
        "email_address": vendor.email.strip(),
        "is_active": vendor.is_active,
        "origin_id": vendor.list_id,
        "origin_code": vendor.account_number.strip(),
        "origin_data": json.dumps({"edit_sequence": vendor.edit_sequence}, sort_keys=True),
    }


@dataclass(frozen=True)
class BillPart:
    """The share of one bill that lands in one Procore project."""

    project_id: int
    amount: Decimal
    description: str
    # Procore: "All Origin IDs are required to be unique within a single company. The same Origin
    # ID may not be used in more than one project" (Using Sync Actions). A bill in one project keeps
    # its TxnID; each part of a bill split over projects gets "<TxnID>:<project id>".
    origin_id: str = ""


def bill_split(bill: QbBill, *, job_projects: Mapping[str, int], default_project_id: int) -> list[BillPart]:
    """Group the bill's lines by project: the line's Customer:Job mapping, else the default.

    The parts always add up to AmountDue: if the lines do not (QuickBooks sent
    none, or rounding), the difference goes to the default project.
    """
    totals: dict[int, Decimal] = {}
    texts: dict[int, list[str]] = {}
    for line in bill.lines:
        project = job_projects.get(line.customer_full_name, default_project_id)
        totals[project] = totals.get(project, Decimal("0")) + line.amount
        text = line.description or line.item_name or line.account_name
        if text:
            texts.setdefault(project, []).append(text)
    gap = bill.amount_due - sum(totals.values(), Decimal("0"))
    if gap or not totals:
        totals[default_project_id] = totals.get(default_project_id, Decimal("0")) + gap
    parts = [
        BillPart(project_id=p, amount=a.quantize(CENT), description="; ".join(texts.get(p, []))[:255])
        for p, a in sorted(totals.items())
    ]
    # A project whose lines cancel out gets nothing, unless it is all there is.
    kept = [p for p in parts if p.amount != 0] or parts[:1]
    return [replace(p, origin_id=part_origin_id(bill.txn_id, p.project_id, split=len(kept) > 1)) for p in kept]


def part_origin_id(txn_id: str, project_id: int, *, split: bool) -> str:
    """The origin_id of one project's document of a bill (see BillPart.origin_id)."""
    return f"{txn_id}:{project_id}" if split else txn_id


def txn_of_origin(origin_id: str) -> str:
    """The QuickBooks TxnID a document's origin_id belongs to (TxnIDs never contain ':')."""
    return origin_id.split(":", 1)[0]


def _origin_data(bill: QbBill) -> str:
    return json.dumps({"edit_sequence": bill.edit_sequence, "txn_number": bill.txn_number}, sort_keys=True)


def invoice_number(bill: QbBill) -> str:
    return bill.ref_number or bill.txn_number or bill.txn_id


def requisition_header(bill: QbBill, part: BillPart) -> dict[str, Any]:
    """The requisition's own fields (RequisitionSubcontractorInvoice.md / …Invoice1.md)."""
    return {
        "invoice_number": invoice_number(bill),
        "billing_date": bill.txn_date.isoformat(),
        "origin_id": part.origin_id or bill.txn_id,
        "origin_data": _origin_data(bill),
    }


# Item type of a schedule-of-values line on an invoice (RestV11RequisitionsGet200ResponseInnerItemsInner.md:
# contract_item, contract_detail_item, change_order_item, whole_change_order_item).
CONTRACT_ITEM = "contract_item"


def requisition_create_body(
    bill: QbBill, part: BillPart, *, project_id: int, commitment_id: int, line_item_id: int
) -> dict[str, Any]:
    """POST /rest/v1.1/requisitions (Body19.md): the header and the part's amount in one call.

    Items name the commitment's schedule-of-values line by `line_item_id`
    (RequisitionSubcontractorInvoiceItemsInner.md); the commitment's other lines stay at zero.
    """
    item = {
        "line_item_id": line_item_id,
        "item_type": CONTRACT_ITEM,
        "work_completed_this_period": str(part.amount.quantize(CENT)),
    }
    return {
        "project_id": project_id,
        "commitment_id": commitment_id,
        "requisition": {**requisition_header(bill, part), "items": [item]},
    }


def requisition_update_body(
    bill: QbBill,
    part: BillPart,
    *,
    project_id: int,
    commitment_id: int,
    item_id: int,
    zero_item_ids: list[int] | None = None,
) -> dict[str, Any]:
    """PATCH /rest/v1.1/requisitions/{id} (Body20.md): header and items by requisition item `id`.

    `zero_item_ids`: items that carried an earlier version's amount (the cost code moved to
    another line of the same commitment) and must go back to zero.
    """
    items = [{"id": item_id, "item_type": CONTRACT_ITEM, "work_completed_this_period": str(part.amount.quantize(CENT))}]
    items += [
        {"id": i, "item_type": CONTRACT_ITEM, "work_completed_this_period": "0.00"}
        for i in (zero_item_ids or [])
        if i != item_id
    ]
    return {
        "project_id": project_id,
        "commitment_id": commitment_id,
        "requisition": {**requisition_header(bill, part), "items": items},
    }


def direct_cost_header(
    bill: QbBill, part: BillPart, *, vendor_id: int, direct_cost_id: int | None = None
) -> dict[str, Any]:
    """One item of PATCH …/direct_costs/sync (DirectCostItem3.md): a direct cost of type invoice.

    Matched by `id` when known, else by `origin_id` (the part's: unique in the company). With
    both, Procore finds it by id and updates the origin_id (the only way to change one, Using
    Sync Actions). `direct_cost_type` can only be set when creating (DirectCostItem3.md), so it
    is sent only without an id.
    """
    item: dict[str, Any] = {
        "vendor_id": vendor_id,
        "invoice_number": invoice_number(bill),
        "direct_cost_date": bill.txn_date.isoformat(),
        "description": bill.memo[:255],
        "origin_id": part.origin_id or bill.txn_id,
        "origin_data": _origin_data(bill),
    }
    if direct_cost_id is None:
        item["direct_cost_type"] = "invoice"
    else:
        item = {"id": direct_cost_id, **item}
    return item


def direct_cost_line(
    bill: QbBill,
    part: BillPart,
    *,
    direct_cost_id: int,
    cost_code_id: int,
    line_item_type_id: int,
    line_id: int | None = None,
) -> dict[str, Any]:
    """One item of PATCH …/direct_costs/line_items/sync (LineItem.md).

    A direct-cost line names its cost code by `cost_code_id` + `line_item_type_id` (the
    endpoint: "either wbs_code_id or cost_code_id and line_item_type_id are required when
    creating a line item"); Procore's cost code objects carry no WBS code id, but list their
    `line_item_types`. `direct_cost_id` ties a new line to its direct cost (DirectCostLineItem.md,
    LineItem2.md: the direct-cost line item models); `id` (Procore's sync actions match by `id`,
    then `origin_id`) makes an edit change the line instead of adding one.
    """
    line: dict[str, Any] = {
        "direct_cost_id": direct_cost_id,
        "cost_code_id": cost_code_id,
        "line_item_type_id": line_item_type_id,
        "description": part.description or bill.memo or invoice_number(bill),
        "amount": str(part.amount.quantize(CENT)),
        "origin_id": line_origin_id(part.origin_id or bill.txn_id),
    }
    if line_id is not None:
        line = {"id": line_id, **line}
    return line


def line_origin_id(part_origin: str) -> str:
    """The origin_id of a bill part's one direct-cost line (unique in the company, like the header's)."""
    return f"{part_origin}/1"


def payload_hash(payload: Any) -> str:
    """A stable fingerprint of what we would send; equal hash = nothing to write."""
    raw = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()
