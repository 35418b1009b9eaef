#!/usr/bin/env bash
# The benchmark (make bench): the app under the Dockerfile's app server with production settings
# against PostgreSQL, a realistic data set, and wrk against every hot path and against two
# trivial views of the same server (the anonymous and the signed-in floor); then the app servers
# side by side. Writes the table to docs/benchmarks.md; the raw results stay in bench/out/.
#
# Two app servers share one database and one cache; the load goes to the first, and the second
# shows that what must be shared is (bench/checks.py). Everything listens on 127.0.0.1 only.
#
# Knobs (environment): BENCH_DURATION (seconds per endpoint run, 8), BENCH_FLOOR_DURATION
# (seconds per floor run, 4), BENCH_CONNECTIONS ("16 64"), BENCH_SERVER (the app server of the
# full table: granian, gthread or sync; granian, as the Dockerfile ships), BENCH_COMPARE (the
# servers measured side by side on the floors, the agreement page and the poll, "sync gthread
# granian"; "" for none), BENCH_COMPARE_DURATION (5), BENCH_WARMUP (seconds of load per
# endpoint before measuring, not counted, 8), BENCH_WORKERS (processes per server, 4 for
# sync, 2 for the threaded ones), BENCH_SERVER_THREADS (threads per process for gthread and
# granian, 4), BENCH_WRK_THREADS (2), BENCH_COUPLES (2000), BENCH_DATABASE (ror_bench, made afresh
# for each run and dropped after), BENCH_CACHE_URL (redis://127.0.0.1:6379/0 when Redis answers,
# else db://cache_table), BENCH_SESSIONS (signed-in partners loading pages, and couples acting in
# each accept / withdraw run, 200), BENCH_DOC (docs/benchmarks.md), BENCH_ENDPOINTS (the
# endpoints of the full table), BENCH_PROFILE=1 (a py-spy profile of the workers for each
# endpoint, if py-spy is installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PYTHON")
OUT=bench/out
DURATION=${BENCH_DURATION:-8}
FLOOR_DURATION=${BENCH_FLOOR_DURATION:-4}
CONNECTIONS=${BENCH_CONNECTIONS:-"16 64"}
SERVER=${BENCH_SERVER:-granian}
COMPARE=${BENCH_COMPARE-"sync gthread granian"}
COMPARE_DURATION=${BENCH_COMPARE_DURATION:-5}
WARMUP=${BENCH_WARMUP:-8}
SERVER_THREADS=${BENCH_SERVER_THREADS:-4}
THREADS=${BENCH_WRK_THREADS:-2}
ENDPOINTS=${BENCH_ENDPOINTS:-"page poll actions print therapist checkin_list checkin"}
COUPLES=${BENCH_COUPLES:-2000}
SESSIONS=${BENCH_SESSIONS:-200}
DOC=${BENCH_DOC:-docs/benchmarks.md}
DATABASE=${BENCH_DATABASE:-ror_bench}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}

say() { printf '\n== %s\n' "$*"; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "$PYTHON not found: run make install first" >&2; exit 1; }

# -- PostgreSQL and the cache -----------------------------------------------------------------
if ! pg_isready -q -h 127.0.0.1; then
    cluster=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "Starting PostgreSQL $cluster"
    pg_ctlcluster --skip-systemctl-redirect "$cluster" main start
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
fi
psql_admin() { psql "$PG/postgres" -v ON_ERROR_STOP=1 -q "$@"; }
psql_admin -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" -c "CREATE DATABASE \"$DATABASE\""

if [ -z "${BENCH_CACHE_URL:-}" ]; then
    if "$PYTHON" -c 'import redis; redis.Redis(host="127.0.0.1", socket_timeout=1).ping()' 2>/dev/null; then
        BENCH_CACHE_URL=redis://127.0.0.1:6379/0
    else
        BENCH_CACHE_URL=db://cache_table
    fi
fi

# -- production settings ----------------------------------------------------------------------
# Plain http on loopback: wrk and the checks send X-Forwarded-Proto: https as the TLS proxy in
# front of production does, so SECURE_SSL_REDIRECT and the secure cookies stay as in production.
unset DJANGO_SECURE_SSL_REDIRECT DJANGO_DISABLE_RATE_LIMITS DJANGO_CSRF_TRUSTED_ORIGINS
export DJANGO_DEBUG=false
export DJANGO_SECRET_KEY
DJANGO_SECRET_KEY=$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(50))')
export FIELD_ENCRYPTION_KEYS
FIELD_ENCRYPTION_KEYS=$("$PYTHON" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')
export DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost
export EMAIL_URL=memory://
export SITE_URL=https://127.0.0.1
export BENCHMARK_FLOOR=true
export DATABASE_URL="$PG/$DATABASE"
export DATABASE_CONN_MAX_AGE=${DATABASE_CONN_MAX_AGE:-60}
export DATABASE_CONN_HEALTH_CHECKS=${DATABASE_CONN_HEALTH_CHECKS:-false}
export CACHE_URL=$BENCH_CACHE_URL

set -- $CONNECTIONS
levels=$#
parts=$((levels + 1))  # couples who act: one share for the warm-up, one per connection count

say "Database $DATABASE, cache $CACHE_URL"
rm -rf "$OUT"
mkdir -p "$OUT"
"$PYTHON" manage.py migrate --noinput -v 0
"$PYTHON" manage.py createcachetable
"$PYTHON" manage.py collectstatic --noinput -v 0
say "Data set"
start=$(date +%s)
"$PYTHON" -m bench.seed --out "$OUT" --couples "$COUPLES" --page-sessions "$SESSIONS" \
    --action-couples $((SESSIONS * parts)) \
    | tee "$OUT/seed.txt"
echo "Seeded in $(($(date +%s) - start)) s." | tee -a "$OUT/seed.txt"
# The planner's statistics, as autovacuum keeps them in production: without them, rows loaded in
# bulk a moment ago get plans for empty tables (the therapist home's query ran ten times slower),
# and autovacuum's own ANALYZE would land somewhere in the middle of the measured runs.
psql "$PG/$DATABASE" -v ON_ERROR_STOP=1 -q -c "VACUUM ANALYZE"

# -- two app servers --------------------------------------------------------------------------
read -r PORT_A PORT_B < <("$PYTHON" -c '
import socket
ports = []
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
    ports.append(s.getsockname()[1])
print(*ports)')

workers_of() {  # the processes per server of one kind: two per core for sync, one per core else
    if [ -n "${BENCH_WORKERS:-}" ]; then echo "$BENCH_WORKERS"
    elif [ "$1" = sync ]; then echo 4
    else echo 2; fi
}
describe() {  # one line about a server kind, for the report
    local workers
    workers=$(workers_of "$1")
    case $1 in
        sync) echo "gunicorn $("$BIN/gunicorn" --version | awk '{print $NF}' | tr -d '()'), $workers sync workers" ;;
        gthread) echo "gunicorn $("$BIN/gunicorn" --version | awk '{print $NF}' | tr -d '()'), $workers gthread workers x $SERVER_THREADS threads" ;;
        granian) echo "granian $("$BIN/granian" --version | awk '{print $NF}'), $workers WSGI workers x $SERVER_THREADS blocking threads" ;;
    esac
}
# serve KIND PORT: one app server in the background; its pid (the master's) in $OUT/server-PORT.pid.
serve() {
    local kind=$1 port=$2 workers
    workers=$(workers_of "$kind")
    case $kind in
        sync | gthread)
            # No control socket: its default path is shared by every gunicorn on the machine.
            "$BIN/gunicorn" intimacy.wsgi --bind "127.0.0.1:$port" --workers "$workers" \
                --worker-class "$kind" --threads "$([ "$kind" = gthread ] && echo "$SERVER_THREADS" || echo 1)" \
                --no-control-socket --pid "$OUT/server-$port.pid" >>"$OUT/server-$port.log" 2>&1 &
            ;;
        granian)
            "$BIN/granian" --interface wsgi --host 127.0.0.1 --port "$port" --workers "$workers" \
                --blocking-threads "$SERVER_THREADS" --no-ws --pid-file "$OUT/server-$port.pid" \
                intimacy.wsgi:application >>"$OUT/server-$port.log" 2>&1 &
            ;;
        *) echo "unknown server kind $kind (sync, gthread or granian)" >&2; exit 1 ;;
    esac
    pids+=($!)
}
stop_pid() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
pids=()
stop_servers() {
    local pid
    for pid in "${pids[@]}"; do stop_pid "$pid"; done
    # Its encryption key lived only in this run: nothing in it can be read any more.
    psql_admin -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" || true
}
trap stop_servers EXIT
for port in "$PORT_A" "$PORT_B"; do serve "$SERVER" "$port"; done
"$PYTHON" bench/checks.py wait "http://127.0.0.1:$PORT_A" "http://127.0.0.1:$PORT_B"
say "Servers: A http://127.0.0.1:$PORT_A, B http://127.0.0.1:$PORT_B, $(describe "$SERVER") each"
describe "$SERVER" >"$OUT/server.txt"

say "Checks: page weight, static files, two servers"
"$PYTHON" bench/checks.py run "http://127.0.0.1:$PORT_A" "http://127.0.0.1:$PORT_B" "$OUT" | tee "$OUT/checks.log"

# -- load -------------------------------------------------------------------------------------
profiler=""
if [ "${BENCH_PROFILE:-}" = 1 ]; then
    profiler=$(command -v py-spy || true)
    [ -n "$profiler" ] || echo "BENCH_PROFILE=1 but py-spy is not on the PATH: no profiles" >&2
fi

# load FILE LABEL CONNECTIONS SECONDS MODE [PART]: one wrk run against server A; its result is
# appended to FILE unless LABEL is "warm-up".
load() {
    local file=$1 label=$2 connections=$3 seconds=$4 mode=$5 part=${6:-0} output json spy=""
    if [ -n "$profiler" ] && [ "$label" != warm-up ]; then
        "$profiler" record --subprocesses --pid "$(cat "$OUT/server-$PORT_A.pid")" --rate 200 \
            --duration "$seconds" --format speedscope --output "$OUT/profile-$label-c$connections-$(date +%s).json" \
            >/dev/null 2>&1 &
        spy=$!
    fi
    output=$(wrk -t "$THREADS" -c "$connections" -d "${seconds}s" --timeout 30s --latency \
        -s bench/load.lua "http://127.0.0.1:$PORT_A" -- "$mode" "$OUT" "$THREADS" "$part" "$parts")
    [ -z "$spy" ] || wait "$spy" || true
    # When wrk stops, up to one request per connection is still queued at the server; the next
    # run starts once a request sent now has come back, so it never pays for this one.
    "$PYTHON" bench/checks.py wait "http://127.0.0.1:$PORT_A"
    json=$(sed -n 's/^BENCH_JSON //p' <<<"$output")
    [ -n "$json" ] || { echo "$output" >&2; echo "wrk gave no result for $mode" >&2; exit 1; }
    if [ "$label" != warm-up ]; then
        echo "{\"label\": \"$label\", \"connections\": $connections, \"server\": \"${current_server}\", \"wrk\": $json}" >>"$file"
        "$PYTHON" bench/report.py line "$file"
    fi
}
# floors FILE CONNECTIONS SECONDS: the anonymous floor and the signed-in floor, one run each.
floors() {
    load "$1" floor "$2" "$3" floor
    load "$1" floor_signed_in "$2" "$3" floor_signed_in
}

current_server=$SERVER
say "Warm-up (not counted)"
# Long enough for every signed-in page session to be loaded on every worker more than once: the
# table measures pages a worker already holds (what the first load after a change costs is in
# the profile of docs/benchmarks.md).
for mode in floor floor_signed_in $ENDPOINTS; do
    load - warm-up 16 "$WARMUP" "$mode" 0
done
uptime >"$OUT/load-before.txt"

part=0
for connections in $CONNECTIONS; do
    part=$((part + 1))
    say "$connections connections, ${DURATION} s per endpoint, ${FLOOR_DURATION} s per floor"
    # Both floors between every two endpoints: each endpoint is compared with the floors measured
    # just before and just after it, so that a machine whose load drifts moves both sides alike.
    floors "$OUT/results.jsonl" "$connections" "$FLOOR_DURATION"
    for mode in $ENDPOINTS; do
        load "$OUT/results.jsonl" "$mode" "$connections" "$DURATION" "$mode" "$part"
        floors "$OUT/results.jsonl" "$connections" "$FLOOR_DURATION"
    done
done
uptime >"$OUT/load-after.txt"

# -- app servers side by side -----------------------------------------------------------------
# Server A again, as each kind in turn, on the same data: the floors, the agreement page and the
# unchanged poll (reads only, so that every kind meets the same data).
for kind in $COMPARE; do
    if [ "$kind" = granian ] && [ ! -x "$BIN/granian" ]; then
        echo "granian is not installed in $(dirname "$BIN"): left out of the comparison" >&2
        continue
    fi
    stop_pid "${pids[0]}"
    serve "$kind" "$PORT_A"
    pids[0]=${pids[-1]}
    unset 'pids[-1]'
    "$PYTHON" bench/checks.py wait "http://127.0.0.1:$PORT_A"
    current_server=$kind
    echo "$kind $(describe "$kind")" >>"$OUT/servers.txt"
    say "Side by side: $(describe "$kind")"
    for mode in floor floor_signed_in page poll; do load - warm-up 16 "$WARMUP" "$mode"; done
    for connections in $CONNECTIONS; do
        for mode in floor floor_signed_in page poll; do
            load "$OUT/compare.jsonl" "$mode" "$connections" "$COMPARE_DURATION" "$mode"
        done
    done
done

say "Report"
"$PYTHON" bench/report.py write "$OUT" "$DOC" \
    --server "$(describe "$SERVER")" --threads "$THREADS" \
    --duration "$DURATION s per endpoint, $FLOOR_DURATION s per floor" \
    --cache "$CACHE_URL" --conn-max-age "$DATABASE_CONN_MAX_AGE" \
    --health-checks "$DATABASE_CONN_HEALTH_CHECKS"
echo "$DOC written"
if grep -q '"ok": false' "$OUT/checks.json"; then
    echo "A two-server check failed: see docs/benchmarks.md" >&2
    exit 1
fi
