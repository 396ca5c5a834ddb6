"""The embedded PostgreSQL keeps what it acknowledged: killed mid-campaign it restarts on the
same data with every stored annotation; two processes starting at once share one server; the
demo's stop is a clean shutdown. Each test runs its own server in a temporary data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from config.embedded_postgres import running_pid, stop_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_env(tmp_path):
    """Environment of a process whose embedded server lives in ``tmp_path/pgdata``."""
    pgdata = tmp_path / "pgdata"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(STICKERSIM_VAR_DIR=str(tmp_path / "var"), STICKERSIM_PGDATA=str(pgdata),
               DJANGO_SETTINGS_MODULE="config.settings", GSE_PRETRAINED="",
               # DEBUG is off by default and then the published development key is refused
               DJANGO_SECRET_KEY="embedded-postgres-tests-" + "k3Jd8-Qw2Zx7-Lp4Rt9-Vn6Hs1-Bc5",
               PYTHONPATH=str(REPO))
    yield env, pgdata
    stop_server(pgdata)


def _tail(err: str) -> str:
    """The log lines of a failed start and the end of the traceback."""
    logged = [line for line in err.splitlines() if "ERROR" in line or "FATAL" in line]
    return "\n".join(logged[-10:]) + "\n" + err[-1500:]


def _run(mode: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.config.embedded_driver", mode],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _count(env: dict) -> tuple[set[int], int]:
    proc = _run("count", env)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    stored = {int(line.split()[1]) for line in out.splitlines() if line.startswith("stored ")}
    pid = next(int(line.split()[1]) for line in out.splitlines() if line.startswith("pid "))
    return stored, pid


def _postmasters(pgdata: Path) -> list[int]:
    found = []
    for proc in psutil.process_iter(attrs=("name", "cmdline")):
        cmd = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and "-D" in cmd and str(pgdata) in cmd:
            found.append(proc.pid)
    return found


def test_a_killed_server_restarts_with_every_acknowledged_annotation(pg_env):
    env, pgdata = pg_env
    # given: a process answering tasks on the embedded server
    filler = _run("fill", env)
    acked: list[int] = []
    deadline = time.time() + 240
    for line in filler.stdout:
        if line.startswith("ack "):
            acked.append(int(line.split()[1]))
        if len(acked) >= 40 or time.time() > deadline:
            break
    assert len(acked) >= 40, filler.stderr.read()[-2000:]
    # when the server's postmaster is killed hard, mid-campaign
    pid = running_pid(pgdata)
    os.kill(pid, signal.SIGKILL)
    for line in filler.stdout:  # answers acknowledged before the server went away
        if line.startswith("ack "):
            acked.append(int(line.split()[1]))
    filler.wait(timeout=60)
    assert filler.returncode != 0  # the filler lost its server
    # then the next process restarts it on the same folder, and nothing acknowledged is lost
    stored, new_pid = _count(env)
    assert new_pid and new_pid != pid
    assert set(acked) <= stored
    assert len(stored) >= 40


def test_two_processes_starting_at_once_share_one_server(pg_env):
    env, pgdata = pg_env
    # given: a migrated database whose server is stopped
    first = _run("migrate", env)
    assert first.wait(timeout=120) == 0, _tail(first.stderr.read())
    stop_server(pgdata)
    assert running_pid(pgdata) is None
    # when two processes start at the same moment
    procs = [_run("count", env) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in procs]
    # then both ran against one server
    assert all(p.returncode == 0 for p in procs), [err[-1000:] for _, err in outputs]
    pids = {line.split()[1] for out, _ in outputs for line in out.splitlines()
            if line.startswith("pid ")}
    assert len(pids) == 1
    assert len(_postmasters(pgdata)) == 1


def test_stop_is_a_clean_shutdown(pg_env):
    env, pgdata = pg_env
    proc = _run("migrate", env)
    assert proc.wait(timeout=120) == 0, _tail(proc.stderr.read())
    assert running_pid(pgdata) is not None
    # when the demo stops it
    assert stop_server(pgdata)
    # then no server runs, and the cluster was shut down cleanly (no crash recovery next time)
    assert running_pid(pgdata) is None and not _postmasters(pgdata)
    log = (pgdata / "log").read_text()
    assert "database system is shut down" in log
