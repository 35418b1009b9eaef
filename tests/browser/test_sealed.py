"""Sealed answers in two real browsers, a phone and a desktop: nothing of one partner's answer
shows to the other until both have answered; then both answers show together."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PHONE, POLL_WAIT_MS, card

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_not_yet_and_an_accept_are_revealed_together_on_both_pages(contexts, alice, bob, couple):
    maya = contexts.page(alice)  # desktop
    sam = contexts.page(bob, viewport=PHONE)
    for page in (maya, sam):
        page.goto("/agreement/")

    # Sam, on his phone: Not yet, with a note.
    rule = card(sam, 1)
    rule.get_by_text("Add a note for Alice (optional)").click()
    rule.locator("textarea[name=note]").fill("I need to think about what this means for us.")
    rule.get_by_role("button", name="Not yet", exact=True).click()
    expect(card(sam, 1)).to_have_attribute("data-sealed", "true")
    expect(card(sam, 1).locator(".badge")).to_have_text(
        "You said not yet — sealed until Alice answers"
    )

    # Maya's open page polls and learns nothing.
    maya.wait_for_event("response", lambda r: "/poll/" in r.url, timeout=POLL_WAIT_MS)
    expect(card(maya, 1).locator(".badge")).to_have_text("Waiting for you")
    assert "think about" not in card(maya, 1).inner_text()

    # Maya accepts: both answers show on both pages, Sam's within one poll.
    card(maya, 1).get_by_role("button", name="Accept", exact=True).click()
    expect(card(maya, 1)).to_contain_text("Bob: not yet — I need to think about what this means")
    expect(card(sam, 1)).to_contain_text("Alice: accepted", timeout=POLL_WAIT_MS)
    expect(card(sam, 1)).not_to_have_attribute("data-sealed", "true")
    expect(card(sam, 1).locator(".badge")).to_have_text("You said not yet")
