"""The one redaction rule set (audit/redact.py): secrets masked, business values readable.

Covers what both former redactors (procore_sync/redact.py, audit.services.redact) tested,
plus the defects they disagreed on: a cost code is never a secret, an api key always is.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.models import SyncEvent
from audit.redact import MASK, _masked, redact, redact_text, redact_url
from audit.services import event_record
from tests import builders
from tests.conftest import Cast

# --- secrets are masked -------------------------------------------------------------


def test_bearer_tokens_in_text_are_masked() -> None:
    text = "sent Authorization: Bearer at-abc.DEF_123~x and got 401"
    assert "at-abc" not in redact_text(text)
    assert f"Bearer {MASK}" in redact_text(text)
    assert redact("401 for Bearer eyJhbGciOi.payload.sig") == f"401 for Bearer {MASK}"


def test_token_fields_in_json_and_form_text_are_masked() -> None:
    text = '{"access_token": "at-1", "refresh_token":"rt-2", "expires_in": 5400} client_secret=s3cr3t&code=c0de'
    out = redact_text(text)
    for secret in ("at-1", "rt-2", "s3cr3t", "c0de"):
        assert secret not in out
    assert "5400" in out
    excerpt = '{"access_token": "tok-123", "refresh_token":"ref-456", "name": "Acme"}'
    assert redact(excerpt) == f'{{"access_token": "{MASK}", "refresh_token":"{MASK}", "name": "Acme"}}'


def test_secret_keys_are_masked_at_any_depth_and_the_input_is_kept() -> None:
    data = {
        "access_token": "eyJ.secret",
        "nested": [{"client_secret": "s3cret", "Refresh_Token": "r1"}, {"note": "Bearer xyz"}],
        "headers": {"Authorization": "Bearer abc", "Procore-Company-Id": "42"},
        "status": 201,
        "name": "Apex",
        "refresh_token": "",
    }
    out = redact(data)
    assert out["access_token"] == MASK
    assert out["nested"][0] == {"client_secret": MASK, "Refresh_Token": MASK}
    assert "xyz" not in out["nested"][1]["note"]
    assert out["headers"] == {"Authorization": MASK, "Procore-Company-Id": "42"}
    assert out["status"] == 201 and out["name"] == "Apex"
    assert out["refresh_token"] == ""  # "there is no token" stays visible
    assert data["access_token"] == "eyJ.secret"  # the input is not modified


@pytest.mark.parametrize(
    "key", ["api_key", "API-Key", "x-api-key", "apikey", "password", "db_passwd", "Set-Cookie", "client_id", "token"]
)
def test_every_kind_of_secret_key_is_masked(key: str) -> None:
    assert redact({key: "s3cret-value"}) == {key: MASK}


@pytest.mark.parametrize(
    "text", ["api_key=s3cret-value&x=1", '{"api_key": "s3cret-value"}', "password: s3cret-value", "apikey=s3cret-value"]
)
def test_api_keys_and_passwords_in_text_are_masked(text: str) -> None:
    assert "s3cret-value" not in redact_text(text)


def test_oauth_codes_in_urls_and_token_requests_are_masked() -> None:
    url = redact_url("/oauth/callback?code=abc123&state=ok")
    assert "abc123" not in url and "state=ok" in url
    url = "/oauth/token?grant_type=authorization_code&code=abc123&client_secret=xyz&redirect_uri=https://x/"
    masked = redact(url)
    assert "abc123" not in masked and "xyz" not in masked
    assert "grant_type=authorization_code" in masked and "redirect_uri=https://x/" in masked
    form = {"grant_type": "authorization_code", "code": "abc123", "redirect_uri": "https://x/"}
    assert redact(form) == {"grant_type": "authorization_code", "code": MASK, "redirect_uri": "https://x/"}


# --- business values stay readable (the regression) --------------------------------


def test_business_values_are_kept() -> None:
    data = {
        "cost_code": "03-300",
        "excerpt": "cost_code=03-300&project_id=7",
        "amount": "1250.00",
        "path": "/rest/v1.0/vendors",
    }
    assert redact(data) == data
    assert redact_text("origin_code=V1&vendor_code=ACME") == "origin_code=V1&vendor_code=ACME"
    assert redact_url("/rest/v1.0/projects/7/cost_codes?filters[code]=03-300") == (
        "/rest/v1.0/projects/7/cost_codes?filters[code]=03-300"
    )


def test_a_procore_422_naming_a_cost_code_stays_readable_while_its_secrets_are_masked() -> None:
    body = {
        "errors": {"cost_code": ["03-300 is not in this project's budget"], "origin_code": ["V1 taken"]},
        "line_items": [{"cost_code": {"code": "03-300", "name": "Cast-in-Place Concrete"}, "origin_code": "V1"}],
        "request": {"headers": {"Authorization": "Bearer live-token-9"}, "api_key": "k-9"},
        "message": 'Validation failed: cost code "code": "03-300" unknown; origin_code=V1',
    }
    out = redact(body)
    assert out["errors"] == body["errors"]
    assert out["line_items"] == body["line_items"]
    assert out["message"] == body["message"]
    assert out["request"] == {"headers": {"Authorization": MASK}, "api_key": MASK}


def test_the_audit_trail_keeps_a_422_cost_code_and_masks_tokens(cast: Cast) -> None:
    record = builders.vendor(cast.acme, "Acme Concrete")
    event_record(
        record=record,
        code="procore.push.failed.permanent",
        message="422 from POST /rest/v1.0/requisitions with Authorization: Bearer live-token-1: cost_code=03-300",
        data={
            "method": "POST",
            "request": {"headers": {"Authorization": "Bearer live-token-1"}},
            "response": {"errors": {"cost_code": ["03-300 is invalid"]}, "code": "03-300"},
            "response_excerpt": '{"error": "bad", "access_token": "live-token-2", "code": "03-300"}',
        },
    )
    stored = SyncEvent.objects.get(record=record, code="procore.push.failed.permanent")
    dumped = stored.message + repr(stored.data)
    assert "live-token-1" not in dumped and "live-token-2" not in dumped
    assert "cost_code=03-300" in stored.message
    assert stored.data["response"] == {"errors": {"cost_code": ["03-300 is invalid"]}, "code": "03-300"}
    assert '"code": "03-300"' in stored.data["response_excerpt"]
    assert stored.data["method"] == "POST"


# --- the fast path (text that cannot hold a secret is returned after one cheap check) ---

_PIECES = st.sampled_from(
    [
        "bearer ", "Bearer\t", "BEARER x", "access_token", "Refresh_Token", "id_token", "client_secret", "CLIENT_ID",
        "password", "passwd", "PaSsWoRd", "api_key", "api-key", "ApiKey", "code=", "CODE=", "cost_code=",
        "=", ":", '"', " ", "&", ",", "}", "\n", "abc", "42", "x.y~z",
        # Letters Python's case-insensitive matching folds to ASCII (long s, dotless i, Kelvin, dotted I).
        "\u017f", "\u0131", "\u212a", "\u0130", "pa\u017f\u017fword", "\u212aey", "ap\u0131_key", "B\u0130arer",
    ]
)  # fmt: skip


@given(st.lists(_PIECES | st.text(max_size=4), max_size=12).map("".join))
@settings(max_examples=400, deadline=None)
def test_the_fast_path_masks_exactly_what_the_substitutions_mask(text: str) -> None:
    assert redact_text(text) == _masked(text)


@pytest.mark.parametrize(
    "text",
    ["New in QuickBooks (EditSequence 1700000001)", "Changed in QuickBooks (EditSequence 2)", "5044.20", ""],
)
def test_our_own_event_text_is_returned_as_it_is(text: str) -> None:
    assert redact_text(text) is text
