"""The benchmark's own load driver (bench/run.sh), for what wrk cannot do: requests that must
follow each other in order, and many simulated couples living on a clock.

    drive.py run URL FIXTURES MODE [--connections 16 --seconds 8 --warmup 2 --pool actions]
    drive.py capacity URL FIXTURES [--start 50 --max 2000 --seconds 15 --steps 8]

MODE is one of
  floor, floor_signed_in   the two floors, as wrk measures them (for like-with-like ratios);
  actions                  the accept / withdraw round trip: each connection takes a couple through
                           reopen (the partner who withdrew), accept (the other: in force again),
                           withdraw (the first: resting again), every request a real change
                           answered with its htmx card; each one timed;
  after_change             the same changes, each followed by the *other* partner loading the
                           agreement page, in rounds: all changes, then all loads; only the loads
                           are measured (see run_paired);
  floor_after_change       the same rounds, the other partner requesting the signed-in floor:
                           the floor of after_change, measured the same way.
`capacity` runs the mixed workload (see MIX) for a growing number of active couples and reports
the largest whose requests keep a p95 under 200 ms with no error.

It speaks HTTP/1.1 over asyncio streams itself (the standard library only, and little work per
request: it shares the machine with the servers), as a browser behind the TLS proxy would: the
session and CSRF cookies, X-Forwarded-Proto: https, and for htmx HX-Request, the CSRF header and
If-None-Match on the poll. Every couple it moves is put back at rest (its rule resting, as the
seed left it) before it exits, so that runs can follow each other on one data set. Everything is
bounded: each run by its seconds, each request by a 30 s timeout.

Prints one line "BENCH_JSON {...}" in the shape of bench/load.lua's, for bench/report.py.
"""

import argparse
import asyncio
import json
import math
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

TIMEOUT = 30.0
FLOOR, SIGNED_IN, PAGE, POLL = (
    "/bench/floor",
    "/bench/floor/signed-in",
    "/agreement/",
    "/agreement/poll/",
)
# p95 under this, and no error, for a number of couples to count as served (issue 21).
TARGET_P95_MS = 200.0

# The mixed workload, per active couple (a couple with the agreement open): see
# docs/benchmarks.md for why these proportions.
MIX = {
    "poll_every_s": 5.0,  # hx-trigger="every 5s" while the page is visible: both partners
    "actions_per_min": 0.5,  # one change every two minutes, alternating partners by the cycle
    "page_after_change_delay_s": (1.0, 4.0),  # the other partner loads the page once, this late
    "checkin_lists_per_min": 0.2,  # one partner opens the check-in list every five minutes
    "checkins_per_min": 0.2,  # and a revealed check-in every five minutes
    "couples_per_therapist": 50,  # one therapist doing rounds per 50 active couples
    "rounds_every_s": 30.0,  # the home, then a client couple's page 15 s later, every 30 s
}


# -- HTTP -----------------------------------------------------------------------------------------


class Closed(Exception):
    pass


@dataclass
class Answer:
    status: int
    etag: str
    length: int


class Connection:
    """One keep-alive connection, reopened when the server closes it."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def send(self, raw: bytes, head_only: bool = False) -> Answer:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(raw)
            return await self._answer(head_only)
        except (OSError, asyncio.IncompleteReadError, Closed, ValueError, asyncio.CancelledError):
            self.close()  # an answer cut off half-read must not be read as the next one
            raise

    async def _answer(self, head_only: bool) -> Answer:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, etag, close = -1, False, "", False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"etag":
                etag = value.strip().decode()
            elif name == b"connection":
                close = b"close" in value.lower()
        size = 0
        if head_only or status in (204, 304) or 100 <= status < 200:
            pass
        elif chunked:
            while True:
                chunk = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(chunk + 2)
                size += chunk
                if chunk == 0:
                    break
        elif length >= 0:
            size = len(await self.reader.readexactly(length))
        else:
            size = len(await self.reader.read())
            close = True
        if close:
            self.close()
        return Answer(status, etag, size)


class Client:
    """Builds the requests a browser behind the TLS proxy sends."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.authority = f"{self.host}:{self.port}"
        self.origin = f"https://{self.authority}"

    def connection(self) -> Connection:
        return Connection(self.host, self.port)

    def get(self, path: str, session: str = "", headers: dict | None = None) -> bytes:
        lines = [f"GET {path} HTTP/1.1", f"Host: {self.authority}", "X-Forwarded-Proto: https"]
        if session:
            lines.append(f"Cookie: sessionid={session}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def post(self, path: str, session: str, csrf: str, body: str, target: str) -> bytes:
        data = body.encode()
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.authority}",
            "X-Forwarded-Proto: https",
            f"Cookie: sessionid={session}; csrftoken={csrf}",
            f"X-CSRFToken: {csrf}",
            f"Origin: {self.origin}",
            "HX-Request: true",
            f"HX-Target: {target}",
            f"HX-Current-URL: {self.origin}{PAGE}",
            "Content-Type: application/x-www-form-urlencoded",
            f"Content-Length: {len(data)}",
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data

    def poll(self, session: str, etag: str) -> bytes:
        headers = {"HX-Request": "true", "HX-Target": "live", "HX-Current-URL": self.origin + PAGE}
        if etag:
            headers["If-None-Match"] = etag
        return self.get(POLL, session, headers)


# -- fixtures ---------------------------------------------------------------------------------------


@dataclass
class Partner:
    session: str
    csrf: str
    etag: str = ""


@dataclass
class Couple:
    """A couple of the seed's acting pools (bench/seed.py): the first partner withdrew from the
    rule, which rests with the wording both had agreed."""

    a: Partner
    b: Partner
    rule: int
    version: int
    checkin: int
    step: int = 0  # where in the cycle: 0 resting, 1 reopened by a, 2 in force
    busy: bool = False  # a change is on its way (and may be cut off by the end of a run)

    def answered(self, answer: "Answer | None") -> bool:
        """Moves the cycle on after a change's answer. A 409 means the rule is one step behind
        where the driver thought (a run cut off after a change was made): the driver steps back
        to it, so that one refusal is counted and the next change fits."""
        if answer is not None and answer.status == 200:
            self.step = (self.step + 1) % 3
            return True
        if answer is not None and answer.status == 409:
            self.step = (self.step - 1) % 3
        return False

    def change(self, client: Client) -> tuple[bytes, Partner, Partner]:
        """The next change of the cycle: its request, who makes it and who sees it."""
        base = f"/agreement/rules/{self.rule}"
        target = f"rule-{self.rule}"
        if self.step == 0:
            return (
                client.post(f"{base}/reopen/", self.a.session, self.a.csrf, "note=", target),
                self.a,
                self.b,
            )
        if self.step == 1:
            body = f"version={self.version}"
            return (
                client.post(f"{base}/accept/", self.b.session, self.b.csrf, body, target),
                self.b,
                self.a,
            )
        return (
            client.post(f"{base}/withdraw/", self.a.session, self.a.csrf, "note=", target),
            self.a,
            self.b,
        )


def couples(fixtures: Path, pool: str) -> list[Couple]:
    found = []
    for line in (fixtures / f"{pool}.txt").read_text().splitlines():
        if line.strip():
            a_session, a_csrf, b_session, b_csrf, rule, version, checkin = line.split()
            found.append(
                Couple(
                    Partner(a_session, a_csrf),
                    Partner(b_session, b_csrf),
                    int(rule),
                    int(version),
                    int(checkin),
                )
            )
    return found


def sessions(fixtures: Path) -> list[str]:
    return [
        line.split()[0] for line in (fixtures / "page.txt").read_text().splitlines() if line.strip()
    ]


# -- statistics -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What one kind of request did: latencies (seconds), statuses, errors."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    unexpected: int = 0
    errors: dict[str, int] = field(
        default_factory=lambda: {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    )
    bytes: int = 0

    def add(
        self, latency: float, answer: Answer | None, expected: tuple[int, ...], error: str = ""
    ) -> None:
        if answer is None:
            self.errors[error or "read"] += 1
            return
        self.latencies.append(latency)
        self.bytes += answer.length
        self.statuses[answer.status] = self.statuses.get(answer.status, 0) + 1
        if answer.status not in expected:
            self.unexpected += 1
        if answer.status >= 400:
            self.errors["status"] += 1

    def merge(self, other: "Tally") -> None:
        self.latencies += other.latencies
        self.bytes += other.bytes
        self.unexpected += other.unexpected
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        for k, v in other.errors.items():
            self.errors[k] += v

    def failures(self) -> int:
        return self.unexpected + sum(v for k, v in self.errors.items() if k != "status")

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))]

    def summary(self, seconds: float) -> dict:
        n = len(self.latencies)
        us = 1e6
        return {
            "requests": n,
            "duration_us": int(seconds * us),
            "bytes": self.bytes,
            "p50_us": int(self.percentile(50) * us),
            "p90_us": int(self.percentile(90) * us),
            "p95_us": int(self.percentile(95) * us),
            "p99_us": int(self.percentile(99) * us),
            "max_us": int(max(self.latencies, default=0) * us),
            "mean_us": sum(self.latencies) / n * us if n else 0.0,
            "errors": dict(self.errors),
            "unexpected": self.unexpected,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


async def request(connection: Connection, raw: bytes) -> tuple[Answer | None, str]:
    """Sends one request: its answer, or None and what went wrong."""
    try:
        return await asyncio.wait_for(connection.send(raw), TIMEOUT), ""
    except TimeoutError:
        connection.close()
        return None, "timeout"
    except ConnectionRefusedError:
        return None, "connect"
    except (OSError, asyncio.IncompleteReadError, Closed, ValueError):
        return None, "read"


# -- closed-loop rows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """What one row measures: the `mode`, over how many connections, for `seconds` after the
    warm-up (or longer until `min_requests` are counted, never longer than `max_seconds`), with
    which acting couples (`pool`)."""

    mode: str
    connections: int
    seconds: float
    warmup: float
    pool: str
    min_requests: int = 0
    max_seconds: float = 0


async def run_row(client: Client, fixtures: Path, row: Row) -> dict:
    """Each connection sends its next request as soon as the last one is answered, as wrk does;
    what is answered inside the measured time counts, as wrk counts it (a request sent in the
    warm-up and answered in the window too). The measured time is `seconds`, or longer until
    `min_requests` are counted, but never longer than `max_seconds`: a row whose requests take
    seconds each (a change at 64 connections) still gets enough of them."""
    timed = Tally()
    acting = couples(fixtures, row.pool) if row.mode == "actions" else []
    connections = min(row.connections, len(acting)) if acting else row.connections
    signed = sessions(fixtures) if row.mode == "floor_signed_in" else []
    per = max(1, min(8, len(acting) // connections)) if acting else 0
    begin = time.perf_counter() + row.warmup
    end = [math.inf]  # set when the measured time is over

    async def send(connection: Connection, raw: bytes, tally: Tally) -> Answer | None:
        """One request, counted in the tally if it was answered in the measured time."""
        sent = time.perf_counter()
        answer, error = await request(connection, raw)
        done = time.perf_counter()
        if begin <= done <= end[0]:
            tally.add(done - sent, answer, (200,), error)
        return answer

    async def worker(k: int) -> None:
        connection = client.connection()
        mine = acting[k::connections][:per]
        signed_mine = signed[k::connections] or signed
        n = 0
        try:
            while time.perf_counter() < end[0]:
                if row.mode == "floor":
                    await send(connection, client.get(FLOOR), timed)
                elif row.mode == "floor_signed_in":
                    session = signed_mine[n % len(signed_mine)]
                    await send(connection, client.get(SIGNED_IN, session), timed)
                else:
                    # A whole cycle of one couple, then the next.
                    couple = mine[(n // 3) % len(mine)]
                    raw, _, _ = couple.change(client)
                    couple.answered(await send(connection, raw, timed))
                n += 1
        finally:
            await settle(client, connection, mine)
            connection.close()

    tasks = [asyncio.create_task(worker(k)) for k in range(connections)]
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    cpu = time.process_time()
    await asyncio.sleep(row.seconds)
    cap = begin + max(row.seconds, row.max_seconds)
    while len(timed.latencies) < row.min_requests and time.perf_counter() < cap:
        await asyncio.sleep(0.05)
    end[0] = time.perf_counter()
    cpu = time.process_time() - cpu
    await asyncio.gather(*tasks)
    result = timed.summary(end[0] - begin)
    sent = len(timed.latencies)
    result.update(
        mode=row.mode,
        driver="python",
        connections=connections,
        pool=row.pool if acting else "",
        client_cpu_us=cpu / sent * 1e6 if sent else 0.0,
    )
    return result


PER_PHASE = 128  # page loads per phase at most (each connection's share of them at most 4)


async def run_paired(client: Client, fixtures: Path, row: Row) -> dict:
    """The page (or the signed-in floor) right after the other partner's change, in rounds of two
    phases. In the first, each connection makes one change for each of its couples (the next of
    the cycle: reopen, accept, withdraw), all connections at once; in the second, once every
    change is answered, each connection loads the page of the other partner of each of those
    couples, all at once. Only the second phases are measured: their requests per second are
    page loads while the server does nothing else, and every one of them follows a change to
    what it shows. Rounds go on for `seconds` after the warm-up (or longer until `min_requests`
    loads are counted, never longer than `max_seconds` in all)."""
    acting = couples(fixtures, row.pool)
    connections = min(row.connections, len(acting))
    per = max(1, min(4, PER_PHASE // connections, len(acting) // connections))
    path = PAGE if row.mode == "after_change" else SIGNED_IN
    loads, changes = Tally(), Tally()
    barrier = asyncio.Barrier(connections + 1)
    state = {"stop": False, "measuring": False}

    async def worker(k: int) -> None:
        connection = client.connection()
        mine = acting[k::connections][:per]
        try:
            while True:
                await barrier.wait()  # a round begins
                if state["stop"]:
                    break
                viewers = []
                for couple in mine:
                    raw, _, other = couple.change(client)
                    sent = time.perf_counter()
                    answer, error = await request(connection, raw)
                    # Every change counts, the warm-up's too: a change refused is an error.
                    changes.add(time.perf_counter() - sent, answer, (200,), error)
                    if couple.answered(answer):
                        viewers.append(other)
                await barrier.wait()  # every change is answered
                await barrier.wait()  # the loads begin
                for other in viewers:
                    sent = time.perf_counter()
                    answer, error = await request(connection, client.get(path, other.session))
                    if state["measuring"]:
                        loads.add(time.perf_counter() - sent, answer, (200,), error)
                await barrier.wait()  # every load is answered
        finally:
            await settle(client, connection, mine)
            connection.close()

    tasks = [asyncio.create_task(worker(k)) for k in range(connections)]
    started = time.perf_counter()
    cap = started + row.warmup + max(row.seconds, row.max_seconds)
    measured = 0.0
    cpu = 0.0
    try:
        while True:
            now = time.perf_counter()
            measured_for = now - started - row.warmup
            enough = measured_for >= row.seconds and len(loads.latencies) >= row.min_requests
            if enough or now >= cap:
                state["stop"] = True
            await barrier.wait()
            if state["stop"]:
                break
            await barrier.wait()
            state["measuring"] = time.perf_counter() >= started + row.warmup
            phase, phase_cpu = time.perf_counter(), time.process_time()
            await barrier.wait()
            await barrier.wait()
            if state["measuring"]:
                measured += time.perf_counter() - phase
                cpu += time.process_time() - phase_cpu
    finally:
        await asyncio.gather(*tasks)
    result = loads.summary(measured)
    result.update(
        mode=row.mode,
        driver="python",
        connections=connections,
        pool=row.pool,
        per_phase=per * connections,
        client_cpu_us=cpu / len(loads.latencies) * 1e6 if loads.latencies else 0.0,
        changes=changes.summary(measured),
    )
    result["unexpected"] += changes.unexpected
    for k, v in changes.errors.items():
        result["errors"][k] += v
    return result


async def settle(client: Client, connection: Connection, mine: list[Couple]) -> None:
    """Takes every couple of this connection back to rest (its rule resting, as seeded). Each
    change of the cycle is answered 200 when sent twice (a double submit), so a change cut off on
    its way, made or not, is simply sent again."""
    for couple in mine:
        tries = 0
        if couple.busy and couple.step == 0:  # a reopening cut off: made or not, go round once
            answer, _ = await request(connection, couple.change(client)[0])
            couple.answered(answer)
        couple.busy = False
        while couple.step != 0 and tries < 6:
            raw, _, _ = couple.change(client)
            answer, _ = await request(connection, raw)
            couple.answered(answer)
            tries += 1


# -- the mixed workload -----------------------------------------------------------------------------


class Pool:
    """The keep-alive connections between the proxy in front of the app and the app server: every
    simulated browser's request waits for one (the wait counts in its latency)."""

    def __init__(self, client: Client, size: int):
        self.free: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(client.connection())

    async def send(self, raw: bytes) -> tuple[Answer | None, str]:
        connection = await self.free.get()
        try:
            return await request(connection, raw)
        finally:
            self.free.put_nowait(connection)

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().close()


# Arrivals load the page this many at a time: a step's new couples arrive as fast as the server
# answers, not all in one burst.
ARRIVING_AT_ONCE = 8
# Seconds a step's arrivals may take (and so much more per arriving couple); a server that cannot
# take them in that time does not serve that many couples.
ARRIVALS_S = 60.0
ARRIVAL_S = 0.25
OVERLOADED_S = 2.0
# Seconds after a measured window that what was due in it may still take to be answered.
LATE_S = 3.0
KINDS = (
    "page_load",
    "poll_unchanged",
    "poll_changed",
    "action",
    "page_after_change",
    "checkin_list",
    "checkin",
    "therapist_home",
    "therapist_couple",
)


class Simulation:
    """Active couples living by MIX on the clock, against one app server. The number of active
    couples is changed step by step (`measure`): couples who become active arrive (both partners
    load the page, a few at a time, then poll), couples beyond the number stop at their next
    request. A step is measured once its arrivals are answered, over a window in which every
    request due is counted, timed from the moment it was due (waiting for a free connection
    counts); what is still unanswered a little after the window counts with the time it has
    waited so far. A step with fewer couples than the last stops the others at once (what they
    had waiting is not sent) and waits for the server to catch up before it is measured, so that
    one step's backlog is not measured in the next."""

    def __init__(self, client: Client, fixtures: Path, pool_size: int, seed: int = 21):
        self.client = client
        self.everyone = couples(fixtures, "actions")
        self.rounds = [
            line.split()
            for line in (fixtures / "rounds.txt").read_text().splitlines()
            if line.strip()
        ]
        self.pool_size = pool_size
        self.pool = Pool(client, pool_size)
        self.rng = random.Random(seed)
        self.active = 0  # couples everyone[:active] are active
        self.therapists = 0
        self.generation: dict[int, int] = {}  # couple (or -1 - therapist) -> its current life
        self.tasks: set[asyncio.Task] = set()
        self.lives: dict[int, set[asyncio.Task]] = {}
        self.arrivals = asyncio.Semaphore(ARRIVING_AT_ONCE)
        self.arriving: set[tuple[int, str]] = set()  # partners whose first page is on its way
        self.window = (math.inf, math.inf)
        self.tallies = {kind: Tally() for kind in KINDS}
        self.on_their_way: dict[int, tuple[str, float]] = {}  # due in the window, unanswered
        self.lag = Tally()

    # -- requests ------------------------------------------------------------------------------

    async def send(self, raw: bytes, due: float, kind: str, expected=(200,)) -> Answer | None:
        """One request due at `due`; counted under its kind (a poll: changed or not, by its
        answer) when it was due inside the measured window."""
        window = self.window
        counted = window[0] <= due < window[1]
        key = id(asyncio.current_task())  # one request at a time per task
        if counted:
            self.on_their_way[key] = (kind, due)
        try:
            answer, error = await self.pool.send(raw)
        finally:
            self.on_their_way.pop(key, None)
        if kind == "poll":
            changed = answer is not None and answer.status == 200
            kind = "poll_changed" if changed else "poll_unchanged"
        if counted and self.window == window:
            self.tallies[kind].add(time.perf_counter() - due, answer, expected, error)
        return answer

    def spawn(self, coroutine, key: int | None = None) -> None:
        """Runs the coroutine; with a key, it is one of that couple's (or therapist's) lives and
        is cancelled when the couple stops."""
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        if key is not None:
            mine = self.lives.setdefault(key, set())
            mine.add(task)
            task.add_done_callback(mine.discard)

    def end(self, key: int) -> None:
        """Ends a couple's (or therapist's) lives now: what it has waiting is not sent."""
        self.live(key)
        for task in list(self.lives.get(key, ())):
            task.cancel()
        self.arriving -= {(key, "a"), (key, "b")}

    async def wait(self, moment: float, key: int, life: int) -> bool:
        """Sleeps until the moment; False if this life ended meanwhile."""
        await asyncio.sleep(max(0.0, moment - time.perf_counter()))
        return self.generation.get(key) == life

    # -- lives ---------------------------------------------------------------------------------

    async def partner(self, n: int, life: int, partner: Partner, who: str, r) -> None:
        """Arrives (loads the page), then polls every 5 s with the ETag the page holds."""
        try:
            async with self.arrivals:
                if self.generation.get(n) != life:
                    return
                page = self.client.get(PAGE, partner.session)
                answer = await self.send(page, time.perf_counter(), "page_load")
        finally:
            self.arriving.discard((n, who))
        if answer is not None:
            partner.etag = answer.etag
        due = time.perf_counter() + r.uniform(0, MIX["poll_every_s"])
        while await self.wait(due, n, life):
            poll = self.client.poll(partner.session, partner.etag)
            answer = await self.send(poll, due, "poll", (200, 304))
            if answer is not None and answer.status == 200 and answer.etag:
                partner.etag = answer.etag
            # The page polls on its interval; a tick that came while the last poll was on its
            # way is dropped (htmx sends no second request from an element waiting for one).
            due += MIX["poll_every_s"]
            while due < time.perf_counter():
                due += MIX["poll_every_s"]

    async def page_after_change(self, partner: Partner, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        answer = await self.send(self.client.get(PAGE, partner.session), due, "page_after_change")
        if answer is not None and answer.etag:
            partner.etag = answer.etag  # what the page's poll sends from now on

    async def actions(self, n: int, life: int, couple: Couple, r) -> None:
        rate = MIX["actions_per_min"] / 60
        due = time.perf_counter() + r.expovariate(rate)
        while await self.wait(due, n, life):
            raw, _, other = couple.change(self.client)
            couple.busy = True
            answer = await self.send(raw, due, "action")
            couple.busy = False
            if couple.answered(answer):
                # The actor's poll keeps the ETag it had (app.js): its next poll brings the live
                # region. The other partner loads the page once, a moment later.
                low, high = MIX["page_after_change_delay_s"]
                later = time.perf_counter() + r.uniform(low, high)
                self.spawn(self.page_after_change(other, later))
            due = max(due, time.perf_counter()) + r.expovariate(rate)

    async def checkins(self, n: int, life: int, couple: Couple, r, kind: str) -> None:
        rate = MIX["checkin_lists_per_min" if kind == "checkin_list" else "checkins_per_min"] / 60
        path = "/checkins/" if kind == "checkin_list" else f"/checkins/{couple.checkin}/"
        due = time.perf_counter() + r.expovariate(rate)
        while await self.wait(due, n, life):
            partner = couple.a if r.random() < 0.5 else couple.b
            await self.send(self.client.get(path, partner.session), due, kind)
            due += r.expovariate(rate)

    async def therapist(self, t: int, life: int, r) -> None:
        """Rounds: the home, then one client couple's page half a round later, and again."""
        session, *clients = self.rounds[t % len(self.rounds)]
        key = -1 - t
        every = MIX["rounds_every_s"]
        due = time.perf_counter() + r.uniform(0, every)
        visits = 0
        while await self.wait(due, key, life):
            await self.send(self.client.get("/therapist/", session), due, "therapist_home")
            half = due + every / 2
            if clients and await self.wait(half, key, life):
                path = f"/therapist/couples/{clients[(t + visits) % len(clients)]}/"
                await self.send(self.client.get(path, session), half, "therapist_couple")
                visits += 1
            due += every

    async def driver_lag(self) -> None:
        """How late the driver itself wakes up: when it is busy, the latencies are partly its."""
        due = time.perf_counter()
        while True:
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            begin, end = self.window
            if begin <= due < end:
                self.lag.latencies.append(time.perf_counter() - due)
            due += 0.05

    # -- steps ---------------------------------------------------------------------------------

    def live(self, key: int) -> int:
        self.generation[key] = self.generation.get(key, 0) + 1
        return self.generation[key]

    def activate(self, count: int) -> None:
        """Makes the first `count` couples of the data set active."""
        count = min(count, len(self.everyone))
        for n in range(self.active, count):
            life = self.live(n)
            couple = self.everyone[n]
            r = random.Random(self.rng.random())
            self.arriving |= {(n, "a"), (n, "b")}
            self.spawn(self.partner(n, life, couple.a, "a", r), n)
            self.spawn(self.partner(n, life, couple.b, "b", r), n)
            self.spawn(self.actions(n, life, couple, r), n)
            self.spawn(self.checkins(n, life, couple, r, "checkin_list"), n)
            self.spawn(self.checkins(n, life, couple, r, "checkin"), n)
        for n in range(count, self.active):
            self.end(n)
        therapists = math.ceil(count / MIX["couples_per_therapist"]) if self.rounds else 0
        for t in range(self.therapists, therapists):
            life = self.live(-1 - t)
            self.spawn(self.therapist(t, life, random.Random(self.rng.random())), -1 - t)
        for t in range(therapists, self.therapists):
            self.end(-1 - t)
        self.active, self.therapists = count, therapists

    async def drain(self) -> float:
        """Waits (at most ARRIVALS_S) until a request sent through the pool now is answered
        quickly: what stopped couples had waiting is gone and the server has caught up. The
        seconds it took."""
        started = time.perf_counter()
        while time.perf_counter() - started < ARRIVALS_S:
            sent = time.perf_counter()
            answer, _ = await self.pool.send(self.client.get(FLOOR))
            if answer is not None and time.perf_counter() - sent < 0.1:
                break
            await asyncio.sleep(0.5)
        return time.perf_counter() - started

    async def measure(self, count: int, seconds: float, settle: float) -> dict:
        """One step: `count` couples active, then `seconds` measured."""
        arrived = time.perf_counter()
        fewer, new = count < self.active, max(0, count - self.active)
        self.activate(count)
        if fewer:
            await self.drain()
        # Many new couples may take longer to arrive than ARRIVALS_S, but only while the couples
        # already there are still answered: once their polls wait OVERLOADED_S and more, past
        # ARRIVALS_S, this many couples are not served, whatever a window would say. (Before
        # that, slow polls are the arrivals' own burst of first page loads.)
        patience = arrived + ARRIVALS_S
        deadline = patience + ARRIVAL_S * new
        self.tallies = {kind: Tally() for kind in KINDS}
        self.window = (time.perf_counter(), math.inf)
        overloaded = False
        while self.arriving and time.perf_counter() < deadline and not overloaded:
            await asyncio.sleep(0.5)
            if time.perf_counter() > patience:
                polls = self.tallies["poll_unchanged"]
                recent = polls.latencies[-200:]
                late = sorted(recent)[int(0.95 * len(recent))] if len(recent) >= 50 else 0.0
                overloaded = late > OVERLOADED_S
        self.window = (math.inf, math.inf)
        arrived = time.perf_counter() - arrived
        if self.arriving:  # the server cannot even take the arrivals: not served, no window
            result = Tally().summary(seconds)
            result.update(
                mode="mix",
                driver="python",
                couples=self.active,
                therapists=0,
                connections=self.pool_size,
                arrivals_s=arrived,
                unanswered=len(self.arriving),
                kinds={kind: Tally().summary(seconds) for kind in KINDS},
                client_cpu_us=0.0,
                driver_lag_p95_us=0,
                driver_lag_max_us=0,
                served=False,
            )
            return result
        await asyncio.sleep(settle)
        self.tallies = {kind: Tally() for kind in KINDS}
        self.lag = Tally()
        self.on_their_way = {}  # what was sent before the window is not waited for after it
        begin = time.perf_counter()
        self.window = (begin, begin + seconds)
        cpu = time.process_time()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu
        # What was due in the window and is on its way gets a moment more; then what is still
        # unanswered counts with the time it has waited so far.
        cutoff = time.perf_counter() + LATE_S
        while self.on_their_way and time.perf_counter() < cutoff:
            await asyncio.sleep(0.05)
        now = time.perf_counter()
        unanswered = 0
        for kind, due in self.on_their_way.values():
            if kind != "poll":
                self.tallies[kind].latencies.append(now - due)
            else:
                self.tallies["poll_unchanged"].latencies.append(now - due)
            unanswered += 1
        self.window = (math.inf, math.inf)
        overall = Tally()
        for t in self.tallies.values():
            overall.merge(t)
        result = overall.summary(seconds)
        result.update(
            mode="mix",
            driver="python",
            couples=self.active,
            therapists=self.therapists,
            connections=self.pool_size,
            arrivals_s=arrived,
            unanswered=unanswered,
            kinds={kind: t.summary(seconds) for kind, t in self.tallies.items()},
            client_cpu_us=cpu / max(1, len(overall.latencies)) * 1e6,
            driver_lag_p95_us=int(self.lag.percentile(95) * 1e6),
            driver_lag_max_us=int(max(self.lag.latencies, default=0) * 1e6),
        )
        result["served"] = served(result)
        return result

    async def stop(self) -> None:
        """Ends every life (what is on its way is cut off), takes every couple back to rest, and
        leaves an idle server and an empty pool: the next step starts afresh."""
        for key in self.generation:
            self.live(key)
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.pool.close()
        self.pool = Pool(self.client, self.pool_size)
        self.on_their_way.clear()
        self.active = self.therapists = 0
        self.arriving.clear()
        connections = [self.client.connection() for _ in range(16)]
        moved = [c for c in self.everyone if c.step or c.busy]
        await asyncio.gather(
            *(settle(self.client, c, moved[k::16]) for k, c in enumerate(connections))
        )
        for c in connections:
            c.close()


def served(result: dict) -> bool:
    failures = result["unexpected"] + sum(v for k, v in result["errors"].items() if k != "status")
    return failures == 0 and result["requests"] > 0 and result["p95_us"] < TARGET_P95_MS * 1000


async def capacity(
    client: Client,
    fixtures: Path,
    start: int,
    most: int,
    seconds: float,
    pool_size: int,
    steps: int,
    settle_s: float,
) -> dict:
    """The largest number of active couples served (p95 under the target, no error): from
    `start`, doubled while served, then halved between the last served and the first not
    served, at most `steps` measured steps. The couples stay active from one step to the next
    (a step adds couples, or stops some and waits for the server to catch up), as on a server
    that runs on."""
    simulation = Simulation(client, fixtures, pool_size)
    most = min(most, len(simulation.everyone))
    lagger = asyncio.create_task(simulation.driver_lag())
    tried: dict[int, dict] = {}
    good, bad = 0, None
    n = max(1, min(start, most))
    try:
        while len(tried) < steps:
            result = await simulation.measure(n, seconds, settle_s)
            tried[n] = result
            report_step(result, seconds)
            if result["served"]:
                good = n
                if n >= most:
                    break
                if bad is None:
                    n = min(most, n * 2)
                    continue
            else:
                bad = n
                if good == 0:
                    if n == 1:
                        break
                    n = max(1, n // 2)
                    continue
            if bad - good <= max(2, good // 10):
                break
            n = (good + bad) // 2
    finally:
        lagger.cancel()
        await simulation.stop()
    return {
        "mode": "capacity",
        "driver": "python",
        "couples": good,
        "limit": most,
        "first_not_served": bad,
        "target_p95_ms": TARGET_P95_MS,
        "seconds": seconds,
        "connections": pool_size,
        "mix": MIX,
        "steps": [tried[n] for n in sorted(tried)],
    }


def report_step(result: dict, seconds: float) -> None:
    worst = max(result["kinds"].items(), key=lambda kv: kv[1]["p95_us"])
    failures = result["unexpected"] + sum(v for k, v in result["errors"].items() if k != "status")
    if result["unanswered"] and not result["requests"]:
        print(
            f"  {result['couples']:5d} couples: {result['unanswered']} page loads of the arrivals"
            f" still unanswered after {result['arrivals_s']:.0f} s: not served",
            file=sys.stderr,
            flush=True,
        )
        return
    print(
        f"  {result['couples']:5d} couples ({result['arrivals_s']:.0f} s to arrive):"
        f" {result['requests'] / seconds:7.1f} req/s,"
        f" p95 {result['p95_us'] / 1000:7.1f} ms (slowest: {worst[0]}"
        f" {worst[1]['p95_us'] / 1000:.0f} ms), errors {failures}"
        f"{' ' + str({k: t['statuses'] for k, t in result['kinds'].items() if t['unexpected'] or sum(t['errors'].values())}) if failures else ''},"
        f" driver lag p95"
        f" {result['driver_lag_p95_us'] / 1000:.1f} ms, driver CPU"
        f" {result['client_cpu_us']:.0f} us/request: {'served' if result['served'] else 'not served'}",
        file=sys.stderr,
        flush=True,
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench/drive.py")
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("url")
    one.add_argument("fixtures", type=Path)
    one.add_argument(
        "mode",
        choices=["floor", "floor_signed_in", "actions", "after_change", "floor_after_change"],
    )
    one.add_argument("--connections", type=int, default=16)
    one.add_argument("--seconds", type=float, default=8)
    one.add_argument("--warmup", type=float, default=2)
    one.add_argument(
        "--min-requests", type=int, default=0, help="measure on until this many are answered"
    )
    one.add_argument(
        "--max-seconds", type=float, default=0, help="but never longer than this in all"
    )
    one.add_argument(
        "--pool", default="actions", help="the acting couples: actions or actions-<size>"
    )
    cap = sub.add_parser("capacity")
    cap.add_argument("url")
    cap.add_argument("fixtures", type=Path)
    cap.add_argument("--start", type=int, default=50)
    cap.add_argument("--max", type=int, default=100_000)
    cap.add_argument("--seconds", type=float, default=15)
    cap.add_argument(
        "--settle", type=float, default=5, help="seconds after the arrivals before measuring"
    )
    cap.add_argument(
        "--connections", type=int, default=64, help="keep-alive connections to the server"
    )
    cap.add_argument("--steps", type=int, default=8)
    options = parser.parse_args(argv)
    client = Client(options.url)
    if options.command == "run":
        measure = run_paired if options.mode.endswith("after_change") else run_row
        row = Row(
            options.mode,
            options.connections,
            options.seconds,
            options.warmup,
            options.pool,
            options.min_requests,
            options.max_seconds,
        )
        result = asyncio.run(measure(client, options.fixtures, row))
    else:
        result = asyncio.run(
            capacity(
                client,
                options.fixtures,
                options.start,
                options.max,
                options.seconds,
                options.connections,
                options.steps,
                options.settle,
            )
        )
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
