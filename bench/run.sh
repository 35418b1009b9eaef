#!/usr/bin/env bash
# The benchmark (make bench): the app under the Dockerfile's app server with production settings
# against PostgreSQL and a realistic data set, measured the way the app is used (issue 21):
#
#   1. the rows, side by side against the two floors of the same run (a trivial view, anonymous
#      and signed in), at 16 and 64 connections: the agreement page right after the other
#      partner's change, the same page reloaded unchanged, the accept / withdraw round trip with
#      its htmx answer, the unchanged poll, the printable page, the therapist home (50 client
#      couples), the check-in list and a revealed check-in;
#   2. how cost grows with the work: the page after a change and the round trip at 9, 30 and 100
#      rules and at 50 and 500 days of history, the therapist home at 10, 50 and 200 couples;
#   3. a mixed workload of simulated couples (bench/drive.py, MIX): how many active couples one
#      app server process serves with p95 under 200 ms, and two processes.
#
# Independent requests are sent by wrk (bench/load.lua); what must happen in order (a change,
# then the other partner's page; the round trip's cycle) and the mixed workload by bench/drive.py,
# whose floors are measured with it too, so that every ratio compares like with like. Writes the
# tables to docs/benchmarks.md; the raw results stay in bench/out/. Two app servers share one
# database and one cache; the load goes to the first, and the second shows that what must be
# shared is (bench/checks.py). Everything listens on 127.0.0.1 only; every run is bounded.
#
# Knobs (environment), defaults in brackets; BENCH_QUICK=1 changes the defaults for a short
# validation run (about a third of the time; the same rows and tables, fewer seconds and couples):
#   BENCH_CONNECTIONS ("16 64"), BENCH_DURATION (seconds per row, 6), BENCH_FLOOR_DURATION
#   (seconds per floor run, 3), BENCH_WARMUP (seconds of load per wrk row before measuring, 8:
#   long enough for each partner's page to have been loaded before, as the "reloaded" row needs),
#   BENCH_SCALE_CONNECTIONS (the connections of the growth table, 16), BENCH_SCALE_DURATION (5),
#   BENCH_MIN_CHANGED (requests the rows that make changes measure at least, 100, within
#   BENCH_MAX_CHANGED_SECONDS, 25),
#   BENCH_MIX_PROCESSES ("1 2"), BENCH_MIX_SECONDS (measured seconds per step, 12),
#   BENCH_MIX_STEPS (steps per search, 6), BENCH_MIX_START (couples of the first step, 100),
#   BENCH_MIX_CONNECTIONS (keep-alive connections to the server, as a proxy keeps, 64),
#   BENCH_COUPLES (2500), BENCH_SESSIONS (partners loading pages in the wrk rows, 200),
#   BENCH_SCALE_COUPLES (couples of each size, 32), BENCH_RULES ("30,100"), BENCH_HISTORY_DAYS
#   ("50,500"; "50,200" in a quick run: the 500 days are lived through the services, a minute or
#   more of seeding), BENCH_THERAPIST_SIZES ("10,200"), BENCH_SERVER (the app server: granian, as the
#   Dockerfile ships, gthread or sync), BENCH_WORKERS (processes per server in parts 1 and 2, 4
#   for sync, 2 for the threaded ones), BENCH_SERVER_THREADS (threads per process, 4),
#   BENCH_WRK_THREADS (2), BENCH_COMPARE (app servers measured side by side on the floors, the
#   page and the poll, e.g. "sync gthread granian"; none by default), BENCH_COMPARE_DURATION (5),
#   BENCH_DATABASE (ror_bench, made afresh for each run and dropped after), BENCH_CACHE_URL
#   (redis://127.0.0.1:6379/0 when Redis answers, else db://cache_table), BENCH_DOC
#   (docs/benchmarks.md), BENCH_PROFILE=1 (a py-spy profile of server A per wrk row, if py-spy
#   is on the PATH), BENCH_SKIP ("" or any of "rows scale mix": parts left out).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-.venv/bin/python}
BIN=$(dirname "$PYTHON")
OUT=bench/out
if [ "${BENCH_QUICK:-}" = 1 ]; then
    quick=1
else
    quick=0
fi
pick() { [ "$quick" = 1 ] && echo "$2" || echo "$1"; }  # pick FULL QUICK
CONNECTIONS=${BENCH_CONNECTIONS:-"16 64"}
DURATION=${BENCH_DURATION:-$(pick 6 3)}
FLOOR_DURATION=${BENCH_FLOOR_DURATION:-$(pick 3 2)}
WARMUP=${BENCH_WARMUP:-$(pick 8 3)}
SCALE_CONNECTIONS=${BENCH_SCALE_CONNECTIONS:-16}
SCALE_DURATION=${BENCH_SCALE_DURATION:-$(pick 5 3)}
MIN_CHANGED=${BENCH_MIN_CHANGED:-$(pick 100 30)}
MAX_CHANGED_SECONDS=${BENCH_MAX_CHANGED_SECONDS:-$(pick 25 10)}
MIX_PROCESSES=${BENCH_MIX_PROCESSES:-"1 2"}
MIX_SECONDS=${BENCH_MIX_SECONDS:-$(pick 12 6)}
MIX_STEPS=${BENCH_MIX_STEPS:-$(pick 6 4)}
MIX_START=${BENCH_MIX_START:-100}
MIX_CONNECTIONS=${BENCH_MIX_CONNECTIONS:-64}
COUPLES=${BENCH_COUPLES:-$(pick 2500 1000)}
SESSIONS=${BENCH_SESSIONS:-$(pick 200 100)}
SCALE_COUPLES=${BENCH_SCALE_COUPLES:-$(pick 32 16)}
RULES=${BENCH_RULES:-30,100}
HISTORY_DAYS=${BENCH_HISTORY_DAYS:-$(pick 50,500 50,200)}
THERAPIST_SIZES=${BENCH_THERAPIST_SIZES:-10,200}
SERVER=${BENCH_SERVER:-granian}
SERVER_THREADS=${BENCH_SERVER_THREADS:-4}
THREADS=${BENCH_WRK_THREADS:-2}
COMPARE=${BENCH_COMPARE:-}
COMPARE_DURATION=${BENCH_COMPARE_DURATION:-5}
SKIP=${BENCH_SKIP:-}
DOC=${BENCH_DOC:-docs/benchmarks.md}
DATABASE=${BENCH_DATABASE:-ror_bench}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
# The rows of part 1: wrk's, then the driver's.
WRK_ROWS="page poll print therapist checkin_list checkin"
# The couples of each size of part 2 (bench/seed.py writes actions-<size>.txt for each).
SIZES="actions-base"
for n in ${RULES//,/ }; do SIZES="$SIZES actions-rules$n"; done
for n in ${HISTORY_DAYS//,/ }; do SIZES="$SIZES actions-days$n"; done

say() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
skipped() { [[ " $SKIP " == *" $1 "* ]]; }
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
[ -x "$PYTHON" ] || { echo "$PYTHON not found: run make install first" >&2; exit 1; }
began=$(date +%s)

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
# Plain http on loopback: wrk, the driver and the checks send X-Forwarded-Proto: https as the TLS
# proxy in front of production does, so SECURE_SSL_REDIRECT and the secure cookies stay as in
# production.
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
# No email worker runs here: the partner emails the actions queue stay queued, and /healthz
# (which the harness waits on) must not call the queue stuck in the middle of the run.
export EMAIL_QUEUE_STUCK_SECONDS=86400

say "Database $DATABASE, cache $CACHE_URL"
rm -rf "$OUT"
mkdir -p "$OUT"
"$PYTHON" manage.py migrate --noinput -v 0
"$PYTHON" manage.py createcachetable
"$PYTHON" manage.py collectstatic --noinput -v 0
say "Data set"
start=$(date +%s)
"$PYTHON" -m bench.seed --out "$OUT" --couples "$COUPLES" --page-sessions "$SESSIONS" \
    --rules "$RULES" --history-days "$HISTORY_DAYS" --scale-couples "$SCALE_COUPLES" \
    --therapist-sizes "$THERAPIST_SIZES" | tee "$OUT/seed.txt"
echo "Seeded in $(($(date +%s) - start)) s." | tee -a "$OUT/seed.txt"
# The planner's statistics, as autovacuum keeps them in production: without them, rows loaded in
# bulk a moment ago get plans for empty tables, and autovacuum's own ANALYZE would land somewhere
# in the middle of the measured runs.
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
URL_A="http://127.0.0.1:$PORT_A"

workers_of() {  # processes per server of one kind: two per core for sync, one per core else
    if [ -n "${2:-}" ]; then echo "$2"
    elif [ -n "${BENCH_WORKERS:-}" ]; then echo "$BENCH_WORKERS"
    elif [ "$1" = sync ]; then echo 4
    else echo 2; fi
}
describe() {  # describe KIND [WORKERS]: one line about a server, for the report
    local workers
    workers=$(workers_of "$1" "${2:-}")
    case $1 in
        sync) echo "gunicorn $("$BIN/gunicorn" --version | awk '{print $NF}' | tr -d '()'), $workers sync workers" ;;
        gthread) echo "gunicorn $("$BIN/gunicorn" --version | awk '{print $NF}' | tr -d '()'), $workers gthread workers x $SERVER_THREADS threads" ;;
        granian) echo "granian $("$BIN/granian" --version | awk '{print $NF}'), $workers WSGI workers x $SERVER_THREADS blocking threads" ;;
    esac
}
# serve KIND PORT [WORKERS]: one app server in the background; its pid (the master's) in
# $OUT/server-PORT.pid.
serve() {
    local kind=$1 port=$2 workers
    workers=$(workers_of "$kind" "${3:-}")
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
# restart_a KIND [WORKERS]: server A again, as another kind or with another number of processes.
restart_a() {
    stop_pid "${pids[0]}"
    serve "$1" "$PORT_A" "${2:-}"
    pids[0]=${pids[-1]}
    unset 'pids[-1]'
    "$PYTHON" bench/checks.py wait "$URL_A"
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
"$PYTHON" bench/checks.py wait "$URL_A" "http://127.0.0.1:$PORT_B"
say "Servers: A $URL_A, B http://127.0.0.1:$PORT_B, $(describe "$SERVER") each"
describe "$SERVER" >"$OUT/server.txt"

say "Checks: page weight, static files, two servers"
"$PYTHON" bench/checks.py run "$URL_A" "http://127.0.0.1:$PORT_B" "$OUT" | tee "$OUT/checks.log"

# -- load -------------------------------------------------------------------------------------
profiler=""
if [ "${BENCH_PROFILE:-}" = 1 ]; then
    profiler=$(command -v py-spy || true)
    [ -n "$profiler" ] || echo "BENCH_PROFILE=1 but py-spy is not on the PATH: no profiles" >&2
fi
current_server=$SERVER

# record FILE LABEL CONNECTIONS DRIVER OUTPUT: appends one result to FILE (unless "-").
record() {
    local json
    json=$(sed -n 's/^BENCH_JSON //p' <<<"$5")
    [ -n "$json" ] || { echo "$5" >&2; echo "no result for $2" >&2; exit 1; }
    if [ "$1" != - ]; then
        echo "{\"label\": \"$2\", \"connections\": $3, \"server\": \"$current_server\", \"driver\": \"$4\", \"wrk\": $json}" >>"$1"
        "$PYTHON" bench/report.py line "$1"
    fi
}
# load FILE LABEL CONNECTIONS SECONDS MODE: one wrk run against server A ("-": not recorded).
load() {
    local file=$1 label=$2 connections=$3 seconds=$4 mode=$5 output spy=""
    if [ -n "$profiler" ] && [ "$file" != - ]; then
        "$profiler" record --subprocesses --pid "$(cat "$OUT/server-$PORT_A.pid")" --rate 200 \
            --duration "$seconds" --format speedscope --output "$OUT/profile-$label-c$connections-$(date +%s).json" \
            >/dev/null 2>&1 &
        spy=$!
    fi
    output=$(wrk -t "$THREADS" -c "$connections" -d "${seconds}s" --timeout 30s --latency \
        -s bench/load.lua "$URL_A" -- "$mode" "$OUT" "$THREADS")
    [ -z "$spy" ] || wait "$spy" || true
    # When wrk stops, up to one request per connection is still queued at the server; the next
    # run starts once a request sent now has come back, so it never pays for this one.
    "$PYTHON" bench/checks.py wait "$URL_A"
    record "$file" "$label" "$connections" wrk "$output"
}
# drive FILE LABEL CONNECTIONS SECONDS MODE [POOL]: one bench/drive.py run against server A,
# after a warm-up of a second or two of the same (not counted). The rows that make changes are
# measured on until MIN_CHANGED requests are counted (at most MAX_CHANGED_SECONDS): a change can
# take seconds at 64 connections.
drive() {
    local file=$1 label=$2 connections=$3 seconds=$4 mode=$5 pool=${6:-actions} output more=()
    case $mode in
        actions | after_change | floor_after_change)
            more=(--min-requests "$MIN_CHANGED" --max-seconds "$MAX_CHANGED_SECONDS") ;;
    esac
    output=$("$PYTHON" bench/drive.py run "$URL_A" "$OUT" "$mode" --connections "$connections" \
        --seconds "$seconds" --warmup "$(pick 2 1)" --pool "$pool" "${more[@]}")
    "$PYTHON" bench/checks.py wait "$URL_A"
    record "$file" "$label" "$connections" python "$output"
}
# floors FILE CONNECTIONS: both floors, one wrk run each.
floors() {
    load "$1" floor "$2" "$FLOOR_DURATION" floor
    load "$1" floor_signed_in "$2" "$FLOOR_DURATION" floor_signed_in
}

if ! skipped rows; then
    say "Warm-up (not counted)"
    for mode in floor floor_signed_in $WRK_ROWS; do load - warm-up 16 "$WARMUP" "$mode"; done
    uptime >"$OUT/load-before.txt"
    for connections in $CONNECTIONS; do
        say "Rows at $connections connections: wrk, $DURATION s per row, $FLOOR_DURATION s per floor"
        # Both floors between every two rows: each row is compared with the floors measured just
        # before and just after it, so that a machine whose load drifts moves both sides alike.
        floors "$OUT/results.jsonl" "$connections"
        for mode in $WRK_ROWS; do
            load "$OUT/results.jsonl" "$mode" "$connections" "$DURATION" "$mode"
            floors "$OUT/results.jsonl" "$connections"
        done
        say "Rows at $connections connections: bench/drive.py, with its own floors"
        drive "$OUT/results.jsonl" py_floor "$connections" "$FLOOR_DURATION" floor
        drive "$OUT/results.jsonl" py_floor_signed_in "$connections" "$FLOOR_DURATION" floor_signed_in
        drive "$OUT/results.jsonl" actions "$connections" "$DURATION" actions
        drive "$OUT/results.jsonl" py_floor_signed_in "$connections" "$FLOOR_DURATION" floor_signed_in
        drive "$OUT/results.jsonl" floor_after_change "$connections" "$DURATION" floor_after_change
        drive "$OUT/results.jsonl" after_change "$connections" "$DURATION" after_change
        drive "$OUT/results.jsonl" floor_after_change "$connections" "$DURATION" floor_after_change
    done
    uptime >"$OUT/load-after.txt"
fi

if ! skipped scale; then
    c=$SCALE_CONNECTIONS
    say "How cost grows: $c connections, $SCALE_DURATION s per row"
    floors "$OUT/scale.jsonl" "$c"
    for size in 10 "" 200; do
        load "$OUT/scale.jsonl" "therapist${size:+_$size}" "$c" "$SCALE_DURATION" "therapist${size:+_$size}"
        floors "$OUT/scale.jsonl" "$c"
    done
    drive "$OUT/scale.jsonl" py_floor_signed_in "$c" "$FLOOR_DURATION" floor_signed_in
    drive "$OUT/scale.jsonl" floor_after_change "$c" "$SCALE_DURATION" floor_after_change
    for pool in $SIZES; do
        drive "$OUT/scale.jsonl" "after_change@$pool" "$c" "$SCALE_DURATION" after_change "$pool"
        drive "$OUT/scale.jsonl" "actions@$pool" "$c" "$SCALE_DURATION" actions "$pool"
        drive "$OUT/scale.jsonl" py_floor_signed_in "$c" "$FLOOR_DURATION" floor_signed_in
        drive "$OUT/scale.jsonl" floor_after_change "$c" "$SCALE_DURATION" floor_after_change
    done
fi

# -- app servers side by side (BENCH_COMPARE) -------------------------------------------------
# Server A again, as each kind in turn, on the same data: the floors, the agreement page and the
# unchanged poll (reads only, so that every kind meets the same data).
for kind in $COMPARE; do
    if [ "$kind" = granian ] && [ ! -x "$BIN/granian" ]; then
        echo "granian is not installed in $(dirname "$BIN"): left out of the comparison" >&2
        continue
    fi
    restart_a "$kind"
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

# -- the mixed workload -----------------------------------------------------------------------
if ! skipped mix; then
    start_at=$MIX_START
    for processes in $MIX_PROCESSES; do
        restart_a "$SERVER" "$processes"
        current_server=$SERVER
        say "Mixed workload: $(describe "$SERVER" "$processes"), $MIX_SECONDS s per step"
        output=$("$PYTHON" bench/drive.py capacity "$URL_A" "$OUT" --start "$start_at" \
            --seconds "$MIX_SECONDS" --steps "$MIX_STEPS" --connections "$MIX_CONNECTIONS")
        json=$(sed -n 's/^BENCH_JSON //p' <<<"$output")
        echo "{\"processes\": $processes, \"server\": \"$(describe "$SERVER" "$processes")\", \"result\": $json}" >>"$OUT/capacity.jsonl"
        # The next search starts at half what this one served, so that its couples arrive in two
        # steps or more, as on a server that runs on, and not all at once.
        served=$("$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])["couples"])' "$json")
        start_at=$((served / 2 > MIX_START ? served / 2 : MIX_START))
    done
fi

say "Report"
"$PYTHON" bench/report.py write "$OUT" "$DOC" \
    --server "$(describe "$SERVER")" --threads "$THREADS" \
    --duration "$DURATION s per row, $FLOOR_DURATION s per floor" \
    --cache "$CACHE_URL" --conn-max-age "$DATABASE_CONN_MAX_AGE" \
    --health-checks "$DATABASE_CONN_HEALTH_CHECKS" --quick "$quick" \
    --took "$(($(date +%s) - began))"
echo "$DOC written in $(($(date +%s) - began)) s"
if grep -q '"ok": false' "$OUT/checks.json"; then
    echo "A two-server check failed: see docs/benchmarks.md" >&2
    exit 1
fi
