"""Vendor upsert (batched through PATCH /vendors/sync) and deactivation."""

from __future__ import annotations

from typing import Any

from audit.models import EventCode, PushJob, RecordState
from audit.qbtypes import vendor_from_json
from procore_sync.client import ProcoreClient
from procore_sync.errors import NotFound, ProcoreError, TransientError, ValidationFailed
from procore_sync.models import ExternalId, ProcoreKind
from procore_sync.payloads import payload_hash, vendor_payload
from procore_sync.services.ids import external_get, external_save
from procore_sync.services.outcomes import Done

Result = Done | ProcoreError


def vendor_upsert_batch(*, client: ProcoreClient, jobs: list[PushJob]) -> dict[int, Result]:
    """Push every vendor of `jobs` whose payload changed, in one sync call where it fits.

    The sync endpoint matches by id, then origin_id (= ListID), so a retry after
    a lost answer updates the vendor it created instead of adding another. A
    lone vendor already in the id map goes out as a single PATCH.
    """
    results: dict[int, Result] = {}
    pending: dict[str, tuple[PushJob, dict[str, Any], str, ExternalId | None]] = {}
    for job in jobs:
        vendor = vendor_from_json(job.record.payload)
        payload = vendor_payload(vendor)
        digest = payload_hash(payload)
        ext = external_get(job=job, qb_id=vendor.list_id, kind=ProcoreKind.VENDOR)
        if ext is not None and ext.payload_hash == digest:
            results[job.pk] = Done(
                RecordState.SYNCED, EventCode.PUSH_SKIPPED, "Unchanged since the last push", ext.procore_id
            )
            continue
        pending[vendor.list_id] = (job, payload, digest, ext)
    if not pending:
        return results

    if len(pending) == 1 and next(iter(pending.values()))[3] is not None:
        job, payload, digest, ext = next(iter(pending.values()))
        assert ext is not None
        try:
            written = client.vendor_update(ext.procore_id, payload)
        except NotFound:
            # Deleted in Procore behind our back: recreate through sync (matched by origin_id).
            ext.delete()
            return results | vendor_upsert_batch(client=client, jobs=[job])
        except ProcoreError as exc:
            return results | {job.pk: exc}
        external_save(
            job=job, qb_id=job.record.qb_id, kind=ProcoreKind.VENDOR, procore_id=int(written["id"]), digest=digest
        )
        return results | {
            job.pk: Done(RecordState.SYNCED, EventCode.PUSH_SUCCEEDED, "Vendor updated in Procore", int(written["id"]))
        }

    updates = [{**payload, **({"id": ext.procore_id} if ext else {})} for _, payload, _, ext in pending.values()]
    answer = client.vendors_sync(updates) or {}
    written_by_origin = {str(e.get("origin_id")): e for e in answer.get("entities") or []}
    errors_by_origin = {str(e.get("origin_id")): e for e in answer.get("errors") or []}
    for list_id, (job, _payload, digest, ext) in pending.items():
        entity = written_by_origin.get(list_id)
        if entity is not None:
            external_save(job=job, qb_id=list_id, kind=ProcoreKind.VENDOR, procore_id=int(entity["id"]), digest=digest)
            verb = "updated" if ext else "written"
            results[job.pk] = Done(
                RecordState.SYNCED,
                EventCode.PUSH_SUCCEEDED,
                f"Vendor {verb} in Procore (batch of {len(updates)})",
                int(entity["id"]),
            )
        elif list_id in errors_by_origin:
            err = errors_by_origin[list_id]
            message = "; ".join(f"{k} {', '.join(map(str, v))}" for k, v in (err.get("errors") or {}).items())
            results[job.pk] = ValidationFailed(message or "rejected by Procore", status=422, body=err)
        else:
            results[job.pk] = TransientError("vendor missing from the sync answer")
    return results


def vendor_deactivate(*, client: ProcoreClient, job: PushJob) -> Done:
    """Deleted/inactivated in QuickBooks → inactive in Procore (Procore vendors are not deleted)."""
    list_id = job.record.qb_id
    ext = external_get(job=job, qb_id=list_id, kind=ProcoreKind.VENDOR)
    vendor_id = ext.procore_id if ext else None
    if vendor_id is None:
        found = client.vendors_by_origin(list_id)
        vendor_id = int(found[0]["id"]) if found else None
    if vendor_id is None:
        return Done(RecordState.DELETED, EventCode.PROCORE_DROPPED, "Never reached Procore: nothing to deactivate")
    try:
        client.vendor_update(vendor_id, {"is_active": False})
    except NotFound:
        return Done(RecordState.DELETED, EventCode.PROCORE_DELETED, "Already gone from Procore", vendor_id)
    if ext is not None:
        ext.payload_hash = ""  # a later reactivation must be sent
        ext.save(update_fields=["payload_hash", "updated_at"])
    return Done(RecordState.DELETED, EventCode.PROCORE_DELETED, "Vendor inactivated in Procore", vendor_id)
