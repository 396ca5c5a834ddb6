"""Schemathesis against a live server: every endpoint of /api/schema/, as an admin and as an
annotator, with generated valid and invalid input; no answer may be a 500.

Bounded so it stays a test, not a campaign: a fixed seed, a few examples per operation (the
coverage phase adds each parameter's boundary and out-of-range values, which is where the
overflows were), one worker. Jobs that endpoints start are not run (their code is not the
API's and has its own tests): ``apply_async`` is a no-op in the live server.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from rest_framework.authtoken.models import Token

from tests.annotation.campaign_factory import annotator_create, campaign_build

pytestmark = pytest.mark.django_db(transaction=True)

SEED = 15  # fixed: a failure reproduces with the same requests
MAX_EXAMPLES = 6  # per operation in the fuzzing phase; about a minute per token on 2 cores
ST = Path(sys.executable).parent / "st"


@pytest.fixture
def no_background_jobs(monkeypatch, settings):
    from celery.app.task import Task

    monkeypatch.setattr(Task, "apply_async", lambda self, *args, **kwargs: None)
    # No job ever runs here: a similarity upload answers 202 at once instead of waiting its
    # bounded 5 s for a worker, on every generated upload (minutes of the run otherwise).
    settings.SIMILARITY_WAIT_S = 0


@pytest.fixture
def tokens(db) -> dict[str, str]:
    from django.contrib.auth import get_user_model

    campaign_build(anchors=3, candidates=4)
    admin = get_user_model().objects.create_superuser("st-admin", password="pw-admin-123")
    annotator = annotator_create("st-annotator")
    return {"admin": Token.objects.create(user=admin).key,
            "annotator": Token.objects.create(user=annotator).key}


def _schema_file(base_url: str, folder: Path) -> Path:
    """/api/schema/ as served, saved once: generating it takes seconds on a busy machine, more
    than schemathesis waits for a schema."""
    resp = requests.get(f"{base_url}/api/schema/?format=json", timeout=300)
    resp.raise_for_status()
    path = folder / "schema.json"
    path.write_bytes(resp.content)
    return path


def _schemathesis(base_url: str, token: str, report: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ST), "run", str(_schema_file(base_url, report.parent)), "--url", base_url,
         "--checks", "not_a_server_error", "--header", f"Authorization: Token {token}",
         "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED), "--workers", "1",
         "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
         "--request-timeout", "60", "--report", "junit", "--report-junit-path", str(report)],
        cwd=report.parent,  # its caches go to the test's folder, not the checkout
        capture_output=True, text=True, timeout=900, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin",
                                                           "HOME": str(report.parent)})


@pytest.mark.parametrize("role", ["admin", "annotator"])
def test_no_generated_request_is_a_server_error(role, live_server, tokens, no_background_jobs,
                                                 tmp_path):
    # given a live server with a campaign, and the role's token
    # when schemathesis sends generated requests to every operation of the schema
    run = _schemathesis(live_server.url, tokens[role], tmp_path / "junit.xml")
    # then none of them was answered 500 (and the run did test: every operation, many cases)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    counts = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert counts and int(counts[1]) == int(counts[2]) >= 500, run.stdout[-3000:]
    tested, selected = (re.search(rf"{word}: (\d+)", run.stdout)[1]
                        for word in ("Tested", "Selected"))
    assert tested == selected, run.stdout[-3000:]
