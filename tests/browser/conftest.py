"""Browser fixtures: one Chromium for these tests, fresh contexts per test, the app on
pytest-django's live server, and helpers to log in and to run axe-core."""

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client

from accounts.models import User
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import PASSWORD

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # reported by the browser fixture, as a failure
    sync_playwright = None

AXE = Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The agreement page polls every 5 s: a change made elsewhere shows within two polls.
POLL_WAIT_MS = 12_000

if sync_playwright is not None:
    expect.set_options(timeout=10_000)


@pytest.fixture(scope="package")
def browser() -> Iterator["Browser"]:
    """One Chromium for the browser tests. A missing browser is a failure, never a skip: without
    Chromium, deselect these tests with -m "not browser" (make test does so outside CI).

    While Playwright's sync API is running, an event loop runs in this thread, and Django refuses
    ORM calls from a thread with a running loop (SynchronousOnlyOperation). Our calls are
    synchronous all the same: the usual Playwright + Django workaround allows them, for as long
    as the browser is up (package scope: the tests after these get Django's check back)."""
    if sync_playwright is None:
        pytest.fail("Playwright is not installed: pip install -r requirements-dev.lock")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium not found at {CHROMIUM} (apt-get install chromium), "
            'or run without the browser tests: pytest -m "not browser"'
        )
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if before is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture(autouse=True)
def _relaxed_rate_limits(settings) -> None:
    # A journey logs several people in and out from one IP within a minute; allauth's default
    # rate limits would refuse that. The limits themselves are tested elsewhere. (False, not {}:
    # allauth merges a dict into its defaults.)
    settings.ACCOUNT_RATE_LIMITS = False


class Contexts:
    """Makes browser contexts (independent cookie jars: one per person) and checks, when the test
    ends, that no page raised a JavaScript error or hit the Content-Security-Policy."""

    def __init__(self, browser: "Browser", base_url: str):
        self.browser = browser
        self.base_url = base_url
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []

    def new(self, *, viewport: dict | None = None, **options) -> "BrowserContext":
        context = self.browser.new_context(
            base_url=self.base_url, viewport=viewport or DESKTOP, **options
        )
        context.set_default_timeout(10_000)
        context.on("page", self._watch)
        self.contexts.append(context)
        return context

    def page(self, user: User | None = None, **options) -> "Page":
        """A new page in a new context: one person's browser, signed in as user if given."""
        context = self.new(**options)
        if user is not None:
            log_in_by_cookie(context, user, self.base_url)
        return context.new_page()

    def _watch(self, page: "Page") -> None:
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))

        def on_console(message) -> None:
            if message.type == "error" and "Content Security Policy" in message.text:
                self.errors.append(f"{page.url}: {message.text}")

        page.on("console", on_console)

    def keep_evidence(self, folder: Path) -> None:
        """A screenshot and the HTML of every open page, for a failed test (var/ is ignored)."""
        folder.mkdir(parents=True, exist_ok=True)
        for c, context in enumerate(self.contexts):
            for p, page in enumerate(context.pages):
                with contextlib.suppress(Exception):
                    # evaluate, not page.content(): content() waits, without a timeout, for a
                    # navigation that a test may have left held.
                    html = page.evaluate("document.documentElement.outerHTML")
                    (folder / f"{c}-{p}.html").write_text(f"<!-- {page.url} -->\n{html}")
                with contextlib.suppress(Exception):
                    page.screenshot(path=folder / f"{c}-{p}.png", full_page=True, timeout=5000)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


FAILURES = Path(__file__).resolve().parents[2] / "var" / "browser-failures"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


@pytest.fixture
def contexts(request, browser, live_server) -> Iterator[Contexts]:
    made = Contexts(browser, live_server.url)
    yield made
    if getattr(request.node, "browser_test_failed", False):
        made.keep_evidence(FAILURES / re.sub(r"[^\w.-]+", "_", request.node.name))
    made.close()
    assert not made.errors, "JavaScript errors or CSP violations:\n" + "\n".join(made.errors)


# -- logging in -----------------------------------------------------------------------------------


def log_in(page: "Page", email: str, password: str = PASSWORD) -> None:
    """Through the real log-in form, as a person would."""
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name=re.compile(r"^(Sign in|Log in)$", re.I)).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_in_by_cookie(context: "BrowserContext", user: User, base_url: str) -> None:
    """A session made by Django's force_login, handed to the browser: fast, for the people whose
    log-in is not what the test is about."""
    client = Client()
    client.force_login(user)
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
                "httpOnly": True,
                "sameSite": "Lax",
            }
        ]
    )


# -- emails ---------------------------------------------------------------------------------------


def link_in_last_email(to: str, pattern: str) -> str:
    """The path of the first link containing pattern in the newest email sent to this address
    (the live server runs in this process, so its emails land in mail.outbox)."""
    for message in reversed(mail.outbox):
        if to in message.to:
            paths = re.findall(r"https?://[^/\s]+(/\S*)", message.body)
            found = [path for path in paths if pattern in path]
            assert found, f"no link with {pattern!r} in:\n{message.body}"
            return found[0]
    raise AssertionError(f"no email to {to}; sent: {[m.to for m in mail.outbox]}")


# -- pages ----------------------------------------------------------------------------------------


def card(page: "Page", number: int):
    """The rule card numbered `number` on the agreement page (1-based, as shown)."""
    return page.locator("ol.rules > li").nth(number - 1).locator("article.rule-card")


def accept_on_page(page: "Page", number: int) -> None:
    rule_card = card(page, number)
    rule_card.get_by_role("button", name="Accept", exact=True).click()
    expect(rule_card.get_by_role("button", name="Accept", exact=True)).to_have_count(0)


def withdraw_on_page(page: "Page", number: int) -> None:
    """One tap: no confirm box (a dialog would fail the test, as Playwright dismisses it)."""
    page.once("dialog", lambda dialog: pytest.fail(f"a dialog asked: {dialog.message}"))
    rule_card = card(page, number)
    rule_card.get_by_role("button", name="Withdraw consent").click()
    expect(rule_card).to_have_attribute("data-state", "paused")


def expect_summary(page: "Page", in_force: int, total: int, *, timeout: int | None = None) -> None:
    expect(page.locator("#summary")).to_contain_text(
        f"{in_force} of {total} rules in force", timeout=timeout
    )


# -- accessibility --------------------------------------------------------------------------------


def axe_violations(page: "Page", *, tags: list[str] | None = None) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now. Injecting a script needs a
    context made with bypass_csp=True: our CSP refuses scripts that are not ours."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        tags or WCAG_TAGS,
    )
    return result["violations"]


def describe_violations(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} {v['helpUrl']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['failureSummary']}".replace("\n", " "))
    return "\n".join(lines)
