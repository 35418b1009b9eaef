"""Accessibility in a real browser: axe-core (WCAG 2.1 A and AA) on every page a person reaches,
and the agreement page driven by keyboard alone.

axe is injected with page.add_script_tag, which our Content-Security-Policy would refuse: the axe
tests use contexts made with bypass_csp=True, and only they do."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from playwright.sync_api import expect

from accounts import linking
from accounts.models import User
from agreements import consent, therapy
from agreements.stories import agreement_in_every_state
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    POLL_WAIT_MS,
    accept_on_page,
    axe_violations,
    card,
    describe_violations,
    expect_summary,
)
from tests.conftest import PASSWORD, grant_therapist, link, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


class Audit:
    """Runs axe on one page after another and reports every violation at the end, so that one
    page's problem does not hide the next one's."""

    def __init__(self, page):
        self.page = page
        self.found: list[str] = []

    def check(self, what: str) -> None:
        violations = axe_violations(self.page)
        if violations:
            self.found.append(f"== {what} ({self.page.url})\n{describe_violations(violations)}")

    def visit(self, path: str, what: str, *, status: int = 200) -> None:
        response = self.page.goto(path)
        assert response.status == status, f"{what}: {path} answered {response.status}"
        self.check(what)

    def assert_clean(self) -> None:
        assert not self.found, "WCAG 2.1 A/AA violations:\n" + "\n".join(self.found)


def test_axe_finds_violations_when_there_are_some(contexts):
    """The audits below pass only if axe really runs: it must catch a page built to fail."""
    page = contexts.page(bypass_csp=True)
    page.set_content('<html><body><img src="x.png"><p style="color:#bbb">Faint</p></body></html>')
    found = {v["id"] for v in axe_violations(page)}
    assert {"html-has-lang", "image-alt", "color-contrast"} <= found


def test_pages_for_visitors_are_accessible(contexts, alice):
    page = contexts.page(bypass_csp=True)
    audit = Audit(page)
    audit.visit("/", "home, signed out")
    audit.visit("/accounts/signup/", "sign-up")
    page.get_by_role("button", name=re.compile("sign up|create", re.I)).click()
    audit.check("sign-up with errors")
    audit.visit("/accounts/login/", "log-in")
    page.locator("input[name=login]").fill("alice@example.com")
    page.locator("input[name=password]").fill("not the password")
    page.get_by_role("button", name="Log in", exact=True).click()
    audit.check("log-in with errors")
    audit.visit("/accounts/password/reset/", "password reset")
    invitation = linking.create_invitation(inviter=alice)
    audit.visit(invitation.get_absolute_url(), "invitation, signed out")
    audit.visit("/invitation/not-a-token/", "invitation that cannot be used", status=404)
    audit.assert_clean()


def test_pages_for_partners_are_accessible(contexts, alice, bob, couple, mallory, carol):
    story = agreement_in_every_state(*couple)
    page = contexts.page(alice, bypass_csp=True)
    audit = Audit(page)
    audit.visit("/", "home with a partner")
    audit.visit("/agreement/", "agreement")
    # The forms that open inside a card (htmx), and a card after an action.
    changing = card(page, 6)
    changing.get_by_role("button", name="Propose a change").click()
    expect(changing.get_by_role("button", name="Propose this wording")).to_be_visible()
    audit.check("agreement, change form open in a card")
    changing.get_by_label("Wording").fill("   ")  # passes "required", not the server
    changing.get_by_role("button", name="Propose this wording").click()
    expect(changing.locator(".error")).to_be_visible()
    audit.check("agreement, change form with an error")
    accept_on_page(page, 4)
    audit.check("agreement after accepting")

    audit.visit(f"/agreement/rules/{story['change_proposed'].pk}/", "rule history")
    audit.visit("/agreement/timeline/", "timeline")
    audit.visit("/agreement/print/", "printable page")
    audit.visit("/agreement/rules/new/", "new rule")
    audit.visit(
        f"/agreement/rules/{story['in_force'].pk}/change/", "change page (without JavaScript)"
    )
    audit.visit(f"/agreement/rules/{story['in_force'].pk}/withdraw/", "withdraw confirmation")
    audit.visit(f"/agreement/rules/{story['waiting_for_a'].pk}/not-yet/", "not-yet page")
    audit.visit("/settings/", "settings")
    page.set_viewport_size(PHONE)
    audit.visit("/", "home with a partner, phone")
    audit.visit("/agreement/", "agreement, phone")
    page.set_viewport_size(DESKTOP)
    audit.visit("/agreement/therapist/", "re-authentication")
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="Therapist access", level=1)).to_be_visible()
    audit.check("therapist access")

    # Someone not linked yet: the invitation form, a waiting invitation, someone else's link.
    page = contexts.page(mallory, bypass_csp=True)
    audit.page = page
    audit.visit("/", "home, no partner yet")
    page.get_by_role("button", name="Create an invitation link").click()
    expect(page.get_by_label("Invitation link")).to_be_visible()
    audit.check("home, invitation waiting")
    audit.visit(linking.create_invitation(inviter=carol).get_absolute_url(), "invitation")
    audit.assert_clean()


def test_pages_for_therapists_are_accessible(contexts, alice, bob, couple, dana):
    story = agreement_in_every_state(*couple)
    TOTP.activate(dana, generate_totp_secret())
    grant_therapist(couple, dana)
    agreement = story["in_force"].agreement
    therapy.add_comment(agreement=agreement, therapist=dana, text="A good start.")

    page = contexts.page(dana, bypass_csp=True)
    audit = Audit(page)
    audit.visit("/therapist/", "therapist home")
    audit.visit(f"/therapist/couples/{agreement.pk}/", "client agreement")
    page.get_by_text("Comment on this rule").first.click()
    audit.check("client agreement, comment form open")
    audit.visit(
        f"/therapist/couples/{agreement.pk}/rules/{story['change_proposed'].pk}/",
        "client rule history",
    )
    audit.visit(f"/therapist/couples/{agreement.pk}/timeline/", "client timeline")
    audit.visit(f"/therapist/couples/{agreement.pk}/print/", "client printable page")
    audit.visit("/settings/", "therapist settings")

    newcomer = make_user("erin@example.com", "Erin", therapist=True)
    page = contexts.page(newcomer, bypass_csp=True)
    audit.page = page
    audit.visit("/therapist/", "therapist without two-factor", status=403)
    audit.assert_clean()


def test_the_client_link_and_suggestion_pages_are_accessible(contexts, alice, bob, couple, dana):
    TOTP.activate(dana, generate_totp_secret())
    seats = (alice.current_partner_seat(), bob.current_partner_seat())
    live = grant_therapist(seats, dana, "rules")
    agreement = live.agreement
    rules = list(agreement.rules.order_by("position"))
    therapy.suggest_wording(therapist=dana, rule=rules[0], title="Kinder", text="A kinder wording.")
    therapy.suggest_rule(therapist=dana, agreement=agreement, title="Tea", text="We make tea.")
    therapy.invite_to_checkin(therapist=dana, agreement=agreement, prompt="How was the week?")
    therapy.save_session_note(therapist=dana, agreement=agreement, text="Calmer today.")

    page = contexts.page(dana, bypass_csp=True)
    audit = Audit(page)
    page.goto("/therapist/")
    page.get_by_role("button", name="Invite a client couple").click()
    expect(page.locator("[data-client-link]")).to_be_visible()
    audit.check("therapist home, a new client link")
    url = page.locator("[data-client-link]").input_value()
    audit.visit(f"/therapist/couples/{agreement.pk}/", "client agreement, rules level, tools")
    audit.visit(
        f"/therapist/couples/{agreement.pk}/rules/{rules[1].pk}/suggest/",
        "suggest new wording",
    )

    page = contexts.page(make_user("erin@example.com", "Erin"), bypass_csp=True)
    erin, fay = User.objects.get(email="erin@example.com"), make_user("fay@example.com", "Fay")
    seat, _ = link(erin, fay)
    audit.page = page
    page.goto("/" + url.split("/", 3)[3])
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("button", name="Ask my partner")).to_be_visible()
    audit.check("client link")
    page.get_by_role("button", name="Ask my partner").click()
    audit.check("request, waiting for the partner")

    page = contexts.page(bob, bypass_csp=True)
    audit.page = page
    audit.visit("/agreement/", "agreement with suggestions and a check-in invitation")
    audit.assert_clean()


# -- keyboard -------------------------------------------------------------------------------------

# What has the focus now, and whether a focus ring shows around it.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  if (!el.dataset.kbd) el.dataset.kbd = String(Math.random()).slice(2);
  const style = getComputedStyle(el);
  const ring = (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2)
    || style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  return {id: el.dataset.kbd, ring, name: (el.innerText || el.value || el.name || el.tagName).trim().slice(0, 40),
          onScreen: box.width > 0 && box.height > 0 && box.left >= 0 && box.right <= window.innerWidth};
}"""
# Every visible control a person may operate on the agreement page, tagged for FOCUSED.
CONTROLS = """() => [...document.querySelectorAll(
  "a[href], button, summary, input:not([type=hidden]), textarea, select"
)].filter(el => el.checkVisibility() && !el.closest("[inert]")).map(el => {
  if (!el.dataset.kbd) el.dataset.kbd = String(Math.random()).slice(2);
  return {id: el.dataset.kbd, name: (el.innerText || el.name || el.tagName).trim().slice(0, 40)};
})"""


def tab_through(page, limit: int = 200) -> list[dict]:
    """Presses Tab from the top of the page until the focus comes round again."""
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    seen: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None or (seen and focused["id"] == seen[0]["id"]):
            break
        seen.append(focused)
    return seen


def tab_to(page, locator, limit: int = 200) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if locator.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{locator} never got the focus")


def test_every_control_of_the_agreement_page_is_reachable_by_keyboard_with_a_focus_ring(
    contexts, alice, bob, couple
):
    agreement_in_every_state(*couple)
    page = contexts.page(alice)
    page.goto("/agreement/")
    controls = page.evaluate(CONTROLS)
    stops = tab_through(page)

    reached = {stop["id"] for stop in stops}
    missed = [c["name"] for c in controls if c["id"] not in reached]
    assert not missed, f"not reachable with Tab: {missed}"
    no_ring = [stop["name"] for stop in stops if not stop["ring"]]
    assert not no_ring, f"no visible focus ring on: {no_ring}"
    off_screen = [stop["name"] for stop in stops if not stop["onScreen"]]
    assert not off_screen, f"focused but not visible: {off_screen}"
    assert [s["name"] for s in stops[:2]] == ["Quick exit", "Skip to content"]


def test_a_partner_acts_by_keyboard_and_hears_the_summary(contexts, alice, bob, couple):
    agreement_in_every_state(*couple)
    page = contexts.page(alice)
    page.goto("/agreement/")
    expect_summary(page, 4, 9)
    page.evaluate("() => document.activeElement.blur()")

    # Skip link first: it shows when focused, and takes the focus to the content.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, "the skip link stays off screen when focused"
    page.keyboard.press("Enter")
    expect(page.locator("#main")).to_be_focused()

    # Accept rule 4 (Bob accepted it already) with the keyboard.
    tab_to(page, card(page, 4).get_by_role("button", name="Accept", exact=True))
    page.keyboard.press("Enter")
    expect(card(page, 4)).to_have_attribute("data-state", "active")
    expect(card(page, 4).get_by_role("heading", level=2)).to_be_focused()
    expect_summary(page, 5, 9)
    announcer = page.locator("#announcer")
    expect(announcer).to_have_attribute("aria-live", "polite")
    expect(announcer).to_contain_text("5 of 9 rules in force")

    # Propose a change to rule 1: the form opens with the focus in the wording.
    tab_to(page, card(page, 1).get_by_role("button", name="Propose a change"))
    page.keyboard.press("Enter")
    expect(card(page, 1).get_by_label("Wording")).to_be_focused()
    page.keyboard.press("Control+End")
    page.keyboard.type(" Always.")
    tab_to(page, card(page, 1).get_by_role("button", name="Propose this wording"))
    page.keyboard.press("Enter")
    expect(card(page, 1)).to_contain_text("change proposed")
    expect(card(page, 1).get_by_role("heading", level=2)).to_be_focused()

    # Withdraw consent from rule 2, confirming the browser's question.
    page.once("dialog", lambda dialog: dialog.accept())
    tab_to(page, card(page, 2).get_by_role("button", name="Withdraw consent"))
    page.keyboard.press("Enter")
    expect(card(page, 2)).to_have_attribute("data-state", "paused")
    expect(card(page, 2).get_by_role("heading", level=2)).to_be_focused()
    expect(announcer).to_contain_text("4 of 9 rules in force")


def test_a_live_update_keeps_the_keyboard_focus_where_it_was(contexts, alice, bob, couple):
    story = agreement_in_every_state(*couple)
    page = contexts.page(alice)
    page.goto("/agreement/")
    tab_to(page, card(page, 2).get_by_role("button", name="Withdraw consent"))
    consent.accept(  # Bob, elsewhere: the poll brings a new live region
        partner=bob.current_partner_seat(),
        rule=story["waiting_for_b"],
        version_id=story["waiting_for_b"].pending_version_id,
    )
    expect(card(page, 5)).to_have_attribute("data-state", "active", timeout=POLL_WAIT_MS)
    focused_card = page.evaluate("() => document.activeElement.closest('[data-rule]')?.id")
    assert focused_card == f"rule-{story['also_in_force'].pk}", "the focus left the card it was in"
    announcer = page.locator("#announcer")
    expect(announcer).to_contain_text("5 of 9 rules in force")


def test_the_first_minute_pages_are_accessible(contexts, mallory, carol):
    from agreements import drafts

    drafts.save_draft(user=mallory, default_position=2, text="We stop and hold each other.")
    drafts.save_draft(user=mallory, title="Sundays", text="Slow Sunday mornings.")
    page = contexts.page(mallory, bypass_csp=True)
    audit = Audit(page)
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        audit.visit("/agreement/", f"the nine rules alone, with drafts and the explanation, {size}")
        audit.visit("/agreement/drafts/rule/3/", f"a different wording for a default rule, {size}")
        audit.visit("/agreement/drafts/new/", f"a new rule drafted alone, {size}")
    page.get_by_role("button", name="Keep as a draft").click()
    audit.check("a draft with an error")
    invitation = linking.create_invitation(inviter=carol)
    stranger = contexts.page(bypass_csp=True)
    audit.page = stranger
    audit.visit(invitation.get_absolute_url(), "invitation, signed out")
    stranger.get_by_role("button", name="Decline this invitation").click()
    expect(stranger.get_by_role("heading", name="You declined the invitation")).to_be_visible()
    audit.check("invitation declined, signed out")
    inviter = contexts.page(carol, bypass_csp=True)
    audit.page = inviter
    audit.visit("/", "home after a declined invitation")
    inviter.get_by_role("button", name="Invite again").click()
    expect(inviter.get_by_role("button", name="Copy link")).to_be_visible()
    audit.check("home, invitation waiting, with Copy link")
    audit.assert_clean()
