#!/usr/bin/env bash
# Builds the documentation site from docs/ with a strict MkDocs build: a broken link or anchor,
# a missing page, a snippet whose file is gone or an API reference entry that does not resolve
# fails it. The site goes to site/ (ignored by git); `bash scripts/docs.sh serve` serves it
# instead on http://127.0.0.1:8000/ and rebuilds on every change.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[docs]'

export NO_MKDOCS_2_WARNING=1
if [ "${1:-}" = "serve" ]; then
    exec .venv/bin/mkdocs serve --strict
fi
exec .venv/bin/mkdocs build --strict --clean --site-dir site
