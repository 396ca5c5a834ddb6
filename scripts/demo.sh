#!/usr/bin/env bash
# The demo: installs everything, starts the embedded PostgreSQL (var/pgdata), imports the
# shipped demo library, embeds it, opens a campaign with candidate sets and starts the web
# server on http://127.0.0.1:8000/. Ctrl-C stops the web server and then the database cleanly;
# a demo killed hard restarts on the same data with nothing lost.
set -euo pipefail
cd "$(dirname "$0")/.."
# A development server: DEBUG on (the published dev key is accepted only then). A deploy
# leaves DJANGO_DEBUG unset and sets DJANGO_SECRET_KEY (README, "Deploy").
export DJANGO_DEBUG="${DJANGO_DEBUG:-1}"
scripts/setup.sh
if [ -z "${DATABASE_URL:-}" ]; then
  .venv/bin/python -m config.embedded_postgres start
  trap '.venv/bin/python -m config.embedded_postgres stop' EXIT
fi
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py demo_setup
# The worker: pair builds, snapshots and GSE training run here, never in a web request; with
# REDIS_URL unset its broker is the same PostgreSQL (jobs/broker.py). A job it was running when
# killed runs again when it restarts. The text model falls back to the offline all-MiniLM-L6-v2
# when TEXT_MODEL cannot be loaded (named in this log and on the campaign page).
export TEXT_MODEL_FALLBACK="${TEXT_MODEL_FALLBACK:-offline}"
# Likewise a GSE training starts from the shipped demo encoder when GSE_MODEL's weights are out
# of reach (named in this log and in the trained model's note on the campaign page).
export GSE_BASE_FALLBACK="${GSE_BASE_FALLBACK:-demo}"
.venv/bin/celery -A config worker -Q default,gpu --concurrency 2 --loglevel INFO \
  --without-gossip --without-mingle --without-heartbeat &
worker=$!
previous_exit_trap=$(trap -p EXIT | sed -E "s/^trap -- '(.*)' EXIT$/\1/")
# Ctrl-C: the worker stops (a running job is finished or left to be taken up again), then the
# database.
# (`|| true`: a worker ended by the signal makes `wait` fail, and under `set -e` that failure
# would end the trap before the database is stopped.)
trap "kill -TERM $worker 2>/dev/null; wait $worker 2>/dev/null || true; ${previous_exit_trap:-true}" EXIT
.venv/bin/python manage.py runserver "${DEMO_ADDR:-127.0.0.1:8000}"
