"""CPU time and queries per request of the benchmark's pages, in one process and without an HTTP
server: the quick loop for working on a page, and the source of the in-process figures in
docs/benchmarks.md.

    python -m bench.inprocess --fixtures bench/out [--requests 200] [--profile [--sort tottime]]
        [ENDPOINT ...]

Runs against the database and cache of the environment (DATABASE_URL, CACHE_URL), seeded by
`python -m bench.seed --out bench/out`, with the settings of the environment (run it with
DJANGO_DEBUG=false, BENCHMARK_FLOOR=true and the other production settings bench/run.sh sets).
Each endpoint is requested round-robin by the fixtures' signed-in people, warmed up first, so
that the worker holds what it keeps; then CPU time (time.process_time) and queries are taken
over --requests requests. --profile prints where the time of each endpoint goes (cProfile: the 40
functions first by --sort, cumulative time unless told).

Two endpoints change what they read, as bench/drive.py does over HTTP, on the couples of the
seed's acting pool (actions.txt): `action` is the accept / withdraw round trip (reopen by the
partner who withdrew, accept by the other, withdraw by the first: POSTs with the CSRF token and
HX-Request, each answered with the card and the summary), every request measured;
`page_after_change` makes one change of that cycle (not measured) and then measures the other
partner's first load of /agreement/ after it. Every couple is put back at rest at the end.
"""

import argparse
import cProfile
import os
import pstats
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intimacy.settings")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402 (after django.setup)
from django.test import Client  # noqa: E402

ENDPOINTS = ["floor", "floor_signed_in", "poll", "page", "print", "therapist"]
ENDPOINTS += ["checkin_list", "checkin", "action", "page_after_change"]
CHANGES = ("action", "page_after_change")
# The CSRF check compares Origin with the host the request names, as the browser sends both.
HOST = settings.ALLOWED_HOSTS[0]
ORIGIN = f"https://{HOST}"


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


@dataclass
class Couple:
    """A couple of the acting pool: the first partner withdrew from the rule (it rests)."""

    a: tuple[str, str]  # (session, csrf token)
    b: tuple[str, str]
    rule: int
    version: int
    step: int = 0  # 0 resting, 1 reopened by a, 2 in force (as bench/drive.py)

    def change(self) -> tuple[str, tuple[str, str], str, tuple[str, str]]:
        """The next change of the cycle: its path, who makes it, its body, who sees it."""
        base = f"/agreement/rules/{self.rule}"
        if self.step == 0:
            return f"{base}/reopen/", self.a, "note=", self.b
        if self.step == 1:
            return f"{base}/accept/", self.b, f"version={self.version}", self.a
        return f"{base}/withdraw/", self.a, "note=", self.b


def acting_couples(fixtures: Path) -> list[Couple]:
    found = []
    for row in lines(fixtures / "actions.txt"):
        a_session, a_csrf, b_session, b_csrf, rule, version, _checkin = row
        found.append(Couple((a_session, a_csrf), (b_session, b_csrf), int(rule), int(version)))
    return found


class Changes:
    """The accept / withdraw cycle over the acting couples, round-robin, through a client that
    checks CSRF as the server does."""

    def __init__(self, fixtures: Path):
        self.couples = acting_couples(fixtures)
        self.client = Client(enforce_csrf_checks=True, headers={"X-Forwarded-Proto": "https"})
        self.next = 0

    def post(self, couple: Couple) -> tuple[str, str]:
        """Makes the couple's next change; the session of the partner who sees it."""
        path, (session, csrf), body, (seen_by, _csrf) = couple.change()
        self.client.cookies.clear()
        self.client.cookies["sessionid"] = session
        self.client.cookies["csrftoken"] = csrf
        response = self.client.post(
            path,
            body,
            content_type="application/x-www-form-urlencoded",
            secure=True,
            headers={
                "X-CSRFToken": csrf,
                "Origin": ORIGIN,
                "HX-Request": "true",
                "HX-Target": f"rule-{couple.rule}",
                "HX-Current-URL": f"{ORIGIN}/agreement/",
            },
            HTTP_HOST=HOST,
        )
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        couple.step = (couple.step + 1) % 3
        return seen_by

    def one(self) -> tuple[Couple, str]:
        """The next change: each couple in turn goes through the whole cycle (reopen, accept,
        withdraw), so that every third measured request is each of them."""
        couple = self.couples[self.next // 3 % len(self.couples)]
        self.next += 1
        return couple, self.post(couple)

    def settle(self) -> None:
        """Every couple back at rest, as the seed left it."""
        for couple in self.couples:
            while couple.step != 0:
                self.post(couple)


class Counter:
    def __init__(self):
        self.count = 0
        self.on = False

    def __call__(self, execute, sql, params, many, context):
        if self.on:
            self.count += 1
        return execute(sql, params, many, context)


def measure(mode: str, fixtures: Path, count: int, profile: str | None) -> dict:
    client = Client(headers={"X-Forwarded-Proto": "https"})  # one handler, as in one worker
    changes = Changes(fixtures) if mode in CHANGES else None
    requests = [] if changes else requests_for(mode, fixtures)
    expected = 304 if mode == "poll" else 200
    counter = Counter()
    profiler = cProfile.Profile() if profile else None
    spent = 0.0

    def get(path: str, session: str | None, headers: dict) -> None:
        client.cookies.clear()
        if session:
            client.cookies["sessionid"] = session
        response = client.get(path, secure=True, headers=headers, HTTP_HOST=HOST)
        if response.status_code != expected:
            raise SystemExit(f"{mode}: {path} answered {response.status_code}")

    def one(i: int, measured: bool) -> None:
        """One request; with `measured`, its CPU time, queries and profile are counted."""
        nonlocal spent
        if mode == "action":
            work = changes.one
        elif mode == "page_after_change":
            _couple, seen_by = changes.one()  # the other partner's change: not measured
            work = partial(get, "/agreement/", seen_by, {})
        else:
            work = partial(get, *requests[i % len(requests)])
        if not measured:
            work()
            return
        counter.on = True
        if profiler:
            profiler.enable()
        started = time.process_time()
        work()
        spent += time.process_time() - started
        if profiler:
            profiler.disable()
        counter.on = False

    # Every person once; a few whole cycles of changes (each couple's is three requests).
    warm_up = 30 if changes else max(len(requests), 20)
    with connection.execute_wrapper(counter):
        try:
            for i in range(warm_up):
                one(i, measured=False)
            for i in range(count):
                one(i, measured=True)
        finally:
            if changes:
                changes.settle()
    if profiler:
        print(f"\n== {mode}")
        pstats.Stats(profiler).sort_stats(profile).print_stats(40)
    return {"mode": mode, "cpu_ms": 1000 * spent / count, "queries": counter.count / count}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("--fixtures", type=Path, default=Path("bench/out"))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="the order of --profile's functions")
    parser.add_argument("endpoints", nargs="*", default=ENDPOINTS)
    options = parser.parse_args(argv)
    for mode in options.endpoints:
        found = measure(
            mode, options.fixtures, options.requests, options.sort if options.profile else None
        )
        print(f"{mode:16} {found['cpu_ms']:7.2f} ms CPU  {found['queries']:5.1f} queries")


if __name__ == "__main__":
    main(sys.argv[1:])
