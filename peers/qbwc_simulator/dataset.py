# ruff: noqa: RUF001  (the sample names carry the Windows-1252 punctuation QuickBooks files hold)
"""A fake QuickBooks company's data: records in qbXML element order, plus changes between runs.

Records are plain dicts whose keys are qbXML element names *in schema order*
(FakeCompany renders them as they are), so the JSON file reads like a qbXML dump.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SAMPLE_PATH = Path(__file__).parent / "data" / "construction.json"

Record = dict[str, Any]


@dataclass
class Dataset:
    company_name: str
    timezone: str = "America/New_York"
    product: str = "QuickBooks Enterprise Solutions: Contractor 24.0"
    qbxml_versions: list[str] = field(default_factory=lambda: [f"{v}.0" for v in range(1, 17)])
    vendors: list[Record] = field(default_factory=list)
    bills: list[Record] = field(default_factory=list)
    # changes[k] is applied after run k+1: edit_bills, edit_vendors, add_bills, delete_bills, delete_vendors.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load(path: Path | str = SAMPLE_PATH) -> Dataset:
    return Dataset(**json.loads(Path(path).read_text(encoding="utf-8")))


def save(dataset: Dataset, path: Path | str) -> None:
    text = json.dumps(dataset.to_json(), ensure_ascii=False, indent=1)
    Path(path).write_text(text + "\n", encoding="utf-8")


# --- the sample: a construction firm -------------------------------------------

VENDOR_NAMES = [
    "Smith & Sons Framing",
    'O\'Brien "Sparky" Electric',
    "Müller Concrete GmbH",
    "Zoë’s Tile & Stone",
    "Łukasz Drywall Sp. z o.o.",
    "Peña Brothers Masonry",
    "A&B Lumber Supply",
    "<Rapid> Rentals",
    "Northside Plumbing",
    "Great Lakes Steel",
    "Bright Glass & Glazing",
    "Ridgeline Roofing",
    "Cascade HVAC",
    "Summit Excavation",
    "Ace Hardware #1142",
    "Blue River Paving",
    "Crane Co. of the Midwest",
    "Dürr Insulation",
    "Evergreen Landscaping",
    "Fortress Fire Protection",
    "Granite State Countertops",
    "Hudson Painting",
    "Iron Works & Welding",
    "Jansen Electric Supply",
    "Keystone Surveying",
    "Liberty Waste Hauling",
    "Metro Elevator",
    "Nordic Windows",
    "Pinnacle Scaffolding",
    "Quality Flooring — Café Division",
]
JOBS = [
    "Harbor View Condos:Phase 1",
    "Harbor View Condos:Phase 2",
    "Riverside Medical Center:Building A",
    "Oak & Pine Residence:Kitchen Remodel",
    "Städtische Bibliothek:Renovation",
    "Lot 14 – Warehouse",
]
ACCOUNTS = [
    "Job Expenses:Subcontractors",
    "Job Expenses:Materials",
    "Job Expenses:Equipment Rental",
    "Job Expenses:Permits & Fees",
]
ITEMS = [
    "Lumber:2x4 Stud",
    "Concrete:Ready Mix 4000psi",
    'Drywall:5/8" Type X',
    "Labor:Framing",
    "Rebar:#5",
    "Electrical:Wire 12/2 NM-B",
]
TERMS = ["Net 30", "Net 15", "Due on receipt", "2% 10 Net 30"]


def _stamp(dt: datetime) -> str:
    return dt.replace(microsecond=0).isoformat()


def _money(value: Decimal) -> str:
    return str(value.quantize(Decimal("0.01")))


def make_vendor(i: int, name: str, when: datetime, rnd: random.Random) -> Record:
    first, last = "Pat", name.split()[0]
    return {
        "ListID": f"80000{i:03X}-1700000000",
        "TimeCreated": _stamp(when),
        "TimeModified": _stamp(when),
        "EditSequence": str(1700000000 + i),
        "Name": name,
        "IsActive": "true",
        "CompanyName": name,
        "FirstName": first,
        "LastName": last,
        "VendorAddress": {
            "Addr1": name,
            "Addr2": f"{100 + i} Industrial Pkwy",
            "City": rnd.choice(["Buffalo", "Rochester", "Albany", "Syracuse"]),
            "State": "NY",
            "PostalCode": f"14{i:03d}",
            "Country": "US",
        },
        "Phone": f"716-555-{1000 + i}",
        "Email": f"ap{i}@example.com",
        "Contact": f"{first} {last}",
        "AccountNumber": f"ACCT-{i:04d}",
        "VendorTypeRef": {"FullName": "Subcontractors" if i % 3 else "Suppliers"},
        "TermsRef": {"FullName": TERMS[i % len(TERMS)]},
        "Balance": "0.00",
    }


def make_bill(n: int, vendor: Record, when: datetime, rnd: random.Random, job_ids: dict[str, str]) -> Record:
    lines: list[tuple[str, Record]] = []
    total = Decimal("0")
    for k in range(rnd.randint(1, 3)):
        job = rnd.choice(JOBS)
        customer = {"ListID": job_ids[job], "FullName": job}
        if rnd.random() < 0.6:
            amount = Decimal(rnd.randint(5000, 2500000)) / 100
            lines.append(
                (
                    "ExpenseLineRet",
                    {
                        "TxnLineID": f"{n:X}-{k}",
                        "AccountRef": {"FullName": rnd.choice(ACCOUNTS)},
                        "Amount": _money(amount),
                        "Memo": rnd.choice(
                            [
                                "Progress billing",
                                "Change order #3 – extra work",
                                "Materials delivered",
                                "Retainage 10%",
                                "Crane hire ‘weekend’",
                            ]
                        ),
                        "CustomerRef": customer,
                        "BillableStatus": "NotBillable",
                    },
                )
            )
        else:
            qty = Decimal(rnd.randint(1, 400))
            cost = Decimal(rnd.randint(150, 9000)) / 100
            amount = qty * cost
            lines.append(
                (
                    "ItemLineRet",
                    {
                        "TxnLineID": f"{n:X}-{k}",
                        "ItemRef": {"FullName": rnd.choice(ITEMS)},
                        "Desc": "Delivered to site & signed for",
                        "Quantity": str(qty),
                        "Cost": _money(cost),
                        "Amount": _money(amount),
                        "CustomerRef": customer,
                        "BillableStatus": "Billable",
                    },
                )
            )
        total += amount.quantize(Decimal("0.01"))
    txn_date = when.date()
    bill: Record = {
        "TxnID": f"{n:X}-1700000000",
        "TimeCreated": _stamp(when),
        "TimeModified": _stamp(when),
        "EditSequence": str(1700000000 + n),
        "TxnNumber": str(n),
        "VendorRef": {"ListID": vendor["ListID"], "FullName": vendor["Name"]},
        "APAccountRef": {"FullName": "Accounts Payable"},
        "TxnDate": txn_date.isoformat(),
        "DueDate": (txn_date + timedelta(days=30)).isoformat(),
        "AmountDue": _money(total),
        "RefNumber": f"INV-{n:05d}",
        "TermsRef": vendor["TermsRef"],
        "Memo": f"{vendor['Name']} invoice INV-{n:05d}",
        "IsPaid": "false",
        "ExpenseLineRet": [body for tag, body in lines if tag == "ExpenseLineRet"],
        "ItemLineRet": [body for tag, body in lines if tag == "ItemLineRet"],
        "OpenAmount": _money(total),
    }
    return bill


def build(*, bills: int = 200, vendors: int = 30, seed: int = 7, changes: bool = True) -> Dataset:
    """A deterministic construction firm: `vendors` vendors, `bills` bills over six jobs."""
    rnd = random.Random(seed)
    tz = ZoneInfo("America/New_York")
    start = datetime(2025, 3, 1, 8, 0, tzinfo=tz)  # spans a DST change on purpose
    names = [VENDOR_NAMES[i % len(VENDOR_NAMES)] + ("" if i < len(VENDOR_NAMES) else f" {i}") for i in range(vendors)]
    vendor_rows = [make_vendor(i + 1, name, start + timedelta(hours=i), rnd) for i, name in enumerate(names)]
    job_ids = {job: f"C000{j:02d}-1690000000" for j, job in enumerate(JOBS)}
    step = timedelta(minutes=max(1, (300 * 24 * 60) // max(bills, 1)))
    bill_rows = [
        make_bill(n + 1, rnd.choice(vendor_rows), start + timedelta(days=2) + n * step, rnd, job_ids)
        for n in range(bills)
    ]
    data = Dataset(company_name="Keystone & Sons Construction, LLC", vendors=vendor_rows, bills=bill_rows)
    if changes and bills >= 12 and vendors >= 4:
        late_vendor = make_vendor(vendors + 1, "Nuñez Demolition & Hauling", start, rnd)
        data.changes = [
            {
                "edit_bills": [
                    {"TxnID": bill_rows[0]["TxnID"], "Memo": "Revised: retainage released", "line_amount": "1234.56"},
                    {"TxnID": bill_rows[5]["TxnID"], "Memo": "Corrected quantity"},
                    {"TxnID": bill_rows[9]["TxnID"], "RefNumber": "INV-00010-R"},
                ],
                "edit_vendors": [
                    {"ListID": vendor_rows[1]["ListID"], "Phone": "716-555-0199"},
                    {"ListID": vendor_rows[2]["ListID"], "Name": "Müller & Söhne Concrete"},
                ],
                "add_vendors": [late_vendor],
                "add_bills": [make_bill(bills + 1, late_vendor, start, rnd, job_ids)],
                "delete_bills": [bill_rows[3]["TxnID"], bill_rows[7]["TxnID"]],
                "delete_vendors": [vendor_rows[-1]["ListID"]],
            },
            {
                "edit_bills": [{"TxnID": bill_rows[11]["TxnID"], "IsPaid": "true", "OpenAmount": "0.00"}],
                "edit_vendors": [{"ListID": vendor_rows[3]["ListID"], "IsActive": "false"}],
                "delete_bills": [bill_rows[2]["TxnID"]],
            },
        ]
    return data


if __name__ == "__main__":  # regenerate the shipped sample: python -m peers.qbwc_simulator.dataset
    save(build(), SAMPLE_PATH)
