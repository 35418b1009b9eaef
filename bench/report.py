"""The benchmark's report (bench/run.sh):

    report.py line RESULTS.jsonl     one line about the newest result, while the run goes on
    report.py write OUT DOC [...]    the tables, into DOC between its bench markers

Only the part of DOC between <!-- bench:begin --> and <!-- bench:end --> is rewritten; the text
around it (what limits the numbers, written by people) stays.
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

ENDPOINTS = {
    "floor": "**Anonymous floor**: trivial view (`/bench/floor`)",
    "floor_signed_in": "**Signed-in floor**: trivial view reading `request.user`,"
    " signed in (`/bench/floor/signed-in`)",
    "page": "Agreement page, a rule in every state (`/agreement/`)",
    "poll": "Unchanged poll, 304 (`/agreement/poll/`)",
    "actions": "htmx reopen / accept / withdraw round trip, a real change each time"
    " (`POST /agreement/rules/…/`)",
    "print": "Printable page (`/agreement/print/`)",
    "therapist": "Therapist home, 50 client couples (`/therapist/`)",
    "checkin_list": "Check-in list (`/checkins/`)",
    "checkin": "A revealed check-in (`/checkins/…/`)",
}
# The goals of issue 17: each endpoint against the signed-in floor, and the signed-in floor
# against the anonymous one. A goal holds only when it holds at every connection count.
GOALS = {
    "floor_signed_in": ("floor", 0.45),
    "page": ("floor_signed_in", 0.50),
    "poll": ("floor_signed_in", 0.90),
    "actions": ("floor_signed_in", 0.30),
    "print": ("floor_signed_in", 0.60),
    "therapist": ("floor_signed_in", 0.40),
    "checkin_list": ("floor_signed_in", 0.50),
    "checkin": ("floor_signed_in", 0.50),
}
FLOORS = ("floor", "floor_signed_in")
NEW_DOC = f"""# Benchmarks

How close each hot path of the app stays to the fastest any page of it can be: a trivial view
of the same Django, middleware and gunicorn (the floor). `make bench` (bench/run.sh) measures
everything side by side in one run and rewrites the part below between the markers.

{BEGIN}
{END}

## What limits the numbers

(Written by hand after a run; see the profile notes.)
"""


def results(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def rps(result: dict) -> float:
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
        f"  {last['label']:<16} c={last['connections']:<3} {rps(last):8.1f} req/s"
        f"  p50 {ms(wrk['p50_us']):>9}  p99 {ms(wrk['p99_us']):>9}"
        f"  non-2xx/3xx {wrk['errors']['status']}  unexpected {wrk['unexpected']}"
        f"  socket errors {socket_errors(wrk)}  statuses {wrk['statuses']}"
    )


def local_floor(rows: list[dict], index: int, floor: str) -> float:
    """The floor (`floor` or `floor_signed_in`) around one run: the mean of the runs of that floor
    just before and just after it at the same connection count. Both floors are measured between
    every two endpoints, so that a machine whose load drifts during the run (a shared one) moves
    both sides of each ratio alike."""
    c = rows[index]["connections"]
    near = []
    for step in (-1, 1):
        i = index + step
        while 0 <= i < len(rows) and rows[i]["connections"] == c:
            if rows[i]["label"] == floor:
                near.append(rps(rows[i]))
                break
            i += step
    return sum(near) / len(near) if near else 0.0


def ratio(rows: list[dict], index: int, floor: str) -> float | None:
    """One run's requests per second as a share of a floor around it; for a floor run itself,
    against the same floor that is the mean of all its runs at that connection count."""
    r = rows[index]
    if r["label"] == floor:
        return None
    if r["label"] in FLOORS:
        same = [
            rps(x) for x in rows if x["label"] == floor and x["connections"] == r["connections"]
        ]
        mine = [
            rps(x)
            for x in rows
            if x["label"] == r["label"] and x["connections"] == r["connections"]
        ]
        return (sum(mine) / len(mine)) / (sum(same) / len(same)) if same and mine else None
    base = local_floor(rows, index, floor)
    return rps(r) / base if base else None


def measured(rows: list[dict]) -> list[dict]:
    """Every endpoint run (and one row per floor and connection count) with both ratios."""
    out = []
    seen_floors = set()
    for i, r in enumerate(rows):
        key = (r["label"], r["connections"])
        if r["label"] in FLOORS:
            if key in seen_floors:
                continue
            seen_floors.add(key)
        out.append(
            {
                "run": r,
                "index": i,
                "signed_in": ratio(rows, i, "floor_signed_in"),
                "anonymous": ratio(rows, i, "floor"),
            }
        )
    return out


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
        f"- wrk: {args.threads} threads, {args.duration}, on the same machine as the"
        " servers and PostgreSQL",
        f"- Load average (1, 5, 15 min) before / after the measured runs: {load or 'unknown'}",
    ]


def pct(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"


def floor_summary(rows: list[dict], label: str, c: int) -> tuple[float, str, dict]:
    """The mean requests per second of a floor's runs at c connections, their range, and the
    wrk figures of its median run."""
    runs = [r for r in rows if r["connections"] == c and r["label"] == label]
    speeds = sorted(rps(r) for r in runs)
    middle = sorted(runs, key=rps)[len(runs) // 2]["wrk"]
    spread = (
        f"{len(runs)} run{'s' if len(runs) > 1 else ''}: {speeds[0]:.0f} to {speeds[-1]:.0f} req/s"
    )
    return sum(speeds) / len(speeds), spread, middle


def errors_of(runs: list[dict]) -> tuple[int, int]:
    """Answers with an unexpected status (redirects included), and socket errors."""
    status = sum(r["wrk"]["unexpected"] for r in runs)
    other = sum(socket_errors(r["wrk"]) for r in runs)
    return status, other


def table(rows: list[dict]) -> list[str]:
    lines = [
        "| Endpoint | Conns | Requests/s | p50 | p99 | vs signed-in floor | vs anonymous floor |"
        " Goal | Unexpected status | Socket errors |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for c in sorted({r["connections"] for r in rows}):
        for m in measured(rows):
            r = m["run"]
            if r["connections"] != c:
                continue
            label = r["label"]
            goal = GOALS.get(label)
            verdict = ""
            if goal is not None:
                against, target = goal
                value = m["signed_in"] if against == "floor_signed_in" else m["anonymous"]
                verdict = f"≥ {target:.0%}: {'holds' if value is not None and value >= target else 'misses'}"
            if label in FLOORS:
                speed, spread, wrk = floor_summary(rows, label, c)
                name = f"{ENDPOINTS[label]}, {spread}"
                status, other = errors_of(
                    [x for x in rows if x["label"] == label and x["connections"] == c]
                )
            else:
                speed, wrk, name = rps(r), r["wrk"], ENDPOINTS.get(label, label)
                status, other = errors_of([r])
            signed_in = "100%" if label == "floor_signed_in" else pct(m["signed_in"])
            anonymous = "100%" if label == "floor" else pct(m["anonymous"])
            lines.append(
                f"| {name} | {c} | {speed:.0f} | {ms(wrk['p50_us'])} | {ms(wrk['p99_us'])} |"
                f" {signed_in} | {anonymous} | {verdict} | {status} | {other} |"
            )
    return lines


def verdicts(rows: list[dict]) -> list[str]:
    found = measured(rows)
    out = []
    for label, (against, target) in GOALS.items():
        mine = [
            (
                m["run"]["connections"],
                m["signed_in" if against == "floor_signed_in" else "anonymous"],
            )
            for m in found
            if m["run"]["label"] == label
        ]
        mine = [(c, v) for c, v in mine if v is not None]
        if not mine:
            continue
        parts = ", ".join(f"{v:.0%} at {c}" for c, v in mine)
        worst = min(v for _, v in mine)
        yardstick = "the signed-in floor" if against == "floor_signed_in" else "the anonymous floor"
        if worst >= target:
            out.append(
                f"- {ENDPOINTS[label]}: {parts} connections of {yardstick}; goal {target:.0%}"
                " **holds**."
            )
        else:
            out.append(
                f"- {ENDPOINTS[label]}: {parts} connections of {yardstick}; goal {target:.0%}"
                f" **missed by {(target - worst) * 100:.0f} points**."
            )
    top = max((r["connections"] for r in rows), default=0)
    status, other = errors_of([r for r in rows if r["connections"] == top])
    errors = status + other
    out.append(
        f"- Errors at {top} connections: {errors}"
        f" ({'goal holds' if errors == 0 else '**goal missed**'}: every answer had the"
        " status expected, 200, or 304 for the poll, and no socket error)."
    )
    return out


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
    sessions = len((out / "page.txt").read_text().splitlines())
    seed = ""
    if (out / "seed.txt").exists():
        # "2000 couples, 18666 rules, ... each; fixtures in bench/out" and "Seeded in 28 s."
        made, _, rest = (out / "seed.txt").read_text().partition("; fixtures in")
        took = re.search(r"Seeded in (\d+) s", rest)
        seed = made.split(f", {fixtures['therapists']} therapists")[0]
        seed += f" (seeded in {took.group(1)} s)" if took else ""
    generated = [
        BEGIN,
        "",
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with `make bench`.",
        "",
        "### Machine",
        "",
        *machine(out, args),
        "",
        "### Data set",
        "",
        f"{seed or str(fixtures['couples']) + ' couples'}; {fixtures['therapists']} therapists"
        f" with {fixtures['clients_each']} client couples each.",
        f"Page loads come from {sessions} signed-in partners of different couples (nine rules"
        " each, in force, waiting, changed, paused, declined); each accept / withdraw run has"
        f" {sessions} couples"
        " of its own, each request a real change (the partner who withdrew reopens the resting"
        " rule, the other accepts and it comes into force, the first withdraws again).",
        "",
        "### Throughput against the two floors",
        "",
        "Both floors are measured before the first endpoint and after each one: the anonymous"
        " floor (a trivial view, no session) and the signed-in floor (a trivial view that reads"
        " `request.user`, requested by a signed-in partner through the same middleware, so the"
        " session and the user are loaded as on every signed-in page). An endpoint's ratio is"
        " its requests per second over the mean of the two runs of that floor around it, at the"
        " same connection count; a floor's row gives the mean of its runs. The goals are against"
        " the signed-in floor (the signed-in floor's own, against the anonymous floor), and a"
        " goal holds only when it holds at every connection count.",
        "",
        *table(rows),
        "",
        *verdicts(rows),
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
    write(parser.parse_args())


if __name__ == "__main__":
    main()
