"""Settings for the iPLEDGE clinic app, read from the environment.

A fresh checkout runs with no environment at all: SQLite and kombu's filesystem broker.
Production (DJANGO_DEBUG unset or false) refuses to start without DJANGO_SECRET_KEY and
DJANGO_ALLOWED_HOSTS, so a forgotten variable is a crash at boot, not a weak default.
"""

import datetime
import ipaddress
import os
import sys
from email.utils import getaddresses
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from clinic.formats.en import formats as us_formats
from config import deploy_checks
from config.observability import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool = False) -> bool:
    """A boolean setting; a value it cannot read stops start-up (DJANGO_DEBUG=flase must not
    quietly mean False, nor a misspelt "off" quietly mean on)."""
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a boolean: use one of "
        f"{', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}."
    )


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
# The test runner's settings (config/settings_test.py, named only by pyproject.toml's pytest
# configuration and the test stack) import this module; nothing in the environment can switch
# test mode on, so a DJANGO_TESTING=true copied into a server's environment is refused, not obeyed.
TESTING = "config.settings_test" in sys.modules
if env_bool("DJANGO_TESTING", False) and not TESTING:
    raise ImproperlyConfigured(
        "DJANGO_TESTING=true is for the test runner only (config/settings_test.py): unset it."
    )

if DEBUG or TESTING:
    SECRET_KEY = os.environ.get(
        "DJANGO_SECRET_KEY", "dev-only-insecure-key-never-used-in-production"
    )
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
else:
    try:
        SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
        ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
    except KeyError as missing:
        raise ImproperlyConfigured(
            f"{missing.args[0]} must be set in production (or set DJANGO_DEBUG=true)."
        ) from None
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production.")
# Keys rotated out stay valid for signatures made with them (sessions, patient links,
# invitations) while listed here: docs/deploy-settings.md, "Rotating the secret key".
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")
if not DEBUG and not TESTING:
    for _name, _key in [
        ("DJANGO_SECRET_KEY", SECRET_KEY),
        *(("DJANGO_SECRET_KEY_FALLBACKS", key) for key in SECRET_KEY_FALLBACKS),
    ]:
        if _problem := deploy_checks.secret_key_problem(_name, _key):
            raise ImproperlyConfigured(_problem)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "rest_framework",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "drf_spectacular",
    "auditlog",
    "axes",
    "clinic",
    "patients",
    "monitoring",
    "demo",
]

MIDDLEWARE = [
    # First, so every line logged for a request carries its id (clinic/request_id.py).
    "clinic.request_id.RequestIdMiddleware",
    # Then: answers /health/* before the HTTPS redirect and the host check (config/health.py).
    "config.health.HealthMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Django's LoginRequiredMiddleware, keeping a form posted after the session ended.
    "clinic.session_guard.KeepFormLoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    "clinic.middleware.CurrentClinicMiddleware",
    "clinic.middleware.SecondFactorMiddleware",
    "clinic.middleware.ClinicChoiceMiddleware",
    "clinic.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "clinic.context_processors.current_clinic",
                "config.context_processors.release",
            ],
            # Django's |date, each plain date written once a process (templatetags/clinic_dates.py).
            "builtins": ["clinic.templatetags.clinic_dates"],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        # A kept connection is checked before its first use in each request or task.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded default serves a small clinic's parallel logins (docs/security.md): WAL lets
    # readers go on while one request writes, a write waits up to 20 s for its turn instead of
    # failing with "database is locked", and a transaction takes the write lock when it begins,
    # since one that read first cannot wait for it later (SQLite refuses it at once).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
    }
# A Celery worker keeps its database connection from one task to the next (Celery otherwise
# closes it before and after every task: a new PostgreSQL connection for every reminder email).
# Each task is framed as Django frames a request (config/celery.py): a connection that failed,
# was left mid-transaction or outlived DATABASE_CONN_MAX_AGE is closed, and the health check
# replaces a broken one before the next task uses it.
CELERY_DB_REUSE_MAX = int(os.environ.get("CELERY_DB_REUSE_MAX", "500"))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Repeated wrong passwords lock for a while, not forever (docs/quality.md, A3), and an attacker
# cannot aim the lock at someone else (clinic/throttle.py, docs/security.md): five from
# one client address lock that username from that address only (the owner elsewhere still
# logs in), and LOGIN_ADDRESS_FAILURE_LIMIT from one address, over any usernames, lock that
# address. An unknown username counts as a known one, so the answers tell nothing about who
# exists.
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_ADDRESS_FAILURE_LIMIT = int(os.environ.get("LOGIN_ADDRESS_FAILURE_LIMIT", "30"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=int(os.environ.get("LOGIN_LOCK_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_HANDLER = "clinic.throttle.LoginLockoutHandler"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked.html"
AXES_VERBOSE = False
# The client address for the lockouts and the second factor's throttle: REMOTE_ADDR, or behind
# TRUSTED_PROXY_COUNT reverse proxies (nginx appending to X-Forwarded-For) the address the
# outermost one saw. Set it only when the app cannot be reached but through those proxies: a
# client reaching gunicorn directly could otherwise write its own X-Forwarded-For.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))
AXES_CLIENT_IP_CALLABLE = "clinic.throttle.client_address"
# Wrong second-factor codes are throttled per (user, client address) in clinic/throttle.py;
# django-otp's throttle, one per device whatever the address, would let an attacker's guesses
# refuse the owner's right code.
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# An invitation link to the Team page's new member lasts this long (docs/security.md).
INVITE_MAX_AGE_HOURS = int(os.environ.get("INVITE_MAX_AGE_HOURS", "72"))

# A second factor for clinicians, clinic admins and superusers (clinic/twofactor.py). Only a
# development server (DJANGO_DEBUG=true) may turn it off, with DEMO_OTP=off, for scripted demos;
# production settings ignore DEMO_OTP.
SECOND_FACTOR_REQUIRED = not (DEBUG and os.environ.get("DEMO_OTP", "").strip().lower() == "off")
OTP_TOTP_ISSUER = "iPLEDGE clinic"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Idle sessions end (docs/quality.md, A5): every request pushes the expiry forward.
SESSION_COOKIE_AGE = int(os.environ.get("SESSION_IDLE_MINUTES", "15")) * 60
# The idle warning (clinic/static/clinic/idle.js) shows this long before the session ends.
SESSION_IDLE_WARNING_SECONDS = 120
# A password reset link works once, for this long (clinic/passwords.py).
PASSWORD_RESET_TIMEOUT = 2 * 3600
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

LANGUAGE_CODE = "en-us"
# Patients read their emails, page and calendar in English or Spanish (Patient.preferred_language,
# switched on per patient with translation.override); staff pages stay English: no
# LocaleMiddleware. The catalogue is locale/es/LC_MESSAGES/django.po, compiled by `make install`.
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# Dates and times as a US clinic writes them ("Dec 5, 2026" in text, 12/05/2026 in tables, inputs
# and the CSV, "9:00 AM EST"), Spanish for Spanish patients: one module per language, read by every
# template's |date filter and by clinic/dates.py. The locale modules win over the settings of
# the same names, so the settings below only repeat them for code that reads settings directly.
FORMAT_MODULE_PATH = ["clinic.formats"]
DATE_FORMAT = us_formats.DATE_FORMAT
SHORT_DATE_FORMAT = us_formats.SHORT_DATE_FORMAT
DATETIME_FORMAT = us_formats.DATETIME_FORMAT
SHORT_DATETIME_FORMAT = us_formats.SHORT_DATETIME_FORMAT
TIME_FORMAT = us_formats.TIME_FORMAT
DATE_INPUT_FORMATS = us_formats.DATE_INPUT_FORMATS
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = []
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Uploaded files (home-test evidence) are rows of the database, in every environment, so each web
# host sees the same files and the database's backup holds them (docs/storage.md). MEDIA_ROOT
# is read only by `manage.py copy_media_to_database`, for files kept on disk by earlier releases.
STORAGES = {
    "default": {"BACKEND": "clinic.storage.DatabaseStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

# Bootstrap 5 comes from the XStatic-Bootstrap wheel, never a CDN.
try:
    import xstatic.pkg.bootstrap as xstatic_bootstrap

    STATICFILES_DIRS.append(("bootstrap", xstatic_bootstrap.BASE_DIR))
except ImportError:  # pragma: no cover - the requirement is pinned
    pass

DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
# A home test's photo or PDF (docs/domain.md section 8): the same limit on the page and the API.
MAX_EVIDENCE_UPLOAD_BYTES = 10 * 1024 * 1024

# API tokens end (docs/security.md): after API_TOKEN_HOURS, when revoked with DELETE on the token
# URL, when the password changes or the user is deactivated. Only a hash of each token is stored.
API_TOKEN_HOURS = float(os.environ.get("API_TOKEN_HOURS", "12"))
KNOX_TOKEN_MODEL = "clinic.ApiToken"  # nosec B105  # a model's name, not a secret
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=API_TOKEN_HOURS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Security headers (docs/quality.md, A7).
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "api.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # JSON bounded in size (413) and depth (400, never a RecursionError): api/parsers.py.
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.parsers.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "iPLEDGE clinic API",
    "DESCRIPTION": "Enrollment, pre-prescription checks and the prescription gate.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # Several records have a `kind` with its own choices: name each enum after its model.
    "ENUM_NAME_OVERRIDES": {
        "ConsentKindEnum": "patients.models.ConsentKind",
        "TestKindEnum": "patients.models.TestKind",
        "LabKindEnum": "monitoring.models.LabKind",
        "ReminderKindEnum": "monitoring.models.ReminderKind",
    },
}

# Celery. With no REDIS_URL the broker is kombu's filesystem transport, so `make run`
# works on a machine with nothing else installed.
REDIS_URL = os.environ.get("REDIS_URL", "")
# The password-reset limits (clinic/passwords.py) count in the cache: with Redis, the cache
# is Redis, so every gunicorn worker and web host counts together (Django's default memory cache
# counts per process). The tests keep the memory cache: their processes must not share counts.
if REDIS_URL and not TESTING:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "clinic-cache",
        }
    }
BROKER_DIR = Path(os.environ.get("CELERY_BROKER_DIR", BASE_DIR / "var" / "broker"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    # The transport ignores the host; naming one keeps kombu from warning on every connection.
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
    }
# Beat keeps its schedule state here; config/celery.py creates the folder (a fresh checkout has
# no var/, and beat must not die at start because of it).
CELERY_BEAT_SCHEDULE_FILENAME = os.environ.get(
    "CELERY_BEAT_SCHEDULE_FILENAME", str(BASE_DIR / "var" / "celerybeat-schedule")
)
# With Redis, beat keeps no file and only the beat holding a Redis lock sends (config/beat.py,
# docs/reminders.md): a second beat waits, and takes over within BEAT_LOCK_SECONDS (plus a
# third of it) of the first one's death.
if REDIS_URL:
    CELERY_BEAT_SCHEDULER = "config.beat:LockedScheduler"
BEAT_LOCK_SECONDS = float(os.environ.get("BEAT_LOCK_SECONDS", "30"))
CELERY_TASK_IGNORE_RESULT = True
# Logging is Django's (config/celery.py, setup_logging): Celery must not take over the root logger.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
# The dispatcher has a queue of its own, so a backlog of sends delays the next dispatch by at
# most the messages a worker already holds, not by the whole queue (docs/reminders.md). A
# worker consumes every queue listed here unless told otherwise (-Q), so
# `make run`'s worker, and any worker started without -Q, serves both.
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each queue has its own routing key: two queues bound with one key on the same direct exchange
# would each get a copy of every message.
CELERY_TASK_QUEUES = (
    Queue("celery", routing_key="celery"),
    Queue("dispatch", routing_key="dispatch"),
)
CELERY_TASK_ROUTES = {"monitoring.tasks.dispatch_reminders": {"queue": "dispatch"}}
CELERY_TIMEZONE = "UTC"
# Reminders (docs/reminders.md). Each number is an environment variable so the fault tests can
# shrink the timeouts; the defaults suit production.
REMINDER_PLAN_EVERY_SECONDS = float(os.environ.get("REMINDER_PLAN_EVERY_SECONDS", "900"))
REMINDER_DISPATCH_EVERY_SECONDS = float(os.environ.get("REMINDER_DISPATCH_EVERY_SECONDS", "60"))
REMINDER_DIGEST_EVERY_SECONDS = float(os.environ.get("REMINDER_DIGEST_EVERY_SECONDS", "900"))
REMINDER_RETRY_BASE_SECONDS = float(os.environ.get("REMINDER_RETRY_BASE_SECONDS", "30"))
REMINDER_MAX_ATTEMPTS = int(os.environ.get("REMINDER_MAX_ATTEMPTS", "5"))
REMINDER_SEND_TIME_LIMIT_SECONDS = int(os.environ.get("REMINDER_SEND_TIME_LIMIT_SECONDS", "90"))
# A claimed row whose task never started (message lost with a Redis restart) is claimed again
# after this; an attempt that never finished (worker killed) after the second one, which must
# be longer than the task's hard time limit.
REMINDER_CLAIM_TIMEOUT_SECONDS = int(os.environ.get("REMINDER_CLAIM_TIMEOUT_SECONDS", "300"))
REMINDER_ATTEMPT_TIMEOUT_SECONDS = int(
    os.environ.get("REMINDER_ATTEMPT_TIMEOUT_SECONDS", str(REMINDER_SEND_TIME_LIMIT_SECONDS + 60))
)
REMINDER_DISPATCH_BATCH = int(os.environ.get("REMINDER_DISPATCH_BATCH", "500"))
# Claimed ids go to the workers this many per task, read in one query and sent on one SMTP
# connection; rows a task has not reached this many seconds after reading them go to a new
# task, which reads them again (docs/reminders.md).
REMINDER_SEND_BATCH = int(os.environ.get("REMINDER_SEND_BATCH", "20"))
REMINDER_SEND_BATCH_SECONDS = float(os.environ.get("REMINDER_SEND_BATCH_SECONDS", "5"))
REMINDER_LINK_MAX_AGE_DAYS = int(os.environ.get("REMINDER_LINK_MAX_AGE_DAYS", "14"))
TRIAGE_REFRESH_EVERY_SECONDS = int(os.environ.get("TRIAGE_REFRESH_EVERY_SECONDS", "600"))
CELERY_BEAT_SCHEDULE: dict = {
    "plan-reminders": {
        "task": "monitoring.tasks.plan_reminders",
        "schedule": REMINDER_PLAN_EVERY_SECONDS,
    },
    "dispatch-reminders": {
        "task": "monitoring.tasks.dispatch_reminders",
        "schedule": REMINDER_DISPATCH_EVERY_SECONDS,
    },
    "staff-digests": {
        "task": "monitoring.tasks.send_staff_digests",
        "schedule": REMINDER_DIGEST_EVERY_SECONDS,
    },
    # Kept triage rows (docs/clinic-day.md, "Kept rows"): each run makes today's and tomorrow's
    # rows current (tomorrow's are prepared the day before, so midnight finds them ready); the
    # other runs of the day find nothing to do.
    "refresh-triage": {
        "task": "monitoring.tasks.refresh_triage",
        "schedule": TRIAGE_REFRESH_EVERY_SECONDS,
    },
}
# Health (docs/operations-health.md). Beat sends a heartbeat every HEALTH_HEARTBEAT_SECONDS;
# /health/ready and the Reminders page call sending stalled when it is twice that old, or when
# a reminder waits more than HEALTH_REMINDER_LATE_MINUTES past its send time. The heartbeat goes
# on the small dispatch queue and expires unread, so a stopped worker piles none up.
HEALTH_HEARTBEAT_SECONDS = float(os.environ.get("HEALTH_HEARTBEAT_SECONDS", "60"))
HEALTH_REMINDER_LATE_MINUTES = float(os.environ.get("HEALTH_REMINDER_LATE_MINUTES", "15"))
HEALTH_WORKER_PING_SECONDS = float(os.environ.get("HEALTH_WORKER_PING_SECONDS", "1"))
CELERY_BEAT_SCHEDULE["health-heartbeat"] = {
    "task": "monitoring.tasks.beat_heartbeat",
    "schedule": HEALTH_HEARTBEAT_SECONDS,
    "options": {"queue": "dispatch", "expires": HEALTH_HEARTBEAT_SECONDS},
}

# Email. With no EMAIL_HOST development mail is written to var/mail/ as .eml files.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH", BASE_DIR / "var" / "mail"))
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "20"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "clinic@localhost")
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")

# Production never starts on a development fallback (config/deploy_checks.py): no SITE_URL on
# 127.0.0.1, no mail written to files, no filesystem broker, no sender @localhost. `check
# --deploy` reports the same problems from the settings as finally configured.
if not DEBUG and not TESTING:
    for _name, _problem in deploy_checks.production_problems(
        site_url=os.environ.get("SITE_URL", "").strip(),
        email_host=EMAIL_HOST.strip(),
        redis_url=REDIS_URL.strip(),
        from_email=os.environ.get("DEFAULT_FROM_EMAIL", "").strip(),
    ):
        raise ImproperlyConfigured(_problem)


# Passkeys, the second factor's alternative to TOTP (docs/security.md), on django-otp-webauthn.
# The relying party is the site's host name (SITE_URL); browsers refuse an IP address there, so
# a SITE_URL on 127.0.0.1 (the development default) uses the first host name of ALLOWED_HOSTS
# (localhost; any other name is taken as served over HTTPS). A passkey works only on that
# origin. It is a second factor after the password, never a password-less login.
def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


_site = urlsplit(SITE_URL)
_host_names = [
    host
    for host in [_site.hostname or "", *ALLOWED_HOSTS]
    if host and not host.startswith((".", "*")) and not _is_ip_address(host)
]
OTP_WEBAUTHN_RP_ID = os.environ.get("OTP_WEBAUTHN_RP_ID") or (_host_names or ["localhost"])[0]
OTP_WEBAUTHN_RP_NAME = "iPLEDGE clinic"
if OTP_WEBAUTHN_RP_ID in (_site.hostname, "localhost"):
    OTP_WEBAUTHN_ALLOWED_ORIGINS = [
        f"{_site.scheme}://{OTP_WEBAUTHN_RP_ID}" + (f":{_site.port}" if _site.port else "")
    ]
else:  # a host name of ALLOWED_HOSTS, served over HTTPS (production)
    OTP_WEBAUTHN_ALLOWED_ORIGINS = [f"https://{OTP_WEBAUTHN_RP_ID}"]
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False

AUDITLOG_INCLUDE_ALL_MODELS = False

# --- Logs and error reports (docs/deploy-settings.md; config/observability.py) ---------------
# One format for Django, Celery (config/celery.py) and gunicorn (deploy/gunicorn.conf.py): plain
# lines, or JSON lines with LOG_FORMAT=json; each carries its request id and task id.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain").strip().lower() or "plain"
if LOG_FORMAT not in ("plain", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json.")
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"

# Errors go to Sentry when SENTRY_DSN is set, by email to the ADMINS otherwise. Neither carries
# patient data: Sentry's events are scrubbed (config.observability.scrub_event), and the email
# shows parameter names without values, the path without its query and no local variables.
ADMINS = getaddresses([os.environ.get("DJANGO_ADMINS", "")])
ADMINS = [(name, address) for name, address in ADMINS if name or address]
if any("@" not in address for _name, address in ADMINS):
    raise ImproperlyConfigured(
        'DJANGO_ADMINS must be a list like "Ada Admin <ada@clinic.example.org>, ops@clinic.org".'
    )
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_SUBJECT_PREFIX = "[iPLEDGE clinic] "
DEFAULT_EXCEPTION_REPORTER = "config.error_reports.PatientSafeExceptionReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.PatientSafeReporterFilter"
SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
if SENTRY_DSN:
    from config import __version__ as _release
    from config.observability import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        release=f"ipledge-clinic@{_release}",
    )

LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL, mail_admins=not SENTRY_DSN)
