#!/usr/bin/env bash
# The test command: installs everything, starts PostgreSQL and Redis on loopback, then runs
# the unit tests on the embedded default (SQLite, inline tasks) and the integration tests on
# PostgreSQL with Redis and real Celery workers. Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
eval "$(scripts/services.sh)"
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium || true)}
.venv/bin/ruff check .
status=0
# Unit tests, browser tests: SQLite and inline tasks.
env -u DATABASE_URL -u REDIS_URL .venv/bin/pytest -m "not integration" "$@" || status=$?
# Integration tests: the same code on PostgreSQL, Redis and Celery workers.
.venv/bin/pytest -m integration "$@" || status=$?
# The task-assignment hot paths have hand-written SQL on PostgreSQL: run their unit tests there too.
.venv/bin/pytest -m "not integration and not browser" tests/annotation/test_tasks.py \
  tests/annotation/test_api.py tests/annotation/test_permissions.py "$@" || status=$?
exit $status
