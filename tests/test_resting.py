"""Equal voice in the consent service (issue 12): answers are heard, a partner never answers
their own proposal, a withdrawn rule rests with the wording both had agreed and only the
withdrawer can reopen it, numbers are for life; and one state machine (Rule.may_*) decides both
what the card offers and what consent.py accepts."""

import pytest
from django.db import transaction

from accounts.models import Partner
from agreements import consent
from agreements.invariants import check_agreement
from agreements.models import Acceptance, Agreement, Event, Rule
from agreements.pages import agreement as pages
from agreements.rounds import round_of, rounds_for
from tests.conftest import both_accept, fresh, rules_of

State = Rule.State
Kind = Event.Kind


def live(rule) -> set[tuple[str, int]]:
    return {
        (a.partner.name, a.version_id)
        for a in Acceptance.objects.filter(version__rule=rule, withdrawn_at__isnull=True)
    }


@pytest.fixture
def resting(couple):
    """Rule 1 in force, then Bob withdrew consent: it rests."""
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    consent.withdraw(partner=bob, rule=rule, note="I need a pause.")
    return fresh(rule)


# -- answers --------------------------------------------------------------------------------------


def test_a_partner_is_never_offered_not_yet_or_decline_on_their_own_proposal(couple, agreement):
    alice, bob = couple
    rule = consent.propose_rule(partner=alice, agreement=agreement, title="T", text="Ours.")
    assert rule.proposed_by_id == alice.pk
    assert not rule.may_not_yet(alice.pk) and not rule.may_decline(alice.pk)
    assert rule.may_take_back(alice.pk)
    assert rule.may_not_yet(bob.pk) and rule.may_decline(bob.pk)
    assert not rule.may_take_back(bob.pk)
    version = rule.pending_version_id
    for answer in (consent.not_yet, consent.decline):
        with pytest.raises(consent.ConsentError):
            answer(partner=alice, rule=rule, version_id=version)
    assert fresh(rule).state == State.PROPOSED
    assert live(rule) == {("Alice", version)}


def test_the_proposer_takes_back_a_proposal_which_ends_it_like_a_decline(couple, agreement):
    alice, bob = couple
    rule = consent.propose_rule(partner=alice, agreement=agreement, title="T", text="Ours.")
    with pytest.raises(consent.ConsentError):
        consent.take_back(partner=bob, rule=rule, version_id=rule.pending_version_id)
    consent.take_back(partner=alice, rule=rule, version_id=rule.pending_version_id, note="Later")
    rule = fresh(rule)
    assert rule.state == State.DECLINED
    assert rule.pending_version is None and rule.proposed_by is None
    assert live(rule) == set()
    event = Event.objects.get(rule=rule, kind=Kind.TOOK_BACK)
    assert (event.partner, event.note) == (alice, "Later")
    assert check_agreement(agreement) == []


def test_taking_back_a_change_leaves_the_wording_in_force(couple, agreement):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    consent.propose_change(partner=bob, rule=rule, title="", text="Bob's words")
    consent.take_back(partner=bob, rule=rule, version_id=fresh(rule).pending_version_id)
    rule = fresh(rule)
    assert rule.state == State.ACTIVE and rule.change is None
    assert rule.wording.number == 1
    assert check_agreement(agreement) == []


def test_not_yet_is_an_answer_and_the_rule_no_longer_waits_for_that_partner(couple, agreement):
    alice, bob = couple
    rule = consent.propose_rule(partner=alice, agreement=agreement, title="T", text="Ours.")
    version = rule.pending_version_id
    assert fresh(rule).waits_for(bob.pk)
    assert not fresh(rule).waits_for(alice.pk)
    consent.not_yet(partner=bob, rule=rule, version_id=version, note="Can we talk on Sunday?")
    rule = fresh(rule)
    current = round_of(rule)
    said = current.answers[bob.pk]
    assert (said.kind, said.note) == (Kind.NOT_YET, "Can we talk on Sunday?") and said.at
    assert not said.sealed  # Alice's proposal is her answer: his is revealed at once
    assert alice.pk in current.accepted_at
    assert not rule.waits_for(bob.pk, current)
    assert not rule.waits_for(alice.pk, current)
    # ... and Bob can still accept later.
    assert rule.may_accept(bob.pk)
    consent.accept(partner=bob, rule=rule, version_id=version)
    assert fresh(rule).state == State.ACTIVE


def test_who_answered_every_waiting_wording_takes_two_queries(
    couple, agreement, django_assert_num_queries
):
    alice, bob = couple
    rules = rules_of(alice)
    consent.accept(partner=alice, rule=rules[0], version_id=rules[0].pending_version_id)
    consent.not_yet(partner=bob, rule=rules[1], version_id=rules[1].pending_version_id, note="n")
    consent.accept(partner=bob, rule=rules[3], version_id=rules[3].pending_version_id)
    consent.accept(partner=alice, rule=rules[3], version_id=rules[3].pending_version_id)
    rules = rules_of(alice)
    ids = [r.pending_version_id for r in rules]
    with django_assert_num_queries(2):
        rounds = rounds_for(rules)
    assert set(rounds[ids[0]].accepted_at) == {alice.pk}
    assert rounds[ids[0]].answers[alice.pk].sealed  # Bob has not answered that default yet
    said = rounds[ids[1]].answers[bob.pk]
    assert (said.kind, said.note, said.sealed) == (Kind.NOT_YET, "n", True)
    assert ids[3] is None and len(rounds) == len(rules) - 1


def test_after_not_yet_archive_and_restore_the_rule_waits_for_that_partner_again(couple, agreement):
    """A restore puts the wording on the table afresh: the earlier "not yet" is of an earlier
    round, so the card, the summary and Rule.waits_for all say the rule waits for that partner."""
    alice, bob = couple
    rule = consent.propose_rule(partner=alice, agreement=agreement, title="T", text="Ours.")
    consent.not_yet(partner=bob, rule=rule, version_id=rule.pending_version_id, note="Later")
    consent.archive(partner=bob, rule=fresh(rule))
    consent.restore(partner=alice, rule=fresh(rule))
    rule = fresh(rule)
    assert rule.waits_for(bob.pk) and set(round_of(rule).answers) == {alice.pk}


# -- withdrawing and resting ----------------------------------------------------------------------


def test_a_withdrawn_rule_rests_with_the_agreed_wording_and_waits_for_no_one(couple, resting):
    alice, bob = couple
    rule = resting
    assert rule.state == State.PAUSED and rule.is_resting
    assert rule.current_version is None and rule.pending is None and rule.change is None
    assert rule.wording == rule.agreed_version and rule.wording.number == 1
    assert (rule.withdrawn_by, rule.withdrawn_at is not None) == (bob, True)
    assert not rule.waits_for(alice.pk) and not rule.waits_for(bob.pk)
    assert live(rule) == set()
    assert Event.objects.get(rule=rule, kind=Kind.WITHDREW).note == "I need a pause."


def test_the_other_partner_cannot_accept_a_resting_rule_alone_nor_pile_up_a_yes(couple, resting):
    alice, bob = couple
    rule = resting
    assert not rule.may_accept(alice.pk) and not rule.may_reopen(alice.pk)
    with pytest.raises(consent.ConsentError):
        consent.accept(partner=alice, rule=rule, version_id=rule.agreed_version_id)
    with pytest.raises(consent.ConsentError):
        consent.reopen(partner=alice, rule=rule)
    # Not through a "change" to the very wording Bob withdrew from either.
    with pytest.raises(consent.NothingChanged):
        consent.propose_change(
            partner=alice, rule=rule, title=rule.wording.title, text=rule.wording.text
        )
    assert fresh(rule).state == State.PAUSED and live(rule) == set()


def test_only_the_withdrawer_reopens_which_proposes_the_agreed_wording_with_their_acceptance(
    couple, resting, agreement
):
    alice, bob = couple
    agreed = resting.agreed_version_id
    assert resting.may_reopen(bob.pk)
    consent.reopen(partner=bob, rule=resting, note="Ready again")
    rule = fresh(resting)
    assert rule.state == State.PROPOSED
    assert rule.pending_version_id == agreed and rule.wording.pk == agreed
    assert rule.proposed_by == bob
    assert live(rule) == {("Bob", agreed)}
    assert Event.objects.get(rule=rule, kind=Kind.REOPENED).note == "Ready again"
    consent.reopen(partner=bob, rule=rule)  # a double submit changes nothing
    assert Event.objects.filter(rule=rule, kind=Kind.REOPENED).count() == 1
    consent.accept(partner=alice, rule=rule, version_id=agreed)
    rule = fresh(rule)
    assert rule.state == State.ACTIVE and rule.current_version_id == agreed
    assert rule.agreed_version is None and rule.withdrawn_by is None
    assert check_agreement(agreement) == []


def test_the_other_partner_can_propose_a_different_wording_on_a_resting_rule(
    couple, resting, agreement
):
    alice, bob = couple
    consent.propose_change(partner=alice, rule=resting, title="", text="Alice's new idea")
    rule = fresh(resting)
    assert rule.state == State.PAUSED
    assert rule.wording.number == 1 and rule.change.text == "Alice's new idea"
    assert rule.waits_for(bob.pk) and not rule.waits_for(alice.pk)
    consent.accept(partner=bob, rule=rule, version_id=rule.change.pk)
    rule = fresh(rule)
    assert rule.state == State.ACTIVE and rule.wording.text == "Alice's new idea"
    assert check_agreement(agreement) == []


def test_a_change_pending_at_the_withdrawal_stays_a_separate_proposal(couple, agreement):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    agreed = rule.current_version_id
    consent.propose_change(partner=alice, rule=rule, title="", text="Alice alone wrote this")
    consent.withdraw(partner=bob, rule=rule)
    rule = fresh(rule)
    # Nothing one partner alone wrote becomes the rule's wording.
    assert rule.wording.pk == agreed
    assert rule.change.text == "Alice alone wrote this"
    assert rule.may_decline(bob.pk) and rule.may_accept(bob.pk)
    consent.decline(partner=bob, rule=rule, version_id=rule.change.pk, note="Not this")
    rule = fresh(rule)
    assert rule.state == State.PAUSED and rule.change is None and rule.wording.pk == agreed
    # What Bob can reopen is the agreed wording, not Alice's change.
    consent.reopen(partner=bob, rule=rule)
    assert fresh(rule).pending_version_id == agreed
    assert check_agreement(agreement) == []


def test_a_change_pending_at_the_withdrawal_comes_into_force_once_both_accept_it(couple):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    consent.propose_change(partner=bob, rule=rule, title="", text="Bob's change")
    # The proposer withdraws: their consent to their own change ends as well, so it needs both.
    consent.withdraw(partner=bob, rule=rule)
    rule = fresh(rule)
    consent.accept(partner=alice, rule=rule, version_id=rule.change.pk)
    assert fresh(rule).state == State.PAUSED
    consent.accept(partner=bob, rule=rule, version_id=rule.change.pk)
    rule = fresh(rule)
    assert rule.state == State.ACTIVE and rule.wording.text == "Bob's change"


def test_reopening_replaces_a_change_waiting_beside_the_resting_rule(couple, resting):
    alice, bob = couple
    consent.propose_change(partner=alice, rule=resting, title="", text="Alice's")
    change = fresh(resting).pending_version_id
    agreed = resting.agreed_version_id
    consent.reopen(partner=bob, rule=resting)
    rule = fresh(resting)
    assert rule.pending_version_id == agreed != change
    assert not Acceptance.objects.filter(version_id=change, withdrawn_at__isnull=True).exists()
    # Declined now, it shows the wording that was last on the table, not Alice's change.
    consent.decline(partner=alice, rule=rule, version_id=agreed)
    assert fresh(rule).wording.pk == agreed


def test_withdrawing_twice_or_after_the_other_withdrew_is_harmless(couple, resting):
    alice, bob = couple
    consent.withdraw(partner=bob, rule=resting)
    consent.withdraw(partner=alice, rule=resting)
    rule = fresh(resting)
    assert Event.objects.filter(rule=rule, kind=Kind.WITHDREW).count() == 1
    assert rule.withdrawn_by == bob


def test_restoring_records_who_proposed_and_the_defaults_have_no_author(couple):
    alice, bob = couple
    rules = rules_of(alice)
    assert {r.proposed_by_id for r in rules} == {None}
    consent.archive(partner=alice, rule=rules[2])
    consent.restore(partner=bob, rule=rules[2])
    rule = fresh(rules[2])
    assert rule.proposed_by == bob
    assert not rule.may_decline(bob.pk) and rule.may_decline(alice.pk)


def test_rule_numbers_are_for_life(couple, agreement):
    alice, bob = couple
    rules = rules_of(alice)
    consent.archive(partner=alice, rule=rules[2])
    consent.archive(partner=bob, rule=rules[8])
    new = consent.propose_rule(partner=alice, agreement=agreement, title="T", text="New one.")
    assert new.number == new.position == 10
    consent.restore(partner=bob, rule=rules[2])
    assert [r.number for r in rules_of(alice)] == list(range(1, 11))
    assert fresh(rules[2]).number == 3


# -- one state machine ----------------------------------------------------------------------------


def every_state(couple, agreement) -> list[Rule]:
    """Rules in every state a card can show, with proposals by either partner."""
    alice, bob = couple
    rules = rules_of(alice)
    both_accept(rules[0], alice, bob)
    both_accept(rules[1], alice, bob)
    consent.propose_change(partner=alice, rule=rules[1], title="", text="A change by Alice")
    both_accept(rules[2], alice, bob)
    consent.withdraw(partner=bob, rule=rules[2])
    both_accept(rules[3], alice, bob)
    consent.propose_change(partner=bob, rule=rules[3], title="", text="A change by Bob")
    consent.withdraw(partner=alice, rule=rules[3])
    consent.accept(partner=alice, rule=rules[4], version_id=rules[4].pending_version_id)
    consent.not_yet(partner=alice, rule=rules[5], version_id=rules[5].pending_version_id)
    consent.decline(partner=bob, rule=rules[5], version_id=rules[5].pending_version_id)
    consent.archive(partner=alice, rule=rules[6])
    consent.not_yet(partner=bob, rule=rules[7], version_id=rules[7].pending_version_id)
    consent.propose_rule(partner=bob, agreement=agreement, title="B", text="Bob's rule.")
    return pages.rules_for_page(agreement, list(agreement.couple.partners.all()))


ACTIONS = {
    "accept": lambda rule, seat: consent.accept(
        partner=seat, rule=rule, version_id=rule.pending_version_id
    ),
    "not_yet": lambda rule, seat: consent.not_yet(
        partner=seat, rule=rule, version_id=rule.pending_version_id
    ),
    "decline": lambda rule, seat: consent.decline(
        partner=seat, rule=rule, version_id=rule.pending_version_id
    ),
    "take_back": lambda rule, seat: consent.take_back(
        partner=seat, rule=rule, version_id=rule.pending_version_id
    ),
    "withdraw": lambda rule, seat: consent.withdraw(partner=seat, rule=rule),
    "reopen": lambda rule, seat: consent.reopen(partner=seat, rule=rule),
    "change": lambda rule, seat: consent.propose_change(
        partner=seat, rule=rule, title="", text="Wording nobody wrote before"
    ),
    "archive": lambda rule, seat: consent.archive(partner=seat, rule=rule),
    "restore": lambda rule, seat: consent.restore(partner=seat, rule=rule),
}


class RolledBack(Exception):
    pass


def does(action, rule, seat, agreement) -> bool:
    """Whether consent.py carries the action out (an event recorded, sealed or not); rolled back
    after."""

    def revisions() -> tuple[int, int]:
        return (
            Agreement.objects.get(pk=agreement.pk).revision,
            Partner.objects.get(pk=seat.pk).sealed_revision,
        )

    try:
        with transaction.atomic():
            before = revisions()
            try:
                ACTIONS[action](Rule.objects.get(pk=rule.pk), seat)
            except consent.ConsentError:
                return False
            raise RolledBack(revisions() != before)
    except RolledBack as outcome:
        return outcome.args[0]


def test_the_card_offers_exactly_what_consent_accepts_in_every_state(couple, agreement):
    rules = every_state(couple, agreement)
    assert {r.state for r in rules} == set(State.values)
    disagreements = []
    for rule in rules:
        for seat in couple:
            for action in ACTIONS:
                offered = getattr(rule, f"may_{action}")(seat.pk)
                if offered != does(action, rule, seat, agreement):
                    disagreements.append(f"{action} on {rule.state} {rule.number} by {seat}")
    assert disagreements == []
    assert check_agreement(agreement) == []


def test_the_questions_need_no_query_beyond_what_the_page_prefetches(
    couple, agreement, django_assert_num_queries
):
    rules = every_state(couple, agreement)
    rounds = rounds_for(rules)
    answers = {}
    with django_assert_num_queries(0):
        for rule in rules:
            # The live acceptances of the waiting wording, as the card passes them: its round's.
            standing = set(round_of(rule, rounds).accepted_at)
            for seat in couple:
                for action in ACTIONS:
                    question = getattr(rule, f"may_{action}")
                    if action in ("accept", "withdraw"):
                        answer = question(seat.pk, standing)
                    else:
                        answer = question(seat.pk)
                    answers[rule.pk, seat.pk, action] = answer
                rule.waits_for(seat.pk, round_of(rule, rounds))
            assert rule.wording and rule.draft and rule.number
            assert (rule.change, rule.pending) is not None
    # The same answers as the questions give reading the acceptances themselves.
    for (rule_id, seat_id, action), answer in answers.items():
        assert getattr(Rule.objects.get(pk=rule_id), f"may_{action}")(seat_id) == answer


def test_the_wording_shown_and_the_wording_a_change_starts_from(couple, agreement):
    rules = {r.number: r for r in every_state(couple, agreement)}
    assert rules[1].wording == rules[1].current_version and rules[1].change is None
    assert rules[2].wording.number == 1 and rules[2].change.text == "A change by Alice"
    assert rules[2].draft == rules[2].change
    assert rules[3].wording == rules[3].agreed_version and rules[3].draft == rules[3].wording
    assert rules[4].change.text == "A change by Bob" and rules[4].wording.number == 1
    assert rules[5].wording == rules[5].pending and rules[5].change is None
    assert rules[6].wording == rules[6].latest_version and rules[6].pending is None
    assert rules[7].wording == rules[7].latest_version


def test_the_invariant_check_finds_a_rule_in_force_with_one_acceptance(couple, agreement):
    alice, _ = couple
    rule = rules_of(alice)[0]
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    assert check_agreement(agreement) == []
    Rule.objects.filter(pk=rule.pk).update(
        state=State.ACTIVE, current_version_id=rule.pending_version_id, pending_version=None
    )
    problems = check_agreement(agreement)
    assert any("in force with live acceptances" in p for p in problems), problems
    assert any("events say" in p for p in problems), problems


def test_both_withdrawing_at_once_ends_both_partners_consent_to_a_waiting_change(couple, agreement):
    alice, bob = couple
    rule = both_accept(rules_of(alice)[0], alice, bob)
    consent.propose_change(partner=alice, rule=rule, title="", text="Alice's change")
    consent.withdraw(partner=bob, rule=rule)
    # Alice's withdrawal lands just after Bob's: the rule already rests, and her consent to her
    # own change ends too, so Bob's acceptance alone cannot bring it into force.
    consent.withdraw(partner=alice, rule=rule, note="Me too")
    rule = fresh(rule)
    assert rule.withdrawn_by == bob and live(rule) == set()
    consent.accept(partner=bob, rule=rule, version_id=rule.change.pk)
    assert fresh(rule).state == State.PAUSED
    assert alice.pk not in round_of(rule).accepted_at
    assert check_agreement(agreement) == []
