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
    "floor": "**Floor**: trivial view, anonymous (`/bench/floor`)",
    "floor_signed_in": "Trivial view, signed in (`/bench/floor` + session and user)",
    "page": "Agreement page of a signed-in partner (`/agreement/`)",
    "poll": "Unchanged poll, 304 (`/agreement/poll/`)",
    "actions": "htmx accept / withdraw round trip (`POST /agreement/rules/…/`)",
    "print": "Printable page (`/agreement/print/`)",
    "therapist": "Therapist home, 50 client couples (`/therapist/`)",
}
TARGETS = {"page": 0.25, "poll": 0.70, "actions": 0.20, "therapist": 0.15}
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


def local_floor(rows: list[dict], index: int) -> float:
    """The floor around one run: the mean of the floor runs just before and just after it at the
    same connection count. The floor is measured between every two endpoints, so that a machine
    whose load drifts during the run (a shared one) moves both sides of each ratio alike."""
    c = rows[index]["connections"]
    near = []
    for step in (-1, 1):
        i = index + step
        while 0 <= i < len(rows) and rows[i]["connections"] == c:
            if rows[i]["label"] == "floor":
                near.append(rps(rows[i]))
                break
            i += step
    return sum(near) / len(near) if near else 0.0


def ratios(rows: list[dict]) -> list[tuple[dict, float]]:
    """Every endpoint run with its throughput as a share of the floor around it."""
    return [
        (r, rps(r) / local_floor(rows, i) if local_floor(rows, i) else 0.0)
        for i, r in enumerate(rows)
        if r["label"] != "floor"
    ]


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
    import gunicorn

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
        f" gunicorn {gunicorn.__version__} ({args.workers} sync workers per server),"
        f" PostgreSQL {postgres}, {version('wrk', '--version').split(' Copyright')[0]}",
        f"- Cache and sessions: `{args.cache}` (`cached_db` sessions);"
        f" DATABASE_CONN_MAX_AGE={args.conn_max_age}",
        f"- wrk: {args.threads} threads, {args.duration} s per run, on the same machine as the"
        " servers and PostgreSQL",
        f"- Load average (1, 5, 15 min) before / after the measured runs: {load or 'unknown'}",
    ]


def table(rows: list[dict]) -> list[str]:
    measured = ratios(rows)
    signed_in = {
        r["connections"]: ratio for r, ratio in measured if r["label"] == "floor_signed_in"
    }
    lines = [
        "| Endpoint | Conns | Requests/s | p50 | p99 | vs floor | Target | vs signed-in floor |"
        " Non-2xx/3xx | Other errors |",
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    for c in sorted({r["connections"] for r in rows}):
        runs = [r for r in rows if r["connections"] == c and r["label"] == "floor"]
        speeds = sorted(rps(r) for r in runs)
        middle = sorted(runs, key=rps)[len(runs) // 2]["wrk"]
        errors = sum(r["wrk"]["errors"]["status"] for r in runs)
        other = sum(
            r["wrk"]["unexpected"] - r["wrk"]["errors"]["status"] + socket_errors(r["wrk"])
            for r in runs
        )
        lines.append(
            f"| {ENDPOINTS['floor']}, {len(runs)} run{'s' if len(runs) > 1 else ''}:"
            f" {speeds[0]:.0f} to {speeds[-1]:.0f} req/s"
            f" | {c} | {sum(speeds) / len(speeds):.0f} | {ms(middle['p50_us'])} |"
            f" {ms(middle['p99_us'])} | 100% | | | {errors} | {other} |"
        )
        for r, ratio in measured:
            if r["connections"] != c:
                continue
            wrk, label = r["wrk"], r["label"]
            target = TARGETS.get(label)
            verdict = ""
            if target is not None:
                verdict = f"≥ {target:.0%}: {'holds' if ratio >= target else 'misses'}"
            versus_signed_in = ""
            if signed_in.get(c) and label != "floor_signed_in":
                versus_signed_in = f"{ratio / signed_in[c]:.0%}"
            other = wrk["unexpected"] - wrk["errors"]["status"] + socket_errors(wrk)
            lines.append(
                f"| {ENDPOINTS.get(label, label)} | {c} | {rps(r):.0f} | {ms(wrk['p50_us'])} |"
                f" {ms(wrk['p99_us'])} | {ratio:.0%} | {verdict} | {versus_signed_in} |"
                f" {wrk['errors']['status']} | {other} |"
            )
    return lines


def verdicts(rows: list[dict]) -> list[str]:
    measured = ratios(rows)
    out = []
    for label, target in TARGETS.items():
        mine = [(r["connections"], ratio) for r, ratio in measured if r["label"] == label]
        if not mine:
            continue
        parts = ", ".join(f"{ratio:.0%} at {c}" for c, ratio in mine)
        worst = min(ratio for _, ratio in mine)
        if worst >= target:
            out.append(f"- {ENDPOINTS[label]}: {parts} connections; target {target:.0%} holds.")
        else:
            out.append(
                f"- {ENDPOINTS[label]}: {parts} connections; target {target:.0%} **missed by"
                f" {(target - worst) * 100:.0f} points** (see below)."
            )
    top = max((r["connections"] for r in rows), default=0)
    errors = sum(
        r["wrk"]["unexpected"] + socket_errors(r["wrk"]) for r in rows if r["connections"] == top
    )
    out.append(
        f"- Errors at {top} connections: {errors}"
        f" ({'target holds' if errors == 0 else '**target missed**'}: every answer had the"
        " status expected, 200, or 304 for the poll)."
    )
    return out


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
    return lines


def write(args) -> None:
    out, doc = Path(args.out), Path(args.doc)
    rows = results(out / "results.jsonl")
    fixtures = json.loads((out / "fixtures.json").read_text())
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
        "Page loads come from 200 signed-in partners of different couples (nine rules each, in"
        " force, waiting, changed, paused, declined); each accept / withdraw run has 200 couples"
        " of its own, each request a real change (first partner accepts, second accepts and the"
        " rule comes into force, first withdraws).",
        "",
        "### Throughput against the floor",
        "",
        "The floor is measured before the first endpoint and after each one; an endpoint's"
        " ratio is its requests per second over the mean of the two floor runs around it,"
        " at the same connection count. The targets are"
        ' against the floor; "vs signed-in floor" compares with the same trivial view'
        " requested by a signed-in partner, which adds reading the session and the user,"
        " as every signed-in page must.",
        "",
        *table(rows),
        "",
        *verdicts(rows),
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
    parser.add_argument("--workers", default="?")
    parser.add_argument("--threads", default="?")
    parser.add_argument("--duration", default="?")
    parser.add_argument("--cache", default="?")
    parser.add_argument("--conn-max-age", default="?")
    write(parser.parse_args())


if __name__ == "__main__":
    main()
