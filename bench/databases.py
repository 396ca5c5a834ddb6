"""The benches' own databases: one per bench, beside the project's, dropped and made anew.

Every bench runs on a database of its own (``<DATABASE_URL><suffix>``, or on the embedded
server in var/pgdata when DATABASE_URL is unset, as the project itself runs), so a run never
touches the project's data or another bench's fill.
"""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent


def bench_database_url(suffix: str) -> str:
    """``<DATABASE_URL><suffix>``; with DATABASE_URL unset, on the embedded server."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        from config.embedded_postgres import database_url, default_pgdata, ensure_server

        var_dir = Path(os.environ.get("STICKERSIM_VAR_DIR", REPO / "var"))
        url = database_url(ensure_server(default_pgdata(var_dir)))
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(f"DATABASE_URL must point at PostgreSQL, not {url!r}")
    parsed = urlparse(url)
    return parsed._replace(path=parsed.path + suffix).geturl()


def database_recreate(url: str) -> None:
    """Drops the database that ``url`` names (sessions still on it included) and makes it."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(url: str, *, production: bool = False) -> None:
    """Django on ``url``. ``production``: DEBUG off as gunicorn serves it, which refuses the
    published development key, so a throwaway key; otherwise DEBUG on, for the test client."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["LOG_LEVEL"] = "WARNING"
    if production:
        os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    else:
        os.environ.setdefault("DJANGO_DEBUG", "1")
    # Plain HTTP on loopback: no TLS to redirect to (a proxy terminates it in production).
    os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")
    import django

    django.setup()
