"""Dashboard figures per tenant and the synced-vs-failed series; charlie never sees acme."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from audit.models import EventCode, SyncEvent
from connector.dashboard_selectors import daily_outcomes, dashboards_for
from qbwc.models import QbwcSession
from tests import builders
from tests.conftest import Cast


def test_dashboard_counts_per_tenant(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    builders.sync(v)
    builders.park_for_mapping(builders.bill(cast.acme, v, "A-1"))
    builders.park_for_mapping(builders.bill(cast.acme, v, "A-2"))
    oldest = builders.fail(builders.bill(cast.acme, v, "A-3"))
    builders.fail(builders.bill(cast.acme, v, "A-4"))
    seen = timezone.now() - dt.timedelta(minutes=5)
    QbwcSession.objects.create(tenant=cast.acme, ticket_digest="d" * 64, ticket_hint="abcd", last_seen_at=seen)
    gv = builders.vendor(cast.globex, "Globex Steel")
    builders.fail(builders.bill(cast.globex, gv, "G-1"))

    [acme] = dashboards_for(cast.alice)
    assert acme.tenant == cast.acme
    assert (acme.synced, acme.waiting_for_mapping, acme.retrying, acme.failed) == (1, 2, 0, 2)
    assert acme.oldest_failure == oldest
    assert acme.last_contact == seen
    assert [d.tenant for d in dashboards_for(cast.charlie)] == [cast.globex]
    assert {d.tenant for d in dashboards_for(cast.sam)} == {cast.acme, cast.globex}


def test_daily_outcomes_has_thirty_days_oldest_first(cast: Cast) -> None:
    v = builders.vendor(cast.acme, "Acme Concrete")
    builders.sync(v)
    builders.fail(builders.bill(cast.acme, v, "A-1"))
    old = builders.bill(cast.acme, v, "A-2")
    SyncEvent.objects.create(
        tenant=cast.acme, record=old, code=EventCode.PUSH_SUCCEEDED, at=timezone.now() - dt.timedelta(days=3)
    )
    SyncEvent.objects.create(
        tenant=cast.acme, record=old, code=EventCode.PUSH_SUCCEEDED, at=timezone.now() - dt.timedelta(days=45)
    )
    days = daily_outcomes(tenant_ids=[cast.acme.pk])[cast.acme.pk]
    assert len(days) == 30
    assert days[-1].day == timezone.localdate()
    assert (days[-1].synced, days[-1].failed) == (1, 1)
    assert days[-4].synced == 1
    assert sum(d.synced for d in days) == 2  # the 45-day-old success is outside the window
