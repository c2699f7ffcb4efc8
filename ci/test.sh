#!/usr/bin/env bash
# The test command behind `make test` (and so behind CI): the default pytest run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
exec "$PY" -m pytest -q test "$@"
