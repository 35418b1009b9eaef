"""A review in two real browsers, both on a phone: the demo couple's rule that is due for review
today (stories.rules_up_for_review, as seed_demo tells it). A Keep it is sealed until both have
answered; the outcome shows on both pages within one poll (under 10 seconds)."""

import pytest
from playwright.sync_api import expect

from agreements.models import add_months
from agreements.stories import agreement_in_every_state, rules_up_for_review
from tests.browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OUTCOME_MS = 10_000


def card(page, number: int):
    """The card of the rule numbered `number` (its permanent number, data-number)."""
    return page.locator(f'article.rule-card[data-number="{number}"]')


def due_on_two_phones(contexts, alice, bob, couple):
    """The demo couple's agreement (every state, and two rules with review dates), open on Maya's
    (alice's) and Sam's (bob's) phones; the rule due for review today."""
    agreement_in_every_state(*couple)
    due = rules_up_for_review(*couple)["due"]
    maya = contexts.page(alice, viewport=PHONE)
    sam = contexts.page(bob, viewport=PHONE)
    for page in (maya, sam):
        page.goto("/agreement/")
    return due, maya, sam


def test_both_keep_a_due_rule_and_both_phones_show_it_kept(contexts, alice, bob, couple):
    due, maya, sam = due_on_two_phones(contexts, alice, bob, couple)
    number = due.position
    for page in (maya, sam):
        expect(card(page, number)).to_have_attribute("data-review-due", "true")
        expect(card(page, number)).to_have_attribute("data-state", "active")
        expect(page.locator("#summary")).to_contain_text("1 rule is ready to look at again")

    card(maya, number).get_by_role("button", name="Keep it", exact=True).click()
    expect(card(maya, number)).to_contain_text("You said keep it. Sealed until Bob answers too.")
    # Sam's page polls and learns nothing of it.
    sam.wait_for_event("response", lambda r: "/poll/" in r.url, timeout=OUTCOME_MS)
    expect(card(sam, number)).to_have_attribute("data-review-due", "true")
    assert "said keep" not in card(sam, number).inner_text().lower()

    card(sam, number).get_by_role("button", name="Keep it", exact=True).click()
    next_review = add_months(due.review_at, 1).strftime("%Y-%m-%d")
    for page in (sam, maya):  # Maya's within one poll
        expect(card(page, number)).not_to_have_attribute(
            "data-review-due", "true", timeout=OUTCOME_MS
        )
        expect(card(page, number)).to_have_attribute("data-state", "active")
        expect(card(page, number)).to_have_attribute("data-review-on", next_review)
        expect(page.locator("#summary")).not_to_contain_text("ready to look at again")


def test_let_it_rest_rests_the_rule_on_both_phones(contexts, alice, bob, couple):
    due, maya, sam = due_on_two_phones(contexts, alice, bob, couple)
    number = due.position
    card(sam, number).get_by_role("button", name="Let it rest", exact=True).click()
    for page in (sam, maya):
        expect(card(page, number)).to_have_attribute("data-state", "paused", timeout=OUTCOME_MS)
    expect(card(maya, number)).to_contain_text("Bob withdrew consent")
    expect(card(sam, number).get_by_role("button", name="Reopen")).to_be_visible()
