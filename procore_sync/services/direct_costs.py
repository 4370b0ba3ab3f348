"""Direct-cost writes of a batch of bills through Procore's sync actions (changed headers, then changed lines)."""

from __future__ import annotations

from typing import Any

from procore_sync.client import ProcoreClient
from procore_sync.errors import ValidationFailed
from procore_sync.models import ExternalId, ProcoreKind
from procore_sync.payloads import direct_cost_header, direct_cost_line, line_origin_id
from procore_sync.services.bill_plan import BillWork, Plan
from procore_sync.services.ids import external_get, external_save

SYNC_BATCH = 1000  # Procore's sync actions take at most 1 000 items per call


def _item_refused(what: str, project_id: int, err: dict[str, Any] | None) -> ValidationFailed:
    """An item of a sync answer that is not among its entities: refused (its errors), or missing."""
    return ValidationFailed(
        f"{what} in project {project_id}: " + (_sync_errors(err) if err else "missing from the sync answer"),
        status=422 if err else None,
        body=err,
        permanent=err is not None,
    )


def _sync_errors(err: dict[str, Any]) -> str:
    """Procore's words for one failed sync item (`errors`: field → messages)."""
    errors = err.get("errors") or {}
    if isinstance(errors, dict):
        return "; ".join(f"{k} {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in errors.items())
    return str(errors)


# --- direct costs (sync actions) ------------------------------------------------------------


def direct_costs_sync(*, client: ProcoreClient, project_id: int, entries: list[tuple[BillWork, Plan]]) -> None:
    """Write the direct costs of one project for a batch: changed headers, then changed lines.

    At most two calls per 1 000 bills. Each item's result is read from `entities` / `errors`
    (matched by origin_id); a failed item fails its own bill only.
    """
    for start in range(0, len(entries), SYNC_BATCH):
        chunk = entries[start : start + SYNC_BATCH]
        headers: dict[str, tuple[BillWork, Plan]] = {}
        dc_ids: dict[str, int] = {}
        for work, plan in chunk:
            ext = external_get(
                job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST, project_id=project_id
            )
            origin = plan.part.origin_id
            if ext is not None and ext.payload_hash == plan.digest:
                dc_ids[origin] = ext.procore_id
            else:
                headers[origin] = (work, plan)
                if ext is not None:
                    dc_ids[origin] = ext.procore_id
        if headers:
            updates = [
                direct_cost_header(w.bill, p.part, vendor_id=w.vendor_id, direct_cost_id=dc_ids.get(origin))
                for origin, (w, p) in headers.items()
            ]
            answer = client.direct_costs_sync(project_id, updates)
            entities = {str(e.get("origin_id")): e for e in answer.get("entities") or []}
            errors = {str(e.get("origin_id")): e for e in answer.get("errors") or []}
            for origin, (work, plan) in headers.items():
                if origin in entities:
                    dc_ids[origin] = int(entities[origin]["id"])
                    external_save(
                        job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST, procore_id=dc_ids[origin],
                        digest=plan.digest, project_id=project_id,
                    )  # fmt: skip
                    work.changed += 1
                else:
                    dc_ids.pop(origin, None)
                    err = errors.get(origin)
                    work.error = _item_refused("direct cost", project_id, err)
        lines: dict[str, tuple[BillWork, Plan, ExternalId | None]] = {}
        for work, plan in chunk:
            origin = plan.part.origin_id
            if origin not in dc_ids or work.error is not None:
                continue
            line_ext = external_get(
                job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST_LINE, project_id=project_id
            )
            if line_ext is not None and line_ext.payload_hash == plan.line_digest:
                continue  # only the header changed
            lines[line_origin_id(origin)] = (work, plan, line_ext)
        if not lines:
            continue
        updates = [
            direct_cost_line(
                w.bill, p.part, direct_cost_id=dc_ids[p.part.origin_id], cost_code_id=p.cost_code.procore_id,
                line_item_type_id=p.cost_code.line_item_type_id or 0, line_id=le.procore_id if le else None,
            )
            for w, p, le in lines.values()
        ]  # fmt: skip
        answer = client.direct_cost_lines_sync(project_id, updates)
        entities = {str(e.get("origin_id")): e for e in answer.get("entities") or []}
        errors = {str(e.get("origin_id")): e for e in answer.get("errors") or []}
        for origin, (work, plan, _le) in lines.items():
            if origin in entities:
                external_save(
                    job=work.job, qb_id=work.bill.txn_id, kind=ProcoreKind.DIRECT_COST_LINE,
                    procore_id=int(entities[origin]["id"]), digest=plan.line_digest, project_id=project_id,
                )  # fmt: skip
                work.changed += 1
            else:
                err = errors.get(origin)
                work.error = _item_refused("direct cost line", project_id, err)
                # The header may have changed, the line did not: the next attempt sends the line again.
