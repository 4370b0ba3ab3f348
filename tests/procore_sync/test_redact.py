"""Secrets never reach logs, events or exception text."""

from __future__ import annotations

from datetime import UTC, datetime

from procore_sync.client import ProcoreCredentials
from procore_sync.errors import ReconnectNeeded
from procore_sync.redact import MASK, redact_headers, redact_text, redact_url, redact_value


def test_bearer_tokens_in_text_are_masked() -> None:
    text = "sent Authorization: Bearer at-abc.DEF_123~x and got 401"
    assert "at-abc" not in redact_text(text)
    assert f"Bearer {MASK}" in redact_text(text)


def test_token_fields_in_json_and_form_text_are_masked() -> None:
    text = '{"access_token": "at-1", "refresh_token":"rt-2", "expires_in": 5400} client_secret=s3cr3t&code=c0de'
    out = redact_text(text)
    for secret in ("at-1", "rt-2", "s3cr3t", "c0de"):
        assert secret not in out
    assert "5400" in out


def test_nested_values_are_masked_by_key_and_content() -> None:
    body = {
        "access_token": "at-1",
        "nested": [{"Client_Secret": "s"}, {"note": "Bearer xyz"}],
        "name": "Apex",
        "refresh_token": "",
    }
    out = redact_value(body)
    assert out["access_token"] == MASK
    assert out["nested"][0]["Client_Secret"] == MASK
    assert "xyz" not in out["nested"][1]["note"]
    assert out["name"] == "Apex" and out["refresh_token"] == ""
    assert body["access_token"] == "at-1"  # the input is not modified


def test_headers_and_urls_are_masked() -> None:
    headers = redact_headers({"Authorization": "Bearer at-1", "Procore-Company-Id": "42"})
    assert headers == {"Authorization": MASK, "Procore-Company-Id": "42"}
    url = redact_url("/oauth/callback?code=abc123&state=ok")
    assert "abc123" not in url and "state=ok" in url


def test_credentials_repr_and_errors_carry_no_secret() -> None:
    creds = ProcoreCredentials(
        environment="sandbox",
        api_url="http://x",
        login_url="http://x",
        company_id=1,
        client_id="cid-visible-nowhere",
        client_secret="shh",
        access_token="at-secret",
        refresh_token="rt-secret",
        expires_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    shown = repr(creds) + str(creds) + f"{creds}"
    for secret in ("shh", "at-secret", "rt-secret", "cid-visible-nowhere"):
        assert secret not in shown
    err = ReconnectNeeded("refused", body=redact_value({"refresh_token": "rt-secret"}))
    assert "rt-secret" not in str(err.body)
