"""Secrets never reach the stored audit trail, whatever a caller passes to event_record."""

from __future__ import annotations

from audit.models import SyncEvent
from audit.services import REDACTED, event_record, redact
from tests.admin import builders
from tests.conftest import Cast


def test_secret_keys_are_masked_at_any_depth() -> None:
    data = {
        "access_token": "eyJ.secret",
        "nested": [{"client_secret": "s3cret", "Refresh_Token": "r1"}],
        "headers": {"Authorization": "Bearer abc", "Procore-Company-Id": "42"},
        "status": 201,
    }
    assert redact(data) == {
        "access_token": REDACTED,
        "nested": [{"client_secret": REDACTED, "Refresh_Token": REDACTED}],
        "headers": {"Authorization": REDACTED, "Procore-Company-Id": "42"},
        "status": 201,
    }


def test_secrets_inside_response_excerpts_and_urls_are_masked() -> None:
    excerpt = '{"access_token": "tok-123", "refresh_token":"ref-456", "name": "Acme"}'
    assert redact(excerpt) == '{"access_token": "[redacted]", "refresh_token":"[redacted]", "name": "Acme"}'
    url = "/oauth/token?grant_type=authorization_code&code=abc123&client_secret=xyz&redirect_uri=https://x/"
    masked = redact(url)
    assert "abc123" not in masked and "xyz" not in masked
    assert "grant_type=authorization_code" in masked and "redirect_uri=https://x/" in masked
    assert redact("401 for Bearer eyJhbGciOi.payload.sig") == "401 for Bearer [redacted]"


def test_business_values_are_kept() -> None:
    data = {"cost_code": "03-300", "excerpt": "cost_code=03-300&project_id=7", "amount": "1250.00", "path": "/rest/v1.0/vendors"}
    assert redact(data) == data


def test_event_record_stores_only_redacted_message_and_data(cast: Cast) -> None:
    record = builders.vendor(cast.acme, "Acme Concrete")
    event_record(
        record=record,
        code="procore.push.attempt",
        message="POST /rest/v1.0/vendors with Authorization: Bearer live-token-1",
        data={"method": "POST", "request": {"headers": {"Authorization": "Bearer live-token-1"}},
              "response_excerpt": '{"error": "bad", "access_token": "live-token-2"}'},
    )
    stored = SyncEvent.objects.get(record=record, code="procore.push.attempt")
    dumped = stored.message + repr(stored.data)
    assert "live-token-1" not in dumped and "live-token-2" not in dumped
    assert stored.data["method"] == "POST"
