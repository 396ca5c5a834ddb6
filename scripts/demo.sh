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
.venv/bin/python manage.py runserver "${DEMO_ADDR:-127.0.0.1:8000}"
