"""Settings for ceol, read from the environment (see README "Configuration")."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and not env_bool("CEOL_ALLOW_INSECURE_KEY", False):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
if os.environ.get("RENDER_EXTERNAL_HOSTNAME"):
    ALLOWED_HOSTS.append(os.environ["RENDER_EXTERNAL_HOSTNAME"])
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

# Read on every request by the cron endpoint; empty disables it (404).
CRON_SECRET = os.environ.get("CRON_SECRET", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "recurrence",
    "django_crontab",
    "sessions_app",
    "people",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # /healthz answers before the ALLOWED_HOSTS check: a platform's health check may not
    # send the public host name.
    "sessions_app.health.HealthCheckMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "ceol.middleware.PageMethodsMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ceol.urls"

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

WSGI_APPLICATION = "ceol.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
        # One "SELECT 1" before a request's first query on a reused connection, so that
        # a connection the server dropped is replaced instead of failing the request (its
        # cost did not show in bench/LOAD.md's runs).
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Writers queue on SQLite's lock instead of failing at once with "database is locked".
    # IMMEDIATE takes the write lock when a transaction starts, so the sweep and the
    # event hooks queue behind each other instead of failing on a lock upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 10)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# 24-hour times everywhere, the admin included (ceol/formats/en_GB).
FORMAT_MODULE_PATH = ["ceol.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
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

# Caches. "default" is per process (allauth's rate limits, the home page's browse counts).
CACHES: dict[str, dict[str, Any]] = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Sessions stay in the database (a logout or an expiry ends them for good), read through a
# file cache that every worker of the host shares (cached_db): a logged-in request then
# costs one query (the user) instead of two. A per-process cache would be wrong (a session
# changed or ended in one worker would live on in the other's copy), and signed-cookie
# sessions could not be ended by a logout (a copied cookie stays valid until it expires).
# With more than one instance (host) each would keep its own copies: set
# SESSION_CACHE_DIR=off there, or point it at a directory they all share. bench/LOAD.md.
SESSION_CACHE_DIR = os.environ.get("SESSION_CACHE_DIR", "").strip() or str(BASE_DIR / "var" / "session-cache")
if SESSION_CACHE_DIR.lower() != "off":
    CACHES["sessions"] = {
        # Files written 0600 in a 0700 directory created by Django: keep it inside the
        # application's own tree, never in a directory other users can write (pickles).
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": SESSION_CACHE_DIR,
        # Each write lists the directory and culls a third past this many files.
        "OPTIONS": {"MAX_ENTRIES": 20_000},
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    SESSION_CACHE_ALIAS = "sessions"

LOGIN_URL = "login"
# How often pages poll the JSON API to refresh the header dot and LIVE NOW badges.
LIVE_POLL_MS = int(os.environ.get("LIVE_POLL_MS", "60000"))
LOGIN_REDIRECT_URL = "/"

# Email (password reset): SMTP when EMAIL_HOST is set, printed to the console otherwise.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip()
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "").strip() or "587")
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", EMAIL_PORT != 465)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", EMAIL_PORT == 465)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "").strip() or "ceol <noreply@localhost>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Every evaluation looks this far ahead: the :59 run activates a 20:00 window.
ACTIVE_SESSION_LOOKAHEAD = timedelta(minutes=int(os.environ.get("ACTIVE_SESSION_LOOKAHEAD_MINUTES", "1")))

# Self-hosting with cron (django-crontab): the same schedule as the Render cron job.
# django-crontab swallows exceptions, so the command logs its own failures loudly.
CRONJOBS: list[tuple[str, str, list[str], dict[str, str], str]] = [
    ("14,29,44,59 * * * *", "sessions_app.cron.check_active_sessions", [], {}, f">> {BASE_DIR / 'cron.log'} 2>&1"),
]

# HTTPS (SPEC 8). Render, like most hosts, terminates TLS at its proxy and forwards plain
# HTTP with X-Forwarded-Proto; trust that header only behind such a proxy. Every switch can
# be turned off by the environment (e.g. a self-hosted server without TLS on localhost).
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# The platform's health check talks plain HTTP to the instance, inside its network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)

# Logging: everything goes to stderr with a timestamp (Render keeps a service's stderr as
# its log). Django's own loggers propagate to the root handler, so a 500 is one ERROR
# record with its traceback ("django.request"), whatever DEBUG says. The ceol loggers,
# the sweep's ("ceol.sweep") among them, at WARNING by default: the command prints its own
# report, and at INFO the sweep would repeat it (skipped sessions, an unrecordable failure)
# on the command's one-line error output.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "timestamped": {"format": "%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"},
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "timestamped"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        # No handlers of their own: they propagate to the root's (Django's defaults, a
        # DEBUG-only console and mail_admins, are replaced).
        "django": {"handlers": [], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"), "propagate": True},
        "ceol": {"handlers": [], "level": os.environ.get("CEOL_LOG_LEVEL", "WARNING"), "propagate": True},
        "ceol.sweep": {"handlers": [], "level": os.environ.get("CEOL_SWEEP_LOG_LEVEL", "WARNING"), "propagate": True},
    },
}

# --- Accounts (django-allauth), email and calendar feeds: README "Accounts" -----------------
INSTALLED_APPS += ["allauth", "allauth.account", "django_countries", "accounts"]
MIDDLEWARE += ["allauth.account.middleware.AccountMiddleware"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",  # the admin and client.login() by username
    "allauth.account.auth_backends.AuthenticationBackend",  # the site's form: username or email
]
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"  # a sign-up creates the Person
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_LOGIN_METHODS = {"username", "email"}  # demo logins are usernames; new accounts use their email
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
# none | optional | mandatory. Off for `make run` (DEBUG); "optional" sends the
# confirmation mail without blocking logins (accounts made in the admin have no email).
ACCOUNT_EMAIL_VERIFICATION = os.environ.get("ACCOUNT_EMAIL_VERIFICATION", "none" if DEBUG else "optional").strip()
if ACCOUNT_EMAIL_VERIFICATION not in {"none", "optional", "mandatory"}:
    raise ImproperlyConfigured("ACCOUNT_EMAIL_VERIFICATION must be none, optional or mandatory.")
ACCOUNT_LOGOUT_REDIRECT_URL = "home"
# allauth's own limits (counted in the default cache: per process with the local-memory cache).
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
}
# Email: see the block above (SMTP when EMAIL_HOST is set, the console otherwise).

# Optional error reporting: Sentry's SDK, switched on only by SENTRY_DSN. No personal data
# is sent (send_default_pii off): where people are is private (SPEC 3.8).
SENTRY_DSN = os.environ.get("SENTRY_DSN", "").strip()
if SENTRY_DSN:
    try:
        import sentry_sdk
    except ImportError as exc:  # pragma: no cover - sentry-sdk is in requirements.txt
        raise ImproperlyConfigured("SENTRY_DSN is set but sentry-sdk is not installed.") from exc
    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=os.environ.get("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE", "0")),
        send_default_pii=False,
    )
