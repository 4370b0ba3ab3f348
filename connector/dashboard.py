"""The admin index's dashboard: the stock admin index with one dashboard per tenant the user may see.

The chart is inline SVG rendered here, so the page works offline (no CDN, no JavaScript).
Mounted as the admin index by connector/admin_urls.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from connector.dashboard_panels import panels_for
from connector.dashboard_selectors import DayCount, dashboards_for

CHART_WIDTH = 600
CHART_HEIGHT = 120
SYNCED_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"


def chart_svg(days: list[DayCount]) -> SafeString:
    """Synced (green) vs failed (red) bars per day, oldest on the left."""
    slot = CHART_WIDTH / max(len(days), 1)
    bar = max(slot / 2 - 1, 1)
    top = max([d.synced for d in days] + [d.failed for d in days] + [1])
    plot = CHART_HEIGHT - 16  # room for the date labels

    def rect(x: float, value: int, colour: str, label: str) -> tuple[Any, ...]:
        h = plot * value / top
        return (f"{x:.1f}", f"{plot - h:.1f}", f"{bar:.1f}", f"{h:.1f}", colour, label)

    rects = []
    for i, d in enumerate(days):
        x = i * slot
        rects.append(rect(x, d.synced, SYNCED_COLOUR, f"{d.day:%Y-%m-%d}: {d.synced} synced"))
        rects.append(rect(x + bar, d.failed, FAILED_COLOUR, f"{d.day:%Y-%m-%d}: {d.failed} failed"))
    body = format_html_join(
        "",
        '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>',
        rects,
    )
    labels = SafeString("")
    if days:
        labels = format_html(
            '<text x="0" y="{}" font-size="10">{}</text><text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>',
            CHART_HEIGHT - 2,
            f"{days[0].day:%b %d}",
            CHART_WIDTH,
            CHART_HEIGHT - 2,
            f"{days[-1].day:%b %d}",
        )
    return format_html(
        '<svg class="sync-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" '
        'role="img" aria-label="Synced vs failed per day, last {} days">'
        '<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#999"/>{}{}</svg>',
        CHART_WIDTH,
        CHART_HEIGHT,
        len(days),
        plot,
        CHART_WIDTH,
        plot,
        body,
        labels,
    )


def dashboard_index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
    dashboards = dashboards_for(request.user)
    panels = panels_for(tenant_ids=[d.tenant.pk for d in dashboards])  # alerts, Web Connector errors
    context = {
        **(extra_context or {}),
        "dashboards": [(d, chart_svg(d.days), panels[d.tenant.pk]) for d in dashboards],
    }
    return admin.site.index(request, extra_context=context)
