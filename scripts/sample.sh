#!/usr/bin/env bash
# Runs the main sample from a fresh checkout: virtual environment, install, run.
# Extra arguments name another sample, e.g. `bash scripts/sample.sh samples/03_events.py`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e .
exec .venv/bin/python "${1:-samples/main.py}"
