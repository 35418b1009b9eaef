"""Pause everything racing the other partner, with real concurrent connections (threads), as
tests/test_races.py does for one rule. The pause locks the couple, the agreement and then the
rules in force by id, so whatever runs at the same moment happens wholly before or wholly after
it; after every round agreements.invariants checks the whole agreement.

RACE_ROUNDS sets the rounds per test (tests/concurrency.py)."""

from agreements import consent
from agreements.models import Agreement, Rule
from tests.concurrency import RACES, ROUNDS, Couples, assert_consistent, run_together, unexpected
from tests.conftest import agreement_of, both_accept, fresh, rules_of

pytestmark = RACES

State = Rule.State


def three_in_force_and_one_waiting(couples: Couples):
    """A new couple with rules 1 to 3 in force, and rule 4 accepted by Alice, waiting for Bob."""
    alice, bob = couples.new()
    rules = rules_of(alice)
    for rule in rules[:3]:
        both_accept(rule, alice, bob)
    consent.accept(partner=alice, rule=rules[3], version_id=rules[3].pending_version_id)
    return alice, bob, [fresh(rule) for rule in rules[:4]]


def test_pause_everything_racing_an_acceptance_rests_all_that_was_in_force():
    couples = Couples()
    for _ in range(ROUNDS):
        alice, bob, rules = three_in_force_and_one_waiting(couples)
        waiting = rules[3]
        paused, accepted = run_together(
            lambda: consent.pause_everything(partner=alice, note="Stop, please."),
            lambda: consent.accept(
                partner=bob, rule=waiting, version_id=waiting.pending_version_id
            ),
        )
        assert not isinstance(paused, Exception), paused
        assert not unexpected([accepted]), accepted
        for rule in rules[:3]:
            rule = fresh(rule)
            assert rule.state == State.PAUSED and rule.withdrawn_by_id == alice.pk
        # Bob's acceptance came either before the pause (the rule came into force and the pause
        # rested it too) or after it (the proposal, untouched by the pause, came into force).
        waiting = fresh(waiting)
        assert waiting.state in (State.PAUSED, State.ACTIVE)
        assert (waiting.state == State.PAUSED) == (waiting.pk in {r.pk for r in paused})
        agreement = agreement_of(alice)
        assert agreement.paused_by_id == alice.pk
        assert_consistent(agreement)


def test_pause_everything_racing_the_other_partners_withdrawal_leaves_each_rule_resting_once():
    couples = Couples()
    for _ in range(ROUNDS):
        alice, bob, rules = three_in_force_and_one_waiting(couples)
        paused, withdrew = run_together(
            lambda: consent.pause_everything(partner=alice),
            lambda: consent.withdraw(partner=bob, rule=rules[0], note="Not this one."),
        )
        assert not isinstance(paused, Exception), paused
        assert not isinstance(withdrew, Exception), withdrew
        first = fresh(rules[0])
        assert first.state == State.PAUSED
        # Whoever came first holds the key to rule 1; the others rest with Alice's.
        assert first.withdrawn_by_id == (alice.pk if first.pk in {r.pk for r in paused} else bob.pk)
        assert {fresh(r).withdrawn_by_id for r in rules[1:3]} == {alice.pk}
        assert_consistent(Agreement.objects.get(pk=first.agreement_id))


def test_both_partners_pausing_at_once_rest_everything_and_one_pause_is_kept():
    couples = Couples()
    for _ in range(ROUNDS):
        alice, bob, rules = three_in_force_and_one_waiting(couples)
        results = run_together(
            lambda: consent.pause_everything(partner=alice, note="A"),
            lambda: consent.pause_everything(partner=bob, note="B"),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        first, second = results
        # The pause that took the locks first rested everything; the second found nothing.
        assert sorted(len(r) for r in results) == [0, 3]
        pauser = alice if first else bob
        agreement = agreement_of(alice)
        assert agreement.paused_by_id == pauser.pk
        assert {fresh(r).withdrawn_by_id for r in rules[:3]} == {pauser.pk}
        assert fresh(rules[3]).state == State.PROPOSED
        assert_consistent(agreement)
