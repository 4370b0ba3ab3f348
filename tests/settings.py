"""Test settings: the real settings module with test-friendly defaults.

Only defaults are set here: CI's DATABASE_URL and CELERY_BROKER_URL (real
PostgreSQL and Redis) win over them.
"""

from __future__ import annotations

import os
from pathlib import Path

_var = Path(__file__).resolve().parent.parent / "var" / "test"
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-that-is-long-enough-0123456789")
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "test-field-key-0123456789abcdef")
os.environ.setdefault("PASSWORD_HASHERS_FAST", "1")
os.environ.setdefault("VAR_DIR", str(_var))
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
# Off except in the test of admin login throttling (tests/admin/test_login_throttle.py).
os.environ.setdefault("AXES_ENABLED", "0")

from connector.settings import *  # noqa: E402,F403
