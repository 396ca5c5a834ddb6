#!/usr/bin/env bash
# The test command: installs everything, starts Redis on loopback (and installs Chromium), then
# runs ruff, the unit and browser tests (Celery tasks inline), and the integration tests (Redis
# and real Celery worker processes), all on the embedded PostgreSQL (var/pgdata, started on
# first use). Extra arguments go to both pytest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
eval "$(scripts/services.sh)"
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium || true)}
.venv/bin/ruff check .
status=0
# Unit tests, browser tests: Celery tasks inline.
env -u DATABASE_URL -u REDIS_URL .venv/bin/pytest -m "not integration" "$@" || status=$?
# Integration tests: the same code with Redis and Celery worker processes.
env -u DATABASE_URL .venv/bin/pytest -m integration "$@" || status=$?
exit $status
