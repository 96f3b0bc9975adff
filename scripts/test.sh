#!/usr/bin/env bash
# Set up (first time) and run every check: ruff, mypy, and the whole pytest suite (unit, real-server
# integration tests with Dovecot and aiosmtpd, and offscreen Qt tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen
echo "== ruff"; .venv/bin/python -m ruff check inbox_app tests benchmarks
.venv/bin/python -m ruff format --check inbox_app tests benchmarks
echo "== mypy"; .venv/bin/python -m mypy inbox_app
echo "== pytest"; .venv/bin/python -m pytest -n 2 "$@"
