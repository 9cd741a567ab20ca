#!/usr/bin/env bash
# The whole test suite from a fresh checkout: virtual environment, install, the test servers,
# lint, types, tests, the docs build (when scripts/docs.sh exists) and the packaging check.
#
#   bash scripts/test.sh [--no-servers] [--no-package] [PYTEST_ARGS...]
#
# Servers: each one the tests need whose variable (LITEFLOW_MONGO_URI, ...) is not set is
# started with scripts/services.sh (installed first where the machine allows) unless it already
# answers; at exit, only the servers this run started are stopped. A server that cannot be
# started is reported, and its tests are skipped with one summary line (with CI=true: the run
# fails at once). `--no-servers` (or LITEFLOW_TEST_SERVERS=none) starts none; LITEFLOW_TEST_SERVERS
# can also name some, e.g. "redis postgres".
# `--no-package` (or LITEFLOW_TEST_PACKAGE=0) skips scripts/check_package.sh (build, twine check,
# the installed wheel in clean virtual environments), the slow part of a quick local run.
# Other arguments go to pytest, e.g. `bash scripts/test.sh --no-package -k events`.
set -euo pipefail
cd "$(dirname "$0")/.."

SERVERS=${LITEFLOW_TEST_SERVERS:-redis rabbitmq azurite mongo postgres chromium}
PACKAGE=${LITEFLOW_TEST_PACKAGE:-1}
while [[ $# -gt 0 ]]; do
    case $1 in
        --no-servers) SERVERS=none ;;
        --no-package) PACKAGE=0 ;;
        *) break ;;
    esac
    shift
done
[[ $SERVERS == none ]] && SERVERS=""

# The variable that points the tests at each server: set by the caller, it is used as it is.
server_variable() {
    case $1 in
        redis) echo LITEFLOW_REDIS_URLS ;;
        rabbitmq) echo LITEFLOW_RABBITMQ_URL ;;
        azurite) echo LITEFLOW_AZURE_CONNECTION_STRING ;;
        mongo) echo LITEFLOW_MONGO_URI ;;
        postgres) echo LITEFLOW_POSTGRES_URL ;;
        chromium) echo LITEFLOW_CHROMIUM ;;
        *) echo "test.sh: unknown server '$1' in LITEFLOW_TEST_SERVERS" >&2; exit 2 ;;
    esac
}

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[all,dev]'

STARTED=()
MISSING=()
# One line per server that could not be started: its tests are skipped, and how to provide one.
report_missing() {
    local server
    for server in "${MISSING[@]}"; do
        echo "$server: could not be started here, its tests are skipped; to run them, set $(server_variable "$server")" \
            "to a server of yours (scripts/README.md)"
    done
}
stop_started() {
    if [[ ${#STARTED[@]} -gt 0 ]]; then
        echo "== stopping the servers this run started: ${STARTED[*]}"
        bash scripts/services.sh stop "${STARTED[@]}" || true
    fi
}
trap stop_started EXIT

if [[ -n $SERVERS ]]; then
    echo "== servers"
    declare -A GIVEN=()
    for server in $SERVERS; do
        variable=$(server_variable "$server")
        if [[ -n ${!variable:-} ]]; then
            GIVEN[$variable]=${!variable}
            echo "$server: using $variable from the environment"
            continue
        fi
        # `start` reuses a server that answers (and installs what its tests need beside it,
        # such as mongoeco's interpreter); only one that was down before is stopped at exit.
        was_up=0
        bash scripts/services.sh status "$server" >/dev/null 2>&1 && was_up=1
        if bash scripts/services.sh start "$server"; then
            [[ $was_up == 1 ]] || STARTED+=("$server")
        else
            MISSING+=("$server")
        fi
    done
    eval "$(bash scripts/services.sh env)"
    for variable in "${!GIVEN[@]}"; do export "$variable=${GIVEN[$variable]}"; done
    report_missing
    if [[ ${#MISSING[@]} -gt 0 && -n ${CI:-} ]]; then
        echo "test.sh: CI=true and these servers could not be started: ${MISSING[*]}" >&2
        exit 1
    fi
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/python -m pytest "$@"
if [[ -f scripts/docs.sh ]]; then
    echo "== docs"
    bash scripts/docs.sh
fi
if [[ $PACKAGE != 0 ]]; then
    echo "== package"
    bash scripts/check_package.sh
fi
if [[ ${#MISSING[@]} -gt 0 ]]; then
    echo "== not tested here"
    report_missing
fi
