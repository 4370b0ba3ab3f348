"""Saving the mappings accountants edit, and releasing the bills that waited on them.

A bill that cannot be mapped (no cost code for its vendor, no project for its job)
parks its PushJob as waiting/needs_mapping. Saving a mapping re-arms every such job
of the tenant at once, so the bills go out without anyone clicking Replay; the
pusher re-reads today's mappings and parks again whatever still cannot be mapped.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q

from audit.models import EventCode, JobReason, JobState, PushJob, RecordKind, RecordState, SyncRecord
from audit.outbox import outbox_rearm
from audit.services import event_record
from procore_sync.models import CachedCostCode, CachedProject, CostCodeMapping, JobProjectMapping
from tenants.models import Tenant


def _release_waiting(*, tenant: Tenant, what: str, acting_user_id: int | None) -> int:
    """Re-arm the tenant's jobs parked for a missing mapping (triggered on commit); audit each."""
    ids = outbox_rearm(PushJob.objects.filter(tenant=tenant, reason=JobReason.NEEDS_MAPPING))
    for job in PushJob.objects.filter(pk__in=ids).select_related("record"):
        event_record(
            record=job.record,
            code=EventCode.MAPPING_SAVED,
            message=f"{what} saved: released to the push queue",
            data={"job_id": job.pk},
            acting_user_id=acting_user_id,
        )
    return len(ids)


def _catalog_check(*, tenant: Tenant, project_id: int = 0, cost_code: str = "") -> None:
    """Refuse a project or cost code the tenant's Procore catalog does not have.

    Only rows of the tenant's current environment count. An empty catalog says nothing
    (not read yet); a filled one is the truth.
    """
    env = tenant.procore_environment
    if project_id:
        projects = set(
            CachedProject.objects.filter(tenant=tenant, environment=env).values_list("procore_id", flat=True)
        )
        if projects and project_id not in projects:
            raise ValidationError(
                {
                    "project_id": f"{project_id} is not a project in {tenant}'s Procore catalog; "
                    "refresh the catalog if it is new."
                }
            )
    if cost_code:
        codes = set(CachedCostCode.objects.filter(tenant=tenant, environment=env).values_list("code", flat=True))
        if codes and cost_code not in codes:
            raise ValidationError(
                {
                    "cost_code": f"{cost_code} is not a cost code in {tenant}'s Procore catalog; "
                    "refresh the catalog if it is new."
                }
            )


def costcode_mapping_validate(
    *, tenant: Tenant, vendor_list_id: str, cost_code: str, project_id: int
) -> tuple[str, str]:
    """The rules for a cost-code mapping, for costcode_map and the admin form: (ListID, code) cleaned.

    Raises ValidationError keyed by field name.
    """
    code = cost_code.strip()
    if not code:
        raise ValidationError({"cost_code": "cost code must not be empty"})
    list_id = vendor_list_id.strip()
    if not list_id:
        raise ValidationError({"vendor_list_id": "vendor ListID must not be empty"})
    if project_id < 0:
        raise ValidationError({"project_id": "project id must be 0 (every project) or a Procore project id"})
    _catalog_check(tenant=tenant, project_id=project_id, cost_code=code)
    return list_id, code


def job_mapping_validate(*, tenant: Tenant, customer_full_name: str, project_id: int) -> str:
    """The rules for a job → project mapping, for job_map and the admin form: the job's name, cleaned.

    Raises ValidationError keyed by field name.
    """
    name = customer_full_name.strip()
    if not name:
        raise ValidationError({"customer_full_name": "the QuickBooks Customer:Job must not be empty"})
    if project_id <= 0:
        raise ValidationError({"project_id": "project id must be a positive Procore project id"})
    _catalog_check(tenant=tenant, project_id=project_id)
    return name


@dataclass(frozen=True)
class MappingResult:
    mapping: CostCodeMapping | JobProjectMapping
    created: bool
    released: int


def costcode_map(
    *,
    tenant: Tenant,
    vendor_list_id: str,
    cost_code: str,
    project_id: int = 0,
    vendor_name: str = "",
    acting_user_id: int | None = None,
) -> MappingResult:
    """Validate, then map a QuickBooks vendor to a Procore cost code (project 0 = every project).

    Without a vendor name, the name QuickBooks sent is kept for the lists. Releases the
    tenant's bills that were waiting for a mapping. Raises ValidationError.
    """
    list_id, code = costcode_mapping_validate(
        tenant=tenant, vendor_list_id=vendor_list_id, cost_code=cost_code, project_id=project_id
    )
    name = vendor_name.strip()
    if not name:
        vendor = SyncRecord.objects.filter(tenant=tenant, kind=RecordKind.VENDOR, qb_id=list_id).first()
        name = vendor.label if vendor is not None else ""
    with transaction.atomic():
        mapping, created = CostCodeMapping.objects.update_or_create(
            tenant=tenant,
            vendor_list_id=list_id,
            project_id=project_id,
            defaults={"cost_code": code, "vendor_name": name[:255]},
        )
        label = name or list_id
        released = _release_waiting(tenant=tenant, what=f"Cost code {code} for {label}", acting_user_id=acting_user_id)
    return MappingResult(mapping=mapping, created=created, released=released)


def job_map(
    *, tenant: Tenant, customer_full_name: str, project_id: int, acting_user_id: int | None = None
) -> MappingResult:
    """Validate, then map a QuickBooks Customer:Job to a Procore project; release waiting bills."""
    name = job_mapping_validate(tenant=tenant, customer_full_name=customer_full_name, project_id=project_id)
    with transaction.atomic():
        mapping, created = JobProjectMapping.objects.update_or_create(
            tenant=tenant, customer_full_name=name, defaults={"project_id": project_id}
        )
        released = _release_waiting(
            tenant=tenant, what=f"Project {project_id} for job {name}", acting_user_id=acting_user_id
        )
    return MappingResult(mapping=mapping, created=created, released=released)


def vendor_resolve(*, tenant: Tenant, text: str) -> tuple[str, str]:
    """(ListID, name) of the tenant's QuickBooks vendor named `text` or with ListID `text`.

    Raises ValidationError when no vendor or several vendors match.
    """
    wanted = text.strip()
    vendors = SyncRecord.objects.filter(tenant=tenant, kind=RecordKind.VENDOR)
    by_id = vendors.filter(qb_id=wanted).first()
    if by_id is not None:
        return by_id.qb_id, by_id.label
    matches = list(vendors.filter(label__iexact=wanted)[:2])
    if not matches:
        raise ValidationError(f"no QuickBooks vendor named or with ListID {wanted!r} in {tenant.slug}")
    if len(matches) > 1:
        raise ValidationError(f"several vendors are named {wanted!r}; give the ListID instead")
    return matches[0].qb_id, matches[0].label


@dataclass(frozen=True)
class UnmappedVendor:
    vendor_list_id: str
    name: str
    bills_waiting: int


def vendors_unmapped(*, tenant_ids: list[int] | None) -> list[tuple[int, UnmappedVendor]]:
    """(tenant id, vendor) for vendors with no cost-code mapping, most bills waiting first.

    Counts bills whose push job is parked for a missing mapping. `tenant_ids` None = all.
    """
    mapped = CostCodeMapping.objects.values_list("tenant_id", "vendor_list_id")
    mapped_keys = set(mapped if tenant_ids is None else mapped.filter(tenant_id__in=tenant_ids))
    vendors = SyncRecord.objects.filter(kind=RecordKind.VENDOR).exclude(state=RecordState.DELETED)
    bills = SyncRecord.objects.filter(kind=RecordKind.BILL, deleted_in_qb=False)
    if tenant_ids is not None:
        vendors = vendors.filter(tenant_id__in=tenant_ids)
        bills = bills.filter(tenant_id__in=tenant_ids)
    waiting = {
        (row["tenant_id"], row["vendor_list_id"]): row["n"]
        for row in bills.values("tenant_id", "vendor_list_id").annotate(
            n=Count(
                "id",
                filter=Q(push_jobs__state=JobState.WAITING, push_jobs__reason=JobReason.NEEDS_MAPPING),
                distinct=True,
            )
        )
    }
    found = [
        (tid, UnmappedVendor(vendor_list_id=qb_id, name=label, bills_waiting=waiting.get((tid, qb_id), 0)))
        for tid, qb_id, label in vendors.values_list("tenant_id", "qb_id", "label")
        if (tid, qb_id) not in mapped_keys
    ]
    found.sort(key=lambda item: (-item[1].bills_waiting, item[1].name.lower()))
    return found


def vendors_known(*, tenant_ids: list[int] | None) -> list[tuple[int, UnmappedVendor]]:
    """(tenant id, vendor) for every QuickBooks vendor we have read, by name."""
    vendors = SyncRecord.objects.filter(kind=RecordKind.VENDOR).exclude(state=RecordState.DELETED)
    if tenant_ids is not None:
        vendors = vendors.filter(tenant_id__in=tenant_ids)
    return [
        (tid, UnmappedVendor(vendor_list_id=qb_id, name=label, bills_waiting=0))
        for tid, qb_id, label in vendors.order_by("label").values_list("tenant_id", "qb_id", "label")[:2000]
    ]


def jobs_seen(*, tenant_ids: list[int] | None, limit: int = 2000) -> list[tuple[int, str]]:
    """(tenant id, Customer:Job) named on the lines of recent bills, sorted, distinct."""
    bills = SyncRecord.objects.filter(kind=RecordKind.BILL, deleted_in_qb=False)
    if tenant_ids is not None:
        bills = bills.filter(tenant_id__in=tenant_ids)
    seen: set[tuple[int, str]] = set()
    for tid, payload in bills.order_by("-updated_at").values_list("tenant_id", "payload")[:limit]:
        for line in (payload or {}).get("lines", []):
            job = (line or {}).get("customer_full_name") or ""
            if job:
                seen.add((tid, job))
    return sorted(seen, key=lambda item: (item[0], item[1].lower()))
