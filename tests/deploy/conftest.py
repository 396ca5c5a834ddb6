"""Environments for processes that run the production settings (config.settings, DEBUG off)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import world  # noqa: F401  (a campaign, annotators, an outsider)

REPO = Path(__file__).resolve().parents[2]


def production_env(**changes: str | None) -> dict[str, str]:
    """This test process's environment as a deploy would have it: the production settings, no
    DJANGO_DEBUG, a random secret key; ``changes`` set (or, with None, remove) variables."""
    env = {k: v for k, v in os.environ.items()
           # DJANGO_ALLOW_ASYNC_UNSAFE: set by the browser tests of this run, never in a deploy
           if k not in ("DJANGO_DEBUG", "DJANGO_SECRET_KEY", "DJANGO_SETTINGS_MODULE",
                        "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings", PYTHONPATH=str(REPO),
               DJANGO_SECRET_KEY=secrets.token_urlsafe(50), LOG_LEVEL="WARNING")
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def run_manage(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
