"""Procore credentials and errors never show a secret (the redaction rules: tests/audit/test_redact.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from audit.redact import redact
from procore_sync.errors import ReconnectNeeded
from procore_sync.transport import ProcoreCredentials


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
    err = ReconnectNeeded("refused", body=redact({"refresh_token": "rt-secret"}))
    assert "rt-secret" not in str(err.body)
