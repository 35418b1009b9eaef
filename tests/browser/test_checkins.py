"""Check-ins in a real browser, on a phone: two partners write apart, the first to seal sees only
that the other has not sealed yet, the second seals and both see both answers within 10 seconds
(the first by the page's poll). Without JavaScript it all works by plain forms. axe finds no
WCAG 2.1 A/AA violation on any check-in page."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from playwright.sync_api import expect

from agreements import stories
from checkins import services
from tests.browser.conftest import PHONE, axe_violations, describe_violations
from tests.checkin_helpers import revealed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE_CONTEXT = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
REVEAL_WAIT_MS = 10_000


def checkin_element(page):
    return page.locator("[data-checkin]")


def test_written_apart_sealed_then_revealed_to_both_within_ten_seconds(
    contexts, alice, bob, couple
):
    alice_page = contexts.page(alice, **PHONE_CONTEXT)
    bob_page = contexts.page(bob, **PHONE_CONTEXT)

    alice_page.goto("/checkins/")
    alice_page.get_by_label("What is it about? (optional)").fill("Saturday night")
    alice_page.get_by_role("button", name="Start a check-in").click()
    expect(checkin_element(alice_page)).to_have_attribute("data-revealed", "false")

    bob_page.goto("/checkins/")
    bob_page.get_by_role("link", name="Write your answer").click()
    expect(bob_page.get_by_role("button", name="Seal my answer")).to_be_visible()

    # Both write at the same time, each on their own phone.
    alice_page.get_by_label("Sensation", exact=True).fill("Warm, then tight in my chest")
    bob_page.get_by_label("Want", exact=True).fill("Candles and slowness")
    alice_page.get_by_label("Emotion", exact=True).fill("Happy and a little scared")
    alice_page.get_by_label("It hurt, or I wanted to stop").check()
    bob_page.get_by_label("Wonderful").check()

    alice_page.get_by_role("button", name="Seal my answer").click()
    alices = checkin_element(alice_page)
    expect(alices).to_contain_text("Your answer is sealed")
    expect(alices).to_contain_text("Bob: not started")
    expect(alices).not_to_contain_text("Candles")

    # Bob's open form is never replaced by a poll; what he typed is still there.
    expect(bob_page.get_by_label("Want", exact=True)).to_have_value("Candles and slowness")
    expect(checkin_element(bob_page)).not_to_contain_text("Warm, then tight")
    bob_page.get_by_role("button", name="Seal my answer").click()

    for page in (bob_page, alice_page):
        element = checkin_element(page)
        expect(element).to_have_attribute("data-revealed", "true", timeout=REVEAL_WAIT_MS)
        expect(element).to_contain_text("Warm, then tight in my chest")
        expect(element).to_contain_text("Candles and slowness")
        expect(element.get_by_role("heading", name=re.compile("^Alice"))).to_be_visible()
        expect(element.get_by_role("heading", name=re.compile("^Bob"))).to_be_visible()
        expect(element.get_by_label("A gentle note")).to_be_visible()


def test_without_javascript_a_check_in_is_started_sealed_and_let_go(contexts, alice, bob, couple):
    page = contexts.page(alice, java_script_enabled=False, **PHONE_CONTEXT)
    page.goto("/checkins/")
    page.get_by_role("button", name="Start a check-in").click()
    page.get_by_role("button", name="Seal my answer").click()  # empty: refused, with the reason
    expect(page.get_by_role("alert").first).to_contain_text("at least one thing")
    page.get_by_label("Want", exact=True).fill("To talk tomorrow")
    page.get_by_role("button", name="Seal my answer").click()
    expect(checkin_element(page)).to_contain_text("Your answer is sealed")
    page.get_by_role("button", name="Change my answer").click()
    expect(page.get_by_label("Want", exact=True)).to_have_value("To talk tomorrow")
    page.get_by_role("button", name="Let it go").click()
    expect(checkin_element(page)).to_contain_text("nothing was revealed")
    expect(checkin_element(page)).to_contain_text("To talk tomorrow")


def test_check_in_pages_have_no_accessibility_violations(contexts, alice, bob, couple, dana):
    a, b = couple
    for n in range(3):
        revealed(a, b, a_words={"want": f"Want {n}", "overall": 1 + n}, topic=f"Evening {n}")
    shared = revealed(a, b, b_words={"want": "Slow", "overall": 2, "wanted_to_stop": "yes"})
    # Sharing is offered (and done) only while a therapist has access.
    TOTP.activate(dana, generate_totp_secret())
    agreement = a.couple.agreement
    stories.grant_therapist((a, b), dana)
    for seat in (a, b):
        services.set_sharing(partner=seat, checkin=shared, share=True)
    services.add_reply(partner=b, checkin=shared, text="Thank you")
    let_go, _ = services.start(partner=a)
    services.seal(partner=a, checkin=let_go, want="Later")
    services.let_go(partner=b, checkin=let_go)

    found = []
    page = contexts.page(alice, bypass_csp=True, **PHONE_CONTEXT)

    def check(what: str) -> None:
        violations = axe_violations(page)
        if violations:
            found.append(f"== {what} ({page.url})\n{describe_violations(violations)}")

    page.goto("/checkins/")
    check("list with the chart and the start form")
    page.get_by_role("button", name="Start a check-in").click()
    check("check-in, the form")
    page.get_by_role("button", name="Seal my answer").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    check("check-in, the form with an error")
    page.get_by_label("Sensation", exact=True).fill("Soft")
    page.get_by_role("button", name="Seal my answer").click()
    expect(checkin_element(page)).to_contain_text("Your answer is sealed")
    check("check-in, sealed and waiting")
    page.goto(f"/checkins/{shared.pk}/")
    check("check-in, revealed with a gentle note and a reply")
    page.goto(f"/checkins/{let_go.pk}/")
    check("check-in, let go")

    page = contexts.page(dana, bypass_csp=True, **PHONE_CONTEXT)
    page.goto(f"/checkins/therapist/{agreement.pk}/")
    check("therapist, shared check-ins")
    page.goto(f"/checkins/therapist/{agreement.pk}/{shared.pk}/")
    check("therapist, one shared check-in")
    assert not found, "WCAG 2.1 A/AA violations:\n" + "\n".join(found)
