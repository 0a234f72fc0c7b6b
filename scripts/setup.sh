#!/usr/bin/env bash
# Set up Handa on a fresh Debian/Ubuntu machine: system packages, a virtualenv, the package.
# Idempotent: a second run only checks. Usage: scripts/setup.sh   (then use .venv/bin/handa)
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# A font with Hangul, so Korean renders as text in sim screenshots.
fc-list 2>/dev/null | grep -qi nanum || need_apt+=(fonts-nanum)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
command -v fc-list >/dev/null || need_apt+=(fontconfig)
# The desktop controller: a virtual X server, a window manager, the accessibility bus, and the
# real apps its tests drive (GTK 3's widget factory, xterm, Chromium).
command -v Xvfb >/dev/null || need_apt+=(xvfb)
command -v openbox >/dev/null || need_apt+=(openbox)
command -v dbus-daemon >/dev/null || need_apt+=(dbus)
[ -x /usr/libexec/at-spi-bus-launcher ] || [ -x /usr/lib/at-spi2-core/at-spi-bus-launcher ] || need_apt+=(at-spi2-core)
command -v gtk3-widget-factory >/dev/null || need_apt+=(gtk-3-examples)
command -v xterm >/dev/null || need_apt+=(xterm)
command -v xrandr >/dev/null || need_apt+=(x11-xserver-utils)
command -v chromium >/dev/null || need_apt+=(chromium)
if ((${#need_apt[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing ${need_apt[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "setup: please install: sudo apt-get install ${need_apt[*]}" >&2
  fi
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import agent.cli, pytest" 2>/dev/null || [ pyproject.toml -nt .venv/.handa-installed ]; then
  echo "setup: installing handa and its dependencies into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[test]"
  # pyautogui pulls in the old python3-xlib, which installs into the same Xlib package: keep python-xlib's
  if ! .venv/bin/python -c "import sys, Xlib; sys.exit(Xlib.__version__ < (0, 33))" 2>/dev/null; then
    .venv/bin/python -m pip install -q --force-reinstall --no-deps "python-xlib>=0.33"
  fi
  touch .venv/.handa-installed
fi
