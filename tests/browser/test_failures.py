"""An action that fails on the server or on the way there is never silent: htmx swaps nothing on
a 5xx, so the card says in place that nothing was changed (a withdrawal that failed must not look
done)."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import card
from tests.conftest import both_accept, rules_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_withdrawal_that_fails_on_the_server_says_so_in_the_card(contexts, alice, couple):
    rule = rules_of(couple[0])[0]
    both_accept(rule, *couple)
    page = contexts.page(alice)
    page.goto("/agreement/")
    page.route("**/withdraw/", lambda route: route.fulfill(status=500, body="Server Error"))
    rule_card = card(page, 1)
    rule_card.get_by_role("button", name="Withdraw consent").click()
    expect(rule_card.get_by_role("alert")).to_contain_text("nothing was changed")
    expect(rule_card).to_have_attribute("data-state", "active")


def test_an_answer_that_never_reaches_the_server_says_so_in_the_card(contexts, alice, couple):
    page = contexts.page(alice)
    page.goto("/agreement/")
    page.route("**/accept/", lambda route: route.abort())
    rule_card = card(page, 1)
    rule_card.get_by_role("button", name="Accept", exact=True).click()
    expect(rule_card.get_by_role("alert")).to_contain_text("nothing was sent or changed")
