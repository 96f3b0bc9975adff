#!/usr/bin/env bash
# Installs what inbox_app needs on a fresh Debian/Ubuntu machine, idempotently:
#   system packages (Qt's X11 libraries; with --test also Dovecot, isync and Xvfb for the real-server tests),
#   a virtual environment in .venv with the app and its Python dependencies, compiled translations.
# Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

apt_packages=(python3 python3-venv python3-pip
  libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 libegl1 libgl1 libfontconfig1 libdbus-1-3)
if [ "$want_test" = 1 ]; then
  apt_packages+=(dovecot-imapd isync xvfb)
fi

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3/python3-venv are not needed when a usable python3 with venv is already on PATH (e.g. pyenv).
if python3 -c "import venv, ensurepip" 2>/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do
    case "$p" in python3|python3-venv|python3-pip) ;; *) filtered+=("$p") ;; esac
  done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "inbox-app setup: these system packages are missing: ${missing[*]}" >&2
    echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "Installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.inbox-app-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[test]"
  touch "$stamp"
fi
.venv/bin/python -m inbox_app.i18n_build compile >/dev/null
