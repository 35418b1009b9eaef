"""The first minute, on a phone, as two new people: Ines signs up and reads the nine rules alone,
drafts a rule, copies her invitation link; Pat declines it without an account; Ines sees that
and invites again; Pat joins; the explanation of answering shows until it is hidden, once."""

import re

import pytest
from playwright.sync_api import expect

from agreements.defaults import DEFAULT_RULES
from tests.browser.conftest import PHONE, card
from tests.browser.test_journeys import sign_up

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def copy_invitation_link(page) -> str:
    """Copy link, as a person taps it: what lands on the clipboard is the link shown."""
    shown = page.get_by_label("Invitation link").input_value()
    page.get_by_role("button", name="Copy link").click()
    expect(page.get_by_role("status").filter(has_text="Link copied.")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown and "/invitation/" in copied
    # Share is offered exactly where the browser has the Web Share API.
    has_share = page.evaluate("typeof navigator.share === 'function'")
    share = page.get_by_role("button", name="Share", exact=True)
    expect(share).to_have_count(1 if has_share else 0)
    return re.sub(r"^https?://[^/]+", "", copied)


def test_the_first_minute_of_two_new_people(contexts):
    ines = contexts.page(viewport=PHONE, permissions=["clipboard-read", "clipboard-write"])
    pat = contexts.page(viewport=PHONE)

    # Ines, alone: the nine rules, to read before anyone else is there.
    sign_up(ines, "ines@example.com", "Ines")
    expect(ines.get_by_role("heading", name="Hello, Ines")).to_be_visible()
    ines.get_by_role("link", name="Read the nine rules").click()
    expect(ines).to_have_url(re.compile(r"/agreement/$"))
    expect(ines.locator("[data-default]")).to_have_count(9)
    for number, (title, _) in enumerate(DEFAULT_RULES, start=1):
        expect(ines.locator(f"#default-{number} h3")).to_contain_text(title)
    expect(ines.get_by_role("heading", name="How answering works")).to_be_visible()

    # A rule of her own, kept as a draft until Pat joins.
    ines.get_by_role("link", name="Draft a new rule").click()
    ines.get_by_label("Short title (optional)").fill("Slow mornings")
    ines.get_by_label("Wording").fill("On Sundays we take our time in the morning.")
    ines.get_by_role("button", name="Keep as a draft").click()
    expect(ines.locator("[data-draft]")).to_contain_text("On Sundays we take our time")

    # The invitation: a link to copy (no email).
    ines.goto("/")
    ines.get_by_role("button", name="Create an invitation link").click()
    expect(ines.get_by_role("heading", name="Waiting for your partner")).to_be_visible()
    first_link = copy_invitation_link(ines)

    # Pat says no, without an account.
    pat.goto(first_link)
    expect(pat.get_by_role("heading", name="Ines invited you")).to_be_visible()
    pat.get_by_role("button", name="Decline this invitation").click()
    expect(pat.get_by_role("heading", name="You declined the invitation")).to_be_visible()
    expect(pat.get_by_role("button", name="Log out")).to_have_count(0)  # still nobody's account

    # Ines sees it, neutrally, with the next step; she invites again.
    ines.goto("/")
    expect(ines.get_by_role("heading", name="Your invitation was declined")).to_be_visible()
    expect(ines.locator("[data-invitation=declined]")).to_contain_text("Nothing was shared")
    ines.get_by_role("button", name="Invite again").click()
    expect(ines.get_by_role("heading", name="Waiting for your partner")).to_be_visible()
    second_link = copy_invitation_link(ines)
    assert second_link != first_link

    # Pat, later, signs up and accepts.
    sign_up(pat, "pat@example.com", "Pat")
    pat.goto(second_link)
    pat.get_by_role("button", name="Accept").click()
    expect(pat).to_have_url(re.compile(r"/agreement/$"))
    expect(pat.locator("article.rule-card")).to_have_count(10)  # the nine, and Ines's draft
    expect(card(pat, 10)).to_contain_text("On Sundays we take our time")
    expect(card(pat, 10)).to_have_attribute("data-needs-you", "true")
    expect(pat.locator("article.rule-card[data-state=active]")).to_have_count(0)

    # The explanation: there on the first visit, gone for good once hidden.
    explanation = pat.get_by_role("heading", name="How answering works")
    expect(explanation).to_be_visible()
    pat.get_by_role("button", name="Hide this explanation").click()
    expect(explanation).to_have_count(0)
    pat.reload()
    expect(pat.locator("article.rule-card")).to_have_count(10)
    expect(pat.get_by_role("heading", name="How answering works")).to_have_count(0)


def test_share_hands_the_link_to_the_browsers_share_sheet(contexts, alice):
    """Where the browser has the Web Share API (a phone), Share is offered and gives the
    invitation link to the share sheet; here the API is stood in for before the page loads."""
    from accounts import linking

    invitation = linking.create_invitation(inviter=alice)
    page = contexts.page(alice, viewport=PHONE)
    page.add_init_script(
        "navigator.share = (data) => { window.shared = data; return Promise.resolve(); };"
    )
    page.goto("/")
    page.get_by_role("button", name="Share", exact=True).click()
    shared = page.evaluate("window.shared")
    assert shared["url"].endswith(invitation.get_absolute_url())
    assert shared["title"] == "Rules of the Road"
