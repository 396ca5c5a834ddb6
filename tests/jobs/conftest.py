"""A Celery worker on the PostgreSQL broker (no Redis), started and killed by the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, _database_url_for_test_db


class PgWorker:
    """One ``celery -A config worker`` process group on ``stickersim-pg://``."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env, self.log_dir, self.proc = env, log_dir, None
        self.log_path: Path | None = None

    def start(self, timeout: float = 60) -> None:
        self.log_path = self.log_dir / f"pg-worker-{time.time_ns()}.log"
        log = open(self.log_path, "w")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", "default,gpu",
             "--pool=prefork", "--concurrency=1", "--loglevel=INFO", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: kill() takes the pool children too
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited early: {self.log_path.read_text()[-3000:]}")
            if " ready." in self.log_path.read_text():
                return
            time.sleep(0.3)
        raise RuntimeError(f"worker not ready in {timeout} s: {self.log_path}")

    def kill(self) -> None:
        """SIGKILL to the whole worker (main process and pool): no clean shutdown at all."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def pg_worker(django_db_setup, django_db_blocker, tmp_path) -> Iterator[PgWorker]:
    """A worker (not started) on the test database with the PostgreSQL broker.

    Use with ``@pytest.mark.django_db(transaction=True)`` so the worker sees committed rows.
    """
    with django_db_blocker.unblock():
        db_url = _database_url_for_test_db()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="config.settings_test")
    worker = PgWorker(env, tmp_path)
    yield worker
    worker.stop()


@pytest.fixture
def pg_broker() -> None:
    """This process publishes to the PostgreSQL broker, never inline (whatever REDIS_URL says):
    the code under test calls ``.delay()`` exactly as in the demo."""
    from config.celery import app

    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, "stickersim-pg://"
    app._pool = app.amqp._producer_pool = None  # the pools are built again from broker_url
    yield
    from kombu import pools

    pools.reset()  # closes every pooled broker connection (each is a database session)
    # A broker session opened by another thread (the live server's) is not in those pools:
    # end what is left on this process's own test database, or it could not be dropped.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                       "current_database() AND application_name = 'stickersim-broker' "
                       "AND pid <> pg_backend_pid()")
    app.conf.task_always_eager, app.conf.broker_url = saved
    # pools.reset() closed every pool, the app's too: later tests get fresh ones (restoring the
    # closed ones made every later .delay() fail with "Acquire on closed pool").
    app._pool = app.amqp._producer_pool = None
