"""PURE: QuickBooks dataclasses → Procore payload dicts. No ORM, no HTTP.

Money stays Decimal and travels as a two-decimal string ("1234.50"), which
Procore accepts for numeric fields; float never touches an amount, so totals
equal QuickBooks to the cent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
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
    """A Procore company-vendor body; `origin_id` = ListID so it can always be found again."""
    address = vendor.address or QbAddress()
    country = country_code(address.country) or ("US" if address.state else "")
    skip = {vendor.name.strip().lower(), vendor.company_name.strip().lower()} - {""}
    return {
        "name": vendor.name.strip(),
        # Procore shows legal_name in the vendor's extended view (confirm it is writable).
        "legal_name": vendor.company_name.strip(),
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


def bill_split(
    bill: QbBill, *, job_projects: Mapping[str, int], default_project_id: int
) -> list[BillPart]:
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
    nonzero = [p for p in parts if p.amount != 0]
    return nonzero or parts[:1]


def _origin_data(bill: QbBill) -> str:
    return json.dumps({"edit_sequence": bill.edit_sequence, "txn_number": bill.txn_number}, sort_keys=True)


def invoice_number(bill: QbBill) -> str:
    return bill.ref_number or bill.txn_number or bill.txn_id


def requisition_payload(bill: QbBill) -> dict[str, Any]:
    """The requisition header (subcontractor invoice); the amount goes on its items separately."""
    return {
        "invoice_number": invoice_number(bill),
        "billing_date": bill.txn_date.isoformat(),
        "origin_id": bill.txn_id,
        "origin_data": _origin_data(bill),
    }


def requisition_items(item_id: int, other_item_ids: list[int], amount: Decimal) -> list[dict[str, Any]]:
    """The whole part's amount on the mapped line item; every other item of the commitment at zero."""
    items = [{"id": item_id, "work_completed_this_period": str(amount.quantize(CENT))}]
    items += [{"id": i, "work_completed_this_period": "0.00"} for i in other_item_ids if i != item_id]
    return items


def direct_cost_payload(
    bill: QbBill,
    part: BillPart,
    *,
    vendor_id: int,
    wbs_code_id: int,
    line_id: int | None = None,
) -> dict[str, Any]:
    """A Procore direct cost of type invoice with one line (send `line_id` on update, or it adds a line)."""
    line: dict[str, Any] = {
        "wbs_code_id": wbs_code_id,
        "description": part.description or bill.memo or invoice_number(bill),
        "manual_amount": str(part.amount.quantize(CENT)),
    }
    if line_id is not None:
        line = {"id": line_id, **line}
    return {
        "direct_cost_type": "invoice",
        "vendor_id": vendor_id,
        "invoice_number": invoice_number(bill),
        "direct_cost_date": bill.txn_date.isoformat(),
        "description": bill.memo[:255],
        "origin_id": bill.txn_id,
        "origin_data": _origin_data(bill),
        "line_items": [line],
    }


def payload_hash(payload: Any) -> str:
    """A stable fingerprint of what we would send; equal hash = nothing to write."""
    raw = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()
