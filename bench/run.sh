#!/usr/bin/env bash
# The benchmark (make bench): the app under gunicorn with production settings against PostgreSQL,
# a realistic data set, and wrk against every hot path and against a trivial view of the same
# server (the floor). Writes the table to docs/benchmarks.md; the raw results stay in bench/out/.
#
# Two app servers share one database and one cache; the load goes to the first, and the second
# shows that what must be shared is (bench/checks.py). Everything listens on 127.0.0.1 only.
#
# Knobs (environment): BENCH_DURATION (seconds per run, 10), BENCH_CONNECTIONS ("16 64"),
# BENCH_WORKERS (gunicorn sync workers per server, 4: two per core, so that a worker waiting on
# PostgreSQL does not leave a core idle; the Dockerfile's WEB_CONCURRENCY is 3), BENCH_WRK_THREADS (2),
# BENCH_COUPLES (2000), BENCH_DATABASE (ror_bench, made afresh for each run and dropped after),
# BENCH_CACHE_URL (redis://127.0.0.1:6379/0 when Redis answers, else db://cache_table),
# BENCH_PROFILE=1 (a py-spy profile of the workers for each endpoint, if py-spy is installed).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PYTHON=${PYTHON:-.venv/bin/python}
GUNICORN=$(dirname "$PYTHON")/gunicorn
OUT=bench/out
DURATION=${BENCH_DURATION:-10}
CONNECTIONS=${BENCH_CONNECTIONS:-"16 64"}
WORKERS=${BENCH_WORKERS:-4}
THREADS=${BENCH_WRK_THREADS:-2}
COUPLES=${BENCH_COUPLES:-2000}
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
"$PYTHON" -m bench.seed --out "$OUT" --couples "$COUPLES" --action-couples $((200 * parts)) \
    | tee "$OUT/seed.txt"
echo "Seeded in $(($(date +%s) - start)) s." | tee -a "$OUT/seed.txt"

# -- two app servers --------------------------------------------------------------------------
read -r PORT_A PORT_B < <("$PYTHON" -c '
import socket
ports = []
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
    ports.append(s.getsockname()[1])
print(*ports)')
pids=()
stop_servers() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Its encryption key lived only in this run: nothing in it can be read any more.
    psql_admin -c "DROP DATABASE IF EXISTS \"$DATABASE\" WITH (FORCE)" || true
}
trap stop_servers EXIT
for port in "$PORT_A" "$PORT_B"; do
    # No control socket: its default path is shared by every gunicorn on the machine.
    "$GUNICORN" intimacy.wsgi --bind "127.0.0.1:$port" --workers "$WORKERS" --no-control-socket \
        --pid "$OUT/gunicorn-$port.pid" >"$OUT/gunicorn-$port.log" 2>&1 &
    pids+=($!)
done
"$PYTHON" bench/checks.py wait "http://127.0.0.1:$PORT_A" "http://127.0.0.1:$PORT_B"
say "Servers: A http://127.0.0.1:$PORT_A, B http://127.0.0.1:$PORT_B, $WORKERS sync workers each"

say "Checks: page weight, static files, two servers"
"$PYTHON" bench/checks.py run "http://127.0.0.1:$PORT_A" "http://127.0.0.1:$PORT_B" "$OUT" | tee "$OUT/checks.log"

# -- load -------------------------------------------------------------------------------------
profiler=""
if [ "${BENCH_PROFILE:-}" = 1 ]; then
    profiler=$(command -v py-spy || true)
    [ -n "$profiler" ] || echo "BENCH_PROFILE=1 but py-spy is not on the PATH: no profiles" >&2
fi

# load LABEL CONNECTIONS SECONDS MODE [PART]: one wrk run against server A; its result is
# appended to results.jsonl unless LABEL is "warm-up".
load() {
    local label=$1 connections=$2 seconds=$3 mode=$4 part=${5:-0} output json spy=""
    if [ -n "$profiler" ] && [ "$label" != warm-up ]; then
        "$profiler" record --subprocesses --pid "$(cat "$OUT/gunicorn-$PORT_A.pid")" --rate 200 \
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
        echo "{\"label\": \"$label\", \"connections\": $connections, \"wrk\": $json}" >>"$OUT/results.jsonl"
        "$PYTHON" bench/report.py line "$OUT/results.jsonl"
    fi
}

say "Warm-up (not counted)"
for mode in floor floor_signed_in page poll print therapist; do load warm-up 16 2 "$mode"; done
load warm-up 16 2 actions 0
uptime >"$OUT/load-before.txt"

part=0
for connections in $CONNECTIONS; do
    part=$((part + 1))
    say "$connections connections, ${DURATION} s each"
    # The floor between every two endpoints: each endpoint is compared with the floor measured
    # just before and just after it, so that a machine whose load drifts moves both alike.
    load floor "$connections" "$DURATION" floor
    for mode in floor_signed_in page poll actions print therapist; do
        load "$mode" "$connections" "$DURATION" "$mode" "$part"
        load floor "$connections" "$DURATION" floor
    done
done
uptime >"$OUT/load-after.txt"

say "Report"
"$PYTHON" bench/report.py write "$OUT" docs/benchmarks.md \
    --workers "$WORKERS" --threads "$THREADS" --duration "$DURATION" \
    --cache "$CACHE_URL" --conn-max-age "$DATABASE_CONN_MAX_AGE"
echo "docs/benchmarks.md written"
if grep -q '"ok": false' "$OUT/checks.json"; then
    echo "A two-server check failed: see docs/benchmarks.md" >&2
    exit 1
fi
