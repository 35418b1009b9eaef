"""The agreement page and its actions, through the views: htmx and plain posts."""

import re
from html import unescape

from django.urls import reverse
from django.utils.html import strip_tags

from agreements import consent
from agreements.models import Acceptance, Rule, RuleVersion
from agreements.pages.cards import ACTIONS
from tests.conftest import client_for, rules_of

HTMX = {"HTTP_HX_REQUEST": "true"}


def states(html: str) -> list[str]:
    return re.findall(r'data-state="(\w+)"', html)


def test_it_shows_nine_proposed_rules_and_the_summary(alice_client, couple):
    response = alice_client.get("/agreement/")
    html = response.content.decode()
    assert response.status_code == 200
    assert states(html) == ["proposed"] * 9
    assert "0 of 9" in html
    assert html.count(">Accept</button>") == 9
    assert "unarguable truth" in html.lower()


def test_accept_over_htmx_swaps_the_card_and_the_summary(alice_client, bob_client, couple):
    rule = rules_of(couple[0])[0]
    url = reverse("agreements:accept", args=[rule.pk])
    alice_client.post(url, {"version": rule.pending_version_id}, **HTMX)
    response = bob_client.post(url, {"version": rule.pending_version_id}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert states(html) == ["active"]
    assert 'id="summary"' in html and 'hx-swap-oob="true"' in html
    assert "1 of 9" in html
    assert ">Withdraw consent</button>" in html


def test_accept_without_javascript_redirects_back_to_the_card(alice_client, couple):
    rule = rules_of(couple[0])[0]
    response = alice_client.post(
        reverse("agreements:accept", args=[rule.pk]), {"version": rule.pending_version_id}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/agreement/#rule-{rule.pk}"
    assert Acceptance.objects.filter(partner=couple[0]).count() == 1


def test_accepting_stale_wording_shows_the_new_wording_with_409(alice_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    seen = rule.pending_version_id
    consent.propose_change(partner=bob, rule=rule, title="", text="Bob's newer words")
    response = alice_client.post(
        reverse("agreements:accept", args=[rule.pk]), {"version": seen}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 409
    assert "wording changed" in html
    assert "Bob&#x27;s newer words" in html
    assert not Acceptance.objects.filter(partner=alice).exists()


def test_withdrawing_from_a_proposal_is_a_friendly_409(alice_client, couple):
    rule = rules_of(couple[0])[0]
    response = alice_client.post(reverse("agreements:withdraw", args=[rule.pk]), {}, **HTMX)
    assert response.status_code == 409
    assert "not in force" in response.content.decode()


def test_withdraw_without_javascript_asks_for_confirmation_first(alice_client, bob_client, couple):
    rule = rules_of(couple[0])[0]
    for client in (alice_client, bob_client):
        client.post(
            reverse("agreements:accept", args=[rule.pk]), {"version": rule.pending_version_id}
        )
    page = alice_client.get(reverse("agreements:withdraw", args=[rule.pk]))
    assert page.status_code == 200
    assert ">Withdraw consent</button>" in page.content.decode()
    assert Rule.objects.get(pk=rule.pk).state == "active"
    alice_client.post(reverse("agreements:withdraw", args=[rule.pk]), {"note": ""})
    assert Rule.objects.get(pk=rule.pk).state == "paused"


def test_a_change_shows_a_word_diff(alice_client, bob_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    for seat in couple:
        consent.accept(partner=seat, rule=rule, version_id=rule.pending_version_id)
    text = Rule.objects.get(pk=rule.pk).current_version.text
    alice_client.post(
        reverse("agreements:change", args=[rule.pk]),
        {"title": "Stop", "text": text.replace("we stop", "we pause and stop")},
    )
    html = bob_client.get("/agreement/").content.decode()
    assert "pause and</ins>" in html
    assert "In force · change proposed" in html


def test_empty_or_overlong_wording_is_refused_and_the_text_is_kept(alice_client, couple):
    rule = rules_of(couple[0])[0]
    url = reverse("agreements:change", args=[rule.pk])
    response = alice_client.post(url, {"title": "Mine", "text": "   "})
    assert response.status_code == 422
    assert "cannot be empty" in response.content.decode()
    long = "x" * 2001
    response = alice_client.post(url, {"title": "Mine", "text": long})
    assert response.status_code == 422
    html = response.content.decode()
    assert "under 2000 characters" in html
    assert long in html
    response = alice_client.post(url, {"title": "Mine", "text": long}, **HTMX)
    assert response.status_code == 422 and long in response.content.decode()
    assert RuleVersion.objects.filter(rule=rule).count() == 1


def test_html_in_wording_is_stored_as_text_and_shown_escaped(alice_client, bob_client, couple):
    rule = rules_of(couple[0])[0]
    evil = '<script>alert("x")</script><b>bold</b>'
    alice_client.post(
        reverse("agreements:change", args=[rule.pk]), {"title": "<i>t</i>", "text": evil}
    )
    assert RuleVersion.objects.filter(rule=rule).latest("number").text == evil
    html = bob_client.get("/agreement/").content.decode()
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert" in html


def test_a_rule_of_another_couple_is_a_404(alice_client, couple, other_couple):
    rule = rules_of(other_couple[0])[0]
    for name in ACTIONS:  # every action a card offers, each with its own URL
        response = alice_client.post(
            reverse(f"agreements:{name}", args=[rule.pk]), {"version": rule.pending_version_id}
        )
        assert response.status_code in (404, 405), name
        assert alice_client.get(reverse(f"agreements:{name}", args=[rule.pk])).status_code in (
            404,
            405,
        ), name
    assert not Acceptance.objects.exists()


def test_nonsense_ids_are_refused_without_a_500(alice_client, couple):
    rule = rules_of(couple[0])[0]
    url = reverse("agreements:accept", args=[rule.pk])
    for version in ("", "abc", "-1", "99999999999999999999999", "1.5"):
        assert alice_client.post(url, {"version": version}).status_code == 422
    assert alice_client.post(url, {"version": 10**9}).status_code == 409


def test_propose_a_new_rule(alice_client, couple):
    response = alice_client.post(
        reverse("agreements:new_rule"), {"title": "Check-in", "text": "Every Sunday."}
    )
    assert response.status_code == 302
    html = alice_client.get("/agreement/").content.decode()
    assert "Every Sunday." in html
    assert len(states(html)) == 10


def test_an_unchanged_poll_is_a_304_in_two_queries(
    alice_client, couple, django_assert_max_num_queries
):
    page = alice_client.get("/agreement/")
    etag = page["ETag"]
    alice_client.get(reverse("agreements:poll"), HTTP_IF_NONE_MATCH=etag)  # warms the session cache
    with django_assert_max_num_queries(2):
        response = alice_client.get(reverse("agreements:poll"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 304


def test_a_poll_after_the_partner_acted_returns_the_new_state(alice_client, couple):
    rule = rules_of(couple[0])[0]
    consent.accept(partner=couple[0], rule=rule, version_id=rule.pending_version_id)
    etag = alice_client.get("/agreement/")["ETag"]
    consent.not_yet(
        partner=couple[1], rule=rule, version_id=rule.pending_version_id, note="On Sunday?"
    )
    response = alice_client.get(reverse("agreements:poll"), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag
    assert '<bdi>Bob</bdi>: not yet — <q dir="auto">On Sunday?</q>' in response.content.decode()


def test_a_therapist_has_no_agreement_page_and_a_lone_user_is_told_the_next_step(dana, mallory):
    assert client_for(dana).get("/agreement/").status_code == 404
    response = client_for(mallory).get("/agreement/")
    assert response.status_code == 200
    assert "You are not linked with a partner yet" in response.content.decode()


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get("/agreement/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_not_yet_without_javascript_offers_a_note_then_keeps_the_proposal_open(
    alice_client, couple
):
    rule = rules_of(couple[0])[0]
    page = alice_client.get(reverse("agreements:not_yet", args=[rule.pk]))
    html = unescape(page.content.decode())
    assert page.status_code == 200
    assert "I'd like to talk about this first" in html and ">Not yet</button>" in html
    response = alice_client.post(
        reverse("agreements:not_yet", args=[rule.pk]),
        {"version": rule.pending_version_id, "note": "Later"},
    )
    assert response.status_code == 302
    assert Rule.objects.get(pk=rule.pk).state == "proposed"


def test_decline_over_htmx_opens_the_note_form_in_the_card(alice_client, couple):
    rule = rules_of(couple[0])[0]
    consent.not_yet(partner=couple[1], rule=rule, version_id=rule.pending_version_id)
    form = alice_client.get(reverse("agreements:decline", args=[rule.pk]), **HTMX).content.decode()
    assert 'name="note"' in form and ">Decline</button>" in form
    done = alice_client.post(
        reverse("agreements:decline", args=[rule.pk]), {"version": rule.pending_version_id}, **HTMX
    )
    assert states(done.content.decode()) == ["declined"]


def test_propose_a_change_over_htmx_keeps_what_was_typed_when_refused(alice_client, couple):
    rule = rules_of(couple[0])[0]
    opened = alice_client.get(reverse("agreements:change", args=[rule.pk]), **HTMX).content.decode()
    assert "Propose this wording" in opened and rule.pending_version.text in opened
    refused = alice_client.post(
        reverse("agreements:change", args=[rule.pk]), {"title": "Kept title", "text": ""}, **HTMX
    )
    assert refused.status_code == 422
    assert "Kept title" in refused.content.decode()


def test_the_timeline_tells_who_did_what_in_words(alice_client, couple):
    rule = rules_of(couple[0])[0]
    for seat in couple:
        consent.accept(partner=seat, rule=rule, version_id=rule.pending_version_id)
    html = unescape(strip_tags(alice_client.get(reverse("agreements:timeline")).content.decode()))
    title = rule.pending_version.title
    assert f"You accepted rule 1 “{title}”." in html
    assert f"Bob accepted rule 1 “{title}”, so it is now in force." in html
    assert "(version 1)" not in html and "Bob came into force" not in html


def test_the_summary_says_how_many_proposals_wait_for_this_partner(
    alice_client, bob_client, couple
):
    rule = rules_of(couple[0])[0]
    consent.accept(partner=couple[0], rule=rule, version_id=rule.pending_version_id)
    assert "8 rules wait for your answer" in alice_client.get("/agreement/").content.decode()
    assert "9 rules wait for your answer" in bob_client.get("/agreement/").content.decode()
