"""The benchmark's report (bench/run.sh):

    report.py line RESULTS.jsonl     one line about the newest result, while the run goes on
    report.py write OUT DOC [...]    the tables, into DOC between its bench markers

Only the part of DOC between <!-- bench:begin --> and <!-- bench:end --> is rewritten; the text
around it (what each row means and what limits the numbers, written by people) stays.

A row's ratio is its requests per second over the signed-in floor measured by the same sender
(wrk or bench/drive.py) just before and just after it, at the same connection count. The page
after a change is measured in rounds (every change, then every load; only the loads are timed),
and its floor is the signed-in floor requested in the same rounds (bench/drive.py run_paired).
"""

import argparse
import json
import os
import platform
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

ROWS = {
    "floor": "**Anonymous floor** (`/bench/floor`)",
    "floor_signed_in": "**Signed-in floor** (`/bench/floor/signed-in`)",
    "py_floor": "**Anonymous floor** (`/bench/floor`)",
    "py_floor_signed_in": "**Signed-in floor** (`/bench/floor/signed-in`)",
    "floor_after_change": "**Signed-in floor, each request right after the other partner's"
    " change**",
    "after_change": "Agreement page right after the other partner's change (`/agreement/`)",
    "page": "Agreement page reloaded unchanged (`/agreement/`)",
    "actions": "Accept / withdraw round trip with its htmx answer (`POST /agreement/rules/…/`)",
    "poll": "Unchanged poll, 304 (`/agreement/poll/`)",
    "print": "Printable page (`/agreement/print/`)",
    "therapist": "Therapist home, 50 client couples (`/therapist/`)",
    "checkin_list": "Check-in list (`/checkins/`)",
    "checkin": "A revealed check-in (`/checkins/…/`)",
}
# The order of the main table.
ORDER = [
    "floor",
    "floor_signed_in",
    "page",
    "poll",
    "print",
    "therapist",
    "checkin_list",
    "checkin",
    "py_floor",
    "py_floor_signed_in",
    "actions",
    "floor_after_change",
    "after_change",
]
# Each row's floor: the signed-in floor of the same sender, requested the same way.
FLOOR_OF = {
    "after_change": "floor_after_change",
    "actions": "py_floor_signed_in",
    "floor_signed_in": "floor",
    "py_floor_signed_in": "py_floor",
}
FLOORS = ("floor", "floor_signed_in", "py_floor", "py_floor_signed_in", "floor_after_change")
# The goals of issue 21, against the signed-in floor of the same run; a goal holds only when it
# holds at every connection count.
GOALS = {
    "after_change": 0.15,
    "actions": 0.25,
    "poll": 0.90,
    "print": 0.60,
    "therapist": 0.35,
    "checkin_list": 0.40,
    "checkin": 0.40,
}
KINDS = {
    "page_load": "page, on arriving",
    "poll_unchanged": "poll, unchanged (304)",
    "poll_changed": "poll, changed (the live region)",
    "action": "action (htmx round trip)",
    "page_after_change": "page after the other's change",
    "checkin_list": "check-in list",
    "checkin": "revealed check-in",
    "therapist_home": "therapist home (50 couples)",
    "therapist_couple": "therapist's couple page",
}
NEW_DOC = f"""# Benchmarks

`make bench` (bench/run.sh) measures everything side by side in one run and rewrites the part
below between the markers.

{BEGIN}
{END}
"""


def results(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def base(label: str) -> str:
    """ "after_change@actions-rules30" -> "after_change"."""
    return label.split("@", 1)[0]


def rps(result: dict) -> float:
    """Requests per second (for the page after a change: during its load phases)."""
    wrk = result["wrk"]
    return wrk["requests"] / (wrk["duration_us"] / 1e6) if wrk["duration_us"] else 0.0


def ms(us: float) -> str:
    return f"{us / 1000:.1f} ms" if us < 100_000 else f"{us / 1000:.0f} ms"


def socket_errors(wrk: dict) -> int:
    e = wrk["errors"]
    return e["connect"] + e["read"] + e["write"] + e["timeout"]


def line(path: Path) -> None:
    last = results(path)[-1]
    wrk = last["wrk"]
    print(
        f"  {last['label']:<34} {last.get('driver', 'wrk'):<6} c={last['connections']:<3}"
        f" {rps(last):8.1f} req/s  p50 {ms(wrk['p50_us']):>9}  p99 {ms(wrk['p99_us']):>9}"
        f"  unexpected {wrk['unexpected']}  socket errors {socket_errors(wrk)}"
        f"  statuses {wrk['statuses']}"
    )


def local_floor(rows: list[dict], index: int, floor: str) -> float | None:
    """The floor around one run: the mean of the runs of that floor just before and just after
    it at the same connection count (a drifting machine moves both sides of a ratio alike)."""
    c = rows[index]["connections"]
    near = []
    for step in (-1, 1):
        i = index + step
        while 0 <= i < len(rows):
            if rows[i]["label"] == floor and rows[i]["connections"] == c:
                near.append(rps(rows[i]))
                break
            i += step
    return sum(near) / len(near) if near else None


def floor_of(label: str) -> str:
    return FLOOR_OF.get(base(label), "floor_signed_in")


def ratio(rows: list[dict], index: int) -> float | None:
    """One run's requests per second as a share of its floor; for a floor, the mean of all its
    runs at that connection count over the mean of its own floor's."""
    r = rows[index]
    label = base(r["label"])
    if label in FLOORS:
        against = FLOOR_OF.get(label)
        if against is None:
            return None
        mine, same = (
            floor_speed(rows, label, r["connections"]),
            floor_speed(rows, against, r["connections"]),
        )
        return mine / same if mine and same else None
    found = local_floor(rows, index, floor_of(label))
    return rps(r) / found if found else None


def floor_speed(rows: list[dict], label: str, c: int) -> float | None:
    speeds = [rps(r) for r in rows if r["label"] == label and r["connections"] == c]
    return sum(speeds) / len(speeds) if speeds else None


def floor_spread(rows: list[dict], label: str, c: int) -> tuple[float, str, dict]:
    """The mean requests per second of a floor's runs at c connections, their range, and the
    figures of its median run."""
    runs = [r for r in rows if r["connections"] == c and r["label"] == label]
    speeds = sorted(rps(r) for r in runs)
    middle = sorted(runs, key=rps)[len(runs) // 2]["wrk"]
    spread = f"{len(runs)} run{'s' if len(runs) > 1 else ''}"
    if len(runs) > 1:
        spread += f", {speeds[0]:.0f} to {speeds[-1]:.0f}"
    return sum(speeds) / len(speeds), spread, middle


def pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def errors_of(runs: list[dict]) -> tuple[int, int]:
    """Answers with an unexpected status (redirects and refused changes included), and socket
    errors."""
    status = sum(r["wrk"]["unexpected"] for r in runs)
    other = sum(socket_errors(r["wrk"]) for r in runs)
    return status, other


def sender(r: dict) -> str:
    return "drive.py" if r.get("driver") == "python" else "wrk"


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| Row | Sent by | Conns | Requests/s | p50 | p99 | vs signed-in floor | Goal |"
        " Unexpected status | Socket errors |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in sorted({r["connections"] for r in rows}):
        for label in ORDER:
            runs = [
                (i, r) for i, r in enumerate(rows) if r["label"] == label and r["connections"] == c
            ]
            if not runs:
                continue
            index, r = runs[0]
            if label in FLOORS:
                speed, spread, wrk = floor_spread(rows, label, c)
                name = f"{ROWS[label]}, {spread}"
                against = FLOOR_OF.get(label)
                share = (
                    f"{ratio(rows, index):.0%} of the anonymous"
                    if against and ratio(rows, index)
                    else (
                        "100%"
                        if label in ("floor_signed_in", "py_floor_signed_in", "floor_after_change")
                        else ""
                    )
                )
            else:
                speed, wrk, name = rps(r), r["wrk"], ROWS.get(label, label)
                share = pct(ratio(rows, index))
            status, other = errors_of([x for _, x in runs])
            goal = GOALS.get(label)
            verdict = ""
            if goal is not None:
                value = ratio(rows, index)
                verdict = (
                    f"≥ {goal:.0%}: {'holds' if value is not None and value >= goal else 'misses'}"
                )
            lines.append(
                f"| {name} | {sender(r)} | {c} | {speed:.0f} | {ms(wrk['p50_us'])} |"
                f" {ms(wrk['p99_us'])} | {share} | {verdict} | {status} | {other} |"
            )
    return lines


def verdicts(rows: list[dict]) -> list[str]:
    out = []
    for label, target in GOALS.items():
        mine = [
            (r["connections"], ratio(rows, i)) for i, r in enumerate(rows) if r["label"] == label
        ]
        mine = [(c, v) for c, v in mine if v is not None]
        if not mine:
            continue
        parts = ", ".join(f"{v:.0%} at {c}" for c, v in mine)
        worst = min(v for _, v in mine)
        if worst >= target:
            out.append(f"- {ROWS[label]}: {parts} connections; goal {target:.0%} **holds**.")
        else:
            out.append(
                f"- {ROWS[label]}: {parts} connections; goal {target:.0%} **missed by"
                f" {(target - worst) * 100:.0f} points**."
            )
    top = max((r["connections"] for r in rows), default=0)
    status, other = errors_of([r for r in rows if r["connections"] == top])
    errors = status + other
    out.append(
        f"- Errors at {top} connections: {errors} ({'goal holds' if errors == 0 else '**goal missed**'}:"
        " every answer had the status expected, 200, or 304 for the poll, every change was"
        " made, and no socket error)."
    )
    return out


# -- how cost grows -----------------------------------------------------------------------------

SEVERITY = ["flat", "at most linear", "**worse than linear**"]


def growth(rows: list[dict], pools: dict, sizes: dict) -> list[str]:
    """The rows of each size: cost (the floor's requests per second over the row's) against the
    smallest size, next to how much the work grew."""
    if not rows:
        return ["(not measured in this run)"]
    c = rows[0]["connections"]
    lines = [
        f"At {c} connections. Cost is the row's time per request as a multiple of its floor's"
        " (the inverse of the share); growth is the cost against the smallest size, next to how"
        " much the work grew. A row holds when its cost grows no faster than its work.",
        "",
        "| Row | Size | Requests/s | p50 | p99 | vs signed-in floor | Cost growth | Work growth |"
        " Verdict | Errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    axes = [
        (
            "Therapist home",
            [
                ("therapist_10", "10 client couples", 10),
                ("therapist", "50 client couples", 50),
                ("therapist_200", "200 client couples", 200),
            ],
        ),
    ]
    # The smallest size: the couples of the story as it is with no therapist, as the others.
    smallest = "base" if "base" in pools else "standard"
    standard = pools.get(smallest, {})
    for what in ("after_change", "actions"):
        name = (
            "Agreement page after a change"
            if what == "after_change"
            else "Accept / withdraw round trip"
        )
        first = f"{what}@actions" + ("-base" if smallest == "base" else "")
        by_rules = [(first, f"{standard.get('rules', 9)} rules", standard.get("rules", 9))]
        by_days = [
            (
                first,
                f"{standard.get('days', 0):.0f} days ({standard.get('events', 0)} events)",
                max(1.0, standard.get("days", 1)),
            )
        ]
        for pool, p in pools.items():
            if pool.startswith("rules"):
                by_rules.append((f"{what}@actions-{pool}", f"{p['rules']} rules", p["rules"]))
            elif pool.startswith("days"):
                by_days.append(
                    (
                        f"{what}@actions-{pool}",
                        f"{p['days']:.0f} days ({p['events']} events)",
                        p["days"],
                    )
                )
        axes.append((f"{name}, by rules", by_rules))
        axes.append((f"{name}, by history (9 rules)", by_days))
    verdicts_ = []
    for axis, points in axes:
        first_cost = first_work = None
        worst = None
        for label, size, work in points:
            found = [(i, r) for i, r in enumerate(rows) if r["label"] == label]
            if not found:
                continue
            index, r = found[0]
            share = ratio(rows, index)
            cost = 1 / share if share else None
            if first_cost is None:
                first_cost, first_work = cost, work
            cost_growth = cost / first_cost if cost and first_cost else None
            work_growth = work / first_work if first_work else None
            verdict = ""
            if cost_growth is not None and work_growth and work_growth > 1:
                if cost_growth <= 1.25:
                    verdict = "flat"
                elif cost_growth <= work_growth * 1.1:
                    verdict = "at most linear"
                else:
                    verdict = "**worse than linear**"
                if worst is None or SEVERITY.index(verdict) > SEVERITY.index(worst):
                    worst = verdict
            status, other = errors_of([r])
            lines.append(
                f"| {axis} | {size} | {rps(r):.0f} |"
                f" {ms(r['wrk']['p50_us'])} | {ms(r['wrk']['p99_us'])} | {pct(share)} |"
                f" {f'{cost_growth:.2f}×' if cost_growth else ''} |"
                f" {f'{work_growth:.1f}×' if work_growth else ''} | {verdict} | {status + other} |"
            )
        if worst:
            verdicts_.append(f"- {axis}: {worst.strip('*')}.")
    return [*lines, "", *verdicts_]


# -- capacity -------------------------------------------------------------------------------------


def capacity(out: Path) -> list[str]:
    found = results(out / "capacity.jsonl")
    if not found:
        return ["(not measured in this run)"]
    lines = [
        "| App server | Active couples served (p95 < 200 ms, no error) | Requests/s there | p95 |"
        " Slowest kind there (p95) | First count not served | Largest count tried with every kind's"
        " p95 < 200 ms | Steps |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    served = {}
    for entry in found:
        result = entry["result"]
        steps = {s["couples"]: s for s in result["steps"]}
        best = steps.get(result["couples"])
        served[entry["processes"]] = result["couples"]
        tried = ", ".join(f"{n}{'' if s['served'] else ' ✗'}" for n, s in sorted(steps.items()))
        strict = max(
            (
                n
                for n, s in steps.items()
                if s["served"]
                and all(k["p95_us"] < result["target_p95_ms"] * 1000 for k in s["kinds"].values())
            ),
            default=0,
        )
        limit = " (every couple of the data set)" if result["couples"] >= result["limit"] else ""
        if best:
            seconds = best["duration_us"] / 1e6
            worst = max(best["kinds"].items(), key=lambda kv: kv[1]["p95_us"])
            lines.append(
                f"| {entry['server']} | **{result['couples']}**{limit} |"
                f" {best['requests'] / seconds:.0f} | {ms(best['p95_us'])} |"
                f" {KINDS[worst[0]]} {ms(worst[1]['p95_us'])} |"
                f" {result['first_not_served'] or ''} | {strict} | {tried} |"
            )
        else:
            lines.append(
                f"| {entry['server']} | **0** | | | | {result['first_not_served'] or ''} | 0 |"
                f" {tried} |"
            )
    if 1 in served and 2 in served and served[1]:
        lines += [
            "",
            f"From 1 to 2 processes: {served[1]} to {served[2]} active couples,"
            f" ×{served[2] / served[1]:.2f}.",
        ]
    for entry in found:
        result = entry["result"]
        best = {s["couples"]: s for s in result["steps"]}.get(result["couples"])
        if not best:
            continue
        seconds = best["duration_us"] / 1e6
        lines += [
            "",
            f"At {result['couples']} couples on {entry['server']} ({best['therapists']} therapists"
            f" doing rounds; {seconds:.0f} s measured; bench/drive.py's own CPU"
            f" {best['client_cpu_us']:.0f} µs per request, its wake-ups late by"
            f" {best['driver_lag_p95_us'] / 1000:.1f} ms at p95):",
            "",
            "| Kind | Requests | Per couple per minute | p50 | p95 | p99 | Errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, s in best["kinds"].items():
            if not s["requests"]:
                continue
            per = s["requests"] / best["couples"] / (seconds / 60)
            status, other = errors_of([{"wrk": s}])
            lines.append(
                f"| {KINDS[kind]} | {s['requests']} | {per:.2f} | {ms(s['p50_us'])} |"
                f" {ms(s['p95_us'])} | {ms(s['p99_us'])} | {status + other} |"
            )
    return lines


def machine(out: Path, args) -> list[str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"^MemTotal:\s*(\d+) kB", meminfo.read_text(), re.M)
        memory = f"{int(found.group(1)) / 1024 / 1024:.1f} GiB" if found else ""
    system = platform.platform()
    release = Path("/etc/os-release")
    if release.exists():
        found = re.search(r'^PRETTY_NAME="?([^"\n]+)', release.read_text(), re.M)
        system = f"{found.group(1)}, Linux {platform.release()}" if found else system

    def version(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        except OSError:
            return "unknown"
        text = (done.stdout or done.stderr).strip().splitlines()
        return text[0] if text else "unknown"

    import django

    postgres = "unknown"
    try:
        import psycopg

        with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
            postgres = connection.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - the report is still worth writing
        pass
    load = " / ".join(
        (out / f"load-{when}.txt").read_text().split("load average:")[-1].strip()
        for when in ("before", "after")
        if (out / f"load-{when}.txt").exists()
    )
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {memory}",
        f"- System: {system}",
        f"- Python {platform.python_version()}, Django {django.get_version()},"
        f" PostgreSQL {postgres}, {version('wrk', '--version').split(' Copyright')[0]}",
        f"- App server of the table: {args.server} per server (as the Dockerfile ships it)",
        f"- Cache and sessions: `{args.cache}` (`cached_db` sessions);"
        f" DATABASE_CONN_MAX_AGE={args.conn_max_age},"
        f" DATABASE_CONN_HEALTH_CHECKS={args.health_checks}",
        f"- Load: wrk ({args.threads} threads) and bench/drive.py (one Python process,"
        f" asyncio), {args.duration}, on the same machine as the servers and PostgreSQL",
        f"- Load average (1, 5, 15 min) before / after the measured runs: {load or 'unknown'}",
    ]


def comparison(out: Path) -> list[str]:
    """The app servers side by side (bench/run.sh, BENCH_COMPARE)."""
    path = out / "compare.jsonl"
    if not path.exists():
        return []
    rows = results(path)
    described = {}
    if (out / "servers.txt").exists():
        for line_ in (out / "servers.txt").read_text().splitlines():
            kind, _, what = line_.partition(" ")
            described[kind] = what
    lines = [
        "### App servers side by side",
        "",
        "Server A restarted as each kind in turn, on the same data, one run of each endpoint:"
        " requests per second and p99, and the agreement page and the poll as a share of the"
        " signed-in floor of the same server.",
        "",
        "| Server | Conns | Anonymous floor | Signed-in floor | Agreement page | Unchanged poll |"
        " Signed-in / anonymous | Page / signed-in | Poll / signed-in | Errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    kinds = list(dict.fromkeys(r["server"] for r in rows))
    for kind in kinds:
        for c in sorted({r["connections"] for r in rows if r["server"] == kind}):
            mine = {r["label"]: r for r in rows if r["server"] == kind and r["connections"] == c}

            def cell(label: str, mine: dict = mine) -> str:
                r = mine.get(label)
                return f"{rps(r):.0f} (p99 {ms(r['wrk']['p99_us'])})" if r else ""

            def share(label: str, of: str, mine: dict = mine) -> str:
                if label in mine and of in mine and rps(mine[of]):
                    return f"{rps(mine[label]) / rps(mine[of]):.0%}"
                return ""

            status, other = errors_of(list(mine.values()))
            lines.append(
                f"| {described.get(kind, kind)} | {c} | {cell('floor')} | {cell('floor_signed_in')} |"
                f" {cell('page')} | {cell('poll')} | {share('floor_signed_in', 'floor')} |"
                f" {share('page', 'floor_signed_in')} | {share('poll', 'floor_signed_in')} |"
                f" {status + other} |"
            )
    return lines


def checks(out: Path) -> list[str]:
    path = out / "checks.json"
    if not path.exists():
        return ["(no checks were run)"]
    data = json.loads(path.read_text())
    w = data["weight"]
    lines = [
        "### Pages are light",
        "",
        f"- Agreement page: {w['agreement_bytes']:,} bytes of HTML for {w['agreement_rules']}"
        f" rules ({w['agreement_gzip_bytes']:,} gzipped);"
        f" {'under' if w['agreement_under_30kb'] else '**over**'} the 30 KB budget."
        f" Printable page {w['print_bytes']:,} bytes; therapist home"
        f" {w['therapist_bytes']:,} bytes for {w['therapist_clients']} client couples.",
        f"- Requests to any other host: {', '.join(w['external_requests']) or 'none'}"
        f" (Content-Security-Policy: `{w['csp'].split(';')[0]}`).",
        f"- Static files {'all' if w['assets_ok'] else '**not all**'} hashed, compressed and"
        " cached forever by whitenoise:",
        "",
        "| File | Bytes | Sent compressed | Encoding | Cache-Control |",
        "|---|---:|---:|---|---|",
    ]
    for url, a in w["assets"].items():
        lines.append(
            f"| `{url}` | {a['bytes']:,} | {a['sent_bytes']:,} | {a['encoding'] or 'none'} |"
            f" `{a['cache_control']}` |"
        )
    lines += ["", "### Two app servers, one database and one cache", ""]
    for step in data["servers"]["steps"]:
        mark = "ok" if step["ok"] else "**FAILED**"
        lines.append(f"- {mark}: {step['step']} ({step['detail']})")
    privacy = data.get("privacy")
    if privacy:
        mark = "ok" if privacy["ok"] else "**FAILED**"
        lines.append(
            f"- {mark}: no private words in the shared cache (`{privacy['cache']}`): after the"
            " agreement page, the printable page, the check-in list, a revealed check-in and the"
            f" therapist home, {privacy['values']} stored values read, unpickled and searched"
            " for the stories' wording, notes, comments and check-in answers; found:"
            f" {', '.join(privacy['found']) or 'none'}"
        )
    return lines


def write(args) -> None:
    out, doc = Path(args.out), Path(args.doc)
    rows = results(out / "results.jsonl")
    fixtures = json.loads((out / "fixtures.json").read_text())
    seed = ""
    if (out / "seed.txt").exists():
        text = (out / "seed.txt").read_text()
        made = text.split("; told through")[0]
        took = re.search(r"Seeded in (\d+) s", text)
        seed = made + (f" (seeded in {took.group(1)} s)" if took else "")
    pools = fixtures.get("pools", {})
    kind = (
        "A **quick validation run** (`BENCH_QUICK=1`: fewer seconds and couples)"
        if args.quick == "1"
        else "Run"
    )
    generated = [
        BEGIN,
        "",
        f"{kind} of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench`, {int(args.took) // 60} min"
        f" {int(args.took) % 60} s in all.",
        "",
        "### Machine",
        "",
        *machine(out, args),
        "",
        "### Data set",
        "",
        f"{seed or str(fixtures['couples']) + ' couples'}.",
        "",
        "### The rows against the floors",
        "",
        *(table(rows) if rows else ["(not measured in this run)"]),
        "",
        *verdicts(rows),
        "",
        "### How cost grows with the work",
        "",
        *growth(results(out / "scale.jsonl"), pools, fixtures.get("therapist_sizes", {})),
        "",
        "### Capacity: the mixed workload",
        "",
        *capacity(out),
        "",
        *comparison(out),
        "",
        *checks(out),
        "",
        END,
    ]
    text = doc.read_text() if doc.exists() else NEW_DOC
    if BEGIN not in text or END not in text:
        text = text.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(head + "\n".join(generated) + tail)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "line":
        line(Path(sys.argv[2]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["write"])
    parser.add_argument("out")
    parser.add_argument("doc")
    parser.add_argument("--server", default="?")
    parser.add_argument("--health-checks", default="?")
    parser.add_argument("--threads", default="?")
    parser.add_argument("--duration", default="?")
    parser.add_argument("--cache", default="?")
    parser.add_argument("--conn-max-age", default="?")
    parser.add_argument("--quick", default="0")
    parser.add_argument("--took", default="0")
    write(parser.parse_args())


if __name__ == "__main__":
    main()
