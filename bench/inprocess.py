"""CPU time and queries per request of the benchmark's pages, in one process and without an HTTP
server: the quick loop for working on a page, and the source of the in-process figures in
docs/benchmarks.md.

    python -m bench.inprocess --fixtures bench/out [--requests 200] [--profile]

Runs against the database and cache of the environment (DATABASE_URL, CACHE_URL), seeded by
`python -m bench.seed --out bench/out`, with the settings of the environment (run it with
DJANGO_DEBUG=false, BENCHMARK_FLOOR=true and the other production settings bench/run.sh sets).
Each endpoint is requested round-robin by the fixtures' signed-in people, warmed up first, so
that the worker holds what it keeps; then CPU time (time.process_time) and queries are taken
over --requests requests. --profile prints where the time of each endpoint goes (cProfile).
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intimacy.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from django.db import connection  # noqa: E402 (after django.setup)
from django.test import Client  # noqa: E402

ENDPOINTS = ["floor", "floor_signed_in", "poll", "page", "print", "therapist"]
ENDPOINTS += ["checkin_list", "checkin"]


def lines(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def requests_for(mode: str, fixtures: Path) -> list[tuple[str, str | None, dict]]:
    """(path, session, headers) for each signed-in person, as bench/load.lua sends them."""
    if mode == "floor":
        return [("/bench/floor", None, {})]
    if mode == "therapist":
        return [("/therapist/", row[0], {}) for row in lines(fixtures / "therapist.txt")]
    paths = {
        "floor_signed_in": "/bench/floor/signed-in",
        "page": "/agreement/",
        "poll": "/agreement/poll/",
        "print": "/agreement/print/",
        "checkin_list": "/checkins/",
    }
    found = []
    for row in lines(fixtures / "page.txt"):
        path = f"/checkins/{row[3]}/" if mode == "checkin" else paths[mode]
        headers = {"If-None-Match": row[2], "HX-Request": "true"} if mode == "poll" else {}
        found.append((path, row[0], headers))
    return found


class Counter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(mode: str, fixtures: Path, count: int, profile: bool) -> dict:
    requests = requests_for(mode, fixtures)
    client = Client(headers={"X-Forwarded-Proto": "https"})  # one handler, as in one worker
    expected = 304 if mode == "poll" else 200

    def one(i: int) -> None:
        path, session, headers = requests[i % len(requests)]
        client.cookies.clear()
        if session:
            client.cookies["sessionid"] = session
        response = client.get(path, secure=True, headers=headers)
        if response.status_code != expected:
            raise SystemExit(f"{mode}: {path} answered {response.status_code}")

    for i in range(max(len(requests), 20)):  # warm up: every person once
        one(i)
    counter = Counter()
    profiler = cProfile.Profile() if profile else None
    with connection.execute_wrapper(counter):
        if profiler:
            profiler.enable()
        started = time.process_time()
        for i in range(count):
            one(i)
        cpu = time.process_time() - started
        if profiler:
            profiler.disable()
    if profiler:
        print(f"\n== {mode}")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return {"mode": mode, "cpu_ms": 1000 * cpu / count, "queries": counter.count / count}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("--fixtures", type=Path, default=Path("bench/out"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("endpoints", nargs="*", default=ENDPOINTS)
    options = parser.parse_args(argv)
    for mode in options.endpoints:
        found = measure(mode, options.fixtures, options.requests, options.profile)
        print(f"{mode:16} {found['cpu_ms']:7.2f} ms CPU  {found['queries']:5.1f} queries")


if __name__ == "__main__":
    main(sys.argv[1:])
