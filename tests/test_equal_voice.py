"""Equal voice on the agreement page: nobody is anchored by the other's yes, every answer is
heard, and saying no, not yet or stop is never harder than saying yes."""

import re

import pytest
from django.urls import reverse

from agreements import consent
from agreements.models import Rule
from tests.conftest import both_accept, fresh, rules_of

CSRF = re.compile(r'(name="csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')
REVISION = re.compile(r'(data-etag="&quot;a\d+r|data-etag=""a\d+r|data-revision=")\d+')


def scrubbed(response) -> str:
    """The page as the person sees it, apart from CSRF tokens and the revision counters."""
    text = CSRF.sub(r"\1…", response.content.decode())
    return REVISION.sub(r"\1…", text)


def cards_of(html: str) -> dict[int, str]:
    return {
        int(number): card
        for number, card in re.findall(r'data-number="(\d+)"(.*?)</article>', html, re.S)
    }


# -- blind until you answer -----------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["accept", "not_yet", "decline"])
def test_the_other_partners_answer_is_sealed_until_you_answer(
    answer, alice_client, bob_client, couple
):
    alice, bob = couple
    etag = alice_client.get("/agreement/")["ETag"]
    page_before = scrubbed(alice_client.get("/agreement/"))
    poll_before = scrubbed(alice_client.get(reverse("agreements:poll")))

    rule = rules_of(alice)[2]
    getattr(consent, answer)(partner=bob, rule=rule, version_id=rule.pending_version_id)

    assert scrubbed(alice_client.get("/agreement/")) == page_before
    poll = alice_client.get(reverse("agreements:poll"), HTTP_IF_NONE_MATCH=etag)
    assert poll.status_code == 304  # nothing she may see changed
    assert scrubbed(alice_client.get(reverse("agreements:poll"))) == poll_before
    # Bob's own card says what he answered, and that it is sealed.
    bobs = cards_of(bob_client.get("/agreement/").content.decode())[3]
    assert 'data-sealed="true"' in bobs and "sealed until <bdi>Alice</bdi> answers" in bobs


def test_an_acceptance_the_other_cannot_see_sends_them_no_email(
    couple, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    rule = rules_of(alice)[0]
    with django_capture_on_commit_callbacks(execute=True):
        consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    assert mailoutbox == []
    with django_capture_on_commit_callbacks(execute=True):
        consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    assert [m.to for m in mailoutbox] == [[bob.user.email]]  # in force: both may know


def test_once_you_answered_you_see_the_other_answer(alice_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    consent.not_yet(partner=alice, rule=rule, version_id=rule.pending_version_id, note="Soon")
    card = cards_of(alice_client.get("/agreement/").content.decode())[1]
    assert "<bdi>Bob</bdi>: accepted" in card
    assert "You: not yet" in card


def test_a_proposal_names_its_author_and_the_defaults_have_none(alice_client, couple):
    alice, bob = couple
    rule = consent.propose_rule(
        partner=bob,
        agreement=rules_of(alice)[0].agreement,
        title="Slow mornings",
        text="Weekends start slowly.",
        note="What do you think?",
    )
    cards = cards_of(alice_client.get("/agreement/").content.decode())
    assert (
        'Proposed by <bdi>Bob</bdi>: <q dir="auto">What do you think?</q>' in cards[rule.position]
    )
    assert "Proposed by" not in cards[1]


# -- every answer is heard ------------------------------------------------------------------------


def test_a_not_yet_with_a_note_is_heard_on_the_other_partners_card_once_both_answered(
    alice_client, bob_client, couple
):
    alice, bob = couple
    rule = rules_of(alice)[6]
    response = bob_client.post(
        reverse("agreements:not_yet", args=[rule.pk]),
        {"version": rule.pending_version_id, "note": "Can we talk about this on Sunday?"},
    )
    assert response.status_code == 302
    assert "Sunday" not in alice_client.get("/agreement/").content.decode()  # sealed
    bobs = cards_of(bob_client.get("/agreement/").content.decode())[7]
    assert "You said not yet — sealed until <bdi>Alice</bdi> answers" in bobs
    response = alice_client.post(
        reverse("agreements:accept", args=[rule.pk]),
        {"version": rule.pending_version_id, "note": "Whenever you are ready."},
    )
    assert response.status_code == 302
    # Both answers, with both notes, revealed together.
    card = cards_of(alice_client.get("/agreement/").content.decode())[7]
    assert '<bdi>Bob</bdi>: not yet — <q dir="auto">Can we talk about this on Sunday?</q>' in card
    bobs = cards_of(bob_client.get("/agreement/").content.decode())[7]
    assert '<bdi>Alice</bdi>: accepted — <q dir="auto">Whenever you are ready.</q>' in bobs
    assert "You said not yet" in bobs and 'data-sealed="true"' not in bobs


def test_a_not_yet_is_an_answer_so_the_rule_no_longer_waits_for_that_partner(bob_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id)
    html = bob_client.get("/agreement/").content.decode()
    assert 'data-number="1" data-needs-you="false"' in html
    assert 'data-number="2" data-needs-you="true"' in html
    assert "8 rules wait for your answer" in html
    # Still free to accept later.
    assert re.search(r">Accept</button>", cards_of(html)[1])


def test_needs_you_is_true_exactly_when_the_rule_waits_for_this_viewer(
    alice_client, bob_client, couple
):
    alice, bob = couple
    rules = rules_of(alice)
    both_accept(rules[0], alice, bob)
    consent.accept(partner=alice, rule=rules[1], version_id=rules[1].pending_version_id)
    alice_cards = cards_of(alice_client.get("/agreement/").content.decode())
    bob_cards = cards_of(bob_client.get("/agreement/").content.decode())
    assert alice_cards[1].startswith(' data-needs-you="false"')  # in force
    assert alice_cards[2].startswith(' data-needs-you="false"')  # she accepted
    assert bob_cards[2].startswith(' data-needs-you="true"')
    assert alice_cards[3].startswith(' data-needs-you="true"')


# -- equal weight ---------------------------------------------------------------------------------


def test_accept_not_yet_and_decline_are_the_same_element_with_the_same_classes(
    alice_client, couple
):
    card = cards_of(alice_client.get("/agreement/").content.decode())[1]
    buttons = dict(
        (label, tag)
        for tag, label in re.findall(
            r"(<button[^>]*?)(?: formaction| data-hx-post)[^>]*>([^<]+)<", card
        )
    )
    assert set(buttons) >= {"Accept", "Not yet", "Decline"}
    classes = {re.search(r'class="([^"]*)"', buttons[label]).group(1) for label in buttons}
    assert classes == {"answer-button"}
    assert "autofocus" not in card and "primary" not in card


def test_nobody_is_offered_not_yet_or_decline_on_their_own_proposal(bob_client, couple):
    alice, bob = couple
    rule = consent.propose_rule(
        partner=bob, agreement=rules_of(alice)[0].agreement, title="Mine", text="My wording."
    )
    card = cards_of(bob_client.get("/agreement/").content.decode())[rule.position]
    assert ">Not yet<" not in card and ">Decline<" not in card and ">Accept<" not in card
    assert 'data-needs-you="false"' in card


# -- withdrawing ----------------------------------------------------------------------------------


def test_withdrawing_is_one_submit_with_an_optional_note_and_no_confirm_box(alice_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    both_accept(rule, alice, bob)
    card = cards_of(alice_client.get("/agreement/").content.decode())[1]
    form = re.search(r'<form class="withdraw-form".*?</form>', card, re.S).group(0)
    assert 'name="note"' in form and "Withdraw consent" in form
    assert "hx-confirm" not in card
    response = alice_client.post(
        reverse("agreements:withdraw", args=[rule.pk]),
        {"note": "I need a pause"},
        headers={"hx-request": "true"},
    )
    assert response.status_code == 200
    assert fresh(rule).state == Rule.State.PAUSED


# -- seeing what matters --------------------------------------------------------------------------


def test_each_rule_keeps_its_number_after_another_is_archived(alice_client, couple):
    alice, bob = couple
    rules = rules_of(alice)
    consent.archive(partner=bob, rule=rules[2])
    html = alice_client.get("/agreement/").content.decode()
    numbers = dict(re.findall(r'data-rule="(\d+)" data-state="\w+" data-number="(\d+)"', html))
    assert {int(k): int(v) for k, v in numbers.items()} == {r.pk: r.position for r in rules}
    assert '<span class="rule-number">4.</span>' in cards_of(html)[4]


def test_the_top_of_the_page_links_to_the_rules_that_wait_for_you(alice_client, couple):
    alice, bob = couple
    rules = rules_of(alice)
    for rule in rules[:7]:
        both_accept(rule, alice, bob)
    html = alice_client.get("/agreement/").content.decode()
    assert "2 rules wait for your answer" in html
    assert f'href="#rule-{rules[7].pk}"' in html and f'href="#rule-{rules[8].pk}"' in html


def test_the_page_says_what_the_other_partner_did_since_your_last_visit(alice_client, couple):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import Partner

    alice, bob = couple
    rules = rules_of(alice)
    assert "Since your last visit" not in alice_client.get("/agreement/").content.decode()
    # Her visit is over; meanwhile Bob archives one rule, says not yet to another she had
    # answered, and accepts a third (sealed: not news until she answers).
    consent.not_yet(partner=alice, rule=rules[4], version_id=rules[4].pending_version_id)
    Partner.objects.filter(pk=alice.pk).update(seen_at=timezone.now() - timedelta(hours=2))
    consent.archive(partner=bob, rule=rules[3])
    consent.not_yet(partner=bob, rule=rules[4], version_id=rules[4].pending_version_id, note="Hm")
    consent.accept(partner=bob, rule=rules[5], version_id=rules[5].pending_version_id)
    html = alice_client.get("/agreement/").content.decode()
    news = html.split("Since your last visit", 1)[1].split("</section>", 1)[0]
    assert "<bdi>Bob</bdi> archived rule 4" in news
    assert "<bdi>Bob</bdi> said not yet to rule 5" in news and '<q dir="auto">Hm</q>' in news
    assert "rule 6" not in news
    # A reload within the visit keeps what was new.
    assert "<bdi>Bob</bdi> archived rule 4" in alice_client.get("/agreement/").content.decode()
