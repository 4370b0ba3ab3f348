"""Dashboard panels added by issue 12: alerts with their history, and the last Web Connector error in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from alerts.selectors import AlertPanel, alert_panels
from qbwc import qb_errors
from qbwc.models import QbwcSession


@dataclass
class QbErrorPanel:
    session: QbwcSession
    plain: qb_errors.QbError | None  # None: the code is not in the table, show the raw text alone
    raw: str


@dataclass
class TenantPanels:
    alerts: AlertPanel
    qb_error: QbErrorPanel | None


def last_qb_errors(*, tenant_ids: list[int]) -> dict[int, QbErrorPanel]:
    """The newest session of each tenant, when it ended with an error (an older error is history)."""
    found: dict[int, QbErrorPanel] = {}
    for tid in tenant_ids:
        session = QbwcSession.objects.filter(tenant_id=tid).order_by("-started_at", "-pk").first()
        if session is not None and session.last_error:
            found[tid] = QbErrorPanel(
                session=session,
                plain=qb_errors.explain(hresult=session.hresult, message=session.last_error),
                raw=session.last_error,
            )
    return found


def panels_for(*, tenant_ids: list[int]) -> dict[int, TenantPanels]:
    alerts = alert_panels(tenant_ids=tenant_ids)
    errors = last_qb_errors(tenant_ids=tenant_ids)
    return {tid: TenantPanels(alerts=alerts[tid], qb_error=errors.get(tid)) for tid in tenant_ids}
