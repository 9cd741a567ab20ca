#!/usr/bin/env bash
# The whole test suite from a fresh checkout: virtual environment, install, lint, types, tests.
# Tests of a provider whose server is not running are skipped with a one-line reason
# (start them first with `bash scripts/services.sh start`); with CI=true they fail instead.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -k events`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
