"""Raise, remind, resolve and mute alerts; the periodic tasks call alerts_check.

De-duplication lives in the database: one open Alert row per (tenant, kind),
enforced by a partial unique constraint. A detection while the row is open only
updates it; an email goes out when the alert opens, then at most once every
ALERTS_REMIND_HOURS while it lasts, and (for silence and reconnect) once when
it clears. A muted kind is still recorded and shown, but sends nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.conditions import DETECTORS, RECOVERY_NOTICE, Finding
from alerts.emails import body_for, subject_for
from alerts.models import Alert, AlertKind, AlertMute, Notification, NotificationKind
from alerts.recipients import recipients_for
from tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass
class CheckResult:
    opened: list[int] = field(default_factory=list)  # alert ids
    resolved: list[int] = field(default_factory=list)
    emails: int = 0


def _muted(tenant_id: int, kind: str) -> bool:
    return AlertMute.objects.filter(tenant_id=tenant_id, kind=kind).exists()


def _notify(*, tenant: Tenant, alert: Alert, kind: str, now: dt.datetime) -> bool:
    """Send one email about the alert to the tenant's people; record it. False when muted or nobody to tell."""
    if _muted(tenant.pk, alert.kind):
        return False
    to = recipients_for(tenant_id=tenant.pk)
    if not to:
        log.warning("alert %s for tenant %s: nobody to tell (no accountant or support address)", alert.pk, tenant.pk)
        return False
    subject = subject_for(tenant=tenant, alert=alert, kind=kind)
    # One message per alert; recipients in Bcc so one accountant's address is not shown to support lists.
    message = EmailMessage(subject=subject, body=body_for(tenant=tenant, alert=alert, kind=kind), to=[], bcc=to)
    # Sent once the alert row is committed: never an email about a change that rolled back (and a
    # reader who got the email finds the alert). robust: a mail server failure is logged, not raised.
    transaction.on_commit(message.send, robust=True)
    Notification.objects.create(
        tenant=tenant, alert=alert, kind=kind, subject=subject[:255], recipients=len(to), sent_at=now
    )
    if kind != NotificationKind.RECOVERED:
        alert.last_notified_at = now
        alert.save(update_fields=["last_notified_at"])
    return True


def _open_or_update(*, tenant: Tenant, kind: str, finding: Finding, now: dt.datetime, result: CheckResult) -> None:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(tenant=tenant, kind=kind, resolved_at__isnull=True).first()
        if alert is None:
            try:
                with transaction.atomic():
                    alert = Alert.objects.create(
                        tenant=tenant,
                        kind=kind,
                        summary=finding.summary,
                        detail=finding.detail,
                        opened_at=now,
                        last_detected_at=now,
                    )
            except IntegrityError:
                return  # a concurrent check opened it first; that one notifies
            result.opened.append(alert.pk)
            result.emails += _notify(tenant=tenant, alert=alert, kind=NotificationKind.OPENED, now=now)
            return
        alert.summary, alert.detail, alert.last_detected_at = finding.summary, finding.detail, now
        alert.save(update_fields=["summary", "detail", "last_detected_at"])
        remind_after = dt.timedelta(hours=settings.ALERTS_REMIND_HOURS)
        if alert.last_notified_at is None or now - alert.last_notified_at >= remind_after:
            result.emails += _notify(tenant=tenant, alert=alert, kind=NotificationKind.REMINDER, now=now)


def _resolve(*, tenant: Tenant, kind: str, now: dt.datetime, result: CheckResult) -> None:
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(tenant=tenant, kind=kind, resolved_at__isnull=True).first()
        if alert is None:
            return
        alert.resolved_at = now
        alert.save(update_fields=["resolved_at"])
        result.resolved.append(alert.pk)
        # Only an alert someone was told about gets its "recovered" message.
        if kind in RECOVERY_NOTICE and alert.last_notified_at is not None:
            result.emails += _notify(tenant=tenant, alert=alert, kind=NotificationKind.RECOVERED, now=now)


def alerts_check(*, kind: str, now: dt.datetime | None = None, tenant_ids: list[int] | None = None) -> CheckResult:
    """Detect one kind of condition for every active tenant (or the given ones) and act on it."""
    if kind not in DETECTORS:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {', '.join(AlertKind.values)}")
    now = now or timezone.now()
    tenants_qs = Tenant.objects.filter(active=True)
    if tenant_ids is not None:
        tenants_qs = tenants_qs.filter(pk__in=tenant_ids)
    tenants = list(tenants_qs)
    findings = DETECTORS[kind](tenants, now)
    result = CheckResult()
    for tenant in tenants:
        finding = findings.get(tenant.pk)
        try:
            if finding is not None:
                _open_or_update(tenant=tenant, kind=kind, finding=finding, now=now, result=result)
            else:
                _resolve(tenant=tenant, kind=kind, now=now, result=result)
        except Exception:
            # One tenant's failure (an SMTP refusal, say) must not hide the others' alerts.
            log.exception("alerts: %s check failed for tenant %s", kind, tenant.pk)
    return result


def alert_mute(*, tenant: Tenant, kind: str, user: Any = None) -> AlertMute:
    """Stop emails of one kind for one tenant (the condition is still detected and shown)."""
    if kind not in AlertKind.values:
        raise ValueError(f"unknown alert kind {kind!r}")
    mute, _ = AlertMute.objects.get_or_create(
        tenant=tenant, kind=kind, defaults={"muted_by": user if getattr(user, "pk", None) else None}
    )
    return mute


def alert_unmute(*, tenant: Tenant, kind: str) -> None:
    AlertMute.objects.filter(tenant=tenant, kind=kind).delete()
