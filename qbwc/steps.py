"""The session plan's mechanics: where a step starts, storing its records, moving its mark."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from audit.qbtypes import QbDeletion, QbVendor
from audit.services import record_mark_deleted, record_receive
from qbwc import qbxml
from qbwc.models import PLAN, QbwcSession, Step, Watermark


def since_for(session: QbwcSession, step: str) -> tuple[datetime | None, int | None]:
    """Where a step's query starts: its mark minus the safety window (None on a first run),
    and the UTC offset QuickBooks' own timestamps carried."""
    mark = Watermark.objects.filter(tenant_id=session.tenant_id, query=step).first()
    if mark is None:
        return None, None
    window = timedelta(minutes=settings.QBWC_SAFETY_WINDOW_MINUTES)
    offset = mark.qb_utc_offset_minutes
    if offset is None:
        # A step that has returned nothing yet: the company file's clock is the same for
        # every query, so borrow the offset another step learned.
        offset = (
            Watermark.objects.filter(tenant_id=session.tenant_id, qb_utc_offset_minutes__isnull=False)
            .order_by("-updated_at")
            .values_list("qb_utc_offset_minutes", flat=True)
            .first()
        )
    return mark.mark - window, offset


def progress_of(session: QbwcSession) -> int:
    """1..99 while the plan runs (steps weigh the same; pages by iterator count), 100 when done."""
    if session.step == Step.DONE:
        return 100
    index = PLAN.index(session.step)
    fraction = 0.0
    if session.iterator_remaining:
        fraction = session.step_records / (session.step_records + session.iterator_remaining)
    return max(1, min(99, int((index + fraction) * 100 / len(PLAN))))


def store_records(session: QbwcSession, records: tuple[qbxml.Record, ...]) -> None:
    """Store each record (audit event + outbox row on commit), counting what changed."""
    tenant = session.tenant
    for rec in records:
        if isinstance(rec, QbDeletion):
            _, changed = record_mark_deleted(tenant=tenant, deletion=rec, session_id=session.pk)
            session.deletions_received += 1
        else:
            _, changed = record_receive(tenant=tenant, obj=rec, session_id=session.pk)
            if isinstance(rec, QbVendor):
                session.vendors_received += 1
            else:
                session.bills_received += 1
        session.records_changed += int(changed)


def qb_offset(records: tuple[qbxml.Record, ...]) -> int | None:
    for rec in records:
        stamp = rec.time_deleted if isinstance(rec, QbDeletion) else rec.time_modified
        if stamp is not None and stamp.utcoffset() is not None:
            return int(stamp.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    return None


def finish_step(session: QbwcSession, *, advance_mark: bool, offset: int | None) -> None:
    """Go to the next step. With advance_mark (the whole step is stored) its mark moves to
    when the step's first query was built: anything changed after that is read next run.
    That is our clock, not QuickBooks'; the safety window covers the skew between them."""
    if advance_mark and session.step_started_at is not None:
        defaults: dict[str, object] = {"mark": session.step_started_at, "session": session}
        if offset is not None:
            defaults["qb_utc_offset_minutes"] = offset
        Watermark.objects.update_or_create(tenant_id=session.tenant_id, query=session.step, defaults=defaults)
    index = PLAN.index(session.step)
    session.step = PLAN[index + 1] if index + 1 < len(PLAN) else Step.DONE
    session.step_started_at = None
    session.iterator_id = ""
    session.iterator_remaining = None
    session.step_records = 0
    session.iterator_restarts = 0


def step_error(session: QbwcSession, text: str, *, severity: str) -> None:
    session.step_errors = [*session.step_errors, {"step": session.step, "severity": severity, "text": text}]

