"""Django settings for Ferry, read only from the environment.

Two shapes share this file. Without ``DATABASE_URL`` and ``REDIS_URL`` Ferry runs
embedded: SQLite under ``var/``, an in-memory channel layer and a Celery worker
inside the web process. With them it runs in production shape: PostgreSQL,
Redis as Celery broker and channel layer, and separate worker and beat
processes. Every variable is listed in README.md.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from portal.env import env_bool, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FERRY_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)
(VAR_DIR / "static").mkdir(exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", None)
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off. Set SECRET_KEY to a long random "
            "string, or set DEBUG=1 for a development run."
        )
    SECRET_KEY = "ferry-insecure-development-key-only-used-with-DEBUG-on"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular_sidecar",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "channels",
    "axes",
    "apps.accounts",
    "apps.audit",
    "apps.catalog",
    "apps.clouds",
    "apps.jobs",
    "apps.backups",
    "apps.approvals",
    "apps.windows",
    "apps.notifications",
    "apps.dashboard",
]

MIDDLEWARE = [
    # First: every answer, even an early refusal, carries its request id.
    "apps.audit.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "portal.middleware.RequestLimitsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "portal.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a lockout into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

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
                "apps.accounts.context_processors.roles",
                "apps.approvals.context_processors.pending_approvals",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'ferry.sqlite3'}",
    schemes=("sqlite", "postgres", "postgresql"),
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
# Seconds any Redis or PostgreSQL call on a request path may wait: a server that is down or frozen
# costs a request this long, not the operating system's TCP timeouts.
FERRY_SERVICE_TIMEOUT = env_float("FERRY_SERVICE_TIMEOUT", 1.5, minimum=0.1)
# Seconds one PostgreSQL statement, and a transaction left idle, may last (0: no limit). Ferry's own
# statements take milliseconds; set 0 for a migration that rewrites a large table.
FERRY_DB_STATEMENT_TIMEOUT = env_float("FERRY_DB_STATEMENT_TIMEOUT", 60.0, minimum=0)
FERRY_DB_IDLE_IN_TRANSACTION_TIMEOUT = env_float("FERRY_DB_IDLE_IN_TRANSACTION_TIMEOUT", 300.0, minimum=0)
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        # libpq takes whole seconds; keepalives notice a peer that vanished mid-query.
        connect_timeout=max(1, round(FERRY_SERVICE_TIMEOUT)),
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=2,
        keepalives_count=3,
        # A runaway query, or a transaction left open by a stuck process, must not hold locks that
        # every worker and page then waits on: PostgreSQL ends it and the caller sees an error.
        options=(
            f"-c statement_timeout={FERRY_DB_STATEMENT_TIMEOUT * 1000:.0f}"
            f" -c idle_in_transaction_session_timeout={FERRY_DB_IDLE_IN_TRANSACTION_TIMEOUT * 1000:.0f}"
        ),
    )
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        # WAL and IMMEDIATE transactions let the web process and the in-process
        # worker write without "database is locked" errors.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # A file, not memory, so that end-to-end tests can share it with a server process.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery and Channels ---------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, schemes=("redis", "rediss"))
EMBEDDED = REDIS_URL is None
# The in-process worker runs only in the embedded shape unless asked explicitly.
FERRY_EMBEDDED_WORKER = env_bool("FERRY_EMBEDDED_WORKER", EMBEDDED)
FERRY_WORKER_CONCURRENCY = env_int("FERRY_WORKER_CONCURRENCY", 4, minimum=1)

CELERY_BROKER_URL = REDIS_URL or "memory://"
# kombu's in-memory transport polls; a short interval keeps the embedded worker snappy.
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        # Publishing a task (a launch, a dispatch) fails within the service timeout when Redis is
        # down or frozen instead of hanging the request; the job stays queued for the next dispatch.
        "socket_timeout": FERRY_SERVICE_TIMEOUT,
        "socket_connect_timeout": FERRY_SERVICE_TIMEOUT,
        # One quick retry to connect, not kombu's default backoff of seconds.
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.2,
    }
    if REDIS_URL
    else {"polling_interval": 0.05}
)
CELERY_BROKER_CONNECTION_TIMEOUT = FERRY_SERVICE_TIMEOUT
CELERY_TASK_PUBLISH_RETRY = False
CELERY_REDIS_SOCKET_TIMEOUT = FERRY_SERVICE_TIMEOUT
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = FERRY_SERVICE_TIMEOUT
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    # Marks jobs whose worker went silent as lost, and starts queued jobs as slots free.
    "reap-lost-jobs": {"task": "ferry.jobs.reap", "schedule": 5.0},
    # Queues scheduled jobs whose maintenance window has opened; moves those a freeze now holds.
    "release-scheduled-jobs": {"task": "ferry.windows.release", "schedule": 10.0},
}

if REDIS_URL:
    REDIS_READ_TIMEOUT = 30
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, the same 5 s channels-redis
            # blocks for in receive(): every consumer that heard nothing for 5 s crashed and its
            # WebSocket closed. Reads may now take longer than the blocking pop.
            "CONFIG": {
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": REDIS_READ_TIMEOUT,
                        "socket_connect_timeout": FERRY_SERVICE_TIMEOUT,
                    }
                ],
                "capacity": 5000,
                "expiry": 60,
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_timeout": FERRY_SERVICE_TIMEOUT,
                "socket_connect_timeout": FERRY_SERVICE_TIMEOUT,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 5000}}
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- auth -----------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out username and address before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Password guessing: after this many failures of one username from one address, that pair is locked
# out for the cool-off time (a guesser cannot lock the real user out from elsewhere).
AXES_FAILURE_LIMIT = env_int("FERRY_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_float("FERRY_LOGIN_COOLOFF_MINUTES", 15.0, minimum=0.1) / 60
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Lockouts and the audit trail see the same client address (FERRY_TRUSTED_PROXY_HEADER below).
AXES_CLIENT_IP_CALLABLE = "apps.audit.context.request_address"
AXES_VERBOSE = False
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not EMBEDDED)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# --- HTTPS and browser protections -----------------------------------------------
# Served over HTTPS (SESSION_COOKIE_SECURE, on in production shape): plain http is redirected, and
# browsers are told to use nothing but HTTPS for a year. /healthz stays plain for health probes.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", SESSION_COOKIE_SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if SESSION_COOKIE_SECURE else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# Behind a TLS-terminating proxy: the header it sets on HTTPS requests, e.g. X-Forwarded-Proto
# (only if the proxy always sets or strips it; a client could send it otherwise).
_proxy_header = env_str("SECURE_PROXY_SSL_HEADER", "")
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
# The header a proxy in front of Ferry sets to the client's address (e.g. X-Forwarded-For); only
# then is any such header believed, and only its last entry. Unset: the peer's address is the client's.
FERRY_TRUSTED_PROXY_HEADER = env_str("FERRY_TRUSTED_PROXY_HEADER", "")
if FERRY_TRUSTED_PROXY_HEADER and not all(c.isalnum() or c == "-" for c in FERRY_TRUSTED_PROXY_HEADER):
    raise ImproperlyConfigured(
        f"FERRY_TRUSTED_PROXY_HEADER must be a header name such as X-Forwarded-For, "
        f"got {FERRY_TRUSTED_PROXY_HEADER!r}."
    )
X_FRAME_OPTIONS = "DENY"
# No inline script, handler or eval anywhere: an injected <script> or onclick does not run. Style
# attributes are allowed (the job log's colours); <style> elements are not.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous client gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "portal.drf.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "portal.pagination.IdCursorPagination",
    "PAGE_SIZE": 100,
    "EXCEPTION_HANDLER": "portal.exceptions.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Ferry API",
    "DESCRIPTION": "Lifecycle operations for Kolla-deployed OpenStack clouds.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from Ferry's own static files (the CSP allows no other script source).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "portal.schema.declare_error_responses",
    ],
    # Several models have a ``state``: each choice set gets its own name in the schema.
    "ENUM_NAME_OVERRIDES": {
        "CloudStateEnum": "apps.clouds.models.CloudState",
        "HostStateEnum": "apps.clouds.models.HostState",
        "JobStateEnum": "apps.jobs.models.JobState",
        "StepStateEnum": "apps.jobs.models.StepState",
        "JobKindEnum": "apps.jobs.models.JobKind",
        "BackupKindEnum": "apps.backups.models.BackupKind",
        "BackupStateEnum": "apps.backups.models.BackupState",
        "ReleaseStatusEnum": "apps.catalog.models.ReleaseStatus",
    },
    # Without this Swagger UI sends the schema's address to validator.swagger.io for a badge.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated", "portal.permissions.IsMember"],
}

# --- static files -----------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Vendored files carry their version in their names, so no manifest is needed and
# no collectstatic step is required before the first start; production images
# still run collectstatic so whitenoise serves compressed files from STATIC_ROOT.
WHITENOISE_USE_FINDERS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Ferry ------------------------------------------------------------------
# Encrypts each cloud's passwords.yml at rest. Comma-separated: the first one
# encrypts, all of them decrypt (for rotation). Required in production shape.
FERRY_SECRETS_KEYS = env_list("FERRY_SECRETS_KEY", [])
if not FERRY_SECRETS_KEYS and not (DEBUG or EMBEDDED):
    raise ImproperlyConfigured(
        "FERRY_SECRETS_KEY is required in production shape: it encrypts each cloud's passwords.yml. "
        "Set it to a long random string (keep it safe: without it stored passwords cannot be read)."
    )
FERRY_HEALTH_TIMEOUT = env_float("FERRY_HEALTH_TIMEOUT", 2.0, minimum=0.1)
FERRY_JOB_SLOTS = env_int("FERRY_JOB_SLOTS", 4, minimum=1)
# Ferry's own copies of every cloud's database backups, verified by checksum.
FERRY_BACKUP_DIR = Path(env_str("FERRY_BACKUP_DIR", str(VAR_DIR / "backups"))).resolve()
FERRY_BACKUP_KEEP_CHAINS = env_int("FERRY_BACKUP_KEEP_CHAINS", 5, minimum=1)
FERRY_HEARTBEAT_TIMEOUT = env_float("FERRY_HEARTBEAT_TIMEOUT", 20.0, minimum=2.0)
# Change control: how many approvers a mutating job needs on a cloud without a policy of its own
# (0: none, for lab clouds), and how long a request waits for them before it expires.
FERRY_APPROVALS_REQUIRED = env_int("FERRY_APPROVALS_REQUIRED", 1, minimum=0)
FERRY_APPROVAL_TTL_HOURS = env_int("FERRY_APPROVAL_TTL_HOURS", 72, minimum=1)

# Notifications (apps.notifications): links in emails point at FERRY_BASE_URL; the outbox gives up on
# a message after FERRY_NOTIFY_MAX_ATTEMPTS attempts, backing off from 30 s to 1 h between them.
FERRY_BASE_URL = env_url("FERRY_BASE_URL", "http://127.0.0.1:8000", schemes=("http", "https"))
FERRY_WEBHOOK_TIMEOUT = env_float("FERRY_WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
FERRY_NOTIFY_MAX_ATTEMPTS = env_int("FERRY_NOTIFY_MAX_ATTEMPTS", 10, minimum=1)
# Email: printed to the console in the embedded shape and with DEBUG, SMTP otherwise.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG or EMBEDDED
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them.")
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ferry@localhost")

# What a client may send, checked before anything is parsed (portal.middleware.RequestLimitsMiddleware,
# apps.clouds.uploads, apps.clouds.limits). A request body without files, e.g. a cloud's globals.yml:
FERRY_MAX_BODY_BYTES = env_int("FERRY_MAX_BODY_BYTES", 4 * 2**20, minimum=2**16)
DATA_UPLOAD_MAX_MEMORY_SIZE = FERRY_MAX_BODY_BYTES
# A request that uploads files (an inventory archive and its globals.yml), all files together:
FERRY_MAX_UPLOAD_BYTES = env_int("FERRY_MAX_UPLOAD_BYTES", 16 * 2**20, minimum=2**16)
# What an uploaded archive may unpack to, all members together:
FERRY_MAX_UNPACKED_BYTES = env_int("FERRY_MAX_UNPACKED_BYTES", 64 * 2**20, minimum=2**16)
FERRY_MAX_INVENTORY_HOSTS = env_int("FERRY_MAX_INVENTORY_HOSTS", 10_000, minimum=1)
# A cloud's configuration files (config/, certificates/, globals.d/): the largest one, and how many.
FERRY_MAX_CLOUD_FILE_BYTES = env_int("FERRY_MAX_CLOUD_FILE_BYTES", 2**20, minimum=1024)
FERRY_MAX_CLOUD_FILES = env_int("FERRY_MAX_CLOUD_FILES", 500, minimum=1)


def _default_scratch_dir() -> Path:
    # A RAM-backed filesystem keeps the step's passwords (its extra variables) off the disk.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK | os.X_OK):
        return shm / f"ferry-{hashlib.sha256(str(VAR_DIR).encode()).hexdigest()[:12]}"
    return VAR_DIR / "scratch"


# Where each step's ansible-runner private data directory lives while the step runs (removed after
# it). It holds the step's extra variables, passwords included: keep it private to Ferry's user.
FERRY_SCRATCH_DIR = Path(env_str("FERRY_SCRATCH_DIR", str(_default_scratch_dir()))).resolve()
try:
    FERRY_SCRATCH_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"FERRY_SCRATCH_DIR ({FERRY_SCRATCH_DIR}) cannot be created: {exc}") from None
if not os.access(FERRY_SCRATCH_DIR, os.W_OK | os.X_OK):
    raise ImproperlyConfigured(f"FERRY_SCRATCH_DIR ({FERRY_SCRATCH_DIR}) is not writable by this user.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; failures and lockouts come at WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}
