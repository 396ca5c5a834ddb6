"""Fixtures shared by the whole suite: real data paths, a tiny OpenCLIP model, a Celery worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"

# A ViT small enough to train on two CPU cores in seconds; same code path as ViT-B-32.
TINY_OPENCLIP_NAME = "tiny-test-ViT"
TINY_OPENCLIP_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


CHROMIUM_ARGS = [  # no background networking: this machine's closed network refuses it
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


@pytest.fixture
def browser():
    """Debian's headless Chromium driven by Playwright (CHROMIUM_PATH, default /usr/bin/chromium).

    Skips on a developer machine without Chromium; in CI (``CI`` set) a missing browser fails.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    path = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
    if not os.path.exists(path):
        message = f"no Chromium at {path} (install Debian's chromium or set CHROMIUM_PATH)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real public data in ../shared/data (StickerQueries, Triple-S)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data folder {SHARED_DATA} is not next to this checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_openclip(tmp_path_factory) -> dict:
    """Registers a tiny OpenCLIP config and saves its random weights as a checkpoint file.

    Returns ``{"name", "config_path", "checkpoint"}``: ``name`` is usable as a model name,
    ``config_path`` is the same config as a JSON file, ``checkpoint`` is a local ``pretrained``
    path, loaded through the same code as real pretrained weights.
    """
    import open_clip
    import torch

    folder = tmp_path_factory.mktemp("tiny_openclip")
    config_path = folder / f"{TINY_OPENCLIP_NAME}.json"
    config_path.write_text(json.dumps(TINY_OPENCLIP_CONFIG))
    open_clip.add_model_config(config_path)
    torch.manual_seed(0)
    model = open_clip.create_model(TINY_OPENCLIP_NAME, pretrained=None)
    checkpoint = folder / "tiny_openclip.pt"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    return {
        "name": TINY_OPENCLIP_NAME,
        "config_path": str(config_path),
        "checkpoint": str(checkpoint),
    }


def pytest_sessionstart(session: pytest.Session) -> None:
    """Drops the test databases of earlier runs whose pytest process is gone (killed runs
    leave theirs behind), on the embedded server only: its pids are this machine's."""
    if os.environ.get("DATABASE_URL"):
        return  # a server that is not ours: its test databases may belong to another machine
    import psycopg
    from django.conf import settings

    s = settings.DATABASES["default"]
    with psycopg.connect(host=s["HOST"], port=s.get("PORT") or None, user=s["USER"],
                         password=s.get("PASSWORD") or None, dbname="postgres",
                         autocommit=True) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT datname FROM pg_database WHERE datname ~ '^test_stickersim_[0-9]+$'")]
        for name in names:
            if not _process_alive(int(name.rsplit("_", 1)[1])):
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _database_url_for_test_db() -> str:
    """The test database as a URL for a subprocess; a socket folder (the embedded server's)
    is percent-encoded as the host, which psycopg and dj-database-url read back."""
    from urllib.parse import quote

    from django.db import connection

    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    host = quote(s["HOST"] or "localhost", safe="")
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{s['NAME']}"


@pytest.fixture
def redis_broker() -> str:
    """The Redis broker of the integration tests (REDIS_URL), emptied for the test.

    Skips on a developer machine without REDIS_URL; in CI (``CI`` set) a missing Redis fails,
    as a missing browser does.
    """
    from django.conf import settings

    if not os.environ.get("REDIS_URL"):
        message = ("no REDIS_URL: this test runs Celery workers on Redis; `make test` "
                   "(scripts/test.sh) starts a Redis on loopback and sets it")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    return settings.CELERY_BROKER_URL


@pytest.fixture
def celery_worker_process(django_db_setup, django_db_blocker, redis_broker):
    """A real Celery worker (subprocess) on Redis and the test database, both queues.

    Only for ``integration`` tests: needs REDIS_URL (scripts/test.sh starts a Redis). Use with
    ``@pytest.mark.django_db(transaction=True)`` so the worker sees committed rows.
    """
    from django.conf import settings

    with django_db_blocker.unblock():
        db_url = _database_url_for_test_db()
    env = dict(os.environ, DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="config.settings_test")
    log = open(Path(settings.VAR_DIR) / f"celery-worker-{time.time_ns()}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            "default,gpu",
            "--pool=prefork",
            "--concurrency=2",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    from config.celery import app

    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery worker exited early; see {log.name}")
        try:
            if app.control.ping(timeout=1.0):
                break
        except Exception:  # broker not answering yet
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError(f"celery worker did not answer a ping in 60 s; see {log.name}")
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
