"""Screenshots of the main pages, at desktop and phone sizes, into docs/screenshots/.

Sets up its own world: a throwaway SQLite database in a temporary folder, migrated and filled
with the demo couples (seed_demo), served by runserver on a free port, and photographed by
Debian's Chromium through Playwright as alice (a partner) and dana (a therapist). The server is
stopped and the folder removed at the end. Run it with `make screenshots`; name scenes to write
only those (`python scripts/screenshots.py agreement-review-due`): the walk is the same, the
other pictures are left as they are.
"""

import base64
import hashlib
import hmac
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# Scenes named on the command line: only these are written (all of them when none is named).
ONLY = set(sys.argv[1:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    for _ in range(100):
        if server.poll() is not None:
            raise SystemExit(f"runserver stopped (exit code {server.returncode})")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):  # noqa: S310 (http://127.0.0.1)
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("runserver did not answer within 20 seconds")


def totp_code(secret: str) -> str:
    """The current code of an authenticator app (RFC 6238: SHA-1, 6 digits, 30 s)."""
    key = base64.b32decode(secret, casefold=True)
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def log_in(page: Page, email: str, password: str, totp_secret: str | None = None) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Log in", exact=True).click()
    if totp_secret:
        page.locator("input[name=code]").fill(totp_code(totp_secret))
        page.get_by_role("button", name="Log in", exact=True).click()
    # Signed in: the log-out button, whatever the person's language (Bob reads German).
    expect(page.locator("form[action='/accounts/logout/'] button")).to_be_visible()


def scroll_to(page: Page, element) -> None:
    element.scroll_into_view_if_needed()
    page.evaluate(
        "el => window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 16)",
        element.element_handle(),
    )


def shoot(
    page: Page, name: str, size: str, *, at: str = "", scroll=None, full_page: bool = False
) -> None:
    """Photographs the page as `name` at this size, after going `at` a path or scrolling to an
    element if asked (even when ONLY leaves this photograph out: the next ones start from here)."""
    if at:
        page.goto(at)
    if scroll is not None:
        scroll_to(page, scroll)
    if ONLY and name not in ONLY:
        return
    path = OUT / f"{name}-{size}.png"
    page.screenshot(path=path, full_page=full_page, animations="disabled")
    print(f"  {path.relative_to(ROOT)}")


def main() -> None:
    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ror-screenshots-") as tmp:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "true",
            "DATABASE_URL": f"sqlite:///{tmp}/db.sqlite3",
            "EMAIL_URL": "memory://",
            "DJANGO_DISABLE_RATE_LIMITS": "true",
            "PYTHONUNBUFFERED": "1",
        }
        print("Preparing a throwaway database with the demo couples")
        manage(env, "migrate", "--noinput")
        seeded = manage(env, "seed_demo")
        password = re.search(r"^password: (\S+)$", seeded, re.M).group(1)
        totp_secret = re.search(r"^totp secret \(dana\): (\S+)$", seeded, re.M).group(1)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(Path(tmp) / "runserver.log", "w")  # noqa: SIM115 (closed below)
        server = subprocess.Popen(  # noqa: S603 (our own manage.py, fixed arguments)
            [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_up(url, server)
            print(f"Photographing {url} into {OUT.relative_to(ROOT)}/")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                # Each person logs in once: a TOTP code cannot be used twice.
                sessions = {
                    "alice": signed_in(browser, url, "alice@example.com", password),
                    "bob": signed_in(browser, url, "bob@example.com", password),
                    "dana": signed_in(browser, url, "dana@example.com", password, totp_secret),
                    "erin": signed_in(browser, url, "erin@example.com", password),
                }
                for size in SIZES:
                    photograph(browser, url, size, sessions)
                photograph_languages(browser, url, password, sessions)
                # Last: Pause everything changes the demo for good (reopened rules wait for Bob).
                pause_everything(browser, url, sessions)
                browser.close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()


def signed_in(browser, url: str, email: str, password: str, totp_secret: str | None = None):
    context = browser.new_context(base_url=url)
    log_in(context.new_page(), email, password, totp_secret)
    state = context.storage_state()
    context.close()
    return state


PHONE_SHARE = """
if (typeof navigator.share !== "function") {
  navigator.share = function () { return Promise.resolve(); };
  navigator.canShare = function () { return true; };
}
"""


def sized(browser, url: str, size: str, session: dict | None = None, **options):
    """A browser context at one of SIZES (a phone's is a mobile one, with touch)."""
    return browser.new_context(
        base_url=url,
        viewport=SIZES[size],
        device_scale_factor=1,
        is_mobile=size == "phone",
        has_touch=size == "phone",
        storage_state=session,
        **options,
    )


def photograph(browser, url: str, size: str, sessions: dict) -> None:
    def context(person: str | None = None):
        made = sized(browser, url, size, sessions[person] if person else None)
        if size == "phone":
            # A phone's browser offers the Web Share API; headless Chromium does not, so the
            # invitation's Share button (shown only where sharing exists) would be missing.
            made.add_init_script(PHONE_SHARE)
        return made

    visitor = context()
    page = visitor.new_page()
    shoot(page, "home", size, at="/")
    shoot(page, "landing-full", size, full_page=True)
    shoot(page, "signup", size, at="/accounts/signup/")
    shoot(page, "login", size, at="/accounts/login/")
    visitor.close()

    alice = context("alice")
    page = alice.new_page()
    shoot(page, "home-partner", size, at="/")
    page.goto("/agreement/")
    expect(page.locator("article.rule-card").first).to_be_visible()
    shoot(page, "agreement", size)
    shoot(page, "agreement-full", size, full_page=True)
    # A rule waiting for alice's answer, a resting one, a rule with a change waiting (rule 6 in
    # the demo), and the change form open on rule 1.
    for name, selector in (
        ("agreement-waiting-for-you", "article.rule-card[data-needs-you=true]"),
        ("agreement-resting", "article.rule-card[data-state=paused]"),
        # Alice's answer still sealed (Bob has not answered), and a rule Bob declined: both
        # answers with their notes, and Alice's cooling-off.
        ("agreement-sealed", "article.rule-card[data-sealed=true]"),
        ("agreement-declined", "article.rule-card[data-cooling-until]"),
    ):
        shoot(page, name, size, scroll=page.locator(selector).first)
    # A rule due for review today (the demo's "Sunday evenings"): Keep it, Change it, Let it rest.
    due = page.locator("article.rule-card[data-review-due=true]").first
    shoot(page, "agreement-review-due", size, scroll=due)
    changed = page.locator("article.rule-card").nth(5)
    shoot(page, "agreement-change-proposed", size, scroll=changed)
    first = page.locator("article.rule-card").first
    first.get_by_role("button", name="Propose a change").click()
    expect(first.get_by_role("button", name="Propose this wording")).to_be_visible()
    shoot(page, "agreement-change-form", size, scroll=first)
    rule_id = changed.get_attribute("data-rule")
    shoot(page, "rule-history", size, at=f"/agreement/rules/{rule_id}/")
    shoot(page, "timeline", size, at="/agreement/timeline/")
    shoot(page, "print", size, at="/agreement/print/", full_page=True)
    # Check-ins: the list (alice's answer to the open one is sealed), then the revealed one.
    shoot(page, "checkins", size, at="/checkins/", full_page=True)
    page.locator(".checkin-list a").first.click()
    expect(page.locator("[data-checkin]")).to_have_attribute("data-revealed", "true")
    shoot(page, "checkin-revealed", size, full_page=True)
    shoot(page, "settings", size, at="/settings/")
    alice.close()

    # The first minute: erin is new and alone (demo), with a draft and an invitation waiting;
    # her agreement page still shows the first visit's explanation.
    erin = context("erin")
    page = erin.new_page()
    page.goto("/agreement/")
    expect(page.locator("#introduction")).to_be_visible()
    shoot(page, "agreement-first-visit", size)
    shoot(page, "first-visit-explanation", size, scroll=page.locator("#introduction"))
    shoot(page, "agreement-alone", size, scroll=page.locator("#defaults-heading"))
    shoot(page, "agreement-alone-full", size, full_page=True)
    page.goto("/")
    shoot(page, "invitation", size, scroll=page.locator("#invitation-heading"))
    link = page.get_by_label("Invitation link").input_value()
    erin.close()
    visitor = context()
    page = visitor.new_page()
    shoot(page, "invitation-received", size, at=link)
    visitor.close()

    dana = context("dana")
    page = dana.new_page()
    shoot(page, "therapist-home", size, at="/therapist/")
    page.locator("[data-client] h2 a").first.click()
    expect(page.locator("article.rule-card").first).to_be_visible()
    shoot(page, "therapist-agreement", size)
    dana.close()


def photograph_languages(browser, url: str, password: str, sessions: dict) -> None:
    """The agreement in Spanish and in Hebrew, on a phone: Lucía (the demo's Spanish couple,
    whose agreement started in Spanish) with a Spanish browser, and Alice with a browser that
    asks for Hebrew (the page mirrors; what the couple wrote stays as they wrote it)."""
    scenes = (
        ("agreement-es", "es-ES", signed_in(browser, url, "lucia@example.com", password)),
        ("agreement-he", "he-IL", sessions["alice"]),
    )
    for name, locale, session in scenes:
        made = sized(browser, url, "phone", session, locale=locale)
        page = made.new_page()
        page.goto("/agreement/")
        expect(page.locator("html")).to_have_attribute("lang", locale.split("-")[0])
        expect(page.locator("article.rule-card").first).to_be_visible()
        shoot(page, name, "phone")
        made.close()


def pause_everything(browser, url: str, sessions: dict) -> None:
    """Alice pauses everything with a note; Bob's page, at each size, shows it."""
    alice = browser.new_context(base_url=url, storage_state=sessions["alice"])
    page = alice.new_page()
    page.goto("/agreement/")
    control = page.locator("#pause-control")
    control.locator("summary").click()
    control.locator("textarea").fill("I need us to stop and talk, tonight if we can.")
    control.get_by_role("button", name="Pause everything").click()
    expect(page.locator("#pause[data-paused=by-you]")).to_be_visible()
    alice.close()
    for size in SIZES:
        bob = sized(browser, url, size, sessions["bob"])
        page = bob.new_page()
        page.goto("/agreement/")
        expect(page.locator("#pause[data-paused=by-partner]")).to_be_visible()
        shoot(page, "agreement-paused", size, scroll=page.locator("#pause"))
        bob.close()


if __name__ == "__main__":
    main()
