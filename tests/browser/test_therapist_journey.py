"""The therapist's journey in Chromium: Dana invites, one partner asks, the other agrees; Dana
suggests a rule, a partner adopts it, both accept it and it is in force; then a partner narrows
what they share and Dana's next history request is refused."""

import re

import pytest
from playwright.sync_api import expect

from agreements.models import Suggestion
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def confirm_password(page) -> None:
    """allauth's re-authentication, asked before anything that decides who may read."""
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    page.locator("input[name=password]").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()


def invite_a_client_couple(dana_page) -> str:
    """Dana makes a client link on her home; its path, which she sends by her own means."""
    dana_page.goto("/therapist/")
    dana_page.get_by_role("button", name="Invite a client couple").click()
    url = dana_page.locator("[data-client-link]").input_value()
    return "/" + url.split("/", 3)[3]


def test_dana_invites_suggests_a_rule_that_comes_into_force_and_loses_the_history_at_once(
    contexts, alice, bob, couple, dana_2fa
):
    dana_page, alice_page, bob_page = [contexts.page(user) for user in (dana_2fa, alice, bob)]

    # Dana makes a client link and sends it by her own means.
    path = invite_a_client_couple(dana_page)
    expect(dana_page.locator("[data-link]")).to_have_count(1)

    # Alice opens it: who is asking, and what each level shares; she asks Bob.
    alice_page.goto(path)
    confirm_password(alice_page)
    expect(alice_page.locator("[data-therapist]")).to_contain_text("Dana")
    expect(alice_page.locator("[data-scope=history]")).to_contain_text("every earlier wording")
    alice_page.locator("[data-scope=history] input").check()
    alice_page.get_by_role("button", name="Ask my partner").click()
    expect(alice_page.get_by_text("Waiting for your partner.")).to_be_visible()

    # Until Bob agrees, Dana's page is as it was: the link open, no client.
    dana_page.goto("/therapist/")
    expect(dana_page.locator("[data-link]")).to_have_count(1)
    expect(dana_page.locator("[data-client]")).to_have_count(0)

    # Bob reads the same statement and agrees.
    bob_page.goto("/agreement/")
    bob_page.get_by_role("link", name="Review the request").click()
    confirm_password(bob_page)
    expect(bob_page.locator(".statement")).to_contain_text("every earlier wording")
    bob_page.get_by_role("button", name="Agree", exact=True).click()
    expect(bob_page.locator("[data-status=active]")).to_contain_text(
        "Sees the rules and our history"
    )

    # Dana sees the couple and suggests a rule.
    dana_page.goto("/therapist/")
    expect(dana_page.locator("[data-link]")).to_have_count(0)
    dana_page.get_by_role("link", name="Review the agreement").click()
    suggest = dana_page.locator("#suggest")
    suggest.get_by_label("Short title (optional)").fill("Phones away at dinner")
    suggest.get_by_label("Wording").fill("At dinner our phones stay in another room.")
    suggest.get_by_label("Note for the couple (optional)").fill("You both mentioned dinners.")
    suggest.get_by_role("button", name="Suggest a rule").click()
    expect(dana_page.locator("#suggestions [data-status=open]")).to_contain_text(
        "waiting for the couple"
    )
    suggestion = Suggestion.objects.get()

    # Alice sees it apart from the rules, and adopts it as her proposal.
    alice_page.goto("/agreement/")
    offered = alice_page.locator(f'[data-suggestion="{suggestion.pk}"]')
    expect(offered).to_contain_text("Suggested by Dana")
    expect(alice_page.locator("article.rule-card")).to_have_count(9)  # not a rule yet
    offered.get_by_role("button", name="Adopt as my proposal").click()
    suggestion.refresh_from_db()
    new_card = alice_page.locator(f"#rule-{suggestion.adopted_rule_id}")
    expect(new_card).to_have_attribute("data-state", "proposed")
    expect(new_card).to_contain_text("Waiting for Bob")

    # Bob accepts it: in force for both.
    bob_page.goto("/agreement/")
    bobs_card = bob_page.locator(f"#rule-{suggestion.adopted_rule_id}")
    bobs_card.get_by_role("button", name="Accept").click()
    expect(bob_page.locator(f"#rule-{suggestion.adopted_rule_id}")).to_have_attribute(
        "data-state", "active"
    )
    dana_page.reload()
    expect(dana_page.locator("#suggestions [data-status=adopted]")).to_contain_text("in force")
    timeline = f"/therapist/couples/{suggestion.agreement_id}/timeline/"
    assert dana_page.goto(timeline).status == 200

    # Bob narrows what they share, alone; Dana's very next history request is refused.
    bob_page.goto("/agreement/therapist/")
    bob_page.get_by_role("button", name="Share the rules only").click()
    expect(bob_page.locator("[data-status=active]")).to_have_attribute("data-scope", "rules")
    assert dana_page.goto(timeline).status == 404
    history = f"/therapist/couples/{suggestion.agreement_id}/rules/{suggestion.adopted_rule_id}/"
    assert dana_page.goto(history).status == 404
    assert dana_page.goto(f"/therapist/couples/{suggestion.agreement_id}/").status == 200
    expect(dana_page.get_by_role("link", name=re.compile("^Timeline$"))).to_have_count(0)


def test_bob_agrees_to_the_rules_only_and_dana_reads_her_own_label_for_them(
    contexts, alice, bob, couple, dana_2fa
):
    dana_page, alice_page, bob_page = [contexts.page(user) for user in (dana_2fa, alice, bob)]

    # Dana makes a link and gives it her own name for the couple.
    path = invite_a_client_couple(dana_page)
    dana_page.goto("/therapist/")
    dana_page.get_by_text("Label this link").click()
    dana_page.get_by_label("Your private label").fill("The Tuesday couple")
    dana_page.get_by_role("button", name="Save label").click()
    expect(dana_page.locator("[data-link] [data-label]")).to_have_text("The Tuesday couple")

    # Alice asks for the rules and their history; Bob answers with the rules only.
    alice_page.goto(path)
    confirm_password(alice_page)
    expect(alice_page.get_by_text("The Tuesday couple")).to_have_count(0)
    alice_page.locator("[data-scope=history] input").check()
    alice_page.get_by_role("button", name="Ask my partner").click()
    bob_page.goto("/agreement/")
    bob_page.get_by_role("link", name="Review the request").click()
    confirm_password(bob_page)
    bob_page.get_by_role("button", name="Agree, but only the rules").click()
    expect(bob_page.locator("[data-status=active]")).to_have_attribute("data-scope", "rules")
    expect(bob_page.locator("[data-status=active]")).to_contain_text("Sees the rules")
    expect(bob_page.get_by_text("The Tuesday couple")).to_have_count(0)

    # Dana's client card carries her label; the couple's history is not hers to read.
    dana_page.goto("/therapist/")
    expect(dana_page.locator("[data-client] [data-label]")).to_contain_text("The Tuesday couple")
    expect(dana_page.locator("[data-client]")).to_contain_text("the rules")
    dana_page.get_by_role("link", name="Review the agreement").click()
    expect(dana_page.locator("article.rule-card").first).to_be_visible()
    expect(dana_page.get_by_role("link", name=re.compile("^Timeline$"))).to_have_count(0)
