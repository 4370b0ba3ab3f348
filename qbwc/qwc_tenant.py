"""A tenant's .qwc file: the tenant's QBWC settings as a QwcSpec (rendered by the pure qbwc.qwc)."""

from __future__ import annotations

from qbwc.qwc import QwcSpec, render_qwc, support_url_for
from tenants.models import Tenant


def qwc_spec_for(tenant: Tenant, url: str) -> QwcSpec:
    return QwcSpec(
        app_name=f"ml-connector ({tenant.name})",
        app_url=url,
        support_url=support_url_for(url),
        username=tenant.qbwc_username,
        owner_id=tenant.qbwc_owner_id,
        file_id=tenant.qbwc_file_id,
        run_every_minutes=tenant.poll_interval_minutes,
    )


def tenant_qwc(*, tenant: Tenant, url: str) -> bytes:
    """The .qwc the tenant imports into the Web Connector; raises qbwc.qwc.QwcError for a bad URL."""
    return render_qwc(qwc_spec_for(tenant, url))
