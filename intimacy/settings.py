"""Settings for Rules of the Road: one module, configured by environment variables (see README)."""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from intimacy.env import envbool, envint, envlist, envstr

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

DEBUG = envbool("DJANGO_DEBUG", False)


def _development_secret(name: str) -> str:
    """A key generated once per checkout and kept in the ignored var/ folder."""
    path = VAR_DIR / name
    if not path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = envstr("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off.")
    SECRET_KEY = _development_secret("secret_key")

# Rule wording, notes and comments are encrypted with these Fernet keys (comma-separated,
# newest first; older keys only decrypt). See README, "Key rotation".
FIELD_ENCRYPTION_KEYS = envlist("FIELD_ENCRYPTION_KEYS", [])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is required when DJANGO_DEBUG is off.")
    from cryptography.fernet import Fernet

    key_path = VAR_DIR / "field_encryption_key"
    if not key_path.exists():
        VAR_DIR.mkdir(exist_ok=True)
        key_path.write_text(Fernet.generate_key().decode())
        key_path.chmod(0o600)
    FIELD_ENCRYPTION_KEYS = [key_path.read_text().strip()]

# A try-out on one's own machine (the compose file's default): plain http on localhost, emails
# printed in the log. It accepts, by name, the two deployment checks such a try-out cannot meet,
# and nothing else; intimacy.checks refuses it as soon as the app answers to another host
# (intimacy.E007) and says what it accepts in every `check --deploy` (intimacy.I001).
TRY_OUT = envbool("TRY_OUT", False)
TRY_OUT_ACCEPTS = ["security.W008", "mail.E001"]  # no redirect to https; a console email backend
SILENCED_SYSTEM_CHECKS = TRY_OUT_ACCEPTS if TRY_OUT else []

ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "accounts",
    "agreements",
    "checkins",
    "intimacy.apps.IntimacyConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Static assets, compressed ahead of time; nothing else under /static/.
    "intimacy.middleware.StaticAssets",
    # Everything the app answers below here is compressed, with Django's random padding against
    # BREACH (docs/deploy.md, "Compression").
    "django.middleware.gzip.GZipMiddleware",
    "intimacy.middleware.limit_request_size",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "intimacy.middleware.session_lifetime",
    "intimacy.middleware.time_zone",
    # The signed-in person's own language wins over the browser's (User.language).
    "intimacy.language.person_language",
    "intimacy.middleware.log_access_denials",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "intimacy.middleware.htmx_full_page_answers",
    "intimacy.middleware.privacy_headers",
]

ROOT_URLCONF = "intimacy.urls"
WSGI_APPLICATION = "intimacy.wsgi.application"

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
                "django.template.context_processors.csp",
            ],
        },
    },
]

# Health checks make Django run "SELECT 1" before the first query of every request on a reused
# connection: one more round trip on every page. Without them, a connection that PostgreSQL
# closed (a restart, a failover, an idle timeout of a proxy) fails one request per worker, after
# which Django opens a new one. Turn them on where connections are dropped under the app.
DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
        conn_max_age=envint("DATABASE_CONN_MAX_AGE", 0),
        conn_health_checks=envbool("DATABASE_CONN_HEALTH_CHECKS", False),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # Wait for a writer instead of failing at once, and take the write lock when a transaction
    # begins so that consent changes are serialised as they are by row locks on PostgreSQL.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    # A file, not shared memory: threads in the race tests then wait for the lock (timeout)
    # instead of failing with "table is locked".
    # One file per test process, so that test runs side by side never share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Shared between processes in production (rate limits, lockouts, two-factor replay guard, email
# throttles, sessions). A per-process cache is for development only: with DJANGO_DEBUG off the
# default is the database and intimacy.checks refuses locmem:// (intimacy.E001).
CACHE_URL = envstr("CACHE_URL", "locmem://" if DEBUG else "db://cache_table")
if CACHE_URL.startswith("locmem://"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
elif CACHE_URL.startswith("db://"):
    # Never evicts a live entry (a rate limit, a lockout): intimacy/cache.py. Past MAX_ENTRIES
    # rows, each write first deletes the entries that have expired.
    CACHES = {
        "default": {
            "BACKEND": "intimacy.cache.DatabaseCache",
            "LOCATION": CACHE_URL.removeprefix("db://") or "cache_table",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }
elif CACHE_URL.startswith(("redis://", "rediss://")):
    # Django's own RedisCache, with one client per connection pool (intimacy/cache.py).
    CACHES = {"default": {"BACKEND": "intimacy.cache.RedisCache", "LOCATION": CACHE_URL}}
else:
    raise ImproperlyConfigured(
        f"CACHE_URL must start with locmem://, db:// or redis://, not {CACHE_URL!r}"
    )

# What one worker process keeps for itself, never anything another process must see: its note of
# the presence marks it knows to be fresh (agreements/notify.py), so that most polls need no round
# trip to the shared cache.
CACHES["process"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "process",
    "OPTIONS": {"MAX_ENTRIES": 10_000},
}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_IDLE_TIMEOUT = envint("SESSION_IDLE_SECONDS", 8 * 60 * 60)
SESSION_COOKIE_AGE = envint("SESSION_MAX_AGE_SECONDS", 14 * 24 * 60 * 60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
if envbool("DJANGO_DISABLE_RATE_LIMITS", False):
    ACCOUNT_RATE_LIMITS = False  # otherwise allauth's defaults apply
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = "Rules of the Road: "
ACCOUNT_REAUTHENTICATION_TIMEOUT = envint("REAUTHENTICATION_SECONDS", 300)
# Adding, removing or making primary an email address asks for the password again too.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
# Its emails are queued like ours, and their links follow SITE_URL (accounts/adapter.py).
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "http" if DEBUG else "https"
ALLAUTH_TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "Rules of the Road"
MFA_RECOVERY_CODES_SHOW_ONCE = True
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Off on purpose: tracking writes the session's row on every signed-in request, and a GET never
# writes (docs/architecture.md, "Sessions"). The sessions page says "logged in …" instead.
USERSESSIONS_TRACK_ACTIVITY = False

# Email: Django 6.1 mailers. Development prints emails on the console.
EMAIL_URL = envstr("EMAIL_URL", "console://" if DEBUG else "")
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Rules of the Road <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL


def _mailer(url: str) -> dict:
    from urllib.parse import unquote, urlsplit

    if url == "console://":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if url == "memory://":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps", "smtp+tls"}:
        raise ImproperlyConfigured(
            "EMAIL_URL must be console://, memory://, smtp://, smtp+tls:// or smtps://"
            " (and is required when DJANGO_DEBUG is off)."
        )
    return {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": parts.hostname or "localhost",
            "port": parts.port or (465 if parts.scheme == "smtps" else 587),
            "username": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "use_ssl": parts.scheme == "smtps",
            "use_tls": parts.scheme == "smtp+tls",
            "timeout": envint("EMAIL_TIMEOUT_SECONDS", 10),
        },
    }


MAILERS = {"default": _mailer(EMAIL_URL)}

# Emails are queued (intimacy/emails.py) and sent by a worker: `manage.py db_worker`. The
# database backend keeps every queued email in PostgreSQL until it is sent; "immediate" sends
# in the request, for development and tests only.
TASKS_BACKEND = envstr("TASKS_BACKEND", "immediate" if DEBUG else "database")
if TASKS_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
elif TASKS_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
else:
    raise ImproperlyConfigured(
        f"TASKS_BACKEND must be database or immediate, not {TASKS_BACKEND!r}"
    )
# Seconds to wait before each new attempt at an email the mail server did not take; after the
# last one the email stays in the queue as failed (manage.py check_queue lists and requeues it).
_retry_delays = envlist("EMAIL_RETRY_DELAYS_SECONDS", ["60", "300", "1800", "7200", "21600"])
if not all(delay.isdigit() for delay in _retry_delays):
    raise ImproperlyConfigured(
        f"EMAIL_RETRY_DELAYS_SECONDS must be whole numbers separated by commas, not {_retry_delays!r}"
    )
EMAIL_RETRY_DELAYS = [int(delay) for delay in _retry_delays]
# An email due for longer than this, and not yet picked up, means that no worker is running.
EMAIL_QUEUE_STUCK_SECONDS = envint("EMAIL_QUEUE_STUCK_SECONDS", 600)

LANGUAGE_CODE = "en"
# Each language named in itself; the browser's wish chooses among them (LocaleMiddleware), and
# the address never carries it. A fifth language: docs/translating.md.
LANGUAGES = [("en", "English"), ("es", "Español"), ("de", "Deutsch"), ("he", "עברית")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing one
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MAX_REQUEST_BYTES", 64 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200

# Security headers. Production sits behind a TLS-terminating proxy.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG and not TRY_OUT)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = 0 if DEBUG else 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on every POST,
# which Django's CSRF check refuses. Other sites still get no referrer.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.NONE],
}

# Throttle for "your partner updated the agreement" emails, per recipient.
PARTNER_EMAIL_INTERVAL = timedelta(seconds=envint("PARTNER_EMAIL_INTERVAL_SECONDS", 3600))

# Error reports hide every POST value and local variable: they would carry rule wording.
DEFAULT_EXCEPTION_REPORTER_FILTER = "intimacy.reporting.PrivateExceptionReporterFilter"

# No log line may hold an invitation token or a reset key (intimacy.logfilters): every handler
# redacts them, including the development server's access log (django.server).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "redact_tokens": {"()": "intimacy.logfilters.RedactTokens"},
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        },
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_tokens"],
        },
        "mail_admins": {
            "class": "django.utils.log.AdminEmailHandler",
            "filters": ["require_debug_false", "redact_tokens"],
        },
    },
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {
        # Django's own handlers are replaced by these, which redact.
        "django": {"handlers": ["mail_admins"], "level": "INFO"},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # Request logs would carry URLs only; bodies are never logged.
        "django.request": {"level": "ERROR"},
    },
}

# The address people reach the app at, for links in emails.
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000" if DEBUG else "https://localhost").rstrip("/")

# The benchmark's trivial view (bench/floor) exists only when this is on.
BENCHMARK_FLOOR = envbool("BENCHMARK_FLOOR", False)
