"""Build the emulator's seed from the QBWC simulator's sample company, so a demo lines up end to end.

    python -m peers.procore_emulator.seedgen [DATASET_JSON] [OUT_JSON]

Vendors keep their QuickBooks ListIDs as origin_id; two in three already have a
subcontract in every project (the rest fall back to direct costs). Each
Customer:Job becomes a project. `connector_hints` lists the cost-code and
job→project mappings a demo tenant needs; the emulator itself ignores it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATASET = Path(__file__).resolve().parents[1] / "qbwc_simulator" / "data" / "construction.json"
OUT = Path(__file__).with_name("seed.json")

COST_CODES = {
    "01-100": "General Requirements", "01-500": "Temporary Facilities & Equipment", "01-700": "Surveying",
    "01-740": "Cleaning & Waste", "03-300": "Cast-in-Place Concrete", "04-200": "Masonry",
    "05-100": "Structural Steel", "05-500": "Metal Fabrications", "06-100": "Rough Carpentry",
    "07-200": "Insulation", "07-500": "Roofing", "08-500": "Windows", "08-800": "Glazing",
    "09-250": "Gypsum Board", "09-300": "Tiling", "09-600": "Flooring", "09-900": "Painting",
    "12-300": "Countertops", "14-200": "Elevators", "21-000": "Fire Suppression", "22-000": "Plumbing",
    "23-000": "HVAC", "26-000": "Electrical", "31-000": "Earthwork", "32-100": "Paving",
    "32-900": "Landscaping",
}  # fmt: skip

# First keyword found in the vendor's name decides its trade.
KEYWORDS = [
    ("Electric", "26-000"), ("Concrete", "03-300"), ("Tile", "09-300"), ("Drywall", "09-250"),
    ("Masonry", "04-200"), ("Lumber", "06-100"), ("Framing", "06-100"), ("Rental", "01-500"),
    ("Plumbing", "22-000"), ("Iron", "05-500"), ("Steel", "05-100"), ("Glass", "08-800"),
    ("Roofing", "07-500"), ("HVAC", "23-000"), ("Excavation", "31-000"), ("Paving", "32-100"),
    ("Crane", "01-500"), ("Insulation", "07-200"), ("Landscaping", "32-900"), ("Fire", "21-000"),
    ("Countertop", "12-300"), ("Painting", "09-900"), ("Surveying", "01-700"), ("Waste", "01-740"),
    ("Elevator", "14-200"), ("Windows", "08-500"), ("Scaffolding", "01-500"), ("Flooring", "09-600"),
]  # fmt: skip


def trade(name: str) -> str:
    return next((code for word, code in KEYWORDS if word.lower() in name.lower()), "01-100")


def _jobs(bills: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for bill in bills:
        for key in ("ExpenseLineRet", "ItemLineRet"):
            for line in bill.get(key) or []:
                job = (line.get("CustomerRef") or {}).get("FullName")
                if job:
                    seen[job] = None
    return list(seen)


def build(dataset: dict[str, Any]) -> dict[str, Any]:
    jobs = _jobs(dataset["bills"])
    projects = [{"name": job, "project_number": f"P-{i + 1:03d}"} for i, job in enumerate(jobs)]
    vendors = [{"origin_id": v["ListID"], "name": v["Name"]} for v in dataset["vendors"]]
    commitments = []
    for i, v in enumerate(dataset["vendors"]):
        if i % 3 == 2:
            continue  # no subcontract: this vendor's bills become direct costs
        for p in projects:
            commitments.append(
                {
                    "project": p["name"],
                    "vendor": v["ListID"],
                    "kind": "purchase_order_contracts"
                    if "Supply" in v["Name"] or "Lumber" in v["Name"]
                    else "work_order_contracts",
                    "title": f"{v['Name']} — {p['name']}",
                    "lines": [
                        {"cost_code": trade(v["Name"]), "amount": "250000.00"},
                        {"cost_code": "01-100", "amount": "10000.00"},
                    ],
                }
            )
    return {
        "company": {"id": 4264807, "name": dataset.get("company_name") or "Sample Construction"},
        "clients": [{"client_id": "demo-client-id", "client_secret": "demo-client-secret"}],
        "projects": projects,
        "cost_codes": [{"code": c, "name": n} for c, n in COST_CODES.items()],
        "vendors": vendors,
        "commitments": commitments,
        "connector_hints": {
            "default_project": jobs[0] if jobs else None,
            "cost_code_mappings": [
                {"vendor_list_id": v["ListID"], "vendor_name": v["Name"], "cost_code": trade(v["Name"])}
                for v in dataset["vendors"]
            ],
            "job_projects": jobs,
        },
    }


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DATASET
    out = Path(argv[2]) if len(argv) > 2 else OUT
    seed = build(json.loads(source.read_text(encoding="utf-8")))
    out.write_text(json.dumps(seed, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(
        f"wrote {out}: {len(seed['projects'])} projects, {len(seed['vendors'])} vendors, {len(seed['commitments'])} commitments"
    )


if __name__ == "__main__":
    main(sys.argv)
