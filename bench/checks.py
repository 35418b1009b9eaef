"""The benchmark's checks that are not about speed (bench/run.sh):

    checks.py wait A B        until both app servers answer /healthz
    checks.py run A B OUT     page weight, static files, and two app servers sharing what they must

"Two app servers": a partner acts on server A and the other partner, polling server B, sees it;
a session signed in on A works on B and, signed out on B, is gone on A; failed sign-ins count
across both servers; the partner-update email is throttled across both. Results go to
OUT/checks.json for bench/report.py. Needs the same environment as the servers (DATABASE_URL...)
only to read one column of the database (the email throttle).
"""

import gzip
import http.client
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

PROXY = {"X-Forwarded-Proto": "https"}  # as the TLS proxy in front of production sends
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")
RESOURCE = re.compile(
    r"<(?:script|img|iframe|audio|video|source|embed)\b[^>]*\bsrc=[\"']([^\"']+)"
    r"|<link\b[^>]*\bhref=[\"']([^\"']+)",
    re.IGNORECASE,
)
CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)|@import\s+[\"']([^\"']+)", re.IGNORECASE)
RATE_LIMITED = "Too many failed login attempts"


class Response:
    def __init__(self, raw: http.client.HTTPResponse):
        self.status = raw.status
        self.headers = {k.lower(): v for k, v in raw.getheaders()}
        self.cookies = {}
        for name, value in raw.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        self.body = raw.read()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def call(
    base: str,
    method: str,
    path: str,
    *,
    cookies: dict | None = None,
    headers: dict | None = None,
    form: dict | None = None,
) -> Response:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    # One public address for both servers, as behind a load balancer: allauth's rate limits key
    # on the host name, so that A and B must see the same one.
    sent = {"Host": parts.hostname, **PROXY}
    if cookies:
        sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    body = None
    if form is not None:
        body = urlencode(form)
        sent["Content-Type"] = "application/x-www-form-urlencoded"
        # Django checks the origin of an https POST against the host.
        sent["Origin"] = f"https://{parts.hostname}"
    sent.update(headers or {})
    connection.request(method, path, body=body, headers=sent)
    try:
        return Response(connection.getresponse())
    finally:
        connection.close()


def wait(*bases: str) -> None:
    deadline = time.monotonic() + 90
    for base in bases:
        while True:
            try:
                if call(base, "GET", "/healthz").status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"{base} did not answer /healthz within 90 s")
            time.sleep(0.3)


# -- page weight and static files -------------------------------------------------------------


def page_weight(a: str, out: Path) -> dict:
    session, csrf, *_ = (out / "page.txt").read_text().split("\n", 1)[0].split()
    cookies = {"sessionid": session, "csrftoken": csrf}
    page = call(a, "GET", "/agreement/", cookies=cookies)
    printable = call(a, "GET", "/agreement/print/", cookies=cookies)
    therapist = (out / "therapist.txt").read_text().split()[0]
    clients = call(a, "GET", "/therapist/", cookies={"sessionid": therapist})
    result = {
        "agreement_status": page.status,
        "agreement_rules": page.text.count('class="rule-card '),
        "agreement_bytes": len(page.body),
        "agreement_gzip_bytes": len(gzip.compress(page.body)),
        "print_bytes": len(printable.body),
        "therapist_status": clients.status,
        "therapist_clients": clients.text.count('class="card client"'),
        "therapist_bytes": len(clients.body),
        "csp": page.headers.get("content-security-policy", ""),
    }
    result["agreement_under_30kb"] = page.status == 200 and len(page.body) < 30 * 1024

    assets, external = {}, []
    for html in (page.text, printable.text, clients.text):
        for match in RESOURCE.finditer(html):
            url = match.group(1) or match.group(2)
            if url.startswith(("http:", "https:", "//")):
                external.append(url)
            elif not url.startswith("data:"):
                assets[url] = None
    for url in sorted(assets):
        plain = call(a, "GET", url)
        packed = call(a, "GET", url, headers={"Accept-Encoding": "gzip, br"})
        if url.endswith(".css"):
            for match in CSS_URL.finditer(plain.text):
                ref = (match.group(1) or match.group(2)).strip()
                if ref.startswith(("http:", "https:", "//")):
                    external.append(f"{ref} (in {url})")
        cache_control = plain.headers.get("cache-control", "")
        assets[url] = {
            "status": plain.status,
            "hashed_name": bool(HASHED.search(url)),
            "bytes": len(plain.body),
            "encoding": packed.headers.get("content-encoding", ""),
            "sent_bytes": len(packed.body),
            "cache_control": cache_control,
            "forever": "immutable" in cache_control and "max-age=315360000" in cache_control,
        }
    result["assets"] = assets
    result["external_requests"] = external
    result["assets_ok"] = bool(assets) and all(
        v["status"] == 200 and v["hashed_name"] and v["forever"] and v["encoding"]
        for v in assets.values()
    )
    result["csp_self_only"] = "default-src 'self'" in result["csp"]
    return result


# -- two app servers ----------------------------------------------------------------------------


def notified_at(user_email_session: str):
    """When the partner of this session was last emailed about an update (the throttle)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intimacy.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    django.setup()
    from django.contrib.sessions.models import Session

    from accounts.models import Partner

    data = Session.objects.get(session_key=user_email_session).get_decoded()
    return Partner.objects.get(user_id=data["_auth_user_id"], left_at__isnull=True).notified_at


def page_closed(user_email_session: str) -> None:
    """The user of this session closes the agreement: no longer present (agreements/notify.py),
    so a change by the partner may be emailed again (presence lives in the shared cache)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "intimacy.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    django.setup()
    from django.contrib.sessions.models import Session

    from agreements import notify

    data = Session.objects.get(session_key=user_email_session).get_decoded()
    notify.forget_presence(int(data["_auth_user_id"]))


def two_servers(a: str, b: str, out: Path) -> dict:
    fixture = json.loads((out / "fixtures.json").read_text())["scaleout"]
    alice, bob = fixture["alice"], fixture["bob"]
    alice_cookies = {"sessionid": alice["session"], "csrftoken": alice["csrf"]}
    bob_cookies = {"sessionid": bob["session"], "csrftoken": bob["csrf"]}
    rule, version, etag = fixture["rule"], fixture["version"], fixture["etag"]
    poll_headers = {"HX-Request": "true"}
    steps = []

    def step(name: str, ok: bool, detail: str = "") -> bool:
        steps.append({"step": name, "ok": bool(ok), "detail": detail})
        print(f"  {'ok  ' if ok else 'FAIL'} {name}{f' ({detail})' if detail else ''}")
        return ok

    def poll(base: str, tag: str) -> Response:
        return call(
            base,
            "GET",
            "/agreement/poll/",
            cookies=alice_cookies,
            headers={**poll_headers, "If-None-Match": tag},
        )

    def act(base: str, action: str, form: dict) -> Response:
        return call(
            base,
            "POST",
            f"/agreement/rules/{rule}/{action}/",
            cookies=bob_cookies,
            headers={"HX-Request": "true", "X-CSRFToken": bob["csrf"]},
            form=form,
        )

    def page_states(base: str, times: int = 6) -> list[str]:
        """The rule's state on the page, loaded several times so that every worker of the
        server (each with its own memory of the agreement's rows) is likely to answer once."""
        found = []
        for _ in range(times):
            page = call(base, "GET", "/agreement/", cookies=alice_cookies)
            state = re.search(rf'id="rule-{rule}"[^>]*data-state="([a-z]+)"', page.text)
            found.append(state.group(1) if state else f"status {page.status}")
        return found

    # Both servers' workers hold this revision of the agreement in memory before the change.
    warmed = page_states(a) + page_states(b)

    # Poll state lives in the database: an action on one server shows on the other.
    before = poll(b, etag)
    step("nothing new: the partner polling B gets 304", before.status == 304, f"{before.status}")
    page_closed(alice["session"])  # else she is present, and is sent no email at all
    accepted = act(a, "accept", {"version": version})
    step(
        "the other partner accepts the rule on A",
        accepted.status == 200 and "state-active" in accepted.text,
        f"{accepted.status}",
    )
    seen = poll(b, etag)
    new_etag = seen.headers.get("etag", "")
    step(
        "B's poll sees it at once: 200, a new ETag, the rule in force",
        seen.status == 200
        and new_etag not in ("", etag)
        and re.search(rf'id="rule-{rule}"[^>]*data-state="active"', seen.text) is not None,
        f"{seen.status}, ETag {etag} -> {new_etag}",
    )
    after = page_states(b)
    step(
        "every page load on B after it shows the rule in force, though B's workers held the"
        " agreement's rows from before",
        after == ["active"] * len(after) and "active" not in warmed,
        f"before {', '.join(sorted(set(warmed)))}; after {', '.join(after)}",
    )
    again_b, again_a = poll(b, new_etag), poll(a, new_etag)
    step(
        "both servers agree nothing changed since: 304 on A and B",
        again_b.status == 304 and again_a.status == 304,
        f"{again_a.status}/{again_b.status}",
    )

    # The partner-update email: one per interval whichever server the actions land on.
    first_email = notified_at(alice["session"])
    page_closed(alice["session"])  # her polls above made her present again
    withdrawn = act(b, "withdraw", {"note": ""})
    second_email = notified_at(alice["session"])
    step(
        "a second action, on B, sends no second email (throttle shared)",
        withdrawn.status == 200 and first_email is not None and first_email == second_email,
        f"withdraw {withdrawn.status}, notified_at {first_email} then {second_email}",
    )
    seen_on_a = poll(a, new_etag)
    step(
        "A's poll sees the withdrawal made on B",
        seen_on_a.status == 200
        and re.search(rf'id="rule-{rule}"[^>]*data-state="paused"', seen_on_a.text) is not None,
        f"{seen_on_a.status}",
    )

    on_a_after = page_states(a)
    step(
        "every page load on A after the withdrawal on B shows it",
        on_a_after == ["paused"] * len(on_a_after),
        ", ".join(on_a_after),
    )

    # Sessions: signed in on A, usable on B; signed out on B, gone on A.
    csrf = secrets.token_hex(16)  # a CSRF secret of our own, sent as cookie and form field
    signed_in = call(
        a,
        "POST",
        "/accounts/login/",
        cookies={"csrftoken": csrf},
        form={
            "login": fixture["login_email"],
            "password": fixture["login_password"],
            "csrfmiddlewaretoken": csrf,
        },
    )
    session = signed_in.cookies.get("sessionid", "")
    csrf = signed_in.cookies.get("csrftoken", csrf)  # rotated at sign-in
    step(
        "sign in with a password on A",
        signed_in.status == 302 and bool(session),
        f"{signed_in.status}",
    )
    cookies = {"sessionid": session, "csrftoken": csrf}
    on_b = call(b, "GET", "/agreement/", cookies=cookies)
    step("the session works on B", on_b.status == 200, f"{on_b.status}")
    out_b = call(
        b,
        "POST",
        "/accounts/logout/",
        cookies=cookies,
        form={"csrfmiddlewaretoken": csrf},
    )
    on_a = call(a, "GET", "/agreement/", cookies=cookies)
    step(
        "signed out on B, the session is gone on A too",
        out_b.status == 302
        and on_a.status == 302
        and "/accounts/login/" in on_a.headers.get("location", ""),
        f"logout {out_b.status}, then A {on_a.status} {on_a.headers.get('location', '')}",
    )

    # Rate limits: 5 failed sign-ins per address in 5 minutes, counted across both servers.
    blocked_at = None
    for attempt in range(1, 13):
        base = a if attempt % 2 else b
        tried = call(
            base,
            "POST",
            "/accounts/login/",
            cookies={"csrftoken": csrf},
            form={
                "login": fixture["login_email"],
                "password": "not-the-password",
                "csrfmiddlewaretoken": csrf,
            },
        )
        if tried.status == 429 or RATE_LIMITED in tried.text:
            blocked_at = attempt
            break
    step(
        "failed sign-ins alternating A and B are refused from the 6th on",
        blocked_at is not None and blocked_at <= 6,
        f"refused at attempt {blocked_at}" if blocked_at else "never refused in 12 attempts",
    )
    return {"steps": steps, "ok": all(s["ok"] for s in steps)}


# Private words the seed's stories wrote (agreements/stories.py, bench/seed.py): wording of a
# proposed change, notes, comments, check-in answers. Each one was on a page the checks loaded.
PRIVATE_WORDS = (
    "Equals, with room for both voices",
    "I'd like us to say them out loud.",
    "I want to talk about this one again.",
    "Worth talking through what this looks like",
    "We'll bring it to our next session.",
    "To say what I like out loud",
    "Close to you, and a little shy at first.",
)


def shared_cache_values() -> tuple[str, list[bytes]]:
    """Every value in the shared cache (CACHE_URL), as stored."""
    url = os.environ.get("CACHE_URL", "")
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(url)
        return url, [v for v in (client.get(k) for k in client.scan_iter(count=1000)) if v]
    if url.startswith("db://"):
        import base64

        import psycopg

        table = url.removeprefix("db://") or "cache_table"
        with psycopg.connect(os.environ["DATABASE_URL"]) as connection:
            rows = connection.execute(f'SELECT value FROM "{table}"').fetchall()  # noqa: S608
        return url, [base64.b64decode(value) for (value,) in rows]
    return url, []


def private_words_in_cache(a: str, out: Path) -> dict:
    """Loads the pages that show the private words, then reads every value of the shared cache
    and looks for them, in the clear and unpickled."""
    import pickle
    from contextlib import suppress

    session, _, _, checkin = (out / "page.txt").read_text().split("\n", 1)[0].split()
    cookies = {"sessionid": session}
    loaded = [
        call(a, "GET", path, cookies=cookies).status
        for path in ("/agreement/", "/agreement/print/", "/checkins/", f"/checkins/{checkin}/")
    ]
    therapist = (out / "therapist.txt").read_text().split()[0]
    loaded.append(call(a, "GET", "/therapist/", cookies={"sessionid": therapist}).status)
    url, values = shared_cache_values()
    found = set()
    for raw in values:
        text = raw.decode("latin-1")
        with suppress(Exception):  # not every value is a pickle
            text += repr(pickle.loads(raw))  # noqa: S301 - our own cache's values
        found.update(word for word in PRIVATE_WORDS if word in text)
    return {
        "cache": url,
        "values": len(values),
        "pages": loaded,
        "found": sorted(found),
        "ok": bool(values) and not found and all(status == 200 for status in loaded),
    }


def run(a: str, b: str, out: Path) -> None:
    weight = page_weight(a, out)
    print(
        f"  agreement page: {weight['agreement_bytes']} bytes for {weight['agreement_rules']}"
        f" rules ({weight['agreement_gzip_bytes']} gzipped); static files hashed, compressed and"
        f" cached forever: {weight['assets_ok']}; requests to other hosts:"
        f" {weight['external_requests'] or 'none'}"
    )
    servers = two_servers(a, b, out)
    privacy = private_words_in_cache(a, out)
    print(
        f"  {'ok  ' if privacy['ok'] else 'FAIL'} no private words in the shared cache"
        f" ({privacy['values']} values read, pages {privacy['pages']}, found {privacy['found']})"
    )
    (out / "checks.json").write_text(
        json.dumps({"weight": weight, "servers": servers, "privacy": privacy}, indent=1)
    )


if __name__ == "__main__":
    if sys.argv[1] == "wait":
        wait(*sys.argv[2:])
    elif sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        sys.exit(__doc__)
