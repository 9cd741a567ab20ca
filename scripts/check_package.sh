#!/usr/bin/env bash
# The package as users get it: build the sdist and the wheel (the wheel from the sdist, so a
# file missing from the sdist shows), `twine check` them, look inside the wheel, install it with
# each extra into a clean virtual environment, and run the samples (the seed's snippets among
# them), the code written for liteflow.core 0.3.1 and the public-API test against that installed
# wheel, from a directory outside the checkout. Called by scripts/test.sh; needs its .venv.
# The tests read the servers' addresses from the environment, as in scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

WORK=$(mktemp -d "${TMPDIR:-/tmp}/liteflow-package.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)

step() { echo "-- [$(($(date +%s) - t0)) s] $*"; }
step "build (sdist, then the wheel from it)"
"$PY" -m build --outdir "$WORK/dist" . >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/liteflow-*.tar.gz)
WHEEL=$(ls "$WORK"/dist/liteflow-*.whl)
echo "$(basename "$SDIST") $(basename "$WHEEL")"

step "twine check"
"$PY" -m twine check --strict "$SDIST" "$WHEEL"

step "wheel contents"
"$PY" - "$WHEEL" <<'EOF'
"""py.typed in every top-level package, the dashboard's files, no tests, bench or samples."""
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
packages = sorted({name.split("/")[0] for name in names if "/" in name and ".dist-info" not in name})
expected = ["liteflow", "liteflow_azure", "liteflow_mongo", "liteflow_postgres", "liteflow_rabbitmq", "liteflow_redis"]
problems = [f"top-level packages are {packages}, expected {expected}"] if packages != expected else []
problems += [f"{package}/py.typed is missing" for package in packages if f"{package}/py.typed" not in names]
problems += [f"{name} is missing" for name in ("liteflow/dashboard/static/app.js", "liteflow/dashboard/static/style.css")
             if name not in names]
problems += [f"{name} should not ship" for name in names if name.split("/")[0] in {"tests", "bench", "samples", "scripts"}]
if problems:
    sys.exit("wheel: " + "; ".join(problems))
print(f"{len(names)} files; py.typed in {', '.join(packages)}")
EOF

step "wheelhouse: the wheel's dependencies with every extra, resolved once"
"$PY" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$WORK/wheels" "$WHEEL[all,dev]" \
    >"$WORK/wheels.log" 2>&1 || { tail -n 30 "$WORK/wheels.log"; exit 1; }

# new_venv NAME REQUIREMENT: a clean virtual environment with only REQUIREMENT, from the
# wheelhouse (no pip of its own: the checkout's pip installs into it; no .pyc compiled ahead).
new_venv() {
    "$PY" -m venv --without-pip "$WORK/venv-$1"
    "$PY" -m pip --python "$WORK/venv-$1/bin/python" install --quiet --disable-pip-version-check \
        --no-compile --no-index --find-links "$WORK/wheels" "$2" >"$WORK/pip-$1.log" 2>&1 ||
        { tail -n 30 "$WORK/pip-$1.log"; return 1; }
}

# Run Python in a venv from a directory outside the checkout, the script's own directory kept
# off sys.path, so `import liteflow` can only find the installed wheel.
mkdir -p "$WORK/run"
in_venv() { (cd "$WORK/run" && PYTHONSAFEPATH=1 "$WORK/venv-$1/bin/python" "${@:2}"); }

# imports VENV MODULE...: each module imports, from the venv's site-packages.
imports() {
    in_venv "$1" - "${@:2}" <<'EOF'
import importlib
import sys

for name in sys.argv[1:]:
    module = importlib.import_module(name)
    if not module.__file__.startswith(sys.prefix):
        sys.exit(f"{name} was imported from {module.__file__}, not from the installed wheel")
EOF
}

step "no extra: the core alone"
new_venv core "$WHEEL"
imports core liteflow liteflow.core liteflow.core.testing liteflow.operate liteflow.cli
in_venv core - <<'EOF'
"""The version comes from one place: the installed metadata says what liteflow.__version__ says."""
import importlib.metadata

import liteflow

assert importlib.metadata.version("liteflow") == liteflow.__version__, liteflow.__version__
print(f"liteflow {liteflow.__version__}")
EOF
"$WORK/venv-core/bin/liteflow" --help >/dev/null
in_venv core "$ROOT/samples/01_hello_world.py"

# extra_modules EXTRA: the modules that EXTRA makes importable.
extra_modules() {
    case $1 in
        azure) echo liteflow_azure liteflow.providers.azure ;;
        mongo) echo liteflow_mongo liteflow.providers.mongo ;;
        rabbitmq) echo liteflow_rabbitmq ;;
        redis) echo liteflow_redis ;;
        otel) echo liteflow.otel ;;
        postgres) echo liteflow_postgres ;;
        dashboard) echo liteflow.dashboard liteflow.dashboard._serve ;;
        cron) echo liteflow.core.cron cronsim ;;
    esac
}
check_extra() {
    # shellcheck disable=SC2046 # a list of module names
    new_venv "$1" "$WHEEL[$1]" && imports "$1" $(extra_modules "$1") && echo "extra $1: imports"
}
# One clean venv per extra, two at a time (pip keeps one core busy).
step "each extra in a clean venv"
export -f new_venv imports in_venv extra_modules check_extra
export PY WORK WHEEL
printf '%s\n' azure mongo rabbitmq redis otel postgres dashboard cron |
    xargs -P 2 -I{} bash -c 'check_extra "$1" || { echo "extra $1: FAILED" >&2; exit 1; }' _ {}

step "extras all,dev: the samples, the 0.3.1-style code and the public API, on the installed wheel"
new_venv all "$WHEEL[all,dev]"
cp -r "$ROOT/tests" "$ROOT/samples" "$ROOT/pyproject.toml" "$WORK/run/"
in_venv all -m pytest -q -p no:cacheprovider \
    tests/scenarios/test_samples.py tests/scenarios/test_original_style.py tests/unit/test_public_api.py
step "package checked"
