"""History and timeline: plain sentences grouped by day, permanent rule numbers, pages of days,
and blind until you answer (the other partner's acceptance of a wording you have not answered
changes nothing you can see)."""

import re
from datetime import timedelta

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.urls import reverse
from django.utils import timezone

from agreements import consent, stories
from agreements.models import Event
from agreements.pages import ledger
from tests.conftest import both_accept, client_for, fresh, rules_of

pytestmark = pytest.mark.django_db

CSRF = re.compile(r'(csrfmiddlewaretoken" value="|"X-CSRFToken": ")[^"]+')


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return CSRF.sub(r"\1-", response.content.decode())


def text_of(html: str) -> str:
    """The words as read: a name or title isolated in <bdi> is part of its sentence."""
    return " ".join(re.sub(r"<[^>]+>", " ", re.sub(r"</?bdi>", "", html)).split())


def test_the_timeline_tells_who_did_what_in_plain_sentences(alice_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    title = rule.pending_version.title
    both_accept(rule, alice, bob)
    html = text_of(page(alice_client, reverse("agreements:timeline")))
    assert f"You accepted rule 1 “{title}”." in html
    assert f"Bob accepted rule 1 “{title}”, so it is now in force." in html
    for log_word in (
        "version 1",
        "(version",
        "no longer counts since",
        "came into force, accepted",
    ):
        assert log_word not in html


def test_a_not_yet_and_its_note_read_as_the_persons_own_words(alice_client, bob_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[6]
    title = rule.pending_version.title
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    consent.not_yet(
        partner=bob, rule=rule, version_id=rule.pending_version_id, note="I'd like a pause word."
    )
    html = page(alice_client, reverse("agreements:timeline"))
    assert (
        f"<bdi>Bob</bdi> said not yet to rule 7 “<bdi>{title}</bdi>”: "
        '<q class="note" dir="auto">I&#x27;d like a pause word.</q>' in html
    )
    today = timezone.localdate()
    assert f"{today:%A} {today.day} {today:%B}" in text_of(html)
    history = text_of(page(bob_client, reverse("agreements:history", args=[rule.pk])))
    assert f"You said not yet to rule 7 “{title}”:" in history


def test_a_proposed_change_names_the_rule_by_its_number_and_the_history_shows_the_wording(
    alice_client, couple
):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[6], alice, bob)
    consent.propose_change(
        partner=bob, rule=rule, title="Our own definition of sex", text="Whatever we both call it."
    )
    timeline = text_of(page(alice_client, reverse("agreements:timeline")))
    assert "Bob proposed new wording for rule 7 “Our own definition of sex”." in timeline
    history = page(alice_client, reverse("agreements:history", args=[rule.pk]))
    assert "Rule 7: " in history
    assert "Now: In force, with new wording proposed" in text_of(history)
    # The wording in force, in full, and the change against it.
    assert fresh(rule).current_version.text.split()[0] in history
    assert "<ins>" in history


def test_accepting_the_nine_defaults_is_one_sentence_per_person_not_eighteen(alice_client, couple):
    alice, bob = couple
    rules = rules_of(alice)
    for rule in rules:
        consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    days = ledger.timeline_page(rules[0].agreement, ledger.Viewer("partner", alice))["days"]
    lines = [line.text for day in days for line in day.lines]
    assert len(lines) == 2, lines  # the agreement started; you accepted all nine
    assert lines[1].startswith("You accepted rule 1 “")
    assert " and rule 9 “" in lines[1]


def test_a_busy_day_folds_its_first_lines_away_without_javascript(alice_client, couple):
    alice, bob = couple
    rules = rules_of(alice)
    for rule in rules:  # one line for all nine: Alice's yes, sealed until Bob answers
        consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    for rule in rules:  # one line each: notes are never grouped
        consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id, note="Later")
    html = page(alice_client, reverse("agreements:timeline"))
    lines = ledger.LINES_PER_DAY
    assert f"Earlier that day ({1 + 1 + 9 - lines})" in html
    shown = html.split("</details>")[1]
    assert shown.count("<li>") == lines and "Bob said not yet to rule 9" in text_of(shown)


def test_rule_numbers_are_permanent_after_an_archive(alice_client, couple):
    alice, _ = couple
    rules = rules_of(alice)
    consent.archive(partner=alice, rule=rules[2])
    rule = fresh(rules[4])
    consent.not_yet(partner=alice, rule=rule, version_id=rule.pending_version_id)
    html = text_of(page(alice_client, reverse("agreements:timeline")))
    assert "You archived rule 3 “" in html
    assert "You said not yet to rule 5 “" in html


def test_a_long_timeline_is_paged_by_day_and_works_without_javascript(alice_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    start = timezone.now() - timedelta(days=20)
    for day in range(20):
        Event.objects.create(
            agreement=rule.agreement,
            rule=rule,
            version=rule.pending_version,
            partner=bob,
            kind=Event.Kind.NOT_YET,
            note=f"note of day {day}",
            created_at=start + timedelta(days=day),
        )
    first = page(alice_client, reverse("agreements:timeline"))
    assert first.count('class="ledger-day"') == ledger.DAYS_PER_PAGE
    assert "note of day 19" in first and "note of day 5" not in first
    assert 'href="?page=2"' in first and "Earlier days" in first
    last = page(alice_client, reverse("agreements:timeline") + "?page=3")
    assert "Later days" in last and "Earlier days" not in last
    assert "note of day 0" in last and "The agreement started" in first
    # A page that does not exist is the nearest one, never an error.
    assert page(alice_client, reverse("agreements:timeline") + "?page=99") == last
    assert page(alice_client, reverse("agreements:timeline") + "?page=x") == first


# -- blind until you answer -----------------------------------------------------------------------


def test_the_other_partners_acceptance_changes_nothing_you_can_see_before_you_answer(
    alice_client, bob_client, couple
):
    """Byte for byte (apart from CSRF tokens): the timeline and the rule's history."""
    alice, bob = couple
    rule = rules_of(alice)[3]
    both_accept(rules_of(alice)[0], alice, bob)  # something visible already happened
    urls = [reverse("agreements:timeline"), reverse("agreements:history", args=[rule.pk])]
    before = [page(bob_client, url) for url in urls]

    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)

    assert [page(bob_client, url) for url in urls] == before
    assert "You accepted rule 4" in page(alice_client, urls[0])


def test_a_change_accepted_by_its_proposers_partner_stays_blind_to_nobody_else(bob_client, couple):
    """A proposal is its author's own: showing it proposed is not showing an acceptance."""
    alice, bob = couple
    rule = both_accept(rules_of(alice)[1], alice, bob)
    consent.propose_change(partner=alice, rule=rule, title="T", text="New wording for us.")
    html = text_of(page(bob_client, reverse("agreements:history", args=[rule.pk])))
    assert "Alice proposed new wording for rule 2 “T”." in html
    assert "Alice accepted the new wording" not in html


def test_once_you_answer_the_other_partners_acceptance_is_shown(alice_client, bob_client, couple):
    alice, bob = couple
    rule = rules_of(alice)[3]
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    assert "Alice accepted" not in text_of(page(bob_client, reverse("agreements:timeline")))
    consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id, note="Sunday?")
    html = text_of(page(bob_client, reverse("agreements:timeline")))
    assert "Alice accepted rule 4 “" in html
    assert "You said not yet to rule 4 “" in html


def test_every_answer_is_sealed_until_both_answered_then_shown_to_both(alice_client, couple):
    alice, bob = couple
    rules = rules_of(alice)
    consent.not_yet(partner=bob, rule=rules[0], version_id=rules[0].pending_version_id)
    consent.decline(partner=bob, rule=rules[1], version_id=rules[1].pending_version_id)
    html = text_of(page(alice_client, reverse("agreements:timeline")))
    assert "Bob said not yet" not in html and "Bob declined" not in html
    for rule in rules[:2]:
        consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    html = text_of(page(alice_client, reverse("agreements:timeline")))
    assert "Bob said not yet to rule 1" in html and "Bob declined rule 2" in html


def test_an_answer_to_a_proposal_is_shown_at_once_the_proposal_is_the_proposers_yes(
    alice_client, couple
):
    alice, bob = couple
    agreement = rules_of(alice)[0].agreement
    rule = consent.propose_rule(partner=alice, agreement=agreement, title="Tea", text="Tea.")
    consent.decline(partner=bob, rule=rule, version_id=rule.pending_version_id, note="No tea")
    html = text_of(page(alice_client, reverse("agreements:timeline")))
    assert "Bob declined rule 10" in html and "No tea" in html


def test_a_therapist_sees_no_acceptance_of_a_wording_still_waiting(couple, dana):
    alice, bob = couple
    TOTP.activate(dana, generate_totp_secret())
    agreement = rules_of(alice)[0].agreement
    stories.grant_therapist((alice, bob), dana)
    rules = rules_of(alice)
    both_accept(rules[0], alice, bob)
    dana_client = client_for(dana)
    urls = [
        reverse("therapist:timeline", args=[agreement.pk]),
        reverse("therapist:history", args=[agreement.pk, rules[3].pk]),
    ]
    before = [page(dana_client, url) for url in urls]
    consent.accept(partner=alice, rule=rules[3], version_id=rules[3].pending_version_id)
    assert [page(dana_client, url) for url in urls] == before  # byte for byte
    html = text_of(page(dana_client, reverse("therapist:timeline", args=[agreement.pk])))
    assert "Alice accepted rule 4" not in html
    assert "Bob accepted rule 1 “" in html and "so it is now in force" in html
    assert "both partners accept it" in html
    history = text_of(
        page(dana_client, reverse("therapist:history", args=[agreement.pk, rules[3].pk]))
    )
    assert "Alice accepted" not in history


def test_the_archive_stays_blind_for_the_former_partner_who_never_answered(couple, alice, bob):
    from accounts import linking

    rule = rules_of(couple[0])[3]
    consent.accept(partner=couple[0], rule=rule, version_id=rule.pending_version_id)
    agreement = rule.agreement
    linking.end_partnership(user=alice)
    html = text_of(
        page(client_for(bob), reverse("agreements:archived_timeline", args=[agreement.pk]))
    )
    assert "Alice accepted" not in html and "Alice ended the partnership" in html


def test_a_sealed_answer_is_a_property_of_its_rows_read_by_every_reader(couple):
    """Event.private_to and Acceptance.sealed say who may know of an answer; the ledger asks
    Event.objects.visible_to, the export and the cards the same rows."""
    from agreements.models import Acceptance, Event

    alice, bob = couple
    rule = rules_of(alice)[3]
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    row = Acceptance.objects.get(version=rule.pending_version, partner=alice)
    event = Event.objects.get(kind="accepted", partner=alice, rule=rule)
    assert row.sealed and event.private_to_id == alice.pk
    assert Event.objects.visible_to(alice.pk).filter(pk=event.pk).exists()
    assert not Event.objects.visible_to(bob.pk).filter(pk=event.pk).exists()
    assert not Event.objects.visible_to(None).filter(pk=event.pk).exists()
    consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id)  # an answer
    row.refresh_from_db()
    event.refresh_from_db()
    assert not row.sealed and event.private_to_id is None
