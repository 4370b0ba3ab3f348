"""The audit trail screens: list, filters, search, record page timeline, Replay — and charlie sees none of acme."""

from __future__ import annotations

from django.urls import reverse

from audit.models import EventCode, JobState, PushJob, RecordState, SyncEvent
from tests import builders
from tests.conftest import Cast

LIST = "admin:audit_syncrecord_changelist"


def _acme_failed_bill(cast: Cast):  # type: ignore[no-untyped-def]
    v = builders.vendor(cast.acme, "Acme Concrete Supply")
    return builders.fail(builders.bill(cast.acme, v, "INV-1001"))


def test_list_shows_own_records_and_charlie_cannot_see_them(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _acme_failed_bill(cast)
    builders.vendor(cast.globex, "Globex Steel Works")
    alice = login("alice").get(reverse(LIST))
    assert alice.status_code == 200
    assert "INV-1001" in alice.text and "Globex Steel Works" not in alice.text
    charlie = login("charlie").get(reverse(LIST))
    assert charlie.status_code == 200
    assert "Globex Steel Works" in charlie.text
    assert "INV-1001" not in charlie.text and "Acme Concrete" not in charlie.text
    # The tenant filter never names another tenant.
    assert "Acme Builders" not in charlie.text
    sam = login("sam").get(reverse(LIST))
    assert "INV-1001" in sam.text and "Globex Steel Works" in sam.text


def test_filters_by_tenant_kind_state_and_date_and_search(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _acme_failed_bill(cast)
    builders.vendor(cast.globex, "Globex Steel Works")
    sam = login("sam")
    url = reverse(LIST)
    only_globex = sam.get(url, {"tenant": cast.globex.pk})
    assert "Globex Steel Works" in only_globex.text and "INV-1001" not in only_globex.text
    bills = sam.get(url, {"kind__exact": "bill"})
    assert "INV-1001" in bills.text and "Globex Steel Works" not in bills.text
    failed = sam.get(url, {"state__exact": "failed"})
    assert "INV-1001" in failed.text and "Acme Concrete Supply" not in failed.text
    today = sam.get(url, {"updated_at__gte": "2000-01-01 00:00:00+00:00"})
    assert "INV-1001" in today.text
    assert "INV-1001" in sam.get(url, {"q": "INV-1001"}).text
    assert "INV-1001" not in sam.get(url, {"q": "Globex"}).text
    # Charlie filtering on acme's id gets nothing of acme.
    sneaky = login("charlie").get(url, {"tenant": cast.acme.pk})
    assert "INV-1001" not in sneaky.text


def test_record_page_shows_the_timeline_top_to_bottom(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    record = _acme_failed_bill(cast)
    page = login("alice").get(reverse("admin:audit_syncrecord_change", args=[record.pk]))
    assert page.status_code == 200
    text = page.text
    assert text.index(EventCode.QB_RECEIVED) < text.index(EventCode.PUSH_FAILED_PERMANENT)
    assert "vendor_id is invalid" in text
    assert 'id="replay-button"' in text
    # Read-only: no save button, no delete link.
    assert 'name="_save"' not in text and "deletelink" not in text


def test_charlie_gets_404_on_acme_record_and_cannot_replay_it(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    record = _acme_failed_bill(cast)
    charlie = login("charlie")
    assert charlie.get(reverse("admin:audit_syncrecord_change", args=[record.pk])).status_code == 404
    assert charlie.post(reverse("admin:audit_syncrecord_replay", args=[record.pk])).status_code == 404
    assert charlie.post(reverse("admin:audit_syncrecord_replay_failed"), {"tenant": cast.acme.pk}).status_code == 404
    assert not SyncEvent.objects.filter(record=record, code=EventCode.REPLAY_REQUESTED).exists()


def test_replay_button_queues_a_new_attempt_by_the_user(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    record = _acme_failed_bill(cast)
    response = login("sam").post(reverse("admin:audit_syncrecord_replay", args=[record.pk]))
    assert response.status_code == 302
    event = SyncEvent.objects.get(record=record, code=EventCode.REPLAY_REQUESTED)
    assert event.acting_user == cast.sam
    assert PushJob.objects.filter(record=record, state=JobState.PENDING).count() == 1


def test_replay_action_on_a_selection_skips_nothing_the_user_may_replay(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    first = _acme_failed_bill(cast)
    v = builders.vendor(cast.acme, "Second Vendor")
    second = builders.fail(builders.bill(cast.acme, v, "INV-2002"))
    response = login("alice").post(
        reverse(LIST), {"action": "replay_selected", "_selected_action": [first.pk, second.pk]}
    )
    assert response.status_code == 302
    assert SyncEvent.objects.filter(code=EventCode.REPLAY_REQUESTED, acting_user=cast.alice).count() == 2


def test_charlie_cannot_replay_acme_records_through_the_action(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    record = _acme_failed_bill(cast)
    login("charlie").post(reverse(LIST), {"action": "replay_selected", "_selected_action": [record.pk]})
    assert not SyncEvent.objects.filter(code=EventCode.REPLAY_REQUESTED).exists()


def test_replay_all_failed_of_one_tenant(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    a1 = _acme_failed_bill(cast)
    v = builders.vendor(cast.globex, "Globex Steel Works")
    g1 = builders.fail(builders.bill(cast.globex, v, "G-1"))
    page = login("alice").get(reverse(LIST))
    assert "Replay all 1 failed" in page.text and "Globex" not in page.text
    login("alice").post(reverse("admin:audit_syncrecord_replay_failed"), {"tenant": cast.acme.pk})
    assert SyncEvent.objects.filter(record=a1, code=EventCode.REPLAY_REQUESTED).exists()
    assert not SyncEvent.objects.filter(record=g1, code=EventCode.REPLAY_REQUESTED).exists()
    assert a1.state == RecordState.FAILED  # state moves when the pusher runs, not before


def test_replay_all_failed_redirects_only_to_admin_paths(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    _acme_failed_bill(cast)
    url = reverse("admin:audit_syncrecord_replay_failed")
    evil = login("alice").post(url, {"tenant": cast.acme.pk, "next": "https://evil.example/"})
    assert evil["Location"] == reverse(LIST)
    home = login("alice").post(url, {"tenant": cast.acme.pk, "next": "/admin/"})
    assert home["Location"] == "/admin/"


def test_timeline_lists_each_http_call_of_an_attempt_without_secrets(cast: Cast, login) -> None:  # type: ignore[no-untyped-def]
    from audit.services import event_record

    v = builders.vendor(cast.acme, "Acme Concrete Supply")
    event_record(
        record=v,
        code=EventCode.PUSH_SUCCEEDED,
        message="In Procore as vendor 5000000001",
        data={
            "calls": [
                {"method": "POST", "path": "/oauth/token", "status": 200, "ms": 12},
                {"method": "PATCH", "path": "/rest/v1.0/vendors/sync", "status": 200, "ms": 34},
            ],
            "response_excerpt": '{"access_token": "leaked-token"}',
        },
    )
    page = login("alice").get(reverse("admin:audit_syncrecord_change", args=[v.pk])).text
    assert "PATCH /rest/v1.0/vendors/sync → 200 (34 ms)" in page
    assert "leaked-token" not in page
    assert login("charlie").get(reverse("admin:audit_syncrecord_change", args=[v.pk])).status_code == 404
