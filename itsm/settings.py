"""Settings for the ITSM project, driven by the environment (docs/operations.md, Configuration).

A local `.env` file (written by `make run`) is read when present; variables set in the
environment win over it. `ITSM_DOTENV_PATH` names another file, or none when empty (the
test settings set it empty). Production differs from development only by environment.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from core.clientaddr import parse_networks

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_DOTENV_PATH = os.environ.get("ITSM_DOTENV_PATH", str(BASE_DIR / ".env"))
_before_dotenv = set(os.environ)
if _DOTENV_PATH:
    # read_env never overrides variables already set in the environment.
    environ.Env.read_env(_DOTENV_PATH)
# The names the file supplied: a deploy check warns when the secret key is one of them
# (a `.env` left from `make run` on a production host).
DOTENV_VARIABLES = tuple(sorted(set(os.environ) - _before_dotenv))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

_DEV_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (it is off by default)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # Ours, base first; each app imports only those above it (docs/architecture.md).
    "core",
    "cmdb",
    "incidents",
    "integrations",
    "notifications",
    "console",
]

MIDDLEWARE = [
    "core.logging.RequestIdMiddleware",
    # Before anything reads the Host header: probes come with the backend's address.
    "core.middleware.ProbeMiddleware",
    # A NUL in a URL is a 400 before any filter hands it to PostgreSQL (a 500 there).
    "core.querystring.NulQueryStringMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: locks out repeated failed sign-ins to the console.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Brute force on the console's sign-in: after AXES_FAILURE_LIMIT failures for one user
# name from one address, that pair is locked out for the cool-off time (answer 429).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address comes through the proxies named in TRUSTED_PROXIES (X-Forwarded-For),
# so one person's failures behind a proxy do not lock everyone else out.
AXES_CLIENT_IP_CALLABLE = "core.clientaddr.client_address"

ROOT_URLCONF = "itsm.urls"

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

WSGI_APPLICATION = "itsm.wsgi.application"

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Keep connections open between requests: a new connection costs more than a whole
    # webhook delivery. Health checks drop connections the server closed.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    # SQLite: wait for the writer lock instead of failing at once under concurrent requests.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # WAL lets readers go on while a delivery writes; NORMAL is durable in WAL mode.
    DATABASES["default"]["OPTIONS"].setdefault(
        "init_command", "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
    )

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The job engine keeps its queue in PostgreSQL (its migrations are PostgreSQL SQL);
    # on SQLite, core.jobs runs the same jobs in the web process instead.
    INSTALLED_APPS.insert(INSTALLED_APPS.index("core"), "procrastinate.contrib.django")
    PROCRASTINATE_ON_APP_READY = "core.jobs.on_app_ready"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# One date format with its zone everywhere in the console ("2026-12-01 14:05 UTC").
FORMAT_MODULE_PATH = ["core.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Reverse proxies in front of the app: CIDRs or addresses, comma-separated. Only when
# one of them sent a request is X-Forwarded-For believed (core.clientaddr: webhook
# limiter, console lockout), and only from them does gunicorn take X-Forwarded-Proto
# (gunicorn.conf.py). Empty: no forwarded header is trusted.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
try:
    parse_networks(TRUSTED_PROXIES)
except ValueError as exc:
    raise ImproperlyConfigured(f"TRUSTED_PROXIES: {exc}") from None

# GET /metrics (core.metrics) is served to clients in these networks (their address seen
# through TRUSTED_PROXIES) and to those sending `Authorization: Bearer <METRICS_TOKEN>`.
# An empty token: no token is accepted.
METRICS_ALLOWED_CIDRS = env.list("METRICS_ALLOWED_CIDRS", default=["127.0.0.0/8", "::1"])
try:
    parse_networks(METRICS_ALLOWED_CIDRS)
except ValueError as exc:
    raise ImproperlyConfigured(f"METRICS_ALLOWED_CIDRS: {exc}") from None
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https")
    if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
    else None
)
SESSION_COOKIE_SECURE = not DEBUG and env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Production behind TLS (see docs/operations.md, "Installing"): redirect plain HTTP and
# send HSTS. Load balancers probe /healthz and /readyz over plain HTTP: never redirect
# them (ProbeMiddleware answers them first; the exemption covers running without it).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)

REST_FRAMEWORK = {
    # Token first: an anonymous request is answered 401 with `WWW-Authenticate: Token`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    # JSON bodies only (the webhook reads its body raw).
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # API users only: the webhook sets no throttle (Azure stops calling an endpoint for
    # 15 minutes after failed retries). Counted per process (local memory cache).
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
    },
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ITSM for Azure Monitor",
    "DESCRIPTION": (
        "Incidents opened from Azure Monitor alerts (Secure Webhook, common alert schema), "
        "linked to configuration items."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The document and its UIs are for signed-in users (a token, or the admin's session).
    # The document describes the API, it holds no data: anyone may read it (and generate
    # a client from it), as the contract's checks and script authors expect.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Impact and urgency share their choices; name them once.
    "ENUM_NAME_OVERRIDES": {
        "ImpactUrgencyEnum": "incidents.choices.Impact",
        "IncidentStateEnum": "incidents.choices.IncidentState",
        "NotificationChannelKindEnum": "notifications.choices.ChannelKind",
        "NotificationAttemptOutcomeEnum": "notifications.choices.AttemptOutcome",
        # Its name before notifications brought a second `outcome` field.
        "OutcomeEnum": "integrations.choices.DeliveryOutcome",
    },
}

# The Secure Webhook (see docs/operations.md, "Configuration").
JWKS_REFETCH_COOLDOWN_SECONDS = env.int("JWKS_REFETCH_COOLDOWN_SECONDS", default=300)
# Entra ID rotates keys with weeks of notice; a day-old key set is still good.
JWKS_MAX_AGE_SECONDS = env.int("JWKS_MAX_AGE_SECONDS", default=24 * 3600)
JWKS_FETCH_TIMEOUT_SECONDS = env.float("JWKS_FETCH_TIMEOUT_SECONDS", default=5.0)
JWT_LEEWAY_SECONDS = min(env.int("JWT_LEEWAY_SECONDS", default=60), 300)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=1024 * 1024)
# Longest wait for the next piece of a webhook body under gunicorn (then 408).
WEBHOOK_BODY_TIMEOUT_SECONDS = env.float("WEBHOOK_BODY_TIMEOUT_SECONDS", default=10.0)
# Deliveries that arrive while the database is unreachable wait here (integrations.spool).
SPOOL_DIR = Path(env.str("SPOOL_DIR", default=str(BASE_DIR / "var" / "spool")))
SPOOL_MAX_FILES = env.int("SPOOL_MAX_FILES", default=10_000)
SPOOL_MAX_BYTES = env.int("SPOOL_MAX_BYTES", default=512 * 1024 * 1024)
SPOOL_DRAIN_INTERVAL_SECONDS = env.float("SPOOL_DRAIN_INTERVAL_SECONDS", default=5.0)
# `manage.py purge_deliveries` keeps this many days of raw deliveries by default.
DELIVERY_RETENTION_DAYS = env.int("DELIVERY_RETENTION_DAYS", default=90)
# Whether the job worker purges them daily (at 03:17 UTC), as the command would.
DELIVERY_PURGE_DAILY = env.bool("DELIVERY_PURGE_DAILY", default=False)
# Failed webhook authentications allowed per client address and minute (then 429); 0: off.
WEBHOOK_AUTH_FAILURES_PER_MINUTE = env.int("WEBHOOK_AUTH_FAILURES_PER_MINUTE", default=60)
# How long a process may use a connection's settings before reading them again.
CONNECTION_CACHE_SECONDS = env.float("CONNECTION_CACHE_SECONDS", default=15.0)
# Where the offline demo keeps its development signing key (never used unless DEBUG).
DEV_SIGNING_KEY_PATH = Path(
    env.str("DEV_SIGNING_KEY_PATH", default=str(BASE_DIR / ".dev-signing-key.pem"))
)

# Notifications (notifications app; docs/operations.md, "Notifications"). E-mail through
# Django's mail framework: EMAIL_URL in django-environ's form, e.g.
# smtp://user:pass@smtp.example.com:587/?tls=True (consolemail:// prints mail to stdout).
_email = env.email_url("EMAIL_URL", default="smtp://localhost:25")
# django-environ leaves ?tls=True and ?ssl=True in OPTIONS; smtp+tls:// sets them itself.
_email_options = {key.upper(): str(value) for key, value in _email.get("OPTIONS", {}).items()}
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH", "")
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS")) or _email_options.get("TLS", "").lower() in (
    "1",
    "true",
)
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL")) or _email_options.get("SSL", "").lower() in (
    "1",
    "true",
)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT_SECONDS", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="itsm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Links in notifications point here (the console's address as people reach it).
ITSM_BASE_URL = env.str("ITSM_BASE_URL", default="http://127.0.0.1:8000")
# A new event waits this long before it is sent, so what follows at once (a storm's
# grouped alerts) is in the one message; 0 sends at once.
NOTIFICATION_COALESCE_SECONDS = env.float("NOTIFICATION_COALESCE_SECONDS", default=10.0)
# Tries in all for a 429, a 5xx or a timeout; the first retry after this, then doubling.
NOTIFICATION_MAX_ATTEMPTS = env.int("NOTIFICATION_MAX_ATTEMPTS", default=5)
NOTIFICATION_RETRY_SECONDS = env.float("NOTIFICATION_RETRY_SECONDS", default=30.0)
NOTIFICATION_TIMEOUT_SECONDS = env.float("NOTIFICATION_TIMEOUT_SECONDS", default=10.0)

# Background jobs (core.jobs, `manage.py run_worker`). A worker whose heartbeat is older
# than this is taken as lost and its running jobs run again elsewhere.
JOBS_STALLED_AFTER_SECONDS = env.float("JOBS_STALLED_AFTER_SECONDS", default=30.0)
# On SIGTERM a worker waits this long for running jobs, then aborts them (retried later).
JOBS_SHUTDOWN_TIMEOUT_SECONDS = env.float("JOBS_SHUTDOWN_TIMEOUT_SECONDS", default=30.0)
# Fallback poll for due jobs (PostgreSQL also wakes workers with LISTEN/NOTIFY).
JOBS_POLL_SECONDS = env.float("JOBS_POLL_SECONDS", default=5.0)
# Finished jobs (succeeded or failed) are kept this long for inspection.
JOBS_RETENTION_DAYS = env.int("JOBS_RETENTION_DAYS", default=14)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One line per event: time, level, logger, request ID, then `event key=value ...`.
    # Line breaks and control characters in values (and tracebacks) are escaped.
    "formatters": {
        "plain": {
            "class": "core.logging.SingleLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s",
        },
    },
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # core.jobs logs each job's start and outcome; the engine's own lines are noise.
        "procrastinate": {"level": "WARNING"},
    },
}
