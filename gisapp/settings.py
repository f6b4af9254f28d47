"""Settings of one-net map.

Everything a deployment changes comes from the environment (12-factor), so that `./gis`, the tests and
`docker-compose.yml` configure the same code the same way: DATABASE_URL, ONENET_SECRET_KEY, ONENET_DEBUG,
ONENET_DEMO, ONENET_ALLOWED_HOSTS.

Production is the default: without ONENET_DEMO=1 the server wants a real secret key, refuses the demo
accounts, sends cookies over HTTPS only, redirects HTTP to HTTPS and asks browsers for HSTS.  `./gis` (up,
test, manage …) and the test runner (setup.cfg) set ONENET_DEMO=1, so the demo city keeps working on
http://127.0.0.1.  docs/SECURITY.md lists every setting below and why.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_PG_PORT = os.environ.get("ONENET_PG_PORT", "54329")


def env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Demo mode: the demo users (password `onenet-demo`) may log in and plain HTTP is fine.  Off unless asked
# for: a server started without configuration is a production server and refuses to start insecurely.
DEMO_MODE = env_flag("ONENET_DEMO", False)
# Debug pages print settings and local variables (personal data among them): never in production.
DEBUG = env_flag("ONENET_DEBUG", False)
if DEBUG and not DEMO_MODE:
    raise RuntimeError("ONENET_DEBUG=1 is refused outside demo mode (ONENET_DEMO=1)")
SECRET_KEY = os.environ.get("ONENET_SECRET_KEY") or "onenet-insecure-demo-key-change-me-" + "x" * 20
if not DEMO_MODE and SECRET_KEY.startswith("onenet-insecure"):
    raise RuntimeError(
        "ONENET_SECRET_KEY must be set in production (or ONENET_DEMO=1 for the demo city, as ./gis does)"
    )
ALLOWED_HOSTS = [
    h for h in os.environ.get("ONENET_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    "ninja",  # the API layer; as an app, its Swagger UI is served from our static files, not a CDN
    "gisapp.accounts",
    "gisapp.idempotency",  # Idempotency-Key on the API's creates
    "gisapp.ratelimit",  # per-client budgets of the anonymous endpoints
    "layers",
    "cases",
    "field",  # grid workers: check-ins, patrols, the field page API
    "fixtures",
    "boundaries",
    "onboarding",
    "geocoding",
    "tiles",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gisapp.accounts.tokens.BearerTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "gisapp.apikit.MethodNotAllowedMiddleware",  # the JSON 405 for a method an API path does not take
    "gisapp.limits.DatabaseLimitsMiddleware",  # statement timeouts, busy pool, big bodies: JSON 4xx/503
]
CSRF_FAILURE_VIEW = "gisapp.views.csrf_failure"  # JSON 403 on the API, Django's page elsewhere

ROOT_URLCONF = "gisapp.urls"
ASGI_APPLICATION = "gisapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "gisapp" / "templates"],
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

DEFAULT_DATABASE_URL = f"postgres://postgres@127.0.0.1:{LOCAL_PG_PORT}/onenet"
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        engine="django.contrib.gis.db.backends.postgis",
        # Under ASGI every request may run on another thread: persistent per-thread connections would pile
        # up, so Django's psycopg pool (Django ≥ 5.1) shares a bounded set per process instead.
        conn_max_age=0,
    )
}
# Every statement a request can trigger is bounded (ms); bulk loaders lift it for their own session.
DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
    f"-c statement_timeout={os.environ.get('ONENET_STATEMENT_TIMEOUT_MS', '30000')}"
)
DATABASES["default"]["OPTIONS"]["pool"] = {
    "min_size": 1,
    "max_size": int(os.environ.get("ONENET_DB_POOL", "16")),
    "timeout": 10,
}
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("ONENET_TEST_DB", "test_onenet")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "gisapp" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
STATICFILES_DIRS = [p for p in [BASE_DIR / "frontend" / "dist"] if p.exists()]
WHITENOISE_USE_FINDERS = True
MEDIA_ROOT = BASE_DIR / "var" / "media"  # case photos; never served without a permission check
MEDIA_URL = "/media/"

DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

# Canonical CRS of every stored geometry (CGCS2000) and the CRS vector tiles are cut in.
ONENET_SRID = 4490
ONENET_TILE_SRID = 3857
OGCAPI_MAX_LIMIT = 10000
OGCAPI_DEFAULT_LIMIT = 100

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ONENET_LOG_LEVEL", "WARNING")},
}
AUTHENTICATION_BACKENDS = ["gisapp.accounts.backends.OneNetBackend"]
SILENCED_SYSTEM_CHECKS = ["gis.W001"]  # Debian 12 ships GDAL 3.6; we never open untrusted remote SRS

# ------------------------------------------------------------------------------------------- security
# Headers on every Django response (docs/SECURITY.md).  Tiles (/tiles/, raw ASGI) set their own.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# The pages read the CSRF cookie to send X-CSRFToken on their POSTs (frontend/src/core/api.js), so it
# cannot be HttpOnly; the token is worthless to a script on another origin, which cannot read it.
CSRF_COOKIE_HTTPONLY = False
SESSION_COOKIE_AGE = 12 * 3600  # one shift, like an API token

if not DEMO_MODE:
    # Production sits behind TLS (a reverse proxy; uvicorn --proxy-headers passes the scheme on).
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_flag("ONENET_SSL_REDIRECT", True)
    # The container's own health check asks over plain HTTP from inside (docker-compose.yml).
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("ONENET_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp): no inline script anywhere, nothing from another origin.  The pages
# pass their config as JSON data (json_script), which is not script.  Inline *styles* stay allowed: the
# admin, the login page and the maps' popups set style attributes, and a style cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
