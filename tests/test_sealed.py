"""Sealed answers: every answer to a waiting wording (Accept, Not yet, Decline, with its note) is
private until both partners have answered it; then both are revealed together. Whoever says no
holds the key: after a decline the other partner may not ask again for a while."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from agreements import consent
from agreements.invariants import check_agreement
from agreements.models import COOLING_OFF, Event, Rule
from agreements.stories import grant_therapist
from intimacy import privacy
from tests.conftest import agreement_of, client_for, fresh, reauthenticate, rules_of

CSRF = re.compile(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+')


def scrubbed(response) -> str:
    return CSRF.sub(r"\1…", response.content.decode())


def exports_of(user) -> tuple[str, str]:
    """Both exports, but for the moment they were made."""
    data = privacy.export_data(user)
    del data["exported_at"]
    markdown = re.sub(r"Exported .*? \(times in UTC\)\.", "", privacy.export_markdown(user))
    return json.dumps(data), markdown


def version(rule: Rule) -> int:
    return fresh(rule).pending_version_id


SEALED_ANSWERS = {
    "accept": lambda rule, seat: consent.accept(
        partner=seat, rule=rule, version_id=version(rule), note="Gladly."
    ),
    "not yet": lambda rule, seat: consent.not_yet(
        partner=seat, rule=rule, version_id=version(rule), note="Give me a week."
    ),
    "decline": lambda rule, seat: consent.decline(
        partner=seat, rule=rule, version_id=version(rule), note="Not for me."
    ),
    "a changed answer": lambda rule, seat: (
        consent.decline(partner=seat, rule=rule, version_id=version(rule), note="No."),
        consent.accept(partner=seat, rule=fresh(rule), version_id=version(rule)),
    ),
    "accept, then not yet": lambda rule, seat: (
        consent.accept(partner=seat, rule=rule, version_id=version(rule)),
        consent.not_yet(partner=seat, rule=fresh(rule), version_id=version(rule)),
    ),
}


@pytest.fixture(autouse=True)
def _relaxed_rate_limits(settings) -> None:
    settings.ACCOUNT_RATE_LIMITS = False


@pytest.mark.parametrize("answer", SEALED_ANSWERS)
def test_a_sealed_answer_changes_nothing_the_other_partner_or_the_therapist_can_observe(
    answer, couple, dana_2fa
):
    alice, bob = couple
    grant_therapist(couple, dana_2fa)
    agreement = agreement_of(alice)
    rule = rules_of(alice)[2]
    alice_client = client_for(alice.user)
    reauthenticate(alice_client, alice.user)
    dana = client_for(dana_2fa)
    partner_pages = [
        reverse("agreements:agreement"),
        reverse("agreements:poll"),
        reverse("agreements:timeline"),
        reverse("agreements:history", args=[rule.pk]),
        reverse("agreements:print"),
        reverse("agreements:therapist_access"),
    ]
    therapist_pages = [
        reverse("therapist:home"),
        reverse("therapist:couple", args=[agreement.pk]),
        reverse("therapist:timeline", args=[agreement.pk]),
        reverse("therapist:history", args=[agreement.pk, rule.pk]),
    ]
    for path in therapist_pages:  # the therapist's visit has begun: reloads change nothing
        dana.get(path)
    etag = alice_client.get(reverse("agreements:agreement"))["ETag"]
    before = {path: scrubbed(alice_client.get(path)) for path in partner_pages}
    before |= {path: scrubbed(dana.get(path)) for path in therapist_pages}
    exports = exports_of(alice.user)

    SEALED_ANSWERS[answer](rule, bob)

    after = {path: scrubbed(alice_client.get(path)) for path in partner_pages}
    after |= {path: scrubbed(dana.get(path)) for path in therapist_pages}
    assert [path for path in before if before[path] != after[path]] == []
    poll = alice_client.get(
        reverse("agreements:poll"), headers={"if-none-match": etag, "hx-request": "true"}
    )
    assert poll.status_code == 304
    assert exports_of(alice.user) == exports
    assert check_agreement(agreement) == []


def test_both_answers_and_both_notes_are_revealed_together(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.not_yet(partner=bob, rule=rule, version_id=version(rule), note="After the holidays?")
    alice_client = client_for(alice.user)
    assert "After the holidays" not in alice_client.get("/agreement/").content.decode()
    consent.accept(partner=alice, rule=rule, version_id=version(rule), note="I'd like this.")
    for client, theirs in (
        (alice_client, '<bdi>Bob</bdi>: not yet — <q dir="auto">After the holidays?</q>'),
        (
            client_for(bob.user),
            '<bdi>Alice</bdi>: accepted — <q dir="auto">I&#x27;d like this.</q>',
        ),
    ):
        html = client.get("/agreement/").content.decode()
        assert theirs in html
        assert 'data-sealed="true"' not in html
    timeline = alice_client.get(reverse("agreements:timeline")).content.decode()
    assert "<bdi>Bob</bdi> said not yet to rule 1" in timeline and "After the holidays?" in timeline


def test_a_note_given_with_accept_is_kept_and_shown_after_the_reveal(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.accept(partner=alice, rule=rule, version_id=version(rule), note="Yes, gladly.")
    event = Event.objects.get(kind=Event.Kind.ACCEPTED, partner=alice, rule=rule)
    assert event.note == "Yes, gladly." and event.private_to_id == alice.pk
    consent.accept(partner=bob, rule=rule, version_id=version(rule))
    assert fresh(rule).state == Rule.State.ACTIVE
    history = client_for(bob.user).get(reverse("agreements:history", args=[rule.pk]))
    assert "Yes, gladly." in history.content.decode()


def test_an_answer_changed_before_the_reveal_is_never_shown_to_the_other(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.decline(partner=bob, rule=rule, version_id=version(rule), note="Absolutely not.")
    consent.not_yet(partner=bob, rule=rule, version_id=version(rule), note="Maybe later.")
    consent.accept(partner=alice, rule=rule, version_id=version(rule))
    alice_client = client_for(alice.user)
    for path in (reverse("agreements:timeline"), reverse("agreements:history", args=[rule.pk])):
        html = alice_client.get(path).content.decode()
        assert "Maybe later." in html and "Absolutely not." not in html
    assert "Absolutely not." not in json.dumps(privacy.export_data(alice.user))
    assert fresh(rule).state == Rule.State.PROPOSED  # a not yet stands, not the decline


def test_a_decline_revealed_holds_the_key_whatever_the_other_answered(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.decline(partner=bob, rule=rule, version_id=version(rule), note="No.")
    assert fresh(rule).state == Rule.State.PROPOSED  # sealed: still waiting for Alice
    consent.accept(partner=alice, rule=rule, version_id=version(rule))
    rule = fresh(rule)
    assert rule.state == Rule.State.DECLINED and rule.declined_by_id == bob.pk
    assert check_agreement(rule.agreement) == []


# -- whoever says no holds the key ----------------------------------------------------------------


def declined_proposal(alice, bob) -> Rule:
    rule = consent.propose_rule(
        partner=alice, agreement=agreement_of(alice), title="Tea", text="Tea in bed on Sundays."
    )
    consent.decline(partner=bob, rule=rule, version_id=version(rule), note="Not now.")
    return fresh(rule)


def test_the_partner_told_no_cannot_ask_again_for_seven_days_and_is_told_until_when(
    couple, alice_client
):
    alice, bob = couple
    rule = declined_proposal(alice, bob)
    until = rule.declined_at + COOLING_OFF
    with pytest.raises(consent.CoolingOff) as refused:
        consent.propose_change(partner=alice, rule=rule, title="Tea", text="Tea, please?")
    assert f"{timezone.localtime(until):%-d %B}" in refused.value.message
    with pytest.raises(consent.CoolingOff):  # the same wording as a new rule
        consent.propose_rule(
            partner=alice, agreement=agreement_of(alice), title="T", text="Tea in bed on  Sundays."
        )
    consent.archive(partner=alice, rule=rule)
    with pytest.raises(consent.CoolingOff):  # archiving and restoring does not end the wait
        consent.restore(partner=alice, rule=fresh(rule))
    card = alice_client.get("/agreement/").content.decode()
    assert f'data-cooling-until="{timezone.localtime(until):%Y-%m-%d}"' in card
    assert "Declined by <bdi>Bob</bdi> on" in card


def test_the_one_who_declined_can_reopen_at_any_time(couple, bob_client):
    alice, bob = couple
    rule = declined_proposal(alice, bob)
    consent.take_back(partner=alice, rule=rule, version_id=rule.latest_version_id)
    rule = fresh(rule)
    assert not rule.may_reopen(alice.pk) and rule.may_reopen(bob.pk)
    html = bob_client.get("/agreement/").content.decode()
    assert "You declined it on" in html and ">Reopen</button>" in html
    consent.reopen(partner=bob, rule=rule, note="I thought again.")
    rule = fresh(rule)
    assert rule.state == Rule.State.PROPOSED and rule.proposed_by_id == bob.pk
    assert rule.declined_at is None
    consent.accept(partner=alice, rule=rule, version_id=version(rule))
    assert fresh(rule).state == Rule.State.ACTIVE


def test_after_the_wait_the_other_partner_may_ask_again(couple):
    alice, bob = couple
    rule = declined_proposal(alice, bob)
    Rule.objects.filter(pk=rule.pk).update(declined_at=timezone.now() - COOLING_OFF)
    consent.propose_change(partner=alice, rule=fresh(rule), title="Tea", text="Tea, sometimes.")
    assert fresh(rule).state == Rule.State.PROPOSED


def test_when_both_declined_either_may_reopen(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.decline(partner=alice, rule=rule, version_id=version(rule))
    consent.decline(partner=bob, rule=rule, version_id=version(rule))
    rule = fresh(rule)
    assert rule.state == Rule.State.DECLINED and rule.declined_by_id is None
    assert rule.may_reopen(alice.pk) and rule.may_reopen(bob.pk)
    assert rule.cooling_until(alice.pk) is None and rule.cooling_until(bob.pk) is None


def test_not_yet_asks_for_time_and_starts_no_cooling_off(couple):
    alice, bob = couple
    rule = consent.propose_rule(
        partner=alice, agreement=agreement_of(alice), title="Tea", text="Tea in bed."
    )
    consent.not_yet(partner=bob, rule=rule, version_id=version(rule))
    consent.propose_change(partner=alice, rule=fresh(rule), title="Tea", text="Tea in bed, later.")
    assert fresh(rule).declined_at is None


def test_the_one_who_declined_can_still_accept_while_the_proposers_yes_stands(
    couple, alice_client, bob_client
):
    alice, bob = couple
    rule = declined_proposal(alice, bob)
    assert rule.state == Rule.State.DECLINED and rule.declined_by_id == bob.pk
    bobs = bob_client.get("/agreement/").content.decode()
    assert "yes to this wording still stands: you can still accept it." in bobs
    assert ">Reopen</button>" not in bobs  # Accept is the way back while her yes stands
    assert "Take back my proposal" in alice_client.get("/agreement/").content.decode()
    assert check_agreement(agreement_of(alice)) == []
    consent.accept(partner=bob, rule=rule, version_id=rule.latest_version_id, note="Yes, after all")
    rule = fresh(rule)
    assert rule.state == Rule.State.ACTIVE and rule.current_version_id == rule.latest_version_id
    assert rule.declined_by_id is None and rule.declined_at is None
    assert check_agreement(agreement_of(alice)) == []
    timeline = alice_client.get(reverse("agreements:timeline")).content.decode()
    assert "Yes, after all" in timeline


def test_once_the_proposer_takes_the_proposal_back_the_decliner_can_only_reopen(couple):
    alice, bob = couple
    rule = declined_proposal(alice, bob)
    consent.take_back(partner=alice, rule=rule, version_id=rule.latest_version_id)
    consent.take_back(partner=alice, rule=fresh(rule), version_id=rule.latest_version_id)  # twice
    rule = fresh(rule)
    assert not rule.may_accept_declined(bob.pk) and rule.may_reopen(bob.pk)
    with pytest.raises(consent.ConsentError, match="no longer stands by this wording"):
        consent.accept(partner=bob, rule=rule, version_id=rule.latest_version_id)
    assert rule.cooling_until(alice.pk) is not None  # taking it back does not end the wait
    assert check_agreement(agreement_of(alice)) == []


def declined_change(alice, bob) -> Rule:
    """Rule 1 in force, and Alice's change to it declined by Bob (her yes to it stands)."""
    rule = rules_of(alice)[0]
    consent.accept(partner=alice, rule=rule, version_id=version(rule))
    consent.accept(partner=bob, rule=fresh(rule), version_id=version(rule))
    consent.propose_change(partner=alice, rule=fresh(rule), title="T", text="A new wording.")
    consent.decline(partner=bob, rule=fresh(rule), version_id=fresh(rule).pending_version_id)
    return fresh(rule)


def test_a_declined_change_to_a_rule_in_force_can_still_be_accepted(couple, bob_client):
    alice, bob = couple
    rule = declined_change(alice, bob)
    assert rule.state == Rule.State.ACTIVE and rule.pending_version_id is None
    assert "The change that was declined" in bob_client.get("/agreement/").content.decode()
    consent.accept(partner=bob, rule=rule, version_id=rule.latest_version_id)
    rule = fresh(rule)
    assert rule.state == Rule.State.ACTIVE and rule.current_version.text == "A new wording."
    assert check_agreement(agreement_of(alice)) == []


@pytest.mark.parametrize("then", ["withdraw", "archive", "propose"])
def test_what_puts_a_declined_wording_aside_ends_the_yes_that_stood(couple, then):
    alice, bob = couple
    rule = declined_change(alice, bob)
    declined = rule.latest_version_id
    if then == "withdraw":
        consent.withdraw(partner=alice, rule=rule)
    elif then == "archive":
        consent.withdraw(partner=alice, rule=rule)
        consent.archive(partner=alice, rule=fresh(rule))
    else:
        consent.propose_change(partner=bob, rule=rule, title="T", text="Bob's own wording.")
    rule = fresh(rule)
    assert not rule.may_accept_declined(bob.pk)
    with pytest.raises(consent.ConsentError):
        consent.accept(partner=bob, rule=rule, version_id=declined)
    assert check_agreement(agreement_of(alice)) == []
