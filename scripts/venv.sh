#!/usr/bin/env bash
# Create .venv and install privasi into it (with dev dependencies when called with `dev`).
# Re-installs only when pyproject.toml changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
fi
stamp=".venv/.installed${extra:+-$extra}"
fresh() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ]; }
# A dev install contains the plain one.
if fresh "$stamp" || { [ -z "$extra" ] && fresh .venv/.installed-dev; }; then
  exit 0
fi
if true; then
  if [ -n "$extra" ]; then spec=".[$extra]"; else spec="."; fi
  .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi
