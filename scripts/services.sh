#!/usr/bin/env bash
# Install, start, check and stop the servers LiteFlow's tests talk to.
#
#   bash scripts/services.sh start [SERVER...]    install if needed, start (a running one is reused)
#   bash scripts/services.sh stop [SERVER...]     stop only what this script started (safe twice)
#   bash scripts/services.sh status [SERVER...]   one line per server; exit 1 if any is down
#   bash scripts/services.sh env                  print the `export` lines the tests read
#   bash scripts/services.sh restart-rabbitmq     stop + start the broker, wait until ready
#   bash scripts/services.sh stop-redis PORT      stop one of our Redis servers (fault tests)
#   bash scripts/services.sh start-redis PORT     start it again
#
# SERVER is one of: redis rabbitmq azurite mongo postgres chromium (default: all; chromium
# is the dashboard tests' browser, installed, not started). State, logs and installs live
# under .services/ in the checkout (git-ignored). See scripts/README.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SVC="$ROOT/.services"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

REDIS_PORTS=(6390 6391 6392)
RABBITMQ_PORT=${SERVICES_RABBITMQ_PORT:-5672} # another port: a private node (see rabbit_private_node)
EPMD_PORT=${ERL_EPMD_PORT:-4369}
AZURITE_VERSION=3.35.0
AZURITE_PORTS=(10000 10001 10002) # blob, queue, table
MONGO_PORT=27018
MONGO_PIP_SPECS=("mongoeco[wire]==4.11.0" "pymongo>=4.20,<5")
MONGO_VENV="$SVC/mongoeco-venv"
POSTGRES_PORT=5432
ALL_SERVERS=(redis rabbitmq azurite mongo postgres chromium)
CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

# Deadlines in seconds (override through the environment if a machine is slow).
REDIS_DEADLINE=${SERVICES_REDIS_DEADLINE:-15}
RABBITMQ_DEADLINE=${SERVICES_RABBITMQ_DEADLINE:-90}
AZURITE_DEADLINE=${SERVICES_AZURITE_DEADLINE:-45}
MONGO_DEADLINE=${SERVICES_MONGO_DEADLINE:-30}
POSTGRES_DEADLINE=${SERVICES_POSTGRES_DEADLINE:-60}
STOP_DEADLINE=${SERVICES_STOP_DEADLINE:-20}

AZURITE_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

# ---------------------------------------------------------------- helpers

say() { printf '%s\n' "$*"; }
die() { printf 'services.sh: ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
past() { awk -v d="$1" -v n="$(now)" 'BEGIN { exit !(n > d) }'; } # past DEADLINE_TS
deadline_in() { awk -v s="$1" -v n="$(now)" 'BEGIN { printf "%.3f", n + s }'; }

# tcp_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
tcp_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
port_closed() { ! tcp_open "$1"; }

# http_answers PORT: an HTTP server answers (any status) on 127.0.0.1:PORT.
http_answers() {
    local out
    out=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 || exit 1
        printf 'GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
        head -c 5 <&3" 2>/dev/null) || true
    [[ $out == HTTP/ ]]
}

# pid_running PIDFILE PATTERN: prints the pid if PIDFILE names a live process
# whose command line contains PATTERN (guards against a reused pid).
pid_running() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(tr -dc '0-9' <"$1")
    [[ -n $pid ]] && pid_alive "$pid" || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2" || return 1
    printf '%s\n' "$pid"
}

# pid_alive PID: the process exists and is not a zombie (a daemon's exited
# process can stay a zombie for seconds until PID 1 reaps it).
pid_alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# stop_pid NAME PID LOG: SIGTERM, wait, SIGKILL at the deadline.
stop_pid() {
    local name=$1 pid=$2 log=$3 deadline
    kill -TERM "$pid" 2>/dev/null || return 0
    deadline=$(deadline_in "$STOP_DEADLINE")
    while pid_alive "$pid"; do
        if past "$deadline"; then
            say "$name: did not stop within ${STOP_DEADLINE}s after SIGTERM, sending SIGKILL (log: $log)" >&2
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.2
            return 0
        fi
        sleep 0.1
    done
}

# wait_ready NAME LOG DEADLINE_S PID CHECK...: poll CHECK until it succeeds; fail
# when the deadline passes, or at once when PID (if not "-") has exited.
wait_ready() {
    local name=$1 log=$2 secs=$3 pid=$4 deadline
    shift 4
    deadline=$(deadline_in "$secs")
    until "$@"; do
        if [[ $pid != - ]] && ! pid_alive "$pid"; then
            tail -n 20 "$log" >&2 2>/dev/null || true
            die "$name exited before it was ready (log: $log)"
        fi
        if past "$deadline"; then
            tail -n 20 "$log" >&2 2>/dev/null || true
            die "$name not ready after ${secs}s (log: $log)"
        fi
        sleep 0.2
    done
}

APT_UPDATED=0
apt_install() {
    local log="$SVC/install.log"
    command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
    if [[ $APT_UPDATED == 0 ]]; then
        say "apt-get update (log: $log)"
        apt-get update >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "apt-get update failed (log: $log)"; }
        APT_UPDATED=1
    fi
    say "apt-get install $* (log: $log)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "apt-get install $* failed (log: $log)"; }
}

# ---------------------------------------------------------------- Redis

redis_dir() { printf '%s/redis-%s\n' "$SVC" "$1"; }
redis_ping() { [[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }
redis_our_pid() { pid_running "$(redis_dir "$1")/redis.pid" "redis-server"; }

ensure_redis_installed() {
    command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
    apt_install redis-server
}

start_redis() {
    local port=$1 dir pid
    dir=$(redis_dir "$port")
    if redis_ping "$port"; then
        if pid=$(redis_our_pid "$port"); then
            say "redis $port: already running (pid $pid)"
        else
            say "redis $port: reusing server already on port $port (not ours)"
        fi
        return 0
    fi
    tcp_open "$port" && die "redis $port: port $port is taken by something that does not answer Redis PING"
    ensure_redis_installed
    mkdir -p "$dir"
    rm -f "$dir/redis.pid"
    redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
        --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 ||
        { tail -n 20 "$dir/redis.log" >&2 2>/dev/null || true; die "redis $port: redis-server failed to start (log: $dir/redis.log)"; }
    wait_ready "redis $port" "$dir/redis.log" "$REDIS_DEADLINE" - redis_ping "$port"
    say "redis $port: started (pid $(redis_our_pid "$port" || echo '?'))"
}

stop_redis() { # stop_redis PORT STRICT
    local port=$1 strict=${2:-0} dir pid
    dir=$(redis_dir "$port")
    if pid=$(redis_our_pid "$port"); then
        stop_pid "redis $port" "$pid" "$dir/redis.log"
        rm -f "$dir/redis.pid"
        say "redis $port: stopped"
    elif redis_ping "$port"; then
        [[ $strict == 1 ]] && die "redis $port: the server on port $port was not started by this script; not stopping it"
        say "redis $port: not started by this script, left running"
    else
        say "redis $port: not running"
    fi
}

status_redis() {
    local port=$1 pid
    if redis_ping "$port"; then
        if pid=$(redis_our_pid "$port"); then say "redis $port: up (ours, pid $pid)"; else say "redis $port: up (not ours)"; fi
    else
        say "redis $port: DOWN"; return 1
    fi
}

# ---------------------------------------------------------------- RabbitMQ

RABBIT_MARK="$SVC/rabbitmq.started"
[[ $RABBITMQ_PORT == 5672 ]] || RABBIT_MARK="$SVC/rabbitmq-$RABBITMQ_PORT.started"
RABBIT_LOG="$SVC/rabbitmq.log" # plus the broker's own logs in /var/log/rabbitmq/

rabbit_ctl_ready() { timeout 30 rabbitmqctl -q await_startup --timeout 20 >/dev/null 2>&1; }
rabbit_ready() { tcp_open "$RABBITMQ_PORT" && rabbit_ctl_ready; }
rabbit_ours() { [[ -f $RABBIT_MARK ]] && grep -qx 'ours=1' "$RABBIT_MARK"; }
# epmd_pid: the pid of the epmd listening on $EPMD_PORT, if any.
epmd_pid() {
    if command -v ss >/dev/null; then
        ss -Hltnp "sport = :$EPMD_PORT" 2>/dev/null | grep -o '"epmd",pid=[0-9]*' | head -n 1 | cut -d= -f2
    else
        pgrep -x epmd 2>/dev/null | head -n 1
    fi
}

# With SERVICES_RABBITMQ_PORT other than 5672, start and manage a separate node
# (own name, config and listener) beside the machine's broker: this is how the
# "started by us" path can be tested on a machine whose broker already runs.
rabbit_private_node() {
    [[ $RABBITMQ_PORT == 5672 ]] && return 0
    export RABBITMQ_NODENAME="liteflow$RABBITMQ_PORT@localhost"
    export RABBITMQ_NODE_PORT=$RABBITMQ_PORT
    local dir="$SVC/rabbitmq-$RABBITMQ_PORT"
    export RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
    export RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
    mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    printf 'listeners.tcp.local = 127.0.0.1:%s\n' "$RABBITMQ_PORT" >"$RABBITMQ_CONFIG_FILE"
    if id rabbitmq >/dev/null 2>&1; then chown rabbitmq: "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"; fi
}

# Start the broker and poll `rabbitmqctl -q await_startup` (exit 69 while booting).
rabbit_launch() {
    {
        printf '%s rabbitmq-server -detached\n' "$(date -Is)"
        RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 \
            rabbitmq-server -detached </dev/null 2>&1
    } >>"$RABBIT_LOG" 2>&1 || { tail -n 20 "$RABBIT_LOG" >&2; die "rabbitmq: rabbitmq-server -detached failed (log: $RABBIT_LOG, /var/log/rabbitmq/)"; }
    local deadline rc
    deadline=$(deadline_in "$RABBITMQ_DEADLINE")
    while true; do
        rc=0
        timeout 30 rabbitmqctl -q await_startup --timeout 10 >>"$RABBIT_LOG" 2>&1 || rc=$?
        [[ $rc == 0 ]] && tcp_open "$RABBITMQ_PORT" && break
        if past "$deadline"; then
            tail -n 20 "$RABBIT_LOG" >&2 || true
            die "rabbitmq not ready after ${RABBITMQ_DEADLINE}s (last rabbitmqctl exit $rc; logs: $RABBIT_LOG, /var/log/rabbitmq/)"
        fi
        sleep 0.5
    done
}

start_rabbitmq() {
    mkdir -p "$SVC"
    if tcp_open "$RABBITMQ_PORT"; then
        if rabbit_ours; then
            rabbit_ctl_ready || die "rabbitmq: port $RABBITMQ_PORT is open but rabbitmqctl await_startup fails (logs: $RABBIT_LOG, /var/log/rabbitmq/)"
            say "rabbitmq: already running (started by this script)"
        elif command -v rabbitmqctl >/dev/null && rabbit_ctl_ready; then
            printf 'ours=0\n' >"$RABBIT_MARK"
            say "rabbitmq: reusing running broker"
        else
            printf 'ours=0\n' >"$RABBIT_MARK"
            say "rabbitmq: reusing server on port $RABBITMQ_PORT (rabbitmqctl cannot reach it; restart-rabbitmq will not work)"
        fi
        return 0
    fi
    if ! command -v rabbitmq-server >/dev/null || ! command -v rabbitmqctl >/dev/null; then
        apt_install rabbitmq-server
        # The package may have started the broker itself; it is ours either way.
        if tcp_open "$RABBITMQ_PORT" && rabbit_ctl_ready; then
            printf 'ours=1\nepmd_preexisting=0\n' >"$RABBIT_MARK"
            say "rabbitmq: installed and started"
            return 0
        fi
    fi
    local epmd_pre=0
    if [[ -n "$(epmd_pid)" ]]; then epmd_pre=1; fi
    printf 'ours=1\nepmd_preexisting=%s\n' "$epmd_pre" >"$RABBIT_MARK"
    rabbit_launch
    say "rabbitmq: started"
}

stop_rabbitmq() {
    if ! rabbit_ours; then
        if tcp_open "$RABBITMQ_PORT"; then say "rabbitmq: not started by this script, left running"; else say "rabbitmq: not running"; fi
        rm -f "$RABBIT_MARK"
        return 0
    fi
    timeout 60 rabbitmqctl -q shutdown >>"$RABBIT_LOG" 2>&1 || true
    if ! grep -qx 'epmd_preexisting=1' "$RABBIT_MARK"; then
        local pid
        pid=$(epmd_pid)
        if [[ -n $pid ]]; then stop_pid "epmd" "$pid" "$RABBIT_LOG"; fi
    fi
    rm -f "$RABBIT_MARK"
    say "rabbitmq: stopped"
}

restart_rabbitmq() {
    local t0
    t0=$(now)
    mkdir -p "$SVC"
    if rabbit_ours; then
        timeout 60 rabbitmqctl -q shutdown >>"$RABBIT_LOG" 2>&1 || true
        wait_ready "rabbitmq (shutdown)" "$RABBIT_LOG" "$STOP_DEADLINE" - port_closed "$RABBITMQ_PORT"
        rabbit_launch
        say "rabbitmq: restarted in $(elapsed_since "$t0")s"
    elif tcp_open "$RABBITMQ_PORT"; then
        # The machine's own broker: restart the RabbitMQ application inside the
        # node; this closes every client connection and the AMQP listener.
        command -v rabbitmqctl >/dev/null || die "rabbitmq: rabbitmqctl not found, cannot restart the broker"
        timeout 60 rabbitmqctl -q stop_app >>"$RABBIT_LOG" 2>&1 || die "rabbitmq: rabbitmqctl stop_app failed (log: $RABBIT_LOG)"
        timeout 120 rabbitmqctl -q start_app >>"$RABBIT_LOG" 2>&1 || die "rabbitmq: rabbitmqctl start_app failed (log: $RABBIT_LOG)"
        wait_ready "rabbitmq" "$RABBIT_LOG" "$RABBITMQ_DEADLINE" - rabbit_ready
        say "rabbitmq: restarted (stop_app/start_app on the machine's broker) in $(elapsed_since "$t0")s"
    else
        start_rabbitmq
    fi
}

status_rabbitmq() {
    if rabbit_ready; then
        if rabbit_ours; then say "rabbitmq: up (ours)"; else say "rabbitmq: up (not ours)"; fi
    elif tcp_open "$RABBITMQ_PORT"; then
        say "rabbitmq: port $RABBITMQ_PORT open, but rabbitmqctl await_startup fails"; return 1
    else
        say "rabbitmq: DOWN"; return 1
    fi
}

# ---------------------------------------------------------------- Azurite

AZ_DIR="$SVC/azurite"
AZ_PID="$SVC/azurite.pid"
AZ_LOG="$SVC/azurite.log"

azurite_ready() { http_answers "${AZURITE_PORTS[0]}" && http_answers "${AZURITE_PORTS[1]}"; }
azurite_installed() {
    [[ -x $AZ_DIR/node_modules/.bin/azurite ]] &&
        grep -q "\"version\": *\"$AZURITE_VERSION\"" "$AZ_DIR/node_modules/azurite/package.json" 2>/dev/null
}

ensure_azurite_installed() {
    azurite_installed && return 0
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then apt_install nodejs npm; fi
    mkdir -p "$AZ_DIR"
    # Own package.json so npm never walks up into the checkout's.
    [[ -f $AZ_DIR/package.json ]] || printf '{\n  "name": "liteflow-test-azurite",\n  "private": true\n}\n' >"$AZ_DIR/package.json"
    local t0 log="$SVC/install.log"
    t0=$(now)
    (cd "$AZ_DIR" && npm install --no-audit --no-fund "azurite@$AZURITE_VERSION") >>"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "azurite: npm install azurite@$AZURITE_VERSION failed (log: $log)"; }
    azurite_installed || die "azurite: npm install finished but node_modules/.bin/azurite is missing (log: $log)"
    say "azurite: installed azurite@$AZURITE_VERSION with npm in $(elapsed_since "$t0")s"
}

start_azurite() {
    local pid p
    if azurite_ready; then
        if pid=$(pid_running "$AZ_PID" azurite); then
            say "azurite: already running (pid $pid)"
        else
            say "azurite: reusing server already on ports ${AZURITE_PORTS[0]}/${AZURITE_PORTS[1]} (not ours)"
        fi
        return 0
    fi
    for p in "${AZURITE_PORTS[@]}"; do
        tcp_open "$p" && die "azurite: port $p is taken but Azurite does not answer on ${AZURITE_PORTS[0]} and ${AZURITE_PORTS[1]}"
    done
    ensure_azurite_installed
    printf -- '--- %s services.sh start azurite\n' "$(date -Is)" >>"$AZ_LOG"
    (
        cd "$AZ_DIR"
        exec setsid node_modules/.bin/azurite --silent --disableTelemetry --skipApiVersionCheck --loose \
            --inMemoryPersistence --blobHost 127.0.0.1 --queueHost 127.0.0.1 --tableHost 127.0.0.1 \
            </dev/null >>"$AZ_LOG" 2>&1
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$AZ_PID"
    wait_ready "azurite" "$AZ_LOG" "$AZURITE_DEADLINE" "$pid" azurite_ready
    say "azurite: started (pid $pid)"
}

stop_azurite() {
    local pid
    if pid=$(pid_running "$AZ_PID" azurite); then
        stop_pid "azurite" "$pid" "$AZ_LOG"
        say "azurite: stopped"
    elif azurite_ready; then
        say "azurite: not started by this script, left running"
    else
        say "azurite: not running"
    fi
    rm -f "$AZ_PID"
}

status_azurite() {
    local pid
    if azurite_ready; then
        if pid=$(pid_running "$AZ_PID" azurite); then say "azurite: up (ours, pid $pid)"; else say "azurite: up (not ours)"; fi
    else
        say "azurite: DOWN"; return 1
    fi
}

# ---------------------------------------------------------------- MongoDB wire server (mongoeco)

MONGO_PID="$SVC/mongo.pid"
MONGO_LOG="$SVC/mongo.log"
MONGO_STAMP="$MONGO_VENV/.liteflow-installed"

# Prints a Python 3.13 interpreter, installing one from Debian if none is found.
find_python313() {
    local root="" cand best=""
    if command -v pyenv >/dev/null; then root=$(pyenv root 2>/dev/null || true); fi
    [[ -z $root && -d $HOME/.pyenv ]] && root=$HOME/.pyenv
    if [[ -n $root ]]; then
        for cand in "$root"/versions/3.13.*/bin/python3.13; do
            [[ -x $cand ]] && best=$cand # glob order: last is usually the newest
        done
        if [[ -n $best ]]; then printf '%s\n' "$best"; return 0; fi
    fi
    for cand in /usr/bin/python3.13 /usr/local/bin/python3.13 "$(command -v python3.13 || true)"; do
        [[ -n $cand && -x $cand ]] || continue
        if "$cand" -c 'import sys, venv; assert sys.version_info[:2] == (3, 13)' 2>/dev/null; then
            printf '%s\n' "$cand"; return 0
        fi
    done
    apt_install python3.13 python3.13-venv >&2
    [[ -x /usr/bin/python3.13 ]] || die "mongo: no Python 3.13 found (pyenv, PATH) and Debian did not provide one"
    printf '%s\n' /usr/bin/python3.13
}

ensure_mongo_installed() {
    local want="${MONGO_PIP_SPECS[*]}"
    [[ -x $MONGO_VENV/bin/python && -f $MONGO_STAMP && "$(cat "$MONGO_STAMP")" == "$want" ]] && return 0
    local py ver t0 log="$SVC/install.log"
    py=$(find_python313)
    ver=$(basename "$(dirname "$(dirname "$py")")") # pyenv version dir name, e.g. 3.13.0
    [[ $ver == 3.13.* ]] || ver=3.13
    t0=$(now)
    rm -rf "$MONGO_VENV"
    PYENV_VERSION=$ver "$py" -m venv "$MONGO_VENV" >>"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "mongo: could not create the venv $MONGO_VENV with $py (log: $log)"; }
    "$MONGO_VENV/bin/python" -m pip install -q --disable-pip-version-check "${MONGO_PIP_SPECS[@]}" >>"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "mongo: pip install ${MONGO_PIP_SPECS[*]} failed (log: $log)"; }
    printf '%s' "$want" >"$MONGO_STAMP"
    say "mongo: made venv ($py) and installed ${MONGO_PIP_SPECS[*]} in $(elapsed_since "$t0")s"
}

# mongo_python: an interpreter with pymongo: the mongoeco venv's, else the checkout's .venv
# (scripts/test.sh's), so `status` sees a server that another checkout started.
mongo_python() {
    local py
    for py in "$MONGO_VENV/bin/python" "$ROOT/.venv/bin/python"; do
        if [[ -x $py ]] && "$py" -c 'import pymongo' 2>/dev/null; then printf '%s\n' "$py"; return 0; fi
    done
    return 1
}

# mongo_ping PORT SECONDS [PID]: pymongo admin ping, retried in one process until
# SECONDS pass; exit 2 at once if PID has exited.
mongo_ping() {
    local py
    py=$(mongo_python) || return 1
    "$py" - "$1" "$2" "${3:-0}" <<'EOF'
import os, sys, time
import pymongo
port, secs, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + secs
while True:
    try:
        client = pymongo.MongoClient(f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=1000,
                                     connectTimeoutMS=1000, socketTimeoutMS=3000)
        try:
            client.admin.command("ping")
        finally:
            client.close()
        sys.exit(0)
    except pymongo.errors.PyMongoError as error:
        last = error
    if pid:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(2)
    if time.monotonic() >= deadline:
        print(f"last error: {last}", file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
EOF
}

start_mongo() {
    local pid rc
    if tcp_open "$MONGO_PORT"; then
        if pid=$(pid_running "$MONGO_PID" mongo_wire_server.py); then
            mongo_ping "$MONGO_PORT" 5 2>/dev/null || die "mongo: our server (pid $pid) does not answer ping on $MONGO_PORT (log: $MONGO_LOG)"
            say "mongo: already running (pid $pid)"
            return 0
        fi
        ensure_mongo_installed
        mongo_ping "$MONGO_PORT" 2 2>/dev/null || die "mongo: port $MONGO_PORT is taken by something that does not answer a MongoDB ping"
        say "mongo: reusing server already on port $MONGO_PORT (not ours)"
        return 0
    fi
    ensure_mongo_installed
    printf -- '--- %s services.sh start mongo\n' "$(date -Is)" >>"$MONGO_LOG"
    (
        cd "$ROOT"
        exec setsid "$MONGO_VENV/bin/python" -u scripts/mongo_wire_server.py "$MONGO_PORT" </dev/null >>"$MONGO_LOG" 2>&1
    ) &
    pid=$!
    printf '%s\n' "$pid" >"$MONGO_PID"
    rc=0
    mongo_ping "$MONGO_PORT" "$MONGO_DEADLINE" "$pid" 2>>"$MONGO_LOG" || rc=$?
    if [[ $rc == 2 ]]; then
        tail -n 20 "$MONGO_LOG" >&2; die "mongo (mongoeco wire server) exited before it was ready (log: $MONGO_LOG)"
    elif [[ $rc != 0 ]]; then
        tail -n 20 "$MONGO_LOG" >&2; die "mongo (mongoeco wire server) not ready after ${MONGO_DEADLINE}s (log: $MONGO_LOG)"
    fi
    say "mongo: started mongoeco wire server on $MONGO_PORT (pid $pid)"
}

stop_mongo() {
    local pid
    if pid=$(pid_running "$MONGO_PID" mongo_wire_server.py); then
        stop_pid "mongo" "$pid" "$MONGO_LOG"
        say "mongo: stopped"
    elif tcp_open "$MONGO_PORT"; then
        say "mongo: not started by this script, left running"
    else
        say "mongo: not running"
    fi
    rm -f "$MONGO_PID"
}

status_mongo() {
    local pid owner="not ours"
    pid=$(pid_running "$MONGO_PID" mongo_wire_server.py) && owner="ours, pid $pid"
    if mongo_ping "$MONGO_PORT" 2 2>/dev/null; then
        say "mongo: up ($owner)"
    else
        say "mongo: DOWN"; return 1
    fi
}

# ---------------------------------------------------------------- PostgreSQL (the machine's server)

# These machines run PostgreSQL 15 (Debian's cluster "main") before any work begins, shared by
# everyone on the machine: it is reused, started with pg_ctlcluster if it does not answer,
# installed from Debian only when missing, and never stopped here. Tests make their own databases.

postgres_ready() { pg_isready -q -h 127.0.0.1 -p "$POSTGRES_PORT" -t 2 2>/dev/null; }

postgres_version() { ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1; }

ensure_postgres_installed() {
    command -v pg_isready >/dev/null && command -v pg_ctlcluster >/dev/null && [[ -n $(postgres_version) ]] && return 0
    apt_install postgresql
    local hba
    hba="/etc/postgresql/$(postgres_version)/main/pg_hba.conf"
    [[ -f $hba ]] || die "postgres: installed, but $hba is missing"
    # What these machines are set up with: trust for local sockets and 127.0.0.1.
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$hba"
    pg_ctlcluster --skip-systemctl-redirect "$(postgres_version)" main reload >/dev/null 2>&1 || true # if running
}

start_postgres() {
    if postgres_ready; then
        say "postgres: reusing the server on port $POSTGRES_PORT (the machine's)"
        return 0
    fi
    ensure_postgres_installed
    local version
    version=$(postgres_version)
    printf -- '--- %s services.sh start postgres\n' "$(date -Is)" >>"$SVC/postgres.log"
    postgres_ready && { say "postgres: installed cluster $version/main, running"; return 0; }
    install -d -o postgres -g postgres -m 2775 /var/run/postgresql # a tmpfs: gone after a reboot
    pg_ctlcluster --skip-systemctl-redirect "$version" main start >>"$SVC/postgres.log" 2>&1 ||
        { tail -n 20 "$SVC/postgres.log" >&2; die "postgres: pg_ctlcluster $version main start failed (log: $SVC/postgres.log)"; }
    wait_ready postgres "$SVC/postgres.log" "$POSTGRES_DEADLINE" - postgres_ready
    say "postgres: started cluster $version/main on port $POSTGRES_PORT"
}

stop_postgres() { say "postgres: the machine's server, left running"; }

status_postgres() {
    if postgres_ready; then
        say "postgres: up (the machine's, port $POSTGRES_PORT)"
    else
        say "postgres: DOWN"; return 1
    fi
}

# ---------------------------------------------------------------- Chromium (browser tests)

chromium_installed() { [[ -x $CHROMIUM && -x $CHROMEDRIVER ]]; }

# Debian's chromium and chromium-driver: the dashboard's tests drive them headless with
# Selenium. Nothing runs until a test starts the driver, so start only installs them.
start_chromium() {
    local t0
    if chromium_installed; then
        say "chromium: installed ($("$CHROMIUM" --version 2>/dev/null | head -n 1))"
        return 0
    fi
    t0=$(now)
    apt_install chromium chromium-driver
    chromium_installed || die "chromium: installed, but $CHROMIUM or $CHROMEDRIVER is missing"
    say "chromium: installed in $(elapsed_since "$t0")s"
}

stop_chromium() { say "chromium: not a server, nothing to stop"; }

status_chromium() {
    if chromium_installed; then say "chromium: installed"; else say "chromium: MISSING"; return 1; fi
}

# ---------------------------------------------------------------- commands

print_env() {
    local urls="" p
    for p in "${REDIS_PORTS[@]}"; do urls+="${urls:+,}redis://127.0.0.1:$p/0"; done
    printf 'export LITEFLOW_REDIS_URLS=%s\n' "$urls"
    printf 'export LITEFLOW_RABBITMQ_URL=%s\n' "amqp://guest:guest@127.0.0.1:$RABBITMQ_PORT/%2F"
    printf "export LITEFLOW_AZURE_CONNECTION_STRING='%s'\n" \
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_KEY;BlobEndpoint=http://127.0.0.1:${AZURITE_PORTS[0]}/devstoreaccount1;QueueEndpoint=http://127.0.0.1:${AZURITE_PORTS[1]}/devstoreaccount1;TableEndpoint=http://127.0.0.1:${AZURITE_PORTS[2]}/devstoreaccount1;"
    printf 'export LITEFLOW_MONGO_URI=%s\n' "mongodb://127.0.0.1:$MONGO_PORT/"
    printf 'export LITEFLOW_POSTGRES_URL=%s\n' "postgresql://postgres@127.0.0.1:$POSTGRES_PORT/postgres"
    printf 'export LITEFLOW_CHROMIUM=%s LITEFLOW_CHROMEDRIVER=%s\n' "$CHROMIUM" "$CHROMEDRIVER"
}

# servers_from ARGS...: validate names, default to all.
SERVERS=()
servers_from() {
    SERVERS=()
    [[ $# == 0 ]] && { SERVERS=("${ALL_SERVERS[@]}"); return; }
    local s
    for s in "$@"; do
        case $s in
            redis | rabbitmq | azurite | mongo | postgres | chromium) SERVERS+=("$s") ;;
            rabbit) SERVERS+=(rabbitmq) ;;
            mongodb | mongoeco) SERVERS+=(mongo) ;;
            postgres | postgresql | pg) SERVERS+=(postgres) ;;
            *) die "unknown server '$s' (expected: ${ALL_SERVERS[*]})" ;;
        esac
    done
}

check_port_arg() { [[ ${1:-} =~ ^[0-9]+$ ]] || die "usage: services.sh $2 PORT (e.g. ${REDIS_PORTS[1]})"; }

usage() {
    sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd=${1:-help} s p rc=0 t0
    shift || true
    case $cmd in
        env) print_env; return 0 ;;
        help | -h | --help) usage; return 0 ;;
    esac
    mkdir -p "$SVC"
    # One invocation at a time (CI trap, fault tests and a developer may overlap).
    # flock -o: the servers started below must not inherit the lock's descriptor.
    if [[ ${LITEFLOW_SERVICES_LOCKED:-} != "$SVC" ]]; then
        LITEFLOW_SERVICES_LOCKED=$SVC flock -o -w 300 -E 75 "$SVC/.lock" bash "${BASH_SOURCE[0]}" "$cmd" "$@" || rc=$?
        [[ $rc == 75 ]] && die "another services.sh held $SVC/.lock for 300s"
        return "$rc"
    fi
    t0=$(now)
    rabbit_private_node
    case $cmd in
        start)
            servers_from "$@"
            for s in "${SERVERS[@]}"; do
                case $s in
                    redis) for p in "${REDIS_PORTS[@]}"; do start_redis "$p"; done ;;
                    *) "start_$s" ;;
                esac
            done
            say "services: ready (${SERVERS[*]}) in $(elapsed_since "$t0")s"
            ;;
        stop)
            servers_from "$@"
            for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
                s=${SERVERS[i]}
                case $s in
                    redis) for p in "${REDIS_PORTS[@]}"; do stop_redis "$p" || rc=1; done ;;
                    *) "stop_$s" || rc=1 ;;
                esac
            done
            ;;
        status)
            servers_from "$@"
            for s in "${SERVERS[@]}"; do
                case $s in
                    redis) for p in "${REDIS_PORTS[@]}"; do status_redis "$p" || rc=1; done ;;
                    *) "status_$s" || rc=1 ;;
                esac
            done
            ;;
        restart-rabbitmq) restart_rabbitmq ;;
        stop-redis) check_port_arg "${1:-}" stop-redis; stop_redis "$1" 1 ;;
        start-redis) check_port_arg "${1:-}" start-redis; start_redis "$1" ;;
        *) usage >&2; die "unknown command '$cmd'" ;;
    esac
    return "$rc"
}

main "$@"
