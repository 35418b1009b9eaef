"""Journeys through the real app in Chromium: two partners (and a therapist), each in their own
browser context, on the live server against the test database."""

import io
import re

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    generate_totp_secret,
)
from django.core import mail
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.models import User
from agreements import consent, therapy
from agreements.defaults import DEFAULT_RULES
from agreements.stories import agreement_in_every_state
from tests.browser.conftest import (
    PHONE,
    POLL_WAIT_MS,
    accept_on_page,
    card,
    expect_summary,
    link_in_last_email,
    log_in,
    withdraw_on_page,
)
from tests.conftest import PASSWORD, both_accept, fresh_totp_code, rules_of

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
    expect(card(alice_page, 9).locator(".badge")).to_have_text(
        "You accepted — sealed until Bob answers"
    )
    # Sealed until he answers: Bob's open page shows nothing of Alice's acceptances.
    bob_page.wait_for_event("response", lambda r: "/poll/" in r.url, timeout=POLL_WAIT_MS)
    expect(card(bob_page, 9).locator(".badge")).to_have_text("Waiting for you")
    assert "Alice: accepted" not in card(bob_page, 9).inner_text()

    for number in range(1, 10):
        accept_on_page(bob_page, number)
    expect_summary(bob_page, 9, 9)
    expect_summary(alice_page, 9, 9, timeout=POLL_WAIT_MS)
    for page in (alice_page, bob_page):
        expect(page.locator("article.rule-card[data-state=active]")).to_have_count(9)
        assert page.evaluate("window.notReloaded") is True


def test_a_change_is_accepted_and_a_withdrawal_pauses_the_rule_for_both(
    contexts, alice, bob, couple
):
    rules = rules_of(couple[0])
    for rule in rules:
        both_accept(rule, *couple)
    alice_page, bob_page = contexts.page(alice), contexts.page(bob)
    for page in (alice_page, bob_page):
        page.goto("/agreement/")
        expect_summary(page, 9, 9)

    # Bob proposes new wording for rule 2.
    bobs_card = card(bob_page, 2)
    bobs_card.get_by_role("button", name="Propose a change").click()
    wording = bobs_card.get_by_label("Wording")
    wording.fill(wording.input_value().replace("at their pace", "gently, at their own pace"))
    bobs_card.get_by_role("button", name="Propose this wording").click()
    expect(bobs_card).to_contain_text("change proposed")
    expect(bobs_card).to_contain_text("Proposed by Bob")

    # Alice's open page shows the difference, and the wording in force stays in force meanwhile.
    alices_card = card(alice_page, 2)
    expect(alices_card.locator("ins")).to_have_text(["gently,", "own"], timeout=POLL_WAIT_MS)
    expect(alices_card).to_have_attribute("data-state", "active")
    accept_on_page(alice_page, 2)
    expect(alices_card.locator(".wording")).to_contain_text("gently, at their own pace")
    expect(alices_card.locator("ins")).to_have_count(0)
    expect(bobs_card.locator(".wording")).to_contain_text(
        "gently, at their own pace", timeout=POLL_WAIT_MS
    )
    expect(bobs_card).not_to_contain_text("change proposed")

    # Alice withdraws her consent from rule 3, alone and at once.
    withdraw_on_page(alice_page, 3)
    expect(card(alice_page, 3).locator(".badge")).to_have_text("Resting")
    expect_summary(alice_page, 8, 9)
    expect(card(bob_page, 3)).to_have_attribute("data-state", "paused", timeout=POLL_WAIT_MS)
    expect(card(bob_page, 3).locator(".badge")).to_have_text("Resting")
    expect_summary(bob_page, 8, 9)
    assert rules_of(couple[0])[2].state == "paused"


def test_the_printed_pdf_holds_exactly_the_rules_in_force(contexts, alice, bob, couple):
    rules = rules_of(couple[0])
    for rule in rules[:5]:
        both_accept(rule, *couple)
    consent.accept(
        partner=bob.current_partner_seat(), rule=rules[5], version_id=rules[5].pending_version_id
    )  # waiting for Alice: not in force
    page = contexts.page(alice)
    page.goto("/agreement/")
    expect_summary(page, 5, 9)
    withdraw_on_page(page, 2)
    expect_summary(page, 4, 9)

    page.get_by_role("link", name="Printable page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Our agreement")
    pdf = PdfReader(io.BytesIO(page.pdf(format="A4")))
    text = " ".join(" ".join(p.extract_text() for p in pdf.pages).split())

    in_force = [1, 3, 4, 5]
    for number, (title, _) in enumerate(DEFAULT_RULES, start=1):
        if number in in_force:
            assert title in text, f"rule {number} is in force but not printed"
        else:
            assert title not in text, f"rule {number} is not in force but printed"
    assert text.count("In force since") == len(in_force)
    assert "Between Alice and Bob" in text
    assert "Print" not in text.split("Our agreement")[0]  # the screen-only button is hidden


def test_without_javascript_a_partner_accepts_changes_and_withdraws(contexts, alice, bob, couple):
    rules = rules_of(couple[0])
    both_accept(rules[0], *couple)
    consent.accept(
        partner=bob.current_partner_seat(), rule=rules[1], version_id=rules[1].pending_version_id
    )
    page = contexts.page(alice, java_script_enabled=False)
    page.goto("/agreement/")
    expect_summary(page, 1, 9)

    # Accept: a plain form post, and back to the page.
    card(page, 2).get_by_role("button", name="Accept", exact=True).click()
    expect(card(page, 2)).to_have_attribute("data-state", "active")
    expect_summary(page, 2, 9)

    # Propose a change: the form on a page of its own.
    card(page, 3).get_by_role("button", name="Propose a change").click()
    page.get_by_label("Wording").fill("Each of us owns our pleasure, and says so out loud.")
    page.get_by_role("button", name="Propose this wording").click()
    expect(page).to_have_url(re.compile(r"/agreement/#rule-\d+$"))
    expect(card(page, 3).locator(".wording")).to_have_text(
        "Each of us owns our pleasure, and says so out loud."
    )
    expect(card(page, 3)).to_contain_text("Proposed by Alice")

    # Withdraw: one plain form post from the card, as with JavaScript.
    card(page, 1).get_by_role("button", name="Withdraw consent").click()
    expect(card(page, 1)).to_have_attribute("data-state", "paused")
    expect_summary(page, 1, 9)
    assert [r.state for r in rules_of(couple[0])[:3]] == ["paused", "active", "proposed"]


# The page's width, its scroll width, how many visible actions it has, and those that stick out.
FITS = """() => {
  const width = window.innerWidth;
  const actions = [...document.querySelectorAll(
    "main button, main .button, main summary, main input, main textarea, " +
    ".site-header a:not(.skip-link), .site-header button, .quick-exit"
  )].filter(el => el.checkVisibility());
  const outside = actions.map(el => [el, el.getBoundingClientRect()])
    .filter(([, box]) => box.left < 0 || box.right > width)
    .map(([el, box]) => `${el.textContent.trim() || el.name} (${box.left}..${box.right})`);
  return [width, document.scrollingElement.scrollWidth, actions.length, outside];
}"""


def test_on_a_phone_every_action_fits_the_screen(contexts, alice, bob, couple):
    agreement_in_every_state(*couple)
    page = contexts.page(alice, viewport=PHONE, is_mobile=True, has_touch=True)
    page.goto("/agreement/")
    expect(page.locator("article.rule-card")).to_have_count(10)  # nine, and one archived

    def assert_fits(where: str) -> None:
        width, scroll_width, actions, outside = page.evaluate(FITS)
        assert scroll_width <= width, f"{where}: the page scrolls sideways ({scroll_width}px)"
        assert actions > 20
        assert not outside, f"{where}: actions outside the {width}px screen: {outside}"

    assert_fits("agreement page")
    for number in (1, 4, 6):  # in force, waiting for Alice, a change proposed
        rule_card = card(page, number)
        rule_card.get_by_role("button", name="Propose a change").click()
        expect(rule_card.get_by_role("button", name="Propose this wording")).to_be_visible()
        assert_fits(f"change form of rule {number}")
        rule_card.get_by_role("link", name="Cancel").click()
        expect(rule_card.get_by_role("button", name="Propose a change")).to_be_visible()
    card(page, 4).get_by_role("button", name="Not yet").click()
    expect(card(page, 4).get_by_role("button", name="Not yet")).to_be_visible()
    assert_fits("not-yet form")


def confirm_password(page, password: str = PASSWORD) -> None:
    """allauth's re-authentication: sensitive pages ask for the password again."""
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.locator("input[name=password]").fill(password)
    page.get_by_role("button", name="Confirm").click()


def log_in_with_authenticator(page, email: str, secret: str) -> None:
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.locator("input[name=code]").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def test_a_therapist_both_partners_chose_comments_until_one_partner_ends_access(
    contexts, alice, bob, couple, dana
):
    secret = generate_totp_secret()
    TOTP.activate(dana, secret)
    alice_page, bob_page, dana_page = contexts.page(alice), contexts.page(bob), contexts.page()

    # Alice opens Dana's client link and asks, after confirming her password.
    _, token = therapy.create_client_link(therapist=dana)
    alice_page.goto(f"/agreement/therapist/invitation/{token}/")
    confirm_password(alice_page)
    alice_page.get_by_role("button", name="Ask my partner").click()
    expect(alice_page.get_by_text("Waiting for your partner.")).to_be_visible()

    # Bob agrees from the notice on his agreement page.
    bob_page.goto("/agreement/")
    bob_page.get_by_role("link", name="Review the request").click()
    confirm_password(bob_page)
    bob_page.get_by_role("button", name="Agree", exact=True).click()
    expect(bob_page.locator("[data-status=active]")).to_contain_text("Sees the rules")
    assert any("dana@example.com" in m.to for m in mail.outbox)

    # Dana logs in with her authenticator and comments on the first rule.
    log_in_with_authenticator(dana_page, "dana@example.com", secret)
    expect(dana_page.get_by_role("heading", name="Your client couples")).to_be_visible()
    dana_page.get_by_role("link", name="Review the agreement").click()
    expect(dana_page.locator("article.rule-card")).to_have_count(9)
    expect(dana_page.get_by_role("button", name="Accept")).to_have_count(0)  # read-only
    first = card(dana_page, 1)
    first.get_by_text("Comment on this rule").click()
    first.get_by_label(re.compile("Your comment")).fill(
        "What does stopping look like for each of you?"
    )
    first.get_by_role("button", name="Add comment").click()
    expect(card(dana_page, 1).locator(".comment")).to_contain_text("What does stopping look like")

    # Alice reads it and replies; Dana sees the reply.
    alice_page.goto("/agreement/")
    alices_first = card(alice_page, 1)
    expect(alices_first.locator(".comment.by-therapist")).to_contain_text("What does stopping")
    alices_first.get_by_label("Reply").fill("We will bring it to our next session.")
    alices_first.get_by_role("button", name="Reply").click()
    expect(card(alice_page, 1).locator(".comment")).to_have_count(2)
    dana_page.reload()
    expect(card(dana_page, 1).locator(".comment").nth(1)).to_contain_text("our next session")

    # Bob ends the access on his own; Dana is refused at once.
    bob_page.goto("/agreement/therapist/")
    bob_page.get_by_role("button", name="End access").click()
    expect(bob_page.get_by_text("No one but the two of you.")).to_be_visible()
    response = dana_page.reload()
    assert response.status == 404
    expect(dana_page.get_by_text("What does stopping look like")).to_have_count(0)
    dana_page.goto("/therapist/")
    expect(dana_page.locator("[data-client]")).to_have_count(0)


# A promise kept once htmx has handled (swapped or not) the answer to a poll.
ANSWER_HANDLED = """() => { window.pollAnswerHandled = new Promise(resolve => {
  document.body.addEventListener("htmx:afterRequest", event => {
    if (event.detail.requestConfig.path.endsWith("/poll/")) resolve();
  });
}); }"""


def test_a_late_poll_answer_never_undoes_what_the_partner_just_did(contexts, alice, bob, couple):
    """The poll and an action can cross: a poll answered before Alice's acceptance may arrive
    after it. The older answer must not put the Accept button back."""
    rules = rules_of(couple[0])
    # Alice answered rule 1 already: Bob's answer to it is revealed at once.
    consent.accept(partner=couple[0], rule=rules[0], version_id=rules[0].pending_version_id)
    page = contexts.page(alice)
    page.goto("/agreement/")
    held = []

    def hold_the_first(route) -> None:
        if held:
            route.continue_()
        else:
            held.append((route, route.fetch()))

    page.route("**/agreement/poll/", hold_the_first)
    consent.not_yet(  # something new for the poll to bring
        partner=bob.current_partner_seat(), rule=rules[0], version_id=rules[0].pending_version_id
    )
    page.wait_for_event("request", lambda r: "/poll/" in r.url, timeout=POLL_WAIT_MS)
    while not held:  # the handler runs while Playwright waits
        page.wait_for_timeout(50)
    route, stale = held[0]
    assert stale.status == 200

    accept_on_page(page, 2)
    expect(card(page, 2)).to_contain_text("You: accepted")
    page.evaluate(ANSWER_HANDLED)
    route.fulfill(response=stale)
    page.evaluate("() => window.pollAnswerHandled")
    # Checked once, not retried: the next poll would repair the page within 5 s.
    assert "You: accepted" in card(page, 2).inner_text()
    assert card(page, 2).get_by_role("button", name="Accept", exact=True).count() == 0
    # The next poll brings both changes.
    expect(card(page, 1)).to_contain_text("Bob: not yet", timeout=POLL_WAIT_MS)
    expect(card(page, 2)).to_contain_text("You: accepted")


def test_what_the_other_partner_did_still_arrives_after_an_own_action(contexts, alice, bob, couple):
    """Alice's own action brings back her card and the newest ETag; Bob's acceptance of another
    rule, made before it, must still reach her page with the next poll."""
    rules = rules_of(couple[0])
    # Alice answered rule 1 already: Bob's answer to it is revealed at once.
    consent.accept(partner=couple[0], rule=rules[0], version_id=rules[0].pending_version_id)
    page = contexts.page(alice)
    page.route("**/agreement/poll/", lambda route: route.abort())  # no poll for now
    page.goto("/agreement/")
    consent.not_yet(
        partner=bob.current_partner_seat(), rule=rules[0], version_id=rules[0].pending_version_id
    )
    accept_on_page(page, 2)
    page.unroute("**/agreement/poll/")
    expect(card(page, 1)).to_contain_text("Bob: not yet", timeout=POLL_WAIT_MS)
    expect(card(page, 2)).to_contain_text("You: accepted")


def test_an_open_page_in_a_hidden_tab_does_not_poll_and_asks_once_when_shown(
    contexts, alice, bob, couple
):
    page = contexts.page(alice)
    page.goto("/agreement/")
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/poll/" in r.url else None)
    page.wait_for_event("request", lambda r: "/poll/" in r.url, timeout=POLL_WAIT_MS)
    # The tab goes to the background.
    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", {value: true, configurable: true});
        Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    page.wait_for_timeout(500)
    before = len(polls)
    rule = rules_of(couple[1])[0]
    consent.accept(partner=couple[1], rule=rule, version_id=rule.pending_version_id)
    page.wait_for_timeout(12_000)  # more than two poll intervals
    assert len(polls) == before
    # Shown again: one poll at once, which brings what changed meanwhile.
    page.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", {value: false, configurable: true});
        Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    page.wait_for_timeout(1_500)
    assert len(polls) == before + 1
