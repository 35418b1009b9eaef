"""Races with real concurrent connections (threads). Every consent change takes the rule's row
lock in one transaction, so that two partners acting at once bring a rule into force exactly once,
and no acceptance is ever recorded for wording the partner did not see."""

import pytest
from django.db import connection

from accounts import linking
from accounts.models import Couple
from agreements import consent
from agreements.models import Acceptance, Event, Rule
from tests.concurrency import run_together
from tests.conftest import link, make_user, rules_of

ROUNDS = 15


pytestmark = pytest.mark.django_db(transaction=True)


def test_two_partners_accepting_at_once_bring_the_rule_into_force_once():
    alice, bob = link(make_user("a@example.com", "A"), make_user("b@example.com", "B"))
    for rule in rules_of(alice)[: min(ROUNDS, 9)]:
        version = rule.pending_version_id
        results = run_together(
            lambda r=rule: consent.accept(partner=alice, rule=r, version_id=version),
            lambda r=rule: consent.accept(partner=bob, rule=r, version_id=version),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        rule.refresh_from_db()
        assert rule.state == "active"
        assert Event.objects.filter(rule=rule, kind="in_force").count() == 1
        assert Acceptance.objects.filter(version_id=version, withdrawn_at__isnull=True).count() == 2


def test_an_acceptance_racing_a_change_is_recorded_for_what_was_seen_or_refused():
    alice, bob = link(make_user("a@example.com", "A"), make_user("b@example.com", "B"))
    rule = rules_of(alice)[0]
    for n in range(ROUNDS):
        rule = Rule.objects.get(pk=rule.pk)
        seen = rule.pending_version_id
        results = run_together(
            lambda: consent.accept(partner=bob, rule=rule, version_id=seen),
            lambda n=n: consent.propose_change(
                partner=alice, rule=rule, title="", text=f"Wording {n}"
            ),
        )
        accepted, changed = results
        assert not isinstance(changed, Exception), changed
        assert (
            accepted is None
            or not isinstance(accepted, Exception)
            or isinstance(accepted, consent.StaleVersion)
        )
        rule = Rule.objects.get(pk=rule.pk)
        # Whatever happened, Bob never holds a live acceptance of wording he did not see, and the
        # new wording is never in force with only Alice's acceptance.
        bobs = Acceptance.objects.filter(partner=bob, withdrawn_at__isnull=True).values_list(
            "version_id", flat=True
        )
        assert set(bobs) <= {seen}
        assert rule.current_version_id in (None, seen)
        if rule.state == "active":
            # Bob's acceptance landed first and brought the seen wording into force
            assert rule.current_version_id == seen
        consent.withdraw(partner=alice, rule=rule) if rule.state == "active" else None


def test_two_accepts_of_one_invitation_make_exactly_one_couple():
    for n in range(ROUNDS):
        inviter = make_user(f"inviter{n}@example.com", "I")
        first, second = make_user(f"x{n}@example.com", "X"), make_user(f"y{n}@example.com", "Y")
        invitation = linking.create_invitation(inviter=inviter)
        results = run_together(
            lambda: linking.accept_invitation(token=invitation.token, user=first),
            lambda: linking.accept_invitation(token=invitation.token, user=second),
        )
        couples = [r for r in results if isinstance(r, Couple)]
        refused = [r for r in results if isinstance(r, linking.LinkingError)]
        assert len(couples) == 1 and len(refused) == 1, results
    assert Couple.objects.count() == ROUNDS


def test_one_person_accepting_two_invitations_at_once_joins_one_couple():
    for n in range(ROUNDS):
        joiner = make_user(f"j{n}@example.com", "J")
        invitations = [
            linking.create_invitation(inviter=make_user(f"i{n}{k}@example.com", "I"))
            for k in (1, 2)
        ]
        results = run_together(
            *(
                lambda inv=inv: linking.accept_invitation(token=inv.token, user=joiner)
                for inv in invitations
            )
        )
        assert len([r for r in results if isinstance(r, Couple)]) == 1, results
        assert joiner.partner_seats.filter(left_at__isnull=True).count() == 1


def test_the_races_ran_on_a_real_database():
    assert connection.vendor in ("postgresql", "sqlite")
