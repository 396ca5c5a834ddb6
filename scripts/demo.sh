#!/usr/bin/env bash
# The demo: installs everything, imports the shipped demo library, embeds it, opens a
# campaign with candidate sets and starts the web server on http://127.0.0.1:8000/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py demo_setup
exec .venv/bin/python manage.py runserver "${DEMO_ADDR:-127.0.0.1:8000}"
