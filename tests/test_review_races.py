"""Keep it racing Let it rest or a withdrawal, with real concurrent connections (threads), as
tests/test_races.py does for answers. Each service locks couple → agreement → rule, so one of
them happens wholly before the other; after every round agreements.invariants checks the whole
agreement (nothing in force that a current partner did not accept, nothing past its lapse).

RACE_ROUNDS sets the rounds per test (tests/concurrency.py)."""

from datetime import timedelta

from django.utils import timezone

from agreements import consent
from agreements.models import Event, Rule
from agreements.stories import as_of, both_accept
from tests.concurrency import RACES, ROUNDS, Couples, assert_consistent, run_together, unexpected
from tests.conftest import agreement_of, fresh

pytestmark = RACES

State = Rule.State
Kind = Event.Kind


def monthly_rules(days_ago: int):
    """A round each: a new couple with a rule reviewed monthly that both accepted `days_ago`."""
    couples = Couples()
    for _ in range(ROUNDS):
        alice, bob = couples.new()
        with as_of(timezone.now() - timedelta(days=days_ago)):
            rule = consent.propose_rule(
                partner=alice,
                agreement=agreement_of(alice),
                title="",
                text="Ours.",
                review_after="1m",
            )
            rule = both_accept(rule, alice, bob)
        yield alice, bob, fresh(rule)


def due_for_review():
    """A round each: a new couple with a rule both accepted a month and a day ago, reviewed
    monthly, due now; and the version in force."""
    for alice, bob, rule in monthly_rules(days_ago=32):
        assert rule.review_due
        yield alice, bob, rule, rule.current_version_id


def test_keep_racing_let_it_rest_always_ends_resting_with_the_one_who_let_it_rest():
    for alice, bob, rule, version in due_for_review():
        kept, rested = run_together(
            lambda: consent.keep(partner=alice, rule=rule, version_id=version),
            lambda: consent.let_rest(partner=bob, rule=rule, version_id=version, note="Not now."),
        )
        assert not isinstance(rested, Exception), rested
        assert not unexpected([kept]), kept
        after = fresh(rule)
        assert after.state == State.PAUSED and after.withdrawn_by_id == bob.pk
        # A keep that came first stays sealed for good; one that came second was refused.
        keeps = rule.events.filter(kind=Kind.KEEP_ANSWER)
        assert keeps.filter(private_to__isnull=True).count() == 0
        assert keeps.count() == (0 if isinstance(kept, Exception) else 1)
        assert_consistent(after)


def test_the_completing_keep_racing_a_withdrawal_never_loses_the_withdrawal():
    for alice, bob, rule, version in due_for_review():
        consent.keep(partner=bob, rule=rule, version_id=version)
        review_at = fresh(rule).review_at
        kept, withdrew = run_together(
            lambda: consent.keep(partner=alice, rule=rule, version_id=version),
            lambda: consent.withdraw(partner=bob, rule=rule, note="Stop."),
        )
        assert not isinstance(withdrew, Exception), withdrew
        assert not unexpected([kept]), kept
        after = fresh(rule)
        assert after.state == State.PAUSED and after.withdrawn_by_id == bob.pk
        kinds = list(rule.events.values_list("kind", flat=True))
        if isinstance(kept, Exception):  # the withdrawal came first: nothing left to keep
            assert Kind.KEPT not in kinds
        else:  # kept (the review moved on), then withdrawn
            assert kinds[-2:] == [Kind.KEPT, Kind.WITHDREW]
            assert after.review_at is None and review_at is not None
        assert_consistent(after)


def test_the_completing_keep_racing_the_others_let_it_rest_ends_one_way_or_the_other():
    for alice, bob, rule, version in due_for_review():
        consent.keep(partner=alice, rule=rule, version_id=version)
        kept, rested = run_together(
            lambda: consent.keep(partner=bob, rule=rule, version_id=version),
            lambda: consent.let_rest(partner=alice, rule=rule, version_id=version),
        )
        assert not unexpected([kept, rested]), (kept, rested)
        # Exactly one of them happened: kept (the review is over, so Let it rest is refused), or
        # rested (nothing left to keep).
        assert isinstance(kept, Exception) != isinstance(rested, Exception), (kept, rested)
        after = fresh(rule)
        if isinstance(rested, Exception):
            assert after.is_in_force and not after.review_due
        else:
            assert after.state == State.PAUSED and after.withdrawn_by_id == alice.pk
        assert_consistent(after)


def test_a_keep_racing_the_lapse_being_recorded_never_brings_a_lapsed_rule_back():
    for alice, _, rule in monthly_rules(days_ago=50):
        version = rule.agreed_version_id
        kept, recorded = run_together(
            lambda: consent.keep(partner=alice, rule=rule, version_id=version),
            lambda: consent.record_lapse(rule_id=rule.pk),
        )
        assert not unexpected([kept, recorded]), (kept, recorded)
        assert isinstance(kept, consent.ConsentError)
        assert rule.events.filter(kind=Kind.LAPSED).count() == 1
        after = fresh(rule)
        assert after.has_lapsed and not after.lapse_unrecorded
        assert_consistent(after)
