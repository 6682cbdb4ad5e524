"""Repairshop settings, read from the environment (docs/api.md §10).

The defaults are for a laptop or a one-counter shop: DEBUG on, SQLite in the project
folder, mail printed to the console and a secret key generated once into a git-ignored
file. Production is DEBUG=false, which refuses to start without SECRET_KEY and
ALLOWED_HOSTS.
"""

import secrets
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from ops.mail_url import mailer_from_url

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DEBUG = env.bool("DEBUG", default=True)
HTTPS = env.bool("HTTPS", default=not DEBUG)


def _secret_key() -> str:
    if "SECRET_KEY" in env.ENVIRON:
        return env.str("SECRET_KEY")
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Embedded mode: one key per checkout, generated on first start and kept out of git.
    key_file = BASE_DIR / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()

if not DEBUG and "ALLOWED_HOSTS" not in env.ENVIRON:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "repairshop.apps.RepairshopAdminConfig",  # django.contrib.admin with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
    "ninja",
    "mozilla_django_oidc",
    "core",  # the shared library (app label "repairshop": the activity log)
    "accounts",
    "customers",
    "tickets",
    "demo",
]

MIDDLEWARE = [
    "core.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ops.security.SessionSecurityMiddleware",  # idle timeout, inactive users, no-store
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "repairshop.urls"
WSGI_APPLICATION = "repairshop.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.shop",
            ],
        },
    },
]

# --- Database --------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN so
    # that two writers queue on the busy timeout instead of failing with "database is locked"
    # when a read transaction tries to upgrade.
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000; "
            "PRAGMA foreign_keys=ON;"
        ),
    }
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    from psycopg_pool import ConnectionPool

    _db["ENGINE"] = "django.db.backends.postgresql"
    _db["CONN_MAX_AGE"] = 0  # the pool keeps connections; Django must not keep its own
    _db["OPTIONS"] = {
        "pool": {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": env.int("DATABASE_POOL_MAX", default=8),
            # How long a request waits for a connection while the database is unreachable. It
            # holds a gunicorn thread meanwhile, so a long wait freezes the whole server (even
            # /healthz queues behind it). Never waited for otherwise: threads <= pool size.
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=5),
            # A connection that died with a database restart is replaced before it is lent.
            "check": ConnectionPool.check_connection,
        },
        "connect_timeout": 5,
        # Statements are prepared only where the code asks (tickets.queries' version query);
        # None turns that off too, for a transaction-mode pooler that does not keep prepared
        # statements (PgBouncer < 1.21, or without max_prepared_statements).
        "prepare_threshold": (
            1_000_000 if env.bool("DATABASE_PREPARED_STATEMENTS", default=True) else None
        ),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Each silenced check says why where its subject is configured.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# --- Cache, sessions and rate limits -------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="repairshop"),
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
                # Redis down: reads miss and writes are dropped instead of raising, so cached_db
                # sessions fall back to the database (their delete() and exists() would raise).
                "IGNORE_EXCEPTIONS": True,
            },
        },
        # The same Redis for the rate limits, but raising: ops.ratelimits must see an
        # outage to apply its per-limit policy (an ignored error reads as "over the limit").
        "ratelimit": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="repairshop"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    RATELIMIT_USE_CACHE = "ratelimit"
    # Sessions are read from Redis and written through to the database, so a Redis outage
    # logs nobody out.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "repairshop_cache",
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.db"
    # Embedded mode (one process, no Redis): django-ratelimit warns that the database cache
    # is not atomic across processes. That is accepted here; production sets REDIS_URL.
    SILENCED_SYSTEM_CHECKS += ["django_ratelimit.E003"]
    RATELIMIT_USE_CACHE = "default"

# Rendered lists and API pages keyed by the data version (core.rendered): per process,
# so serving one costs no round trip; the version in the key keeps processes consistent.
# ~50 kB an entry: at most ~15 MB a process.
CACHES["rendered"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "rendered",
    "TIMEOUT": env.int("RENDERED_CACHE_SECONDS", default=600),
    "OPTIONS": {"MAX_ENTRIES": 300, "CULL_FREQUENCY": 3},
}
# Every table a remembered list reads: a change to any of them moves the data version.
RENDERED_VERSION_MODELS = [
    "tickets.Ticket",
    "customers.Customer",
    "accounts.User",
    "tickets.Status",
]
# Columns holding a moment after which a list shows a row differently (a ticket turns
# overdue without anyone writing): the latest one already passed is part of the version.
RENDERED_VERSION_DEADLINES = ["tickets.Ticket.overdue_at"]
# Render every hit afresh and fail on any difference from what was remembered (on in tests).
RENDERED_VERIFY = env.bool("RENDERED_VERIFY", default=False)

RATELIMIT_ENABLE = env.bool("RATELIMIT_ENABLE", default=True)
RATE_LIMIT_LOGIN_IP = env.str("RATE_LIMIT_LOGIN_IP", default="10/m")
RATE_LIMIT_LOGIN_USER = env.str("RATE_LIMIT_LOGIN_USER", default="5/15m")
RATE_LIMIT_API_READ = env.str("RATE_LIMIT_API_READ", default="600/m")
RATE_LIMIT_API_WRITE = env.str("RATE_LIMIT_API_WRITE", default="60/m")
RATE_LIMIT_API_ANON = env.str("RATE_LIMIT_API_ANON", default="60/m")
# The client IP is REMOTE_ADDR unless the app runs behind a proxy that is trusted to set
# X-Forwarded-For (then the address that proxy saw, the right-most entry, is used).
TRUST_X_FORWARDED_FOR = env.bool("TRUST_X_FORWARDED_FOR", default=False)

SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=8 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- Auth ----------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # Loads a user's permissions in one query for the two below (no sign-in of its own).
    "accounts.backends.PermissionLookupBackend",
    "django.contrib.auth.backends.ModelBackend",
    "accounts.oidc.SSOBackend",  # answers only the single sign-on callback
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

OIDC_RP_CLIENT_ID = env.str("OIDC_RP_CLIENT_ID", default="")
OIDC_RP_CLIENT_SECRET = env.str("OIDC_RP_CLIENT_SECRET", default="")
OIDC_OP_ISSUER = env.str("OIDC_OP_ISSUER", default="")
OIDC_OP_AUTHORIZATION_ENDPOINT = env.str("OIDC_OP_AUTHORIZATION_ENDPOINT", default="")
OIDC_OP_TOKEN_ENDPOINT = env.str("OIDC_OP_TOKEN_ENDPOINT", default="")
OIDC_OP_USER_ENDPOINT = env.str("OIDC_OP_USER_ENDPOINT", default="")
OIDC_OP_JWKS_ENDPOINT = env.str("OIDC_OP_JWKS_ENDPOINT", default="")
OIDC_OP_LOGOUT_ENDPOINT = env.str("OIDC_OP_LOGOUT_ENDPOINT", default="")
OIDC_ROLES_CLAIM = env.str("OIDC_ROLES_CLAIM", default="roles")
OIDC_PROVIDER_NAME = env.str("OIDC_PROVIDER_NAME", default="single sign-on")
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_USE_PKCE = True
# Add the scope that makes the provider include the roles claim if it needs one.
OIDC_RP_SCOPES = env.str("OIDC_RP_SCOPES", default="openid email profile")

# --- Email and background tasks ---------------------------------------------------------
MAILERS = {
    "default": mailer_from_url(env.str("EMAIL_URL", default="consolemail://"), timeout=10),
}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="repairshop@localhost")
# Absolute links in mail ("open the ticket") need the shop's address.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# --- Security headers ------------------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# Sign-out posts a form that redirects an SSO user to the provider's end-session endpoint;
# browsers apply form-action to that redirect, so the provider's origin is allowed there.
for _url in (OIDC_OP_ISSUER, OIDC_OP_LOGOUT_ENDPOINT):
    if _url and OIDC_RP_CLIENT_ID:
        _origin = "{0.scheme}://{0.netloc}".format(urlsplit(_url))
        if _origin not in SECURE_CSP["form-action"]:
            SECURE_CSP["form-action"].append(_origin)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60 if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = False
# security.W021 (no HSTS preload): preloading binds the shop's whole domain, subdomains
# included, to HTTPS in browsers for months and is a decision for whoever owns the domain,
# not a default of this app. HSTS itself is on whenever HTTPS is.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer probes over plain HTTP
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # bodies over 1 MB are refused, not read

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ------------------------------------------------------------------------
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

# --- The shop's own settings -------------------------------------------------------------------
POLL_INTERVAL_SECONDS = env.int("POLL_INTERVAL_SECONDS", default=30)
# A timed poll may be answered "no change" from a data version this process read up to this
# many seconds ago (core.rendered.polled_version); 0 reads it on every poll.
POLL_VERSION_MAX_AGE = env.float("POLL_VERSION_MAX_AGE", default=1.0)
API_VERSION = "1.0"

# --- Logging: every line carries the request id --------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.request_id.RequestIdLogFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s",
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "plain",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "repairshop.security": {"level": "INFO"},
    },
}

# --- Sentry ---------------------------------------------------------------------------------
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production" if not DEBUG else "dev")
if SENTRY_DSN:
    from ops.sentry import init_sentry

    init_sentry(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT)
