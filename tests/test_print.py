"""The printable agreement: the rules in force only, in order, for the couple (current or
archived) and nobody else; and Chromium's PDF of it, read back with pypdf."""

import io
import os
import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts import linking
from accounts.models import Partner
from agreements import consent
from agreements.models import Rule
from agreements.pages.agreement import not_in_force_sentence
from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.conftest import both_accept, client_for, fresh, rules_of

# Page sizes in PostScript points (A4 is 595.3 x 841.9).
A4 = (595, 842)
LETTER = (612, 792)


def is_size(measured: tuple[float, float], expected: tuple[int, int]) -> bool:
    return all(abs(m - e) <= 1.5 for m, e in zip(measured, expected, strict=True))


def mixed_agreement(alice: Partner, bob: Partner) -> tuple[list[Rule], list[tuple[str, str]]]:
    """Rules in every state. Returns the rules in force, in order, and the (title, text) of every
    wording that must not be printed: proposals, paused, declined and archived rules, the wording
    a change replaced, and a change still waiting."""
    rules = rules_of(alice)
    for index in (1, 2, 4, 6, 8):
        both_accept(rules[index], alice, bob)
    # In force, with a change waiting: the wording in force is printed, not the proposal.
    consent.propose_change(
        partner=alice,
        rule=rules[4],
        title="A waiting change",
        text="Waiting words that nobody accepted yet.",
    )
    # Changed and accepted again: only the new wording is printed.
    old = fresh(rules[6]).current_version
    consent.propose_change(
        partner=bob,
        rule=rules[6],
        title="Our own meaning of sex",
        text="We keep deciding together what counts, and we say so out loud.",
    )
    consent.accept(partner=alice, rule=rules[6], version_id=fresh(rules[6]).pending_version_id)
    consent.withdraw(partner=bob, rule=rules[2])  # paused
    consent.decline(partner=bob, rule=rules[3], version_id=fresh(rules[3]).pending_version_id)
    consent.archive(partner=alice, rule=rules[5])
    consent.accept(partner=alice, rule=rules[0], version_id=fresh(rules[0]).pending_version_id)
    new = consent.propose_rule(
        partner=bob,
        agreement=rules[0].agreement,
        title="Check in afterwards",
        text="After we have been close, we ask each other how it was, gently and without hurry.",
    )
    consent.accept(partner=alice, rule=new, version_id=fresh(new).pending_version_id)
    in_force = [fresh(r) for r in (rules[1], rules[4], rules[6], rules[8], new)]
    assert [r.state for r in in_force] == ["active"] * 5
    not_printed = [
        (fresh(rules[4]).pending_version.title, fresh(rules[4]).pending_version.text),
        (old.title, old.text),
    ] + [
        (fresh(r).latest_version.title, fresh(r).latest_version.text)
        for r in (rules[0], rules[2], rules[3], rules[5], rules[7])
    ]
    return in_force, not_printed


def flat(text: str) -> str:
    """PDF or HTML text with one space for any run of white space, ligatures undone."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def page_text(html: str) -> str:
    text = re.sub(r"<[^>]+>", " ", html)
    for entity, char in (("&#x27;", "'"), ("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<")):
        text = text.replace(entity, char)
    return flat(text)


def assert_exactly_in_order(text: str, in_force: list[Rule], not_printed) -> None:
    position = -1
    for rule in in_force:
        version = rule.current_version
        for part in (version.title, version.text):
            found = text.find(flat(part), position + 1)
            assert found > position, f"{part!r} missing or out of order"
            position = found
    for title, wording in not_printed:
        assert flat(title) not in text, f"{title!r} is printed but not in force"
        assert flat(wording) not in text, f"{wording!r} is printed but not in force"
    assert text.count("In force since") == len(in_force)


# -- the page -------------------------------------------------------------------------------------


def test_print_page_holds_the_rules_in_force_only_in_the_agreements_order(couple, alice_client):
    in_force, not_printed = mixed_agreement(*couple)
    response = alice_client.get("/agreement/print/")
    assert response.status_code == 200
    text = page_text(response.content.decode())
    assert_exactly_in_order(text, in_force, not_printed)
    # Each rule keeps its own number, as in the app; the rules not in force are named.
    for rule in in_force:
        assert f"{rule.position}. {flat(rule.current_version.title)}" in text
    assert "Rule 3 is resting." in text  # withdrawn by Bob in mixed_agreement


def test_the_printed_page_says_which_rules_are_not_in_force():
    assert not_in_force_sentence({3: "paused", 8: "paused", 10: "proposed"}) == (
        "Rules 3 and 8 are resting. Rule 10 waits for an answer."
    )
    assert not_in_force_sentence({}) == ""


def test_print_page_names_the_partners_the_date_and_that_consent_can_be_withdrawn(
    couple, bob_client
):
    response = bob_client.get("/agreement/print/")
    text = page_text(response.content.decode())
    assert "Between Alice and Bob" in text
    assert re.search(r"Made on \d{1,2} \w+ \d{4}", text)
    assert "living agreement, not a contract" in text
    assert "withdraw consent" in text


def test_each_rule_says_when_it_came_into_force(couple, alice_client):
    rule = both_accept(rules_of(couple[0])[0], *couple)
    text = page_text(alice_client.get("/agreement/print/").content.decode())
    assert f"In force since {rule.in_force_since:%-d %B %Y}" in text


def test_an_agreement_with_nothing_in_force_says_so_plainly(couple, alice_client):
    text = page_text(alice_client.get("/agreement/print/").content.decode())
    assert "No rule is in force yet" in text
    assert "In force since" not in text
    for rule in rules_of(couple[0]):
        assert flat(rule.latest_version.text) not in text


def test_print_button_calls_a_static_script_and_nothing_is_inline(couple, alice_client):
    html = alice_client.get("/agreement/print/").content.decode()
    assert re.search(r'<button[^>]*id="print-button"[^>]*>Print</button>', html)
    assert '<script src="/static/js/print.js"' in html
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert " style=" not in html and "<style" not in html and "onclick" not in html
    assert '<link rel="stylesheet" href="/static/css/print.css">' in html


def test_print_stylesheet_hides_buttons_keeps_rules_whole_and_fits_a4_and_letter():
    css = (settings.BASE_DIR / "static" / "css" / "print.css").read_text()
    print_rules = css[css.index("@media print") :]
    assert ".screen-only" in print_rules and "display: none" in print_rules
    assert re.search(r"\.print-rule\s*\{[^}]*break-inside:\s*avoid", css)
    assert "serif" in css
    # No fixed paper size: the printer's own (A4 or US Letter) is used.
    assert not re.search(r"@page\s*\{[^}]*size:\s*(A4|letter)", css, re.I)


def test_a_partner_of_another_couple_or_a_therapist_gets_nothing(couple, other_couple, dana):
    mixed_agreement(*couple)
    carol_page = client_for(other_couple[0].user).get("/agreement/print/")
    assert "Between Carol and Dave" in page_text(carol_page.content.decode())
    assert "Check in afterwards" not in carol_page.content.decode()
    assert client_for(dana).get("/agreement/print/").status_code == 404


def test_someone_without_a_partner_is_told_the_next_step_and_a_visitor_is_sent_to_log_in(
    mallory, db
):
    response = client_for(mallory).get("/agreement/print/")
    assert response.status_code == 200
    assert "You are not linked with a partner yet" in response.content.decode()
    response = Client().get("/agreement/print/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_an_archived_agreement_prints_the_rules_in_force_when_it_ended(
    couple, other_couple, alice, bob_client
):
    in_force, not_printed = mixed_agreement(*couple)
    linking.end_partnership(user=alice)
    url = reverse("agreements:archived_print", args=[in_force[0].agreement_id])
    response = bob_client.get(url)
    assert response.status_code == 200
    text = page_text(response.content.decode())
    assert_exactly_in_order(text, in_force, not_printed)
    assert "archived" in text.lower()
    assert f'href="{reverse("agreements:archived", args=[in_force[0].agreement_id])}"' in (
        response.content.decode()
    )
    # Only its former partners can print it.
    assert client_for(other_couple[0].user).get(url).status_code == 404
    # The current print page is not theirs any more: it leads to the archive's.
    current = bob_client.get("/agreement/print/").content.decode()
    assert "This partnership has ended" in current
    assert f'href="{url}"' in current


def test_a_current_agreement_is_not_printed_through_the_archive_url(couple, alice_client):
    agreement_id = rules_of(couple[0])[0].agreement_id
    url = reverse("agreements:archived_print", args=[agreement_id])
    assert alice_client.get(url).status_code == 404


def test_a_former_partner_shows_as_such_on_the_printed_page(couple, alice, bob_client):
    from intimacy import privacy

    both_accept(rules_of(couple[0])[0], *couple)
    agreement_id = rules_of(couple[0])[0].agreement_id
    privacy.delete_account(user=alice)
    response = bob_client.get(reverse("agreements:archived_print", args=[agreement_id]))
    assert "Between former partner and Bob" in page_text(response.content.decode())


# -- Chromium's PDF -------------------------------------------------------------------------------


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def print_to_pdf(base_url: str, cookie: str, path: str) -> tuple[dict[str, bytes], list[str]]:
    """Opens the page as a signed-in person would and prints it as Chromium prints on A4 and on
    US Letter. Returns the PDFs by paper and any JavaScript error or CSP violation seen.

    Playwright runs in a thread of its own: the browser tests' session-wide Playwright keeps an
    event loop in this thread, and a second sync Playwright refuses to start beside it."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_print_to_pdf, base_url, cookie, path).result()


def _print_to_pdf(base_url: str, cookie: str, path: str) -> tuple[dict[str, bytes], list[str]]:
    from playwright.sync_api import sync_playwright

    assert os.access(CHROMIUM, os.X_OK), f"Chromium not found at {CHROMIUM}"
    problems: list[str] = []
    pdfs: dict[str, bytes] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=base_url)
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": base_url}]
            )
            page = context.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "console",
                lambda message: problems.append(message.text) if message.type == "error" else None,
            )
            response = page.goto(path)
            assert response is not None and response.status == 200
            # The Print button is on screen, and calls the browser's print dialog.
            page.evaluate("() => { window.print = () => { window.__printed = true; }; }")
            page.get_by_role("button", name="Print").click()
            assert page.evaluate("() => window.__printed === true")
            page.emulate_media(media="print")
            assert not page.get_by_role("button", name="Print").is_visible()
            for paper in ("A4", "Letter"):
                pdfs[paper] = page.pdf(format=paper)
                if os.environ.get("PRINT_PDF_DIR"):  # to look at by eye
                    name = f"{path.strip('/').replace('/', '-')}-{paper}.pdf"
                    with open(os.path.join(os.environ["PRINT_PDF_DIR"], name), "wb") as out:
                        out.write(pdfs[paper])
        finally:
            browser.close()
    return pdfs, problems


def pdf_pages(pdf: bytes) -> list[tuple[tuple[float, float], str]]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(pdf))
    return [
        ((float(p.mediabox.width), float(p.mediabox.height)), p.extract_text())
        for p in reader.pages
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_prints_exactly_the_rules_in_force_in_order_on_a4_and_letter(
    live_server, alice, bob
):
    seats = linking.accept_invitation(
        token=linking.create_invitation(inviter=alice).token, user=bob
    ).partners.order_by("pk")
    in_force, not_printed = mixed_agreement(*seats)
    pdfs, problems = print_to_pdf(live_server.url, session_cookie(alice), "/agreement/print/")
    assert problems == []
    for paper, size in (("A4", A4), ("Letter", LETTER)):
        pages = pdf_pages(pdfs[paper])
        assert all(is_size(page_size, size) for page_size, _ in pages), [p for p, _ in pages]
        text = flat(" ".join(page_text for _, page_text in pages))
        assert_exactly_in_order(text, in_force, not_printed)
        assert "Between Alice and Bob" in text
        assert "living agreement, not a contract" in text
        assert "Print" not in text.replace("Printed", "")
        assert "Back" not in text and "Quick exit" not in text


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_chromium_never_splits_a_rule_across_pages(live_server, alice, bob):
    """Enough long rules for several pages: each rule's title, wording and date are on one."""
    seats = list(
        linking.accept_invitation(
            token=linking.create_invitation(inviter=alice).token, user=bob
        ).partners.order_by("pk")
    )
    agreement = rules_of(seats[0])[0].agreement
    sentence = "We take our time with this, and either of us can pause it whenever we like. "
    made = []
    for n in range(1, 15):
        rule = consent.propose_rule(
            partner=seats[0],
            agreement=agreement,
            title=f"Long rule number {n}",
            text=f"Rule {n} begins here. " + sentence * (4 + n % 5) + f"Rule {n} ends here.",
        )
        consent.accept(partner=seats[1], rule=rule, version_id=fresh(rule).pending_version_id)
        made.append(fresh(rule))
    pdfs, problems = print_to_pdf(live_server.url, session_cookie(alice), "/agreement/print/")
    assert problems == []
    for paper in ("A4", "Letter"):
        pages = [flat(text) for _, text in pdf_pages(pdfs[paper])]
        assert len(pages) > 1
        for rule in made:
            n = rule.current_version.title.rsplit(" ", 1)[1]
            holding = [
                i
                for i, text in enumerate(pages)
                if f"Rule {n} begins here." in text or f"Rule {n} ends here." in text
            ]
            assert len(holding) == 1, f"rule {n} is split across pages {holding}"
            whole = f"{rule.position}. Long rule number {n} Rule {n} begins here."
            assert whole in pages[holding[0]]
            assert f"Rule {n} ends here. In force since" in pages[holding[0]]
