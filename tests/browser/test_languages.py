"""In your own language, in a real browser: a Hebrew page is laid out right to left (the header,
the site's name and the navigation, starts on the right), an English page left to right, a
Hebrew note in an English page reads right to left, at phone and desktop widths; and axe finds
nothing on the main pages in English, Spanish, German and Hebrew.

The browser's wish is Playwright's `locale`, which sets the Accept-Language header."""

import pytest
from playwright.sync_api import expect

from agreements import consent
from agreements.stories import accept, agreement_in_every_state
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, describe_violations
from tests.conftest import both_accept, rules_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEBREW_NOTE = "כל מה ששנינו קוראים לו כך!"
LOCALES = {"en": "en-GB", "es": "es-ES", "de": "de-DE", "he": "he-IL"}


def box(page, selector: str) -> dict:
    return page.locator(selector).first.bounding_box()


def header_layout(page) -> dict:
    """Where the header's content starts and ends, and where the site's name and the first two
    links of the navigation are (on one line at every width), in CSS pixels."""
    return page.evaluate(
        """() => {
          const header = document.querySelector(".site-header");
          const style = getComputedStyle(header);
          const outer = header.getBoundingClientRect();
          const rect = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, right: r.right, top: r.top}; };
          const links = [...header.querySelectorAll("nav > a")];
          return {
            direction: getComputedStyle(document.documentElement).direction,
            contentLeft: outer.left + parseFloat(style.paddingLeft),
            contentRight: outer.right - parseFloat(style.paddingRight),
            brand: rect(header.querySelector(".brand")),
            nav: rect(header.querySelector("nav")),
            first: rect(links[0]),
            second: rect(links[1]),
          };
        }"""
    )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_header_starts_on_the_right_in_hebrew_and_on_the_left_in_english(
    contexts, alice, couple, viewport
):
    for code, direction in (("en", "ltr"), ("he", "rtl")):
        page = contexts.page(alice, viewport=viewport, locale=LOCALES[code])
        page.goto("/agreement/")
        expect(page.locator("html")).to_have_attribute("dir", direction)
        at = header_layout(page)
        assert at["first"]["top"] == at["second"]["top"], (code, viewport, at)
        assert at["direction"] == direction
        if direction == "ltr":
            # The site's name at the left edge of the header; the navigation reads left to right.
            assert abs(at["brand"]["left"] - at["contentLeft"]) <= 1, (code, viewport, at)
            assert at["first"]["right"] <= at["second"]["left"], (code, viewport, at)
            if at["nav"]["top"] == at["brand"]["top"]:  # on one line: the name comes first
                assert at["brand"]["right"] <= at["nav"]["left"], (code, viewport, at)
        else:
            # Mirrored: the site's name at the right edge; the navigation reads right to left.
            assert abs(at["brand"]["right"] - at["contentRight"]) <= 1, (code, viewport, at)
            assert at["first"]["left"] >= at["second"]["right"], (code, viewport, at)
            if at["nav"]["top"] == at["brand"]["top"]:
                assert at["brand"]["left"] >= at["nav"]["right"], (code, viewport, at)
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], (
            f"{code}: the page scrolls sideways"
        )


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_a_hebrew_note_in_an_english_page_reads_right_to_left(contexts, alice, couple, viewport):
    seat_a, seat_b = couple
    rule = both_accept(rules_of(seat_a)[6], seat_a, seat_b)
    consent.propose_change(partner=seat_b, rule=rule, title="הגדרה משלנו", text=HEBREW_NOTE)
    accept(seat_a, rule)  # the Hebrew wording is in force: shown whole, not as a change
    page = contexts.page(alice, viewport=viewport, locale=LOCALES["en"])
    page.goto(f"/agreement/rules/{rule.pk}/")
    expect(page.locator("html")).to_have_attribute("dir", "ltr")
    note = page.locator('[dir="auto"]', has_text=HEBREW_NOTE).last
    expect(note).to_be_visible()
    measured = note.evaluate(
        """(el) => {
          const range = document.createRange();
          range.selectNodeContents(el);
          const text = range.getBoundingClientRect();
          const r = el.getBoundingClientRect();
          const style = getComputedStyle(el);
          return {
            direction: style.direction,
            rtl: el.matches(":dir(rtl)"),
            textRight: text.right, textLeft: text.left,
            contentRight: r.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth),
            contentLeft: r.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth),
          };
        }"""
    )
    assert measured["direction"] == "rtl" and measured["rtl"], measured
    # It starts at the right edge of its box, in a page that reads from the left.
    assert abs(measured["textRight"] - measured["contentRight"]) <= 1, measured
    assert measured["textLeft"] > measured["contentLeft"] + 1, measured
    english_text = page.locator("main h1").first.evaluate("el => getComputedStyle(el).direction")
    assert english_text == "ltr"


@pytest.mark.parametrize("code", ["en", "es", "de", "he"])
def test_the_main_pages_are_accessible_in_every_language(contexts, alice, couple, code):
    story = agreement_in_every_state(*couple)
    found: list[str] = []
    visitor = contexts.page(bypass_csp=True, locale=LOCALES[code])
    partner = contexts.page(alice, bypass_csp=True, locale=LOCALES[code])
    phone = contexts.page(alice, bypass_csp=True, locale=LOCALES[code], viewport=PHONE)
    visits = [
        (visitor, "/", "home, signed out"),
        (visitor, "/accounts/login/", "log-in"),
        (visitor, "/accounts/signup/", "sign-up"),
        (partner, "/", "home with a partner"),
        (partner, "/agreement/", "agreement"),
        (partner, f"/agreement/rules/{story['change_proposed'].pk}/", "rule history"),
        (partner, "/agreement/timeline/", "timeline"),
        (partner, "/agreement/print/", "printable page"),
        (partner, "/agreement/rules/new/", "new rule"),
        (partner, "/checkins/", "check-ins"),
        (partner, "/settings/", "settings"),
        (phone, "/agreement/", "agreement, phone"),
    ]
    for page, path, what in visits:
        response = page.goto(path)
        assert response.status == 200, f"{code} {what}: {path} answered {response.status}"
        lang = page.locator("html").get_attribute("lang")
        if lang != code:  # noted, and the page is still audited
            found.append(f"== [{code}] {what} ({path}): <html lang={lang}>, not {code}")
        violations = axe_violations(page)
        if violations:
            found.append(f"== [{code}] {what} ({path})\n{describe_violations(violations)}")
    assert not found, "WCAG 2.1 A/AA violations, or a page in another language:\n" + "\n".join(
        found
    )


@pytest.mark.parametrize("code", ["de", "es"])
def test_no_badge_reaches_past_its_card_on_a_phone(contexts, alice, couple, code):
    """The longest badges ("Du hast angenommen — versiegelt, bis Bob antwortet") wrap inside
    their card at 390 px instead of running over its edge."""
    agreement_in_every_state(*couple)
    page = contexts.page(alice, viewport=PHONE, locale=LOCALES[code])
    page.goto("/agreement/")
    expect(page.locator("html")).to_have_attribute("lang", code)
    measured = page.evaluate(
        """() => [...document.querySelectorAll(".rule-card .badge")].map((badge) => {
          const b = badge.getBoundingClientRect();
          const c = badge.closest(".rule-card").getBoundingClientRect();
          return {text: badge.textContent, left: b.left, right: b.right, cardLeft: c.left,
                  cardRight: c.right, lines: Math.round(b.height / parseFloat(getComputedStyle(badge).lineHeight))};
        })"""
    )
    assert len(measured) >= 9, measured
    outside = [
        m for m in measured if m["left"] < m["cardLeft"] - 0.5 or m["right"] > m["cardRight"] + 0.5
    ]
    assert not outside, outside
    assert any(m["lines"] > 1 for m in measured), "no badge was long enough to need two lines"
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_rule_numbers_stay_whole_beside_english_titles_in_hebrew(contexts, alice, couple):
    """ "כלל 4:" (the number label) keeps together on the reading side, the right, of the
    English title a person wrote, in the lists at the top of the agreement page."""
    agreement_in_every_state(*couple)
    page = contexts.page(alice, viewport=PHONE, locale=LOCALES["he"])
    page.goto("/agreement/")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")
    items = page.evaluate(
        """() => [...document.querySelectorAll(".needs-you a, .review-due-list a")].map((a) => {
          const label = a.querySelector(".rule-label");
          const title = a.querySelector("[dir=auto]");
          const range = document.createRange();
          range.selectNodeContents(label);
          const l = label.getBoundingClientRect(), t = title.getBoundingClientRect();
          return {label: label.textContent, title: title.textContent,
                  labelLines: new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size, labelLeft: l.left, titleRight: t.right,
                  titleDirection: getComputedStyle(title).direction};
        })"""
    )
    assert items, "no list of rules at the top of the page"
    for item in items:
        assert item["label"].startswith("כלל ") and item["label"].endswith(":"), item
        assert item["labelLines"] == 1, item  # "כלל" and "4:" on one line
        assert item["labelLeft"] >= item["titleRight"] - 1, item  # the label on the right
        assert item["titleDirection"] == "ltr", item  # the English title in its own direction
