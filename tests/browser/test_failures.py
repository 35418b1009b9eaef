"""An action that fails on the server or on the way there is never silent: htmx swaps nothing on
a 5xx, so the card says in place that nothing was changed (a withdrawal that failed must not look
done)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import card
from tests.conftest import both_accept, rules_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def click_in_rule_1(contexts, alice, button: str, path: str, answer):
    """Alice clicks a button of rule 1's card, the requests to `path` answered by `answer` (a
    Playwright route handler) instead of the server; her page and the card."""
    page = contexts.page(alice)
    page.goto("/agreement/")
    page.route(path, answer)
    rule_card = card(page, 1)
    rule_card.get_by_role("button", name=button, exact=True).click()
    return page, rule_card


def test_a_withdrawal_that_fails_on_the_server_says_so_in_the_card(contexts, alice, couple):
    rule = rules_of(couple[0])[0]
    both_accept(rule, *couple)
    _, rule_card = click_in_rule_1(
        contexts,
        alice,
        "Withdraw consent",
        "**/withdraw/",
        lambda route: route.fulfill(status=500, body="Server Error"),
    )
    expect(rule_card.get_by_role("alert")).to_contain_text("nothing was changed")
    expect(rule_card).to_have_attribute("data-state", "active")


def test_an_answer_that_never_reaches_the_server_says_so_in_the_card(contexts, alice, couple):
    _, rule_card = click_in_rule_1(
        contexts, alice, "Accept", "**/accept/", lambda route: route.abort()
    )
    expect(rule_card.get_by_role("alert")).to_contain_text("nothing was sent or changed")


def test_the_connection_failed_note_clears_once_a_request_goes_through(contexts, alice, couple):
    from tests.browser.conftest import POLL_WAIT_MS

    page, rule_card = click_in_rule_1(
        contexts, alice, "Accept", "**/accept/", lambda route: route.abort()
    )
    expect(rule_card.get_by_role("alert")).to_contain_text("The connection failed")
    page.unroute("**/accept/")
    # The next poll reaches the server: "the connection failed" is not true any more.
    page.wait_for_event("response", lambda r: "/poll/" in r.url, timeout=POLL_WAIT_MS)
    expect(page.locator(".action-failed")).to_have_count(0)


def test_the_stale_wording_message_stays_until_the_partner_acts(contexts, alice, bob, couple):
    from agreements import consent
    from tests.browser.conftest import POLL_WAIT_MS

    a, b = couple
    page = contexts.page(alice)
    page.goto("/agreement/")
    rule = rules_of(a)[0]
    consent.propose_change(partner=b, rule=rule, title="Stop", text="We stop when either asks.")
    rule_card = card(page, 1)
    rule_card.get_by_role("button", name="Accept", exact=True).click()
    message = rule_card.locator("[data-card-error]")
    expect(message).to_contain_text("The wording changed since you loaded the page")
    # Two polls later (each brings the whole live region) it is still there.
    for _ in range(2):
        page.wait_for_event(
            "response", lambda r: "/poll/" in r.url and r.status == 200, timeout=POLL_WAIT_MS
        )
    expect(message).to_be_visible()
    # Once Alice acts in the card, it has said what it had to say.
    rule_card.get_by_role("button", name="Accept", exact=True).click()
    expect(rule_card.locator("[data-card-error]")).to_have_count(0)
