"""The QuickBooks ↔ Procore id map (ExternalId) for one job's tenant and environment."""

from __future__ import annotations

from audit.models import PushJob
from procore_sync.models import ExternalId


def external_get(*, job: PushJob, qb_id: str, kind: str, project_id: int = 0) -> ExternalId | None:
    return ExternalId.objects.filter(
        tenant_id=job.tenant_id,
        environment=job.tenant.procore_environment,
        qb_id=qb_id,
        procore_kind=kind,
        project_id=project_id,
    ).first()


def external_save(
    *, job: PushJob, qb_id: str, kind: str, procore_id: int, digest: str = "", project_id: int = 0
) -> ExternalId:
    """Remember a Procore id as soon as it is known (its own short transaction)."""
    ext, _ = ExternalId.objects.update_or_create(
        tenant_id=job.tenant_id,
        environment=job.tenant.procore_environment,
        qb_id=qb_id,
        procore_kind=kind,
        project_id=project_id,
        defaults={"procore_id": procore_id, "payload_hash": digest},
    )
    return ext
