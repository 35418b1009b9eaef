"""Races with real concurrent connections (threads). Every consent change locks the couple, the
agreement and the rule in that order, in one transaction, so that two actions at once on one
agreement happen one after the other: a rule comes into force exactly once, with both current
partners' acceptances of the wording they saw, never after the partnership ended, and a
withdrawal always holds. After every round, agreements.invariants checks the whole agreement.

RACE_ROUNDS sets the rounds per test (tests/concurrency.py)."""

import pytest
from django.db import connection

from accounts import linking
from accounts.models import Couple
from agreements import consent
from agreements.invariants import check_agreement
from agreements.models import Acceptance, Agreement, Event, Rule
from tests.concurrency import RACES, ROUNDS, Couples, assert_consistent, run_together, unexpected
from tests.conftest import make_user, rules_of

pytestmark = RACES


def in_force_with_a_pending_change(alice, bob, rule, text: str) -> Rule:
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    consent.propose_change(partner=alice, rule=rule, title="", text=text)
    return Rule.objects.get(pk=rule.pk)


def test_two_partners_accepting_at_once_bring_the_rule_into_force_once():
    proposals = Couples().proposals()
    for _ in range(ROUNDS):
        alice, bob, rule = next(proposals)
        version = rule.pending_version_id
        results = run_together(
            lambda: consent.accept(partner=alice, rule=rule, version_id=version),
            lambda: consent.accept(partner=bob, rule=rule, version_id=version),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        rule.refresh_from_db()
        assert rule.state == "active"
        assert Event.objects.filter(rule=rule, kind="in_force").count() == 1
        assert Acceptance.objects.filter(version_id=version, withdrawn_at__isnull=True).count() == 2
        assert_consistent(rule)


def test_an_acceptance_racing_a_change_is_recorded_for_what_was_seen_or_refused():
    alice, bob = Couples().new()
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
        assert not isinstance(accepted, Exception) or isinstance(accepted, consent.StaleVersion)
        rule = Rule.objects.get(pk=rule.pk)
        # Whatever happened, Bob never holds a live acceptance of wording he did not see, and the
        # new wording is never in force with only Alice's acceptance.
        bobs = Acceptance.objects.filter(partner=bob, withdrawn_at__isnull=True).values_list(
            "version_id", flat=True
        )
        assert set(bobs) <= {seen}
        assert rule.current_version_id in (None, seen)
        assert_consistent(rule)
        if rule.state == "active":
            consent.withdraw(partner=alice, rule=rule)
            consent.reopen(partner=alice, rule=rule)


def test_withdrawing_while_a_change_is_accepted_never_loses_the_withdrawal():
    """The change's proposer withdraws while the other accepts the change: whichever is first,
    the withdrawal succeeds and the rule is not in force afterwards."""
    proposals = Couples().proposals()
    for n in range(ROUNDS):
        alice, bob, rule = next(proposals)
        rule = in_force_with_a_pending_change(alice, bob, rule, f"Changed {n}")
        change = rule.pending_version_id
        accepted, withdrew = run_together(
            lambda: consent.accept(partner=bob, rule=rule, version_id=change),
            lambda: consent.withdraw(partner=alice, rule=rule),
        )
        assert not isinstance(withdrew, Exception), withdrew
        assert not unexpected([accepted]), accepted
        rule = Rule.objects.get(pk=rule.pk)
        assert rule.state == "paused"
        assert rule.current_version_id is None
        assert rule.withdrawn_by_id == alice.pk
        assert not Acceptance.objects.filter(
            partner=alice, version__rule=rule, withdrawn_at__isnull=True
        ).exists()
        assert_consistent(rule)


def test_withdrawing_while_a_change_is_proposed_never_loses_the_withdrawal():
    proposals = Couples().proposals()
    for n in range(ROUNDS):
        alice, bob, rule = next(proposals)
        consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
        consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
        agreed = Rule.objects.get(pk=rule.pk).current_version_id
        withdrew, changed = run_together(
            lambda: consent.withdraw(partner=alice, rule=rule),
            lambda n=n: consent.propose_change(partner=bob, rule=rule, title="", text=f"B {n}"),
        )
        assert not isinstance(withdrew, Exception), withdrew
        assert not isinstance(changed, Exception), changed
        rule = Rule.objects.get(pk=rule.pk)
        assert rule.state == "paused"
        # The wording both had agreed is kept; Bob's wording waits as a proposal of its own.
        assert rule.agreed_version_id == agreed
        assert rule.pending_version.text == f"B {n}"
        assert_consistent(rule)


def test_two_changes_at_once_leave_one_of_them_waiting():
    proposals = Couples().proposals()
    for n in range(ROUNDS):
        alice, bob, rule = next(proposals)
        if n % 2:
            rule = in_force_with_a_pending_change(alice, bob, rule, f"First {n}")
        results = run_together(
            lambda n=n: consent.propose_change(partner=alice, rule=rule, title="", text=f"A {n}"),
            lambda n=n: consent.propose_change(partner=bob, rule=rule, title="", text=f"B {n}"),
        )
        assert not [r for r in results if isinstance(r, Exception)], results
        rule = Rule.objects.get(pk=rule.pk)
        assert rule.pending_version.text in (f"A {n}", f"B {n}")
        assert rule.latest_version_id == rule.pending_version_id
        assert_consistent(rule)


def test_accepting_while_ending_the_partnership_never_brings_a_rule_into_force_after_the_end():
    """One partner accepts in one session and ends the partnership in another, at the same
    instant. Either the acceptance lands first (and counts only if both accepted) or it is
    refused: nothing comes into force in an ended partnership."""
    couples = Couples()
    for n in range(ROUNDS):
        alice, bob = couples.new()
        rule = rules_of(alice)[0]
        version = rule.pending_version_id
        if n % 2:
            consent.accept(partner=bob, rule=rule, version_id=version)
        accepted, ended = run_together(
            lambda: consent.accept(partner=alice, rule=rule, version_id=version),
            lambda: linking.end_partnership(user=alice.user),
        )
        assert not isinstance(ended, Exception), ended
        assert not unexpected([accepted]), accepted
        rule = Rule.objects.get(pk=rule.pk)
        couple = Couple.objects.get(pk=alice.couple_id)
        assert couple.ended_at is not None
        if rule.state == "active":
            assert n % 2, "in force with one partner's acceptance"
            assert rule.in_force_since <= couple.ended_at
        assert_consistent(rule)


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


def test_a_transaction_that_loses_a_deadlock_is_run_again(couple, caplog):
    """Two transactions that lock two rows in opposite orders: PostgreSQL aborts one of them to
    break the deadlock, and retry_on_conflict runs it again, so both succeed. (Our own services
    take their locks in one order and never get here; this proves the net under them.) SQLite
    runs one whole transaction after the other, so there is nothing to lose there."""
    import threading

    from django.db import transaction

    from accounts.models import Partner
    from intimacy.db import retry_on_conflict

    postgres = connection.vendor == "postgresql"
    first, second = couple
    both_locked_one = threading.Barrier(2, timeout=30)
    attempts = []

    @retry_on_conflict
    def lock_both(a, b):
        attempts.append(a)
        with transaction.atomic():
            Partner.objects.select_for_update().get(pk=a)
            if postgres and len(attempts) <= 2:
                both_locked_one.wait()
            Partner.objects.select_for_update().get(pk=b)
        return "done"

    results = run_together(
        lambda: lock_both(first.pk, second.pk), lambda: lock_both(second.pk, first.pk)
    )
    assert results == ["done", "done"], results
    lost = [
        r for r in caplog.records if r.name == "intimacy.db" and "lost a race" in r.getMessage()
    ]
    if postgres:
        assert len(attempts) >= 3 and lost, (attempts, lost)
    else:
        assert len(attempts) == 2 and not lost


def test_a_transaction_is_not_run_again_for_other_errors_nor_inside_a_callers_transaction():
    from django.db import OperationalError, transaction

    from intimacy.db import retry_on_conflict

    calls = []

    class Deadlock(Exception):
        sqlstate = "40P01"

    @retry_on_conflict
    def fails(cause):
        calls.append(cause)
        raise OperationalError("lost") from cause

    with pytest.raises(OperationalError):
        fails(Exception("something else"))
    assert len(calls) == 1
    with pytest.raises(OperationalError), transaction.atomic():
        fails(Deadlock())
    assert len(calls) == 2
    with pytest.raises(OperationalError):
        fails(Deadlock())
    assert len(calls) == 2 + 4


def test_both_partners_answering_a_default_at_once_keep_the_invariants_every_round():
    """Sealed answers: whichever answer lands second reveals both; a decline holds, two yeses
    bring the rule into force once, and nothing is ever in force that one did not accept."""
    proposals = Couples().proposals()
    answers = (consent.accept, consent.not_yet, consent.decline)
    for n in range(ROUNDS):
        alice, bob, rule = next(proposals)
        version = rule.pending_version_id
        first, second = answers[n % 3], answers[(n // 3) % 3]
        results = run_together(
            lambda: first(partner=alice, rule=rule, version_id=version),
            lambda: second(partner=bob, rule=rule, version_id=version),
        )
        assert unexpected(results) == [], results
        rule.refresh_from_db()
        said = {first.__name__, second.__name__}
        if said == {"accept"}:
            assert rule.state == "active"
        elif "decline" in said:
            assert rule.state == "declined"
        else:
            assert rule.state == "proposed"
        assert not Event.objects.filter(rule=rule, private_to__isnull=False).exists()
        assert_consistent(rule)


def test_a_draft_written_while_the_couple_forms_is_promoted_or_refused():
    """A person writes a draft at the very moment they accept an invitation: the draft is
    either in before the couple forms (and becomes their proposal) or refused after it, never
    left behind unseen."""
    from agreements import drafts
    from agreements.models import Draft

    for n in range(ROUNDS):
        inviter = make_user(f"di{n}@example.com", "I")
        joiner = make_user(f"dj{n}@example.com", "J")
        invitation = linking.create_invitation(inviter=inviter)
        accepted, drafted = run_together(
            lambda: linking.accept_invitation(token=invitation.token, user=joiner),
            lambda: drafts.save_draft(user=joiner, text=f"Draft {n}"),
        )
        assert isinstance(accepted, Couple), accepted
        assert not Draft.objects.filter(user=joiner).exists()
        agreement = Agreement.objects.get(couple=accepted)
        promoted = (
            [v.text for v in agreement.rules.get(position=10).versions.all()]
            if (agreement.rules.filter(position=10).exists())
            else []
        )
        if isinstance(drafted, drafts.DraftError):
            assert promoted == []
        else:
            assert promoted == [f"Draft {n}"], drafted
        assert check_agreement(agreement) == []


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_a_draft_checked_alone_before_the_couple_forms_waits_for_the_link_to_commit():
    """The interleaving the person's row lock exists for, forced rather than hoped for: the
    writer checks "still alone" while the invitation is being accepted, and the couple's drafts
    are promoted before the writer saves. Without the lock the draft would be saved after the
    promotion, kept with nobody to see it; with it, the writer waits for the link to commit and
    is told to propose on the shared agreement."""
    import threading
    from unittest import mock

    from agreements import drafts
    from agreements.models import Draft

    promoting, checked, promoted = threading.Event(), threading.Event(), threading.Event()
    real_check, real_promote = drafts._check_alone, drafts.promote

    def check_then_wait(user):
        real_check(user)
        checked.set()
        promoted.wait(timeout=3)  # without the lock: the promotion happens right here

    def promote_once_checked(**kwargs):
        promoting.set()  # the people's rows are locked by now
        checked.wait(timeout=1)  # with the lock the writer is blocked before its check
        found = real_promote(**kwargs)
        promoted.set()
        return found

    def write_while_joining():
        promoting.wait(timeout=3)
        return drafts.save_draft(user=joiner, text="Written while joining")

    inviter = make_user("lock-i@example.com", "I")
    joiner = make_user("lock-j@example.com", "J")
    invitation = linking.create_invitation(inviter=inviter)
    with (
        mock.patch.object(drafts, "_check_alone", check_then_wait),
        mock.patch.object(drafts, "promote", promote_once_checked),
    ):
        accepted, drafted = run_together(
            lambda: linking.accept_invitation(token=invitation.token, user=joiner),
            write_while_joining,
        )
    assert promoting.is_set()
    assert isinstance(accepted, Couple), accepted
    assert isinstance(drafted, drafts.DraftError), drafted
    assert "linked" in drafted.message
    assert not Draft.objects.filter(user=joiner).exists()
    assert check_agreement(Agreement.objects.get(couple=accepted)) == []


def test_the_decliner_accepting_while_the_proposer_takes_it_back_keep_the_invariants():
    """After a decline the proposer's yes stands: the decliner's late yes and the proposer's take
    back race; the rule comes into force only if the yes still stood when the accept ran."""
    couples = Couples()
    for _ in range(ROUNDS):
        alice, bob = couples.new()
        rule = consent.propose_rule(
            partner=alice,
            agreement=Agreement.objects.get(couple=alice.couple),
            title="T",
            text="Tea in bed.",
        )
        consent.decline(partner=bob, rule=rule, version_id=rule.pending_version_id)
        rule.refresh_from_db()
        declined = rule.latest_version_id
        results = run_together(
            lambda: consent.accept(partner=bob, rule=rule, version_id=declined),
            lambda: consent.take_back(partner=alice, rule=rule, version_id=declined),
        )
        assert unexpected(results) == [], results
        rule.refresh_from_db()
        accepted, took_back = (not isinstance(r, Exception) for r in results)
        assert accepted or took_back
        assert rule.state == ("active" if accepted else "declined")
        assert_consistent(rule)
