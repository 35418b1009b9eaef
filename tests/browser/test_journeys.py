"""Journeys through the real app in Chromium: two partners (and a therapist), each in their own
browser context, on the live server against the test database."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from agreements.defaults import DEFAULT_RULES
from tests.browser.conftest import (
    POLL_WAIT_MS,
    accept_on_page,
    card,
    expect_summary,
    link_in_last_email,
    log_in,
)
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIGN_UP_BUTTON = re.compile(r"^(sign up|create (an |my )?account)$", re.I)


def sign_up(page, email: str, name: str) -> None:
    """Sign up through the form, then confirm the address with the link from the email."""
    page.goto("/")
    page.get_by_role("link", name="Create an account").first.click()
    # By field name: the labels of allauth's fields are ours to reword (axe checks they exist).
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password1]").fill(PASSWORD)
    page.locator("input[name=display_name]").fill(name)
    page.get_by_label("A partner").check()
    page.get_by_role("button", name=SIGN_UP_BUTTON).click()
    expect(page.get_by_text(re.compile("verif|confirm", re.I)).first).to_be_visible()
    page.goto(link_in_last_email(email, "/accounts/confirm-email/"))
    page.get_by_role("button", name="Confirm").click()


def test_partners_sign_up_and_link_up(contexts):
    alice = contexts.page()
    bob = contexts.page()

    sign_up(alice, "alice@example.com", "Alice")
    expect(alice.get_by_role("heading", name="Hello, Alice")).to_be_visible()
    sign_up(bob, "bob@example.com", "Bob")
    expect(bob.get_by_role("heading", name="Hello, Bob")).to_be_visible()

    alice.get_by_label("Your partner's email").fill("bob@example.com")
    alice.get_by_role("button", name="Create an invitation link").click()
    expect(alice.get_by_role("heading", name="Waiting for your partner")).to_be_visible()
    link = link_in_last_email("bob@example.com", "/invitation/")
    assert alice.get_by_label("Invitation link").input_value().endswith(link)

    bob.goto(link)
    expect(bob.get_by_role("heading", name="Alice invited you")).to_be_visible()
    bob.get_by_role("button", name="Accept").click()

    expect(bob).to_have_url(re.compile(r"/agreement/$"))
    alice.goto("/")
    alice.get_by_role("link", name="Open your agreement").click()
    for page in (alice, bob):
        expect(page.locator("article.rule-card")).to_have_count(9)
        for number, (title, _) in enumerate(DEFAULT_RULES, start=1):
            expect(card(page, number).get_by_role("heading")).to_contain_text(title)
        expect_summary(page, 0, 9)
    assert User.objects.get(email="bob@example.com").current_partner_seat() is not None


def test_both_accept_all_nine_and_each_sees_the_other_live(contexts, alice, bob, couple):
    alice_page = contexts.page()
    log_in(alice_page, alice.email)
    bob_page = contexts.page(bob)
    for page in (alice_page, bob_page):
        page.goto("/agreement/")
        page.evaluate("window.notReloaded = true")  # gone if the page is ever reloaded

    for number in range(1, 10):
        accept_on_page(alice_page, number)
    expect_summary(alice_page, 0, 9)
    expect(card(alice_page, 9)).to_contain_text("waiting for your partner")
    # Bob's open page learns of Alice's acceptances from the poll.
    expect(card(bob_page, 9)).to_contain_text("Accepted by Alice", timeout=POLL_WAIT_MS)

    for number in range(1, 10):
        accept_on_page(bob_page, number)
    expect_summary(bob_page, 9, 9)
    expect_summary(alice_page, 9, 9, timeout=POLL_WAIT_MS)
    for page in (alice_page, bob_page):
        expect(page.locator("article.rule-card[data-state=active]")).to_have_count(9)
        assert page.evaluate("window.notReloaded") is True
