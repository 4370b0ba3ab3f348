"""Cached Procore catalog: projects, cost codes and commitment lines, per tenant and environment.

Bills read the cache; a miss re-reads Procore at most once per TTL per project,
so a vendor with no commitment does not cost a list call on every bill.
"""

from __future__ import annotations

import threading
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from procore_sync.client import ProcoreClient
from procore_sync.models import CachedCommitmentLine, CachedCostCode, CachedProject
from procore_sync.tokens import client_for
from tenants.models import Tenant

# One refresh of a project's catalog at a time per process: without it, every
# worker that misses the cache at the start of a first load re-reads the same
# commitments (one call per commitment) in parallel.
_LOCKS: dict[tuple[str, int, int], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _refresh_lock(kind: str, tenant_id: int, project_id: int) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((kind, tenant_id, project_id), threading.Lock())


def _project(tenant: Tenant, project_id: int) -> CachedProject:
    project, _ = CachedProject.objects.get_or_create(
        tenant=tenant,
        environment=tenant.procore_environment,
        procore_id=project_id,
        defaults={"name": f"Project {project_id}"},
    )
    return project


def _stale(at: object) -> bool:
    if at is None:
        return True
    return timezone.now() - at > timedelta(seconds=settings.PROCORE_CATALOG_TTL_SECONDS)  # type: ignore[operator]


def cost_codes_refresh(*, client: ProcoreClient, tenant: Tenant, project_id: int) -> int:
    """Re-read a project's cost codes, keeping both ids: requisition items use the cost code id,
    direct-cost lines the WBS code id. (confirm: our emulator answers `wbs_code_id` on each cost
    code; where Procore only lists WBS codes separately, that lookup belongs here.)"""
    env = tenant.procore_environment
    codes = client.cost_codes(project_id)
    now = timezone.now()
    with transaction.atomic():
        CachedCostCode.objects.filter(tenant=tenant, environment=env, project_id=project_id).delete()
        CachedCostCode.objects.bulk_create(
            [
                CachedCostCode(
                    tenant=tenant,
                    environment=env,
                    project_id=project_id,
                    procore_id=int(c["id"]),
                    wbs_code_id=int(c["wbs_code_id"]) if c.get("wbs_code_id") else None,
                    code=str(c.get("full_code") or c.get("code") or ""),
                    name=str(c.get("name") or "")[:255],
                    fetched_at=now,
                )
                for c in codes
            ],
            ignore_conflicts=True,
        )
        CachedProject.objects.filter(pk=_project(tenant, project_id).pk).update(cost_codes_fetched_at=now)
    return len(codes)


def commitments_refresh(*, client: ProcoreClient, tenant: Tenant, project_id: int) -> int:
    env = tenant.procore_environment
    rows: list[CachedCommitmentLine] = []
    now = timezone.now()
    for c in client.commitments(project_id):
        vendor = c.get("vendor") or {}
        if not vendor.get("id"):
            continue
        for line in client.commitment_line_items(c["kind"], int(c["id"]), project_id):
            code = line.get("cost_code") or {}
            if not code.get("id"):
                continue
            rows.append(
                CachedCommitmentLine(
                    tenant=tenant,
                    environment=env,
                    project_id=project_id,
                    commitment_id=int(c["id"]),
                    commitment_kind=c["kind"],
                    vendor_procore_id=int(vendor["id"]),
                    line_item_id=int(line["id"]),
                    cost_code_id=int(code["id"]),
                    fetched_at=now,
                )
            )
    with transaction.atomic():
        CachedCommitmentLine.objects.filter(tenant=tenant, environment=env, project_id=project_id).delete()
        CachedCommitmentLine.objects.bulk_create(rows, ignore_conflicts=True)
        CachedProject.objects.filter(pk=_project(tenant, project_id).pk).update(commitments_fetched_at=now)
    return len(rows)


def cost_code_find(*, client: ProcoreClient, tenant: Tenant, project_id: int, code: str) -> CachedCostCode | None:
    def lookup() -> CachedCostCode | None:
        return CachedCostCode.objects.filter(
            tenant=tenant, environment=tenant.procore_environment, project_id=project_id, code=code
        ).first()

    found = lookup()
    if found is None:
        with _refresh_lock("cost_codes", tenant.pk, project_id):
            # Looked up again under the lock: another worker may just have refreshed it.
            found = lookup()
            if found is None and _stale(_project(tenant, project_id).cost_codes_fetched_at):
                cost_codes_refresh(client=client, tenant=tenant, project_id=project_id)
                found = lookup()
    return found


def commitment_lines_find(
    *, client: ProcoreClient, tenant: Tenant, project_id: int, vendor_id: int
) -> list[CachedCommitmentLine]:
    """Every cached commitment line of the vendor in the project (re-read once per TTL on a miss)."""

    def lookup() -> list[CachedCommitmentLine]:
        return list(
            CachedCommitmentLine.objects.filter(
                tenant=tenant,
                environment=tenant.procore_environment,
                project_id=project_id,
                vendor_procore_id=vendor_id,
            ).order_by("commitment_id", "line_item_id")
        )

    found = lookup()
    if not found:
        with _refresh_lock("commitments", tenant.pk, project_id):
            found = lookup()
            if not found and _stale(_project(tenant, project_id).commitments_fetched_at):
                commitments_refresh(client=client, tenant=tenant, project_id=project_id)
                found = lookup()
    return found


def catalog_refresh(*, tenant: Tenant) -> dict[str, int]:
    """Re-read the tenant's projects, their cost codes and commitments from Procore."""
    client = client_for(tenant)
    env = tenant.procore_environment
    projects = client.projects()
    now = timezone.now()
    seen: list[int] = []
    for p in projects:
        pid = int(p["id"])
        seen.append(pid)
        CachedProject.objects.update_or_create(
            tenant=tenant,
            environment=env,
            procore_id=pid,
            defaults={
                "name": str(p.get("name") or "")[:255],
                "project_number": str(p.get("project_number") or "")[:100],
                "active": bool(p.get("active", True)),
                "fetched_at": now,
            },
        )
    CachedProject.objects.filter(tenant=tenant, environment=env).exclude(procore_id__in=seen).update(active=False)
    codes = sum(cost_codes_refresh(client=client, tenant=tenant, project_id=pid) for pid in seen)
    lines = sum(commitments_refresh(client=client, tenant=tenant, project_id=pid) for pid in seen)
    return {"projects": len(seen), "cost_codes": codes, "commitment_lines": lines}
