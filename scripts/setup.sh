#!/usr/bin/env bash
# Creates .venv and installs the project with its test tools (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.stickersim-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip
  # torch 2.14.1 + torchvision 0.29.1 are what OpenCLIP needs; pip takes them from PyPI.
  .venv/bin/pip install -q -e '.[dev]'
  touch "$stamp"
fi
