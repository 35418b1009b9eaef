"""Equal voice in a real browser: no dead ends (a partnership ended or a log-out in another tab
leaves the open page for a clear full one), the poll updates the other cards while a partner
writes in one, touch targets of at least 44 × 44 CSS pixels on a phone, and Accept, Not yet and
Decline of equal weight."""

import re

import pytest
from playwright.sync_api import expect

from agreements import consent
from agreements.stories import agreement_in_every_state
from tests.browser.conftest import PHONE, POLL_WAIT_MS, card, log_in_by_cookie
from tests.conftest import PASSWORD, rules_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every target a person may tap, with its box, except links inside a sentence of running text
# (WCAG 2.5.8's inline exception: a link whose paragraph or list item holds other text too).
TARGETS = """() => {
  const inline = (el) => {
    if (el.tagName !== "A") return false;
    const block = el.closest("p, li, dd, td, blockquote");
    if (!block) return false;
    const own = (el.innerText || "").trim();
    const all = (block.innerText || "").trim();
    return all.length > own.length + 1;
  };
  return [...document.querySelectorAll(
    "a[href], button, summary, input:not([type=hidden]), textarea, select"
  )].filter(el => el.checkVisibility() && !inline(el)).map(el => {
    const box = el.getBoundingClientRect();
    // The skip link waits off screen until it is focused (then it is a full target too).
    if (box.right <= 0 || box.bottom <= 0) return null;
    return {
      name: (el.innerText || el.value || el.name || el.tagName).trim().slice(0, 40),
      tag: el.tagName, width: Math.round(box.width * 10) / 10, height: Math.round(box.height * 10) / 10,
    };
  }).filter(Boolean);
}"""


def small_targets(page) -> list[dict]:
    targets = page.evaluate(TARGETS)
    assert len(targets) > 3, targets
    return [t for t in targets if t["width"] < 44 or t["height"] < 44]


def test_every_target_is_at_least_44_pixels_on_a_phone(contexts, alice, bob, couple):
    story = agreement_in_every_state(*couple)
    rules = [story["change_proposed"], story["paused"]]
    page = contexts.page(alice, viewport=PHONE, is_mobile=True, has_touch=True)
    found = {}
    for path in (
        "/",
        "/agreement/",
        "/agreement/timeline/",
        f"/agreement/rules/{rules[0].pk}/",
        f"/agreement/rules/{rules[1].pk}/",
    ):
        page.goto(path)
        if small := small_targets(page):
            found[path] = small
    page.goto("/agreement/")
    rule_card = card(page, 6)
    rule_card.get_by_role("button", name="Propose a change").click()
    expect(rule_card.locator(".respond-form")).to_be_visible()
    if small := small_targets(page):
        found["/agreement/ with a form open"] = small
    assert not found, f"targets smaller than 44 × 44 px: {found}"


EQUAL = """(names) => names.map(name => {
  const button = [...document.querySelectorAll("button")].find(b => b.innerText.trim() === name);
  if (!button) return null;
  const s = getComputedStyle(button);
  return {tag: button.tagName, classes: button.className, color: s.color, background: s.backgroundColor,
          border: s.border, font: s.font, height: button.getBoundingClientRect().height};
})"""


def test_accept_not_yet_and_decline_look_the_same(contexts, alice, bob, couple):
    page = contexts.page(alice)
    page.goto("/agreement/")
    first = card(page, 1)
    looks = first.evaluate(
        "(el, names) => (" + EQUAL + ")(names)", ["Accept", "Not yet", "Decline"]
    )
    assert None not in looks, looks
    assert looks[0] == looks[1] == looks[2], looks


def test_a_stale_page_after_the_partnership_ended_leads_to_a_clear_full_page(
    contexts, alice, bob, couple
):
    alice_page, bob_page = contexts.page(alice), contexts.page(bob)
    alice_page.goto("/agreement/")
    # Bob ends the partnership in his own browser (confirming his password first).
    bob_page.goto("/partnership/end/")
    bob_page.locator("input[name=password]").fill(PASSWORD)
    bob_page.get_by_role("button", name="Confirm").click()
    bob_page.get_by_role("button", name="End the partnership").click()
    expect(bob_page.get_by_text("The partnership has ended")).to_be_visible()

    # Alice's open page still shows the buttons; pressing one leaves for the page saying why.
    alice_page.evaluate("window.notReloaded = true")
    card(alice_page, 1).get_by_role("button", name="Accept", exact=True).click()
    expect(
        alice_page.get_by_role("heading", name="This partnership has ended", level=1)
    ).to_be_visible()
    expect(alice_page).to_have_url(re.compile(r"/agreement/$"))
    assert alice_page.locator("article.rule-card").count() == 0
    expect(alice_page.get_by_role("link", name="Open the archived agreement")).to_be_visible()


def test_logging_out_in_one_tab_makes_the_other_leave_the_agreement_at_its_next_poll(
    contexts, alice, couple
):
    context = contexts.new()
    log_in_by_cookie(context, alice, contexts.base_url)
    first, second = context.new_page(), context.new_page()
    first.goto("/agreement/")
    second.goto("/agreement/")
    second.get_by_role("button", name="Log out").click()
    expect(
        second.get_by_role("navigation", name="Main").get_by_role("link", name="Log in")
    ).to_be_visible()

    # Within two polls: the whole page is the log-in page, coming back to the agreement after.
    expect(first).to_have_url(
        re.compile(r"/accounts/login/\?next=%2Fagreement%2F$"), timeout=10_000
    )
    expect(first.locator("article.rule-card")).to_have_count(0)
    expect(first.locator("input[name=password]")).to_be_visible()


def test_the_other_cards_update_while_a_form_is_open_and_the_typed_text_stays(
    contexts, alice, bob, couple
):
    rules = rules_of(couple[0])
    page = contexts.page(alice)
    page.goto("/agreement/")
    page.evaluate("window.notReloaded = true")
    writing = card(page, 2)
    writing.get_by_role("button", name="Propose a change").click()
    note = writing.locator(".respond-form textarea[name=note]")
    expect(note).to_be_visible()
    note.fill("Can we talk about this on Sunday?")
    note.press("End")

    # Bob, elsewhere, proposes new wording for rule 5, and for the rule Alice is answering.
    seat = bob.current_partner_seat()
    consent.propose_change(partner=seat, rule=rules[4], title="Five", text="Bob's five.")
    consent.propose_change(partner=seat, rule=rules[1], title="Two", text="Bob's new wording.")
    expect(card(page, 5)).to_contain_text("Bob's five.", timeout=POLL_WAIT_MS)

    # The card Alice is writing in is untouched: her text, the focus, the form.
    expect(note).to_have_value("Can we talk about this on Sunday?")
    expect(note).to_be_focused()
    expect(writing.locator(".respond-form")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True
    # Once she cancels, her card catches up too (Bob changed its wording meanwhile).
    writing.get_by_role("link", name="Cancel").click()
    expect(writing).to_contain_text("Bob's new wording.")
