"""The admin index dashboard: per-tenant figures and the inline-SVG chart; charlie never sees acme."""

from __future__ import annotations

import datetime as dt
import re

from django.urls import reverse
from django.utils import timezone

from connector.dashboard import chart_svg
from connector.dashboard_selectors import DayCount
from qbwc.models import QbwcSession
from tests import builders
from tests.conftest import Cast


def _figure(html: str, slug: str, name: str) -> int:
    block = html[html.index(f'id="dashboard-{slug}"') :]
    match = re.search(rf'data-figure="{name}"[^>]*><span class="n">(\d+)</span>', block)
    assert match, name
    return int(match.group(1))


def test_dashboard_shows_figures_for_own_tenant_only(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    v = builders.vendor(cast.acme, "Acme Concrete")
    builders.sync(v)
    builders.park_for_mapping(builders.bill(cast.acme, v, "A-1"))
    failed = builders.fail(builders.bill(cast.acme, v, "A-2"), reason="HTTP 422: invoice_number is blank")
    QbwcSession.objects.create(
        tenant=cast.acme,
        ticket_digest="a" * 64,
        ticket_hint="abcd",
        last_seen_at=timezone.now() - dt.timedelta(hours=2),
    )
    page = login("alice").get(reverse("admin:index"))
    assert page.status_code == 200
    html = page.text
    assert (
        _figure(html, "acme", "synced"),
        _figure(html, "acme", "waiting"),
        _figure(html, "acme", "retrying"),
        _figure(html, "acme", "failed"),
    ) == (1, 1, 0, 1)
    assert "2\xa0hours ago" in html or "2 hours ago" in html
    assert "invoice_number is blank" in html
    assert reverse("admin:audit_syncrecord_change", args=[failed.pk]) in html
    assert '<svg class="sync-chart"' in html and "<script" not in html.split('id="content-main"')[1].split("</svg>")[0]
    assert "dashboard-globex" not in html
    charlie = login("charlie").get(reverse("admin:index")).text
    assert "dashboard-globex" in charlie and "dashboard-acme" not in charlie and "Acme" not in charlie
    sam = login("sam").get(reverse("admin:index")).text
    assert "dashboard-acme" in sam and "dashboard-globex" in sam


def test_dashboard_says_never_before_the_first_qbwc_contact(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    html = login("alice").get(reverse("admin:index")).text
    assert "never" in html.split('class="last-contact"')[1][:40]


def test_chart_draws_one_bar_pair_per_day_scaled_to_the_busiest_day() -> None:
    today = dt.date(2026, 11, 25)
    days = [DayCount(day=today - dt.timedelta(days=29 - i)) for i in range(30)]
    days[-1].synced, days[-1].failed = 10, 5
    svg = str(chart_svg(days))
    assert svg.count("<rect") == 60
    heights = [float(h) for h in re.findall(r'height="([\d.]+)" fill="[^"]+"><title>2026-11-25', svg)]
    assert heights[0] == 2 * heights[1] > 0
    assert "2026-11-25: 10 synced" in svg and "2026-11-25: 5 failed" in svg
    assert "Oct 27" in svg and "Nov 25" in svg
