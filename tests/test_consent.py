"""The consent workflow: a rule is in force only when both partners accept the same wording."""

import pytest

from accounts.models import Partner
from agreements import consent
from agreements.defaults import DEFAULT_RULES
from agreements.models import Acceptance, Agreement, Event, Rule, RuleVersion
from tests.conftest import agreement_of, fresh, rules_of

State = Rule.State


def accept(seat, rule):
    return consent.accept(partner=seat, rule=rule, version_id=fresh(rule).pending_version_id)


def in_force(seats, rule) -> Rule:
    for seat in seats:
        accept(seat, rule)
    return fresh(rule)


def test_a_new_couple_starts_with_the_nine_default_rules_as_proposals(couple):
    rules = rules_of(couple[0])
    assert [r.latest_version.title for r in rules] == [title for title, _ in DEFAULT_RULES]
    assert {r.state for r in rules} == {State.PROPOSED}
    assert not Acceptance.objects.exists()
    assert Event.objects.filter(kind=Event.Kind.CREATED).count() == 1


def test_one_acceptance_does_not_bring_a_rule_into_force(couple):
    alice, _ = couple
    rule = rules_of(alice)[0]
    accept(alice, rule)
    rule = fresh(rule)
    assert rule.state == State.PROPOSED
    assert rule.current_version is None


def test_both_accepting_the_same_version_brings_it_into_force_once(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    assert rule.state == State.ACTIVE
    assert rule.current_version.number == 1
    assert rule.in_force_since is not None
    assert Event.objects.filter(rule=rule, kind=Event.Kind.IN_FORCE).count() == 1


def test_accepting_twice_is_harmless(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    version = rule.pending_version_id
    consent.accept(partner=alice, rule=rule, version_id=version)
    consent.accept(partner=alice, rule=rule, version_id=version)
    consent.accept(partner=bob, rule=rule, version_id=version)
    consent.accept(partner=bob, rule=rule, version_id=version)
    assert Acceptance.objects.filter(version_id=version).count() == 2
    assert Event.objects.filter(rule=rule, kind=Event.Kind.IN_FORCE).count() == 1


def test_accepting_stale_version_is_refused(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    seen = rule.pending_version_id
    consent.propose_change(partner=alice, rule=rule, title="T", text="A different wording")
    with pytest.raises(consent.StaleVersion):
        consent.accept(partner=bob, rule=rule, version_id=seen)
    assert not Acceptance.objects.filter(partner=bob).exists()
    assert fresh(rule).state == State.PROPOSED


def test_a_change_to_a_rule_in_force_needs_both_again_and_the_old_wording_stays_in_force(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    old = rule.current_version_id
    consent.propose_change(partner=bob, rule=rule, title="T", text="New words")
    rule = fresh(rule)
    assert rule.state == State.ACTIVE
    assert rule.current_version_id == old
    assert rule.pending_version.text == "New words"
    assert rule.has_pending_change
    consent.accept(partner=alice, rule=rule, version_id=rule.pending_version_id)
    rule = fresh(rule)
    assert rule.current_version.text == "New words"
    assert rule.pending_version is None


def test_proposing_a_change_records_the_proposers_acceptance_and_voids_earlier_ones(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    accept(bob, rule)
    consent.propose_change(partner=alice, rule=rule, title="", text="Alice's words")
    rule = fresh(rule)
    live = Acceptance.objects.filter(version=rule.pending_version, withdrawn_at__isnull=True)
    assert [a.partner for a in live] == [alice]
    assert not Acceptance.objects.filter(partner=bob, withdrawn_at__isnull=True).exists()


def test_a_change_that_only_differs_in_whitespace_creates_nothing(couple):
    alice, _ = couple
    rule = rules_of(alice)[0]
    version = rule.pending_version
    with pytest.raises(consent.NothingChanged):
        consent.propose_change(
            partner=alice,
            rule=rule,
            title=f"  {version.title} ",
            text=version.text.replace(" ", "   \n"),
        )
    assert RuleVersion.objects.filter(rule=rule).count() == 1


def test_withdrawing_consent_rests_the_rule_at_once_and_needs_both_again(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    agreed = rule.current_version_id
    consent.withdraw(partner=bob, rule=rule, note="")
    rule = fresh(rule)
    assert rule.state == State.PAUSED
    assert rule.current_version is None
    assert rule.agreed_version_id == agreed
    assert not Acceptance.objects.filter(withdrawn_at__isnull=True).exists()
    # Alice cannot put it back in force alone: nothing waits on a resting rule.
    with pytest.raises(consent.ConsentError):
        consent.accept(partner=alice, rule=rule, version_id=agreed)
    consent.reopen(partner=bob, rule=rule)
    accept(alice, rule)
    rule = fresh(rule)
    assert rule.state == State.ACTIVE
    assert rule.current_version.text == Rule.objects.get(pk=rule.pk).latest_version.text


def test_withdrawing_twice_is_harmless(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    consent.withdraw(partner=bob, rule=rule)
    consent.withdraw(partner=bob, rule=rule)
    assert Event.objects.filter(rule=rule, kind=Event.Kind.WITHDREW).count() == 1


def test_withdrawing_from_a_proposal_is_refused(couple):
    alice, _ = couple
    rule = rules_of(alice)[0]
    with pytest.raises(consent.ConsentError):
        consent.withdraw(partner=alice, rule=rule)
    assert fresh(rule).state == State.PROPOSED


def test_withdrawing_a_rule_with_a_pending_change_rests_it_with_the_change_waiting_apart(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    agreed = rule.current_version_id
    consent.propose_change(partner=alice, rule=rule, title="", text="Changed")
    consent.withdraw(partner=bob, rule=rule)
    rule = fresh(rule)
    assert rule.state == State.PAUSED
    assert rule.agreed_version_id == agreed
    assert rule.wording.pk == agreed
    assert rule.pending_version.text == "Changed"
    live = Acceptance.objects.filter(version__rule=rule, withdrawn_at__isnull=True)
    # Alice's proposal stays hers; nobody's consent to the wording that was in force remains.
    assert [(a.partner, a.version_id) for a in live] == [(alice, rule.pending_version_id)]


def test_not_yet_keeps_the_proposal_open_and_takes_back_only_my_acceptance(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    accept(alice, rule)
    accept_version = fresh(rule).pending_version_id
    consent.not_yet(
        partner=bob, rule=rule, version_id=accept_version, note="I'd like to talk first"
    )
    assert fresh(rule).state == State.PROPOSED
    assert Acceptance.objects.filter(partner=alice, withdrawn_at__isnull=True).count() == 1
    consent.not_yet(partner=alice, rule=rule, version_id=accept_version)
    assert not Acceptance.objects.filter(withdrawn_at__isnull=True).exists()
    assert Event.objects.get(kind=Event.Kind.NOT_YET, partner=bob).note == "I'd like to talk first"


def test_declining_ends_the_proposal(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    accept(alice, rule)
    consent.decline(partner=bob, rule=rule, version_id=rule.pending_version_id, note="No")
    rule = fresh(rule)
    assert rule.state == State.DECLINED
    assert rule.pending_version is None
    # Alice's yes stands, so Bob may still accept; once she takes it back, he may not.
    assert rule.may_accept_declined(bob.pk)
    consent.take_back(partner=alice, rule=rule, version_id=rule.latest_version_id)
    with pytest.raises(consent.ConsentError):
        consent.accept(partner=bob, rule=fresh(rule), version_id=rule.latest_version_id)


def test_declining_a_change_leaves_the_wording_in_force(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    consent.propose_change(partner=alice, rule=rule, title="", text="Changed")
    rule = fresh(rule)
    consent.decline(partner=bob, rule=rule, version_id=rule.pending_version_id)
    rule = fresh(rule)
    assert rule.state == State.ACTIVE
    assert rule.current_version.number == 1
    assert rule.pending_version is None


def test_a_declined_rule_can_be_proposed_again_with_new_wording(couple):
    alice, bob = couple
    rule = rules_of(alice)[0]
    consent.decline(partner=bob, rule=rule, version_id=rule.pending_version_id)
    consent.propose_change(partner=bob, rule=rule, title="", text="Better")
    assert fresh(rule).state == State.PROPOSED


def test_archiving_a_rule_in_force_is_refused_and_an_archived_rule_can_be_restored(couple):
    alice, bob = couple
    rules = rules_of(alice)
    active = in_force(couple, rules[0])
    with pytest.raises(consent.ConsentError):
        consent.archive(partner=alice, rule=active)
    consent.archive(partner=alice, rule=rules[1])
    assert fresh(rules[1]).state == State.ARCHIVED
    with pytest.raises(consent.ConsentError):
        consent.accept(partner=bob, rule=rules[1], version_id=rules[1].latest_version_id)
    consent.restore(partner=bob, rule=rules[1])
    rule = fresh(rules[1])
    assert rule.state == State.PROPOSED
    accept(alice, rule)
    assert fresh(rule).state == State.ACTIVE


def test_a_new_rule_is_proposed_with_its_proposers_acceptance(couple, agreement):
    alice, bob = couple
    rule = consent.propose_rule(
        partner=alice, agreement=agreement, title="Check in", text="Weekly check-in."
    )
    assert rule.position == 10
    assert rule.state == State.PROPOSED
    consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    assert fresh(rule).state == State.ACTIVE


def test_a_partner_of_another_couple_cannot_touch_the_rule(couple, other_couple):
    rule = rules_of(couple[0])[0]
    with pytest.raises(PermissionError):
        consent.accept(partner=other_couple[0], rule=rule, version_id=rule.pending_version_id)
    assert not Acceptance.objects.exists()


def test_an_archived_agreement_cannot_be_changed(couple, alice):
    from accounts import linking

    rule = rules_of(couple[0])[0]
    linking.end_partnership(user=alice)
    seat = couple[1]
    seat.refresh_from_db()
    with pytest.raises((consent.ConsentError, PermissionError)):
        consent.accept(partner=seat, rule=rule, version_id=rule.pending_version_id)


def test_history_is_append_only(couple):
    alice, bob = couple
    rule = in_force(couple, rules_of(alice)[0])
    consent.propose_change(partner=alice, rule=rule, title="", text="Two")
    consent.withdraw(partner=bob, rule=rule)
    texts = list(
        RuleVersion.objects.filter(rule=rule).order_by("number").values_list("number", flat=True)
    )
    assert texts == [1, 2]
    kinds = list(Event.objects.filter(rule=rule).values_list("kind", flat=True))
    assert kinds == ["accepted", "accepted", "in_force", "proposed_change", "withdrew"]


def test_every_event_moves_the_agreement_revision_but_a_sealed_answer_only_its_authors(
    couple, agreement
):
    alice, bob = couple
    before = Agreement.objects.get(pk=agreement.pk).revision
    rule = rules_of(alice)[0]
    accept(alice, rule)  # sealed: Bob has not answered the default yet
    assert Agreement.objects.get(pk=agreement.pk).revision == before
    assert Partner.objects.get(pk=alice.pk).sealed_revision == 1
    assert Partner.objects.get(pk=bob.pk).sealed_revision == 0
    accept(bob, rule)  # both answered: revealed, and in force
    assert Agreement.objects.get(pk=agreement.pk).revision > before


def test_the_partner_gets_one_neutral_email_an_hour(
    couple, mailoutbox, django_capture_on_commit_callbacks
):
    alice, bob = couple
    agreement = agreement_of(bob)
    # Bob's own proposals: Alice's answers to them are not sealed (a proposal is his yes).
    rules = [
        consent.propose_rule(partner=bob, agreement=agreement, title=f"R{n}", text=f"Ours {n}.")
        for n in range(2)
    ]
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        for rule in rules:
            consent.not_yet(partner=alice, rule=rule, version_id=rule.pending_version_id)
    assert [m.to for m in mailoutbox] == [["bob@example.com"]]
    message = mailoutbox[0]
    assert message.subject == "You have an update on Rules of the Road"
    assert "Your partner updated your shared agreement" in message.body
    for title, text in DEFAULT_RULES:
        assert text not in message.body and title not in message.body


def test_no_partner_email_when_turned_off(
    couple, bob, mailoutbox, django_capture_on_commit_callbacks
):
    bob.partner_update_emails = False
    bob.save()
    rule = consent.propose_rule(
        partner=couple[1], agreement=agreement_of(couple[1]), title="T", text="Ours."
    )
    with django_capture_on_commit_callbacks(execute=True):
        consent.not_yet(partner=couple[0], rule=rule, version_id=rule.pending_version_id)
    assert mailoutbox == []
