#!/usr/bin/env bash
# Set up (first time) and open inbox_app on your default profile. Extra arguments go to the app,
# e.g. `scripts/run.sh --profile /tmp/trial` or `scripts/run.sh --lang es`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "inbox-app: no display found (DISPLAY/WAYLAND_DISPLAY are unset). Run it from a desktop session," >&2
  echo "or try it on a virtual screen: xvfb-run -a scripts/run.sh" >&2
  exit 1
fi
exec .venv/bin/python -m inbox_app "$@"
