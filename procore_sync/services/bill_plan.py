"""Bill planning: `Plan` and `BillWork`, and where each project's share of a bill goes and what would be sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audit.models import JobReason, PushJob
from audit.qbtypes import QbBill, bill_from_json
from procore_sync.client import ProcoreClient
from procore_sync.errors import ProcoreError
from procore_sync.models import CachedCostCode, CostCodeMapping, JobProjectMapping, ProcoreKind
from procore_sync.payloads import BillPart, bill_split, direct_cost_header, direct_cost_line, payload_hash
from procore_sync.services.catalog import commitment_lines_find, cost_code_find
from procore_sync.services.ids import external_get
from procore_sync.services.outcomes import Waiting
from tenants.models import BillTarget


@dataclass
class Plan:
    """Where one project's share of a bill goes, and what we would send."""

    kind: str
    part: BillPart
    cost_code: CachedCostCode
    commitment_id: int = 0
    line_item_id: int = 0
    digest: str = ""
    line_digest: str = ""


@dataclass
class BillWork:
    """One bill job in a batch: its plans, and what happened to each part."""

    job: PushJob
    bill: QbBill
    vendor_id: int
    plans: list[Plan]
    written: list[dict[str, Any]] = field(default_factory=list)
    changed: int = 0
    error: ProcoreError | Waiting | None = None


# --- planning ----------------------------------------------------------------------------


def _plan(*, client: ProcoreClient, job: PushJob, bill: QbBill, part: BillPart, vendor_id: int) -> Plan:
    tenant = job.tenant
    mapping = (
        CostCodeMapping.objects.filter(
            tenant=tenant, vendor_list_id=bill.vendor_list_id, project_id__in=[part.project_id, 0]
        )
        .order_by("-project_id")
        .first()
    )
    if mapping is None:
        raise Waiting(
            JobReason.NEEDS_MAPPING,
            f"No cost code mapped for vendor {bill.vendor_name!r} (project {part.project_id}): "
            "add a cost-code mapping and the bill goes out by itself",
        )
    code = cost_code_find(client=client, tenant=tenant, project_id=part.project_id, code=mapping.cost_code)
    if code is None:
        raise Waiting(
            JobReason.NEEDS_MAPPING,
            f"Cost code {mapping.cost_code} (mapped for {bill.vendor_name!r}) does not exist in project "
            f"{part.project_id}: map the vendor to a cost code of that project, or add the code in Procore",
        )
    if tenant.bill_target != BillTarget.DIRECT_COST_ONLY:
        lines = commitment_lines_find(client=client, tenant=tenant, project_id=part.project_id, vendor_id=vendor_id)
        line = next((li for li in lines if li.cost_code_id == code.procore_id), None)
        if line is not None:
            plan = Plan(ProcoreKind.REQUISITION, part, code, line.commitment_id, line.line_item_id)
            plan.digest = payload_hash(
                [plan.kind, plan.commitment_id, plan.line_item_id, str(part.amount), part.origin_id, _header_of(bill)]
            )
            return plan
        if tenant.bill_target == BillTarget.REQUISITION_ONLY:
            raise Waiting(
                JobReason.NEEDS_MAPPING,
                f"Vendor {bill.vendor_name!r} has no commitment line with cost code {code.code} in project "
                f"{part.project_id}, and this tenant only sends subcontractor invoices: add the line to the "
                "vendor's commitment in Procore, or map the vendor to a cost code its commitment has",
            )
    if code.line_item_type_id is None:
        raise Waiting(
            JobReason.NEEDS_PROCORE,
            f"Cost code {code.code} in project {part.project_id} offers no cost type in Procore: add a cost "
            "type (line item type) to it in Procore; the bill is tried again by itself",
        )
    plan = Plan(ProcoreKind.DIRECT_COST, part, code)
    plan.digest = payload_hash([plan.kind, direct_cost_header(bill, part, vendor_id=vendor_id)])
    plan.line_digest = payload_hash(
        [
            code.procore_id,
            code.line_item_type_id,
            direct_cost_line(
                bill, part, direct_cost_id=0, cost_code_id=code.procore_id, line_item_type_id=code.line_item_type_id
            ),
        ]
    )
    return plan


def _header_of(bill: QbBill) -> list[Any]:
    return [bill.ref_number, bill.txn_number, bill.txn_date.isoformat(), bill.edit_sequence]


def prepare(*, client: ProcoreClient, job: PushJob) -> BillWork:
    """Read the bill and plan every part: a bill either waits as a whole or goes out as a whole."""
    tenant = job.tenant
    bill = bill_from_json(job.record.payload)
    vendor_ext = external_get(job=job, qb_id=bill.vendor_list_id, kind=ProcoreKind.VENDOR)
    if vendor_ext is None:
        raise Waiting(
            JobReason.NEEDS_VENDOR,
            f"Waiting for vendor {bill.vendor_name!r} to reach Procore (its own push shows why it has not)",
        )
    job_projects = dict(JobProjectMapping.objects.filter(tenant=tenant).values_list("customer_full_name", "project_id"))
    parts = bill_split(bill, job_projects=job_projects, default_project_id=tenant.procore_project_id)
    plans = [_plan(client=client, job=job, bill=bill, part=p, vendor_id=vendor_ext.procore_id) for p in parts]
    return BillWork(job, bill, vendor_ext.procore_id, plans)
