"""Memory of one gunicorn worker after it served the login page, a campaign page and one API
call, with the production settings (DEBUG off): what each web process costs.

Run from a checkout (``cwd``) with its venv, e.g. to compare two commits::

    git worktree add /tmp/wt-before <sha>
    python bench/bench_web_memory.py --repo /tmp/wt-before --database before
    python bench/bench_web_memory.py --repo . --database after

Each run migrates its own database on the embedded PostgreSQL (``--database``: a name made
on that server, dropped first), makes a staff user and a campaign, starts gunicorn with one
worker and one thread, requests ``/accounts/login/``, ``/campaigns/<name>/`` (logged in) and
``/api/campaigns/<name>/progress/``, then reads the worker's RSS and PSS (psutil's
``memory_full_info``) and whether torch is loaded in it (``/proc/<pid>/maps``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import psutil
import psycopg
import requests

MB = 1024 * 1024
SETUP = """
from django.contrib.auth import get_user_model
from annotation.models import Campaign
get_user_model().objects.create_superuser("memadmin", "m@example.com", "mem-pass-1234")
Campaign.objects.create(name="mem")
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url(name: str) -> str:
    """A fresh database ``name`` on this checkout's embedded server (never the other
    checkout's: one server for both runs)."""
    here = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-m", "config.embedded_postgres", "url"], cwd=here,
                         capture_output=True, text=True, check=True).stdout.strip()
    server = urllib.parse.urlsplit(out)
    admin = urllib.parse.urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return urllib.parse.urlunsplit(server._replace(path=f"/{name}"))


def measure(repo: Path, database: str) -> dict:
    """The worker's memory after the three requests (see the module docstring)."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings",
           "DJANGO_SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
           "DJANGO_SECURE_SSL_REDIRECT": "0", "LOG_LEVEL": "WARNING",
           "DATABASE_URL": _database_url(database), "PYTHONPATH": str(repo)}
    env.pop("DJANGO_DEBUG", None)
    for args in (["migrate", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"],
                 ["shell", "-c", SETUP]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=repo, env=env, check=True)
    port = _port()
    gunicorn = Path(sys.executable).parent / "gunicorn"
    proc = subprocess.Popen([str(gunicorn), "config.wsgi:application", "--bind",
                             f"127.0.0.1:{port}", "--workers", "1", "--threads", "1"],
                            cwd=repo, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        session = requests.Session()
        deadline = time.time() + 180
        while True:
            try:
                login = session.get(f"{base}/accounts/login/", timeout=120)
                break
            except requests.ConnectionError:
                if time.time() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
        session.post(f"{base}/accounts/login/", data={
            "username": "memadmin", "password": "mem-pass-1234",
            "csrfmiddlewaretoken": token}, headers={"Referer": f"{base}/accounts/login/"})
        page = session.get(f"{base}/campaigns/mem/", timeout=120)
        api = session.get(f"{base}/api/campaigns/mem/progress/", timeout=120)
        worker = psutil.Process(proc.pid).children()[0]
        info = worker.memory_full_info()
        maps = Path(f"/proc/{worker.pid}/maps").read_text()
        return {"repo": str(repo), "login": login.status_code, "campaign_page": page.status_code,
                "api": api.status_code, "rss_mb": round(info.rss / MB, 1),
                "pss_mb": round(info.pss / MB, 1), "uss_mb": round(info.uss / MB, 1),
                "torch_loaded": "libtorch" in maps}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=".", help="the checkout to run (its code, this venv)")
    parser.add_argument("--database", default="stickersim_web_memory")
    args = parser.parse_args()
    print(json.dumps(measure(Path(args.repo).resolve(), args.database)))


if __name__ == "__main__":
    main()
