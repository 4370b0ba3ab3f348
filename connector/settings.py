"""ml-connector settings: one env-driven module that fails loudly.

Every variable is documented in .env.example. Per-tenant data never lives here.
"""

from __future__ import annotations

import hashlib as _hashlib
import importlib.util
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from connector.env import (
    dev_secret,
    env_bool,
    env_database_url,
    env_float,
    env_int,
    env_list,
    env_required,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

# --- Django -----------------------------------------------------------------
DEBUG = env_bool("DEBUG", False)

if DEBUG:
    # Only a development machine gets a generated key; it is kept under var/ so a
    # restart does not log everyone out or make encrypted fields unreadable.
    SECRET_KEY = env_str("SECRET_KEY", "") or dev_secret(VAR_DIR / "dev-secret-key")
else:
    SECRET_KEY = env_required("SECRET_KEY", "set a long random value (or DEBUG=1 for a generated development key)")
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
SECRET_KEY_FALLBACKS = env_list("SECRET_KEY_FALLBACKS", [])

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if not _origin.startswith(("https://", "http://")):
        raise ImproperlyConfigured(f"CSRF_TRUSTED_ORIGINS entry {_origin!r} must start with https:// or http://")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "tenants",
    "qbwc",
    "procore_sync",
    "audit",
]

# --- Dev tools (issue 9): the demo runner and the peer commands live in devtools/, which the
# production image does not contain; install the app only where it is importable (a checkout).
if importlib.util.find_spec("devtools") is not None:
    INSTALLED_APPS.append("devtools")

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Serves the admin's CSS/JS from the web server itself: the pages must work offline, no CDN.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "connector.urls"
WSGI_APPLICATION = "connector.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Admin login throttling: django-axes (issue 10) ---------------------------
# Failures are counted per (username, client address), so a guesser at one address
# cannot lock a staff member out everywhere; the lock lifts after the cool-off.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before any hash
    "django.contrib.auth.backends.ModelBackend",
]
# Tests turn it off (Django's test Client.login passes no request, which axes needs)
# and on again in the test that proves the lock-out.
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "tenants.client_ip.client_ip"
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Tests swap in a fast hasher (PASSWORD_HASHERS_FAST=1); production keeps PBKDF2.
if env_bool("PASSWORD_HASHERS_FAST", False):
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Without collectstatic (demo, tests) WhiteNoise finds files through the finders.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = DEBUG
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- HTTPS and the reverse proxy (issue 10) ---------------------------------
# BEHIND_PROXY=1 only when our nginx (docker-compose.yml) is in front: then its
# X-Forwarded-Proto says whether the client used https, and X-Forwarded-For who the
# client is. Without a proxy these headers are the client's to forge, so never trusted.
BEHIND_PROXY = env_bool("BEHIND_PROXY", False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Redirect http to https (the exempt paths below excepted).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Exempt: probes and the Prometheus scrape, which reach the web server inside the network without the proxy.
SECURE_REDIRECT_EXEMPT = [r"^healthz?/?$", r"^readyz/?$", r"^metrics/?$"]
# HSTS: tell browsers to use https only, for this many seconds (0 = off). Start
# small (300) and raise to a year (31536000) once https is known to work.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Joining browsers' preload lists is the domain owner's deliberate, hard-to-undo
    # choice (SECURE_HSTS_PRELOAD=1), not a deployment mistake to warn about.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# QBWC posts multi-megabyte qbXML responses; the QBWC view enforces its own cap.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)

# --- Database ---------------------------------------------------------------
DATABASES = {"default": env_database_url("DATABASE_URL", f"sqlite:///{VAR_DIR / 'ml-connector.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web server, worker and simulator share one file: wait for locks instead of failing (timeout),
    # and WAL lets readers go on while one writer commits (web + worker + simulator locally).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-ml-connector.sqlite3")}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60)
    # Kept on: a connection PostgreSQL dropped (restart, failover: drill 08) becomes a reconnect
    # instead of a failed SOAP call. The check itself asks the socket, not the server (issue 11):
    # Django's SELECT 1 round trip per request was 22 % of a web worker's time under a polling
    # fleet (connector/pgbackend/base.py); same outcomes, no round trip on a healthy connection.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["ENGINE"] = "connector.pgbackend"
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "connector.pgbackend" and env_bool("DATABASE_PREPARED_STATEMENTS", True):
        # Parameters bound by the server, and a statement the connection has run 5 times
        # (psycopg's prepare_threshold) kept prepared, so PostgreSQL stops parsing and planning
        # the same few statements every SOAP call makes. Django turns both off by default for
        # the sake of transaction-mode poolers (pgbouncer before 1.21 cannot carry prepared
        # statements): set DATABASE_PREPARED_STATEMENTS=0 behind one. Measured in
        # bench/bench_scale.py (issue 11): client-side quoting of parameters (psycopg
        # PostgresClientQuery.dump) was a tenth of a web worker's CPU.
        # Each prepared statement is then planned as PostgreSQL decides (custom plans for its
        # first five executions, then a cached generic one when that is no dearer): for lookups
        # by key and for the foreign-key checks at COMMIT a cached plan is what we want. A
        # session-wide plan_cache_mode=force_custom_plan made every foreign-key check of an
        # ingest page be planned again, 3.5x the COMMIT time (issue 11); the one query whose
        # plan depends on its values (authenticate's facts) runs unprepared instead
        # (audit/compiled_sql.py _unprepared).
        options = DATABASES["default"].setdefault("OPTIONS", {})
        assert isinstance(options, dict)
        options.update(server_side_binding=True, prepare_threshold=5)

# --- Celery -----------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/, so a worker runs on a
# fresh machine with no server. Set CELERY_BROKER_URL=redis://... in production.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if not CELERY_BROKER_URL.startswith(("filesystem://", "redis://", "rediss://", "amqp://", "memory://")):
    raise ImproperlyConfigured(
        f"CELERY_BROKER_URL={CELERY_BROKER_URL!r}: use redis://, rediss://, amqp:// or filesystem://"
    )
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own class writes messages non-atomically; see connector/broker.py.
    CELERY_BROKER_TRANSPORT = "connector.broker:AtomicFilesystemTransport"
    for _sub in ("queue", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        # Fanout/pidbox bookkeeping; kombu's default is ./control in the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        # kombu polls the folder; its 1 s default would cap a worker at ~1 task/s.
        "polling_interval": 0.05,
    }
else:
    # A push job can wait out a Procore rate-limit window; the visibility timeout
    # must exceed the longest task or Redis redelivers it to a second worker.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 7200, minimum=60)}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = False

# --- Encryption -------------------------------------------------------------
# django-fernet-encrypted-fields derives Fernet keys from SECRET_KEY (+fallbacks)
# and each SALT_KEY entry. The first entry encrypts; every entry still decrypts,
# so rotation = put a new key first and keep the old ones until re-saved.
if DEBUG:
    _default_salts = [dev_secret(VAR_DIR / "dev-field-key", 32)]
    SALT_KEY = env_list("FIELD_ENCRYPTION_KEYS", []) or _default_salts
else:
    SALT_KEY = env_list("FIELD_ENCRYPTION_KEYS", [])
    if not SALT_KEY:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set: give one or more comma-separated random keys "
            "(newest first) used to encrypt Procore credentials"
        )
for _salt in SALT_KEY:
    if len(_salt) < 16:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS entries must be at least 16 characters")

# --- QBWC -------------------------------------------------------------------
QBWC_MAX_RETURNED = env_int("QBWC_MAX_RETURNED", 500, minimum=1, maximum=10_000)
QBWC_SESSION_TTL_SECONDS = env_int("QBWC_SESSION_TTL_SECONDS", 1800, minimum=60)
QBWC_MAX_BODY_BYTES = env_int("QBWC_MAX_BODY_BYTES", 50 * 1024 * 1024, minimum=1024)
QBWC_SAFETY_WINDOW_MINUTES = env_int("QBWC_SAFETY_WINDOW_MINUTES", 10, minimum=0)
# A run finished this recently makes authenticate answer "none" (a second Web
# Connector, or "Update Selected" clicked repeatedly).
QBWC_MIN_SECONDS_BETWEEN_RUNS = env_int("QBWC_MIN_SECONDS_BETWEEN_RUNS", 60, minimum=0)
QBWC_LOGIN_FAILURES_BEFORE_THROTTLE = env_int("QBWC_LOGIN_FAILURES_BEFORE_THROTTLE", 5, minimum=1)

# --- QBWC hardening (issue 10) ------------------------------------------------
# Bytes any SOAP call but receiveResponseXML may have (authenticate needs < 1 KB),
# and the bytes before the operation element of any call.
QBWC_MAX_CALL_BYTES = env_int("QBWC_MAX_CALL_BYTES", 8192, minimum=1024, maximum=1024 * 1024)
# Bytes (UTF-8) of qbXML one receiveResponseXML may carry, counted as the SOAP reader reads
# them (soap.Limits.response_bytes). The maximum stays below libxml2's 10 000 000-byte text
# node limit, which the reader no longer meets (it builds no tree); QBWC_MAX_RETURNED keeps
# real pages far below.
QBWC_MAX_RESPONSE_BYTES = env_int("QBWC_MAX_RESPONSE_BYTES", 8_000_000, minimum=1024, maximum=9_500_000)
# The SOAP envelope itself: a real call has about a dozen elements, four levels deep.
QBWC_MAX_ENVELOPE_ELEMENTS = env_int("QBWC_MAX_ENVELOPE_ELEMENTS", 64, minimum=16, maximum=10_000)
QBWC_MAX_ENVELOPE_DEPTH = env_int("QBWC_MAX_ENVELOPE_DEPTH", 8, minimum=5, maximum=200)
# Failed logins: per (username, client address), then blocked for BLOCK_SECONDS,
# doubling up to BLOCK_MAX_SECONDS. Per username from all addresses together: the
# ceiling below, which never blocks the address of the tenant's last good session.
QBWC_LOGIN_FAILURES_PER_USERNAME = env_int("QBWC_LOGIN_FAILURES_PER_USERNAME", 100, minimum=1)
QBWC_LOGIN_BLOCK_SECONDS = env_int("QBWC_LOGIN_BLOCK_SECONDS", 60, minimum=1)
QBWC_LOGIN_BLOCK_MAX_SECONDS = env_int("QBWC_LOGIN_BLOCK_MAX_SECONDS", 900, minimum=1)
# Keys for the HMAC-SHA-256 of generated QBWC passwords, newest first (tenants/credentials.py).
# Unset: derived from SECRET_KEY and SECRET_KEY_FALLBACKS (rotating those then rotates these).
QBWC_PASSWORD_KEYS = env_list("QBWC_PASSWORD_KEYS", []) or [
    _hashlib.sha256(b"ml-connector qbwc password key:" + _k.encode()).hexdigest()
    for _k in [SECRET_KEY, *SECRET_KEY_FALLBACKS]
]
for _key in QBWC_PASSWORD_KEYS:
    if len(_key) < 32:
        raise ImproperlyConfigured("QBWC_PASSWORD_KEYS entries must be at least 32 characters")

# --- Procore ----------------------------------------------------------------
PROCORE_SANDBOX_API_URL = env_url("PROCORE_SANDBOX_API_URL", "https://sandbox.procore.com")
PROCORE_SANDBOX_LOGIN_URL = env_url("PROCORE_SANDBOX_LOGIN_URL", "https://login-sandbox.procore.com")
PROCORE_PRODUCTION_API_URL = env_url("PROCORE_PRODUCTION_API_URL", "https://api.procore.com")
PROCORE_PRODUCTION_LOGIN_URL = env_url("PROCORE_PRODUCTION_LOGIN_URL", "https://login.procore.com")
PROCORE_TIMEOUT_SECONDS = env_int("PROCORE_TIMEOUT_SECONDS", 30, minimum=1, maximum=300)
# Sends of one idempotent request after 5xx/connection errors, at once (a worker never sleeps:
# 429s, pacing and longer backoff reschedule the job instead; issue 13).
PROCORE_MAX_ATTEMPTS = env_int("PROCORE_MAX_ATTEMPTS", 8, minimum=1, maximum=50)
# Refresh access tokens this long before they expire (Procore tokens live 90 minutes).
PROCORE_TOKEN_REFRESH_MARGIN_SECONDS = env_float("PROCORE_TOKEN_REFRESH_MARGIN_SECONDS", 600)
# Outbox: retry delay base for transient failures, and attempts before a job fails for good.
PROCORE_JOB_RETRY_BASE_SECONDS = env_float("PROCORE_JOB_RETRY_BASE_SECONDS", 30)
PROCORE_JOB_MAX_ATTEMPTS = env_int("PROCORE_JOB_MAX_ATTEMPTS", 10, minimum=1)
# A job in flight longer than this is presumed dead (worker killed) and re-queued.
PROCORE_IN_FLIGHT_TIMEOUT_SECONDS = env_float("PROCORE_IN_FLIGHT_TIMEOUT_SECONDS", 900, minimum=1)
# Vendors per PATCH /vendors/sync (Procore allows up to 1 000).
PROCORE_VENDOR_BATCH_SIZE = env_int("PROCORE_VENDOR_BATCH_SIZE", 1000, minimum=1, maximum=1000)
# Cached commitments older than this are re-read when a bill finds none for its vendor.
PROCORE_CATALOG_TTL_SECONDS = env_float("PROCORE_CATALOG_TTL_SECONDS", 300)

# --- Procore batch writes and per-tenant fairness (issue 13) -------------------
# Bills per batch job: direct costs go out through Procore's sync actions (at most 1 000 a call).
PROCORE_BILL_BATCH_SIZE = env_int("PROCORE_BILL_BATCH_SIZE", 1000, minimum=1, maximum=1000)
# A job waiting for a person to act in Procore (an invoice Procore will not change) is tried
# again this often, one attempt each time.
PROCORE_RECHECK_SECONDS = env_float("PROCORE_RECHECK_SECONDS", 900, minimum=1)

# --- Logging ----------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a logging level")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Alerts and email (issue 12) ----------------------------------------------
# alerts/ composes both integrations (reads QBWC sessions, Procore connections, audit records).
INSTALLED_APPS += ["alerts"]
# SMTP when EMAIL_HOST is set; otherwise the console backend (the demo prints alerts to stdout).
# Tests use Django's locmem backend (pytest-django sets it).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", not EMAIL_USE_SSL)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them to 0")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ml-connector <alerts@localhost>")
# Extra support addresses (comma-separated) that get every tenant's alerts, beside support staff users.
ALERTS_SUPPORT_EMAILS = env_list("ALERTS_SUPPORT_EMAILS", [])
# Where links in alert emails point (e.g. https://sync.example.com); empty = relative links.
ALERTS_BASE_URL = env_str("ALERTS_BASE_URL", "").rstrip("/")
# The Web Connector is "silent" after this many times the tenant's poll interval without a call.
ALERTS_QBWC_SILENCE_FACTOR = env_int("ALERTS_QBWC_SILENCE_FACTOR", 3, minimum=1)
# A still-open alert is re-sent at most this often (hours).
ALERTS_REMIND_HOURS = env_int("ALERTS_REMIND_HOURS", 24, minimum=1)
# A bill waiting on a mapping longer than this (hours) is reported in the waiting-bills digest.
ALERTS_BILL_WAIT_HOURS = env_int("ALERTS_BILL_WAIT_HOURS", 48, minimum=1)
# How many records a digest lists by name (the rest are counted).
ALERTS_DIGEST_SAMPLE = env_int("ALERTS_DIGEST_SAMPLE", 5, minimum=1, maximum=100)
# --- Health, metrics and structured logs (issue 12b) --------------------------
# `connector` holds the worker/beat heartbeats /readyz reads (connector.heartbeat).
INSTALLED_APPS += ["connector"]
# Beat's own loop writes its heartbeat (connector.beat); an embedded `worker -B` uses it too.
CELERY_BEAT_SCHEDULER = "connector.beat:HeartbeatScheduler"
# /readyz fails when the worker's or beat's last heartbeat is older (both report every 30 s).
READINESS_HEARTBEAT_MAX_AGE_SECONDS = env_int("READINESS_HEARTBEAT_MAX_AGE_SECONDS", 120, minimum=35)
# GET /metrics (Prometheus) is off unless this is set; scrapers send `Authorization: Bearer <token>`.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("METRICS_TOKEN must be at least 16 characters (or empty: /metrics off)")
# Log lines: "plain" (escaped text, key=value fields) or "json" (one object per line). Both redact secrets.
LOG_FORMAT = env_str("LOG_FORMAT", "plain").lower()
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use plain or json")
LOGGING["formatters"] = {
    "plain": {"()": "connector.logformat.PlainFormatter"},
    "json": {"()": "connector.logformat.JsonFormatter"},
}
LOGGING["filters"] = {"context": {"()": "connector.logformat.ContextFilter"}}
LOGGING["handlers"]["console"].update({"formatter": LOG_FORMAT, "filters": ["context"]})  # type: ignore[index]
# Celery keeps Django's logging instead of installing its own format on the root logger.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
