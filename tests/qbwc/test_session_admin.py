"""QBWC sessions list (read-only: last contact, duration, what was received, errors) and scoped popups."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from qbwc.models import QbwcSession, RawResponse, SessionState
from tests.conftest import Cast


def _session(tenant, **kw):  # type: ignore[no-untyped-def]
    start = timezone.now() - dt.timedelta(minutes=10)
    values = {
        "ticket_digest": f"{tenant.slug:0<64}"[:64],
        "ticket_hint": tenant.slug[:8],
        "started_at": start,
        "last_seen_at": start + dt.timedelta(minutes=2, seconds=5),
        "finished_at": start + dt.timedelta(minutes=2, seconds=5),
        "state": SessionState.CLOSED,
        "vendors_received": 12,
        "bills_received": 340,
        "deletions_received": 3,
        "records_changed": 41,
    }
    values.update(kw)
    return QbwcSession.objects.create(tenant=tenant, **values)


def test_sessions_list_shows_contact_duration_received_and_errors(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _session(cast.acme, last_error="QuickBooks answered 0x80040400: company file is open in single-user mode")
    page = login("alice").get(reverse("admin:qbwc_qbwcsession_changelist"))
    assert page.status_code == 200
    assert "2m 05s" in page.text
    assert "12 vendors, 340 bills, 3 deletions (41 changed)" in page.text
    assert "single-user mode" in page.text


def test_session_page_is_read_only_and_lists_responses(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    session = _session(cast.acme)
    RawResponse.objects.create(
        tenant=cast.acme,
        session=session,
        request_seq=1,
        step="bills",
        status_code="0",
        status_message="Status OK",
        records=340,
        sha256="0" * 64,
        body="<QBXML/>",
    )
    page = login("sam").get(reverse("admin:qbwc_qbwcsession_change", args=[session.pk]))
    assert page.status_code == 200
    assert "Status OK" in page.text and 'name="_save"' not in page.text
    assert "<QBXML/>" not in page.text  # bodies stay out of the page


def test_charlie_cannot_see_acme_sessions(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    session = _session(cast.acme, last_error="acme-only error text")
    charlie = login("charlie")
    listing = charlie.get(reverse("admin:qbwc_qbwcsession_changelist"))
    assert listing.status_code == 200 and "acme-only error text" not in listing.text and "Acme" not in listing.text
    assert charlie.get(reverse("admin:qbwc_qbwcsession_change", args=[session.pk])).status_code == 404


def test_autocomplete_and_raw_id_popups_are_scoped(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    charlie = login("charlie")
    auto = charlie.get(
        "/admin/autocomplete/",
        {"app_label": "procore_sync", "model_name": "costcodemapping", "field_name": "tenant", "term": ""},
    )
    assert auto.status_code == 200
    assert [r["text"] for r in auto.json()["results"]] == ["Globex Construction"]
    popup = charlie.get(reverse("admin:tenants_tenant_changelist"), {"_popup": "1", "_to_field": "id"})
    assert popup.status_code == 200 and "Acme Builders" not in popup.text and "Globex Construction" in popup.text
    sam = login("sam").get(
        "/admin/autocomplete/",
        {"app_label": "procore_sync", "model_name": "costcodemapping", "field_name": "tenant", "term": ""},
    )
    assert {r["text"] for r in sam.json()["results"]} == {"Acme Builders", "Globex Construction"}
