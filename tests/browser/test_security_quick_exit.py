"""The quick exit in a real browser: first in the tab order, one click or Shift three times blanks
the page at once and leaves for a neutral site with location.replace, so Back does not return."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import log_in_by_cookie

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BEFORE = "https://before.example/"  # whatever the person had open before coming to us
EXIT = "https://www.wikipedia.org/"
ELSEWHERE = "<!doctype html><title>Elsewhere</title><p>Somewhere else entirely.</p>"


def private_tab(contexts, user):
    """alice's browser, with the outside world answered locally (the tests have no network)."""
    context = contexts.new()
    held = []

    def outside(route):
        if route.request.url.startswith(EXIT):
            held.append(route)  # answered by the test, once it has looked at our page
        else:
            route.fulfill(status=200, content_type="text/html", body=ELSEWHERE)

    context.route("https://**/*", outside)
    log_in_by_cookie(context, user, contexts.base_url)
    page = context.new_page()
    page.goto(BEFORE)
    page.goto(f"{contexts.base_url}/agreement/")
    expect(page.locator("#summary")).to_be_visible()
    return page, held


def watch(page) -> list:
    """What the page looked like right after the quick exit ran (reported by listeners added
    after app.js's, so they run after it; the page cannot be asked once it is leaving)."""
    seen: list = []
    page.expose_function("reportState", lambda hidden, title: seen.append((hidden, title)))
    page.evaluate(
        """() => {
        const report = () => window.reportState(document.body.hidden, document.title);
        document.getElementById("quick-exit").addEventListener("click", report);
        document.addEventListener("keydown", report);
    }"""
    )
    return seen


def assert_left_for_good(page, held, seen, *, back_to: str = BEFORE) -> None:
    left_from = page.url
    try:
        for _ in range(50):  # the report and the held request arrive asynchronously
            if seen and held:
                break
            page.wait_for_timeout(100)
        # Before the neutral site even answers, our page is blank and untitled.
        assert seen and seen[-1] == (True, "New Tab"), seen
        assert len(held) == 1
    finally:
        # Never leave the browser waiting on a held request (even when an assertion failed): a
        # navigation that never ends would hang the failure report's page.content().
        for route in held:
            route.fulfill(status=200, content_type="text/html", body=ELSEWHERE)
    page.wait_for_url(f"{EXIT}**")
    page.go_back()
    # Back skips the page left from: the exit replaced it in the history. (Earlier pages stay:
    # the settings page says so.)
    page.wait_for_url(back_to)
    assert page.url != left_from


def test_the_quick_exit_is_the_first_thing_the_tab_key_reaches(contexts, couple, alice):
    page, _ = private_tab(contexts, alice)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "quick-exit"


def test_one_click_on_quick_exit_leaves_and_back_does_not_return(contexts, couple, alice):
    page, held = private_tab(contexts, alice)
    seen = watch(page)
    page.locator("#quick-exit").click(no_wait_after=True)
    assert_left_for_good(page, held, seen)


def test_pressing_shift_three_times_leaves_too(contexts, couple, alice):
    page, held = private_tab(contexts, alice)
    seen = watch(page)
    for _ in range(2):
        page.keyboard.press("Shift")
    assert seen == [(False, page.title())] * 2  # twice is not enough
    page.keyboard.press("Shift")
    assert_left_for_good(page, held, seen)


def test_the_print_page_has_the_quick_exit_too(contexts, couple, alice):
    page, held = private_tab(contexts, alice)
    agreement = page.url
    page.goto(f"{contexts.base_url}/agreement/print/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "quick-exit"
    seen = watch(page)
    page.keyboard.press("Enter")
    assert_left_for_good(page, held, seen[-1:], back_to=agreement)
