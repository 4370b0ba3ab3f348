"""Requisition (subcontractor invoice) writes of a bill's parts, and the delete of a bill's Procore document."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from audit.models import JobReason
from audit.qbtypes import QbBill
from procore_sync.client import ProcoreClient
from procore_sync.errors import Forbidden, NotFound, ProcoreError, TransientError, ValidationFailed
from procore_sync.models import ExternalId, ProcoreKind
from procore_sync.payloads import requisition_create_body, requisition_update_body
from procore_sync.services.bill_plan import BillWork, Plan
from procore_sync.services.ids import external_get, external_save
from procore_sync.services.outcomes import Waiting

# Invoice statuses a non-admin may still edit (the v1.1 update endpoint's description).
EDITABLE_INVOICE = ("draft", "revise_and_resubmit")


def _nonzero(value: Any) -> bool:
    """Procore answers amounts as decimal strings; never through float."""
    try:
        return Decimal(str(value or "0")) != 0
    except InvalidOperation:
        return False


# --- requisitions ---------------------------------------------------------------------------


def _create_or_recover(
    create: Callable[[], dict[str, Any]], find: Callable[[], list[dict[str, Any]]]
) -> dict[str, Any] | None:
    """Create; if the answer was lost after Procore may have committed, find it by origin_id (None = not there)."""
    try:
        return create()
    except TransientError as exc:
        if not exc.maybe_committed:
            raise
        if find():
            return None  # it exists: the caller updates it
        raise


def _item_for(req: dict[str, Any], line_item_id: int) -> dict[str, Any] | None:
    return next((i for i in req.get("items") or [] if int(i.get("line_item_id") or 0) == line_item_id), None)


def _invoice_matches(current: dict[str, Any], body: dict[str, Any]) -> bool:
    """Does the invoice in Procore already say what `body` would have written (to the cent)?"""
    want = body["requisition"]
    if str(current.get("invoice_number") or "") != str(want.get("invoice_number") or ""):
        return False
    have = {int(i["id"]): i.get("work_completed_this_period") for i in current.get("items") or []}
    for item in want.get("items") or []:
        try:
            if Decimal(str(have.get(int(item["id"])) or "0")) != Decimal(str(item["work_completed_this_period"])):
                return False
        except InvalidOperation:
            return False
    return True


def _invoice_refused(exc: ProcoreError, *, what: str, bill: QbBill, requisition_id: int, project_id: int) -> Waiting:
    """Procore refused to change an existing invoice: say what a person can do there."""
    return Waiting(
        JobReason.NEEDS_PROCORE,
        f"Procore would not {what} subcontractor invoice {requisition_id} (bill {bill.ref_number or bill.txn_id}, "
        f"project {project_id}): {exc}. Procore lets an integration change only the latest invoice of a "
        "commitment while it is draft or revise-and-resubmit, and delete only the latest open one. In Procore, "
        "set the invoice back to 'Revise and Resubmit' if it is the latest; if newer invoices exist, have an "
        "admin make the change, or delete the newer invoices of that commitment. It is tried again by itself "
        "(see docs/invoices.md).",
    )


def requisition_write(*, client: ProcoreClient, work: BillWork, plan: Plan, retry: bool) -> int:
    job, bill = work.job, work.bill
    pid = plan.part.project_id
    ext = external_get(job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION, project_id=pid)
    item_ext = external_get(job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION_ITEM, project_id=pid)
    rid = ext.procore_id if ext else None
    if rid is None and retry:
        # An earlier attempt may have created it (lost answer, killed worker): find it by origin_id.
        found = client.requisitions_by_origin(pid, plan.part.origin_id)
        rid = int(found[0]["id"]) if found else None
    line_key = f"{plan.commitment_id}:{plan.line_item_id}"
    if rid is not None and item_ext is not None and item_ext.payload_hash.split(":")[0] != str(plan.commitment_id):
        # The part moved to another commitment: its old invoice goes, a new one is created.
        remote_delete(client=client, bill=bill, kind=ProcoreKind.REQUISITION, project_id=pid, procore_id=rid)
        ExternalId.objects.filter(pk__in=[e.pk for e in (ext, item_ext) if e is not None]).delete()
        rid, ext, item_ext = None, None, None
    if rid is None:
        body = requisition_create_body(
            bill, plan.part, project_id=pid, commitment_id=plan.commitment_id, line_item_id=plan.line_item_id
        )
        req = _create_or_recover(
            lambda: client.requisition_create(body), lambda: client.requisitions_by_origin(pid, plan.part.origin_id)
        )
        if req is None:  # created by the lost call: update it (next attempt finds it by origin_id)
            raise TransientError("the invoice's create answer was lost; it is updated on the next attempt")
    else:
        if item_ext is not None and item_ext.payload_hash == line_key:
            item_id, zero = item_ext.procore_id, []
        else:
            # The first edit after a recovery, or the cost code moved to another line: read the items once.
            try:
                current = client.requisition_show(pid, rid)
            except NotFound:
                ExternalId.objects.filter(pk__in=[e.pk for e in (ext, item_ext) if e is not None]).delete()
                return requisition_write(client=client, work=work, plan=plan, retry=False)
            target = _item_for(current, plan.line_item_id)
            if target is None:
                raise ValidationFailed(
                    f"invoice {rid} has no item for commitment line {plan.line_item_id}: the commitment's schedule "
                    "of values changed in Procore; delete the invoice there and replay the bill",
                    status=422,
                )
            item_id = int(target["id"])
            zero = [int(i["id"]) for i in current.get("items") or [] if _nonzero(i.get("work_completed_this_period"))]
        body = requisition_update_body(
            bill, plan.part, project_id=pid, commitment_id=plan.commitment_id, item_id=item_id, zero_item_ids=zero
        )
        try:
            req = client.requisition_update(rid, body)
        except NotFound:
            ExternalId.objects.filter(pk__in=[e.pk for e in (ext, item_ext) if e is not None]).delete()
            return requisition_write(client=client, work=work, plan=plan, retry=False)
        except (Forbidden, ValidationFailed) as exc:
            # A person may have made the change in Procore already (an admin can edit any invoice):
            # then the invoice matches QuickBooks and the bill is done.
            current = client.requisition_show(pid, rid)
            if not _invoice_matches(current, body):
                raise _invoice_refused(exc, what="change", bill=bill, requisition_id=rid, project_id=pid) from None
            req = current
    rid = int(req["id"])
    external_save(
        job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION, procore_id=rid, digest=plan.digest, project_id=pid
    )
    item = _item_for(req, plan.line_item_id)
    if item is not None:
        external_save(
            job=job, qb_id=bill.txn_id, kind=ProcoreKind.REQUISITION_ITEM, procore_id=int(item["id"]),
            digest=line_key, project_id=pid,
        )  # fmt: skip
    return rid


# --- deletes -------------------------------------------------------------------------------


def remote_delete(*, client: ProcoreClient, bill: QbBill | None, kind: str, project_id: int, procore_id: int) -> None:
    try:
        if kind == ProcoreKind.REQUISITION:
            client.requisition_delete(project_id, procore_id)
        else:
            client.direct_cost_delete(project_id, procore_id)
    except NotFound:
        pass  # already gone: that is the goal
    except (Forbidden, ValidationFailed) as exc:
        if kind != ProcoreKind.REQUISITION or bill is None:
            raise
        raise _invoice_refused(
            exc, what="delete", bill=bill, requisition_id=procore_id, project_id=project_id
        ) from None
