#!/usr/bin/env bash
# The whole test suite: lint, types, then the tests on SQLite and on a real PostgreSQL server.
# Installs what it needs first (see scripts/install-test-deps.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
status=0
ci=${CI:-}

bash scripts/install-test-deps.sh || exit 1

echo "== ruff"
.venv/bin/ruff check src tests bench || status=1
.venv/bin/ruff format --check src tests bench || status=1
echo "== mypy"
.venv/bin/mypy || status=1

browser_args=()
if [ ! -x /usr/bin/chromium ]; then
  if [ "$ci" = "true" ]; then
    echo "FAIL: Chromium is missing and CI=true: browser tests cannot run" >&2
    status=1
  else
    echo "WARNING: /usr/bin/chromium missing: browser tests are skipped" >&2
  fi
fi

echo "== tests on SQLite"
$PY -m pytest -n 2 "$@" || status=1

pgdir=$(mktemp -d /tmp/privasi-pg-XXXXXX)
port=$((55000 + RANDOM % 1000))
if url=$(bash scripts/pg-test-server.sh start "$pgdir" "$port"); then
  trap 'bash scripts/pg-test-server.sh stop "$pgdir"' EXIT
  echo "== tests on PostgreSQL ($url)"
  PRIVASI_TEST_DATABASE_URL="$url" $PY -m pytest -n 2 -m "db or pg_only" "$@" || status=1
else
  if [ "$ci" = "true" ]; then
    echo "FAIL: PostgreSQL could not be started and CI=true" >&2
    status=1
  else
    echo "WARNING: PostgreSQL could not be started: the PostgreSQL suite is skipped" >&2
  fi
fi
exit $status
