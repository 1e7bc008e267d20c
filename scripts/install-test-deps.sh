#!/usr/bin/env bash
# What the test run needs on a fresh Debian machine: the venv with dev dependencies, Debian's
# postgresql and chromium (installed only when missing, and only when running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/venv.sh dev

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing ${need[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # Debian starts a cluster of its own on install; the tests run their own server instead.
    if command -v pg_lsclusters >/dev/null; then
      pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
        pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
      done
    fi
  else
    echo "WARNING: missing ${need[*]}; install them (as root: apt-get install ${need[*]})" >&2
  fi
fi
