"""A therapist invites with a one-time link; the couple decides. Access starts only when both
partners agree, at the level they chose; either can narrow or end it alone, at once. Service level:
the pages' own tests live with the views."""

import hashlib
from datetime import timedelta

import pytest
from django.core import mail
from django.http import Http404
from django.test import RequestFactory
from django.utils import timezone

from accounts import linking
from accounts.models import User
from agreements import access, therapy
from agreements.consent import ConsentError
from agreements.models import Agreement, ClientLink, Event, TherapistAccess
from tests.conftest import make_user

Status = TherapistAccess.Status
Scope = TherapistAccess.Scope


def agreement_of(seat) -> Agreement:
    return Agreement.objects.get(couple_id=seat.couple_id)


def gate(user: User, agreement: Agreement) -> TherapistAccess:
    """What every therapist page asks first: the live access, or a 404."""
    request = RequestFactory().get("/therapist/")
    request.user = user
    return access.therapist_access_or_404(request, agreement.pk)


def sees(user: User, agreement: Agreement) -> bool:
    try:
        gate(user, agreement)
    except Http404:
        return False
    return True


def seen_links(therapist: User) -> list[tuple]:
    """The open links as the therapist's page can see them."""
    return [(link.pk, link.created_at, link.expires_at) for link in therapy.open_links(therapist)]


@pytest.fixture
def token(dana) -> str:
    return therapy.create_client_link(therapist=dana)[1]


def granted(seats, token: str, scope: str = Scope.RULES) -> TherapistAccess:
    first, second = seats
    asked = therapy.ask_partner(partner=first, token=token, scope=scope)
    return therapy.agree(partner=second, access_id=asked.pk)


# -- the link -------------------------------------------------------------------------------------


def test_a_client_link_holds_256_bits_and_only_their_digest_is_stored(dana):
    link, token = therapy.create_client_link(therapist=dana)
    assert len(token) >= 43  # 32 bytes, base64 without padding
    assert link.token_digest == hashlib.sha256(token.encode()).hexdigest()
    stored = ClientLink.objects.filter(pk=link.pk).values().get()
    assert token not in [str(value) for value in stored.values()]
    assert link.expires_at - link.created_at == timedelta(days=14)
    assert therapy.find_usable_link(token) == link


def test_only_a_therapist_can_make_a_client_link(alice):
    with pytest.raises(PermissionError):
        therapy.create_client_link(therapist=alice)


def test_a_forged_a_used_an_expired_and_a_cancelled_link_all_answer_like_a_missing_one(
    dana, couple, other_couple
):
    _, used = therapy.create_client_link(therapist=dana)
    therapy.ask_partner(partner=other_couple[0], token=used, scope=Scope.RULES)
    expired_link, expired = therapy.create_client_link(therapist=dana)
    ClientLink.objects.filter(pk=expired_link.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    cancelled_link, cancelled = therapy.create_client_link(therapist=dana)
    therapy.cancel_client_link(therapist=dana, link_id=cancelled_link.pk)
    forged = "x" * 43
    before = TherapistAccess.objects.count()

    for token in (forged, used, expired, cancelled, "", "y" * 5000):
        assert therapy.find_usable_link(token) is None
        with pytest.raises(therapy.LinkNotFound):
            therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    assert TherapistAccess.objects.count() == before


def test_a_link_is_used_once_a_partner_asks_with_it(dana, couple, other_couple, token):
    therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    for seat in (couple[1], other_couple[0]):
        with pytest.raises(therapy.LinkNotFound):
            therapy.ask_partner(partner=seat, token=token, scope=Scope.RULES)
    assert TherapistAccess.objects.count() == 1


def test_a_link_of_a_therapist_who_is_no_longer_a_therapist_opens_nothing(dana, couple, token):
    User.objects.filter(pk=dana.pk).update(is_active=False)
    assert therapy.find_usable_link(token) is None
    with pytest.raises(therapy.LinkNotFound):
        therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)


def test_a_therapist_cancels_only_their_own_open_links(dana, couple):
    rita = make_user("rita@example.com", "Rita", therapist=True)
    link, token = therapy.create_client_link(therapist=dana)
    with pytest.raises(therapy.LinkNotFound):
        therapy.cancel_client_link(therapist=rita, link_id=link.pk)
    therapy.cancel_client_link(therapist=dana, link_id=link.pk)
    assert seen_links(dana) == []
    with pytest.raises(therapy.LinkNotFound):
        therapy.cancel_client_link(therapist=dana, link_id=link.pk)  # cancelled already
    with pytest.raises(therapy.LinkNotFound):
        therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)


def test_cancelling_a_link_ends_a_request_already_made_with_it(dana, couple):
    link, token = therapy.create_client_link(therapist=dana)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.HISTORY)
    therapy.cancel_client_link(therapist=dana, link_id=link.pk)
    with pytest.raises(ConsentError):
        therapy.agree(partner=couple[1], access_id=asked.pk)
    asked.refresh_from_db()
    assert asked.status == Status.ENDED
    assert not sees(dana, agreement_of(couple[0]))


def test_an_expired_link_leaves_the_therapists_list(dana):
    link, _ = therapy.create_client_link(therapist=dana)
    assert [row[0] for row in seen_links(dana)] == [link.pk]
    ClientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert seen_links(dana) == []


# -- both partners, or nothing --------------------------------------------------------------------


def test_until_both_agree_the_therapist_learns_nothing_not_even_that_the_link_was_opened(
    dana, couple, django_capture_on_commit_callbacks
):
    asked_link, token = therapy.create_client_link(therapist=dana)
    untouched, _ = therapy.create_client_link(therapist=dana)
    before = seen_links(dana)
    with django_capture_on_commit_callbacks(execute=True):
        asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.HISTORY)
    assert asked.status == Status.REQUESTED
    assert seen_links(dana) == before  # still listed, exactly as before
    assert not sees(dana, agreement_of(couple[0]))
    assert not TherapistAccess.objects.filter(therapist=dana, status=Status.ACTIVE).exists()
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]  # the partner, neutrally

    with django_capture_on_commit_callbacks(execute=True):
        therapy.agree(partner=couple[1], access_id=asked.pk)
    assert sees(dana, agreement_of(couple[0]))
    assert [row[0] for row in seen_links(dana)] == [untouched.pk]
    assert mail.outbox[-1].to == ["dana@example.com"]


def test_a_declined_request_looks_exactly_like_an_unopened_link(dana, couple):
    _, token = therapy.create_client_link(therapist=dana)
    before = seen_links(dana)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    therapy.decline(partner=couple[1], access_id=asked.pk)
    assert seen_links(dana) == before
    assert not sees(dana, agreement_of(couple[0]))


def test_the_partner_who_asked_cannot_agree_for_the_other(dana, couple, token):
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    with pytest.raises(ConsentError):
        therapy.agree(partner=couple[0], access_id=asked.pk)
    assert not sees(dana, agreement_of(couple[0]))


def test_the_partner_who_asked_can_take_the_request_back(dana, couple, token):
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    therapy.decline(partner=couple[0], access_id=asked.pk)
    with pytest.raises(ConsentError):
        therapy.agree(partner=couple[1], access_id=asked.pk)
    assert not sees(dana, agreement_of(couple[0]))


def test_someone_outside_the_couple_can_neither_agree_nor_decline(dana, couple, other_couple):
    _, token = therapy.create_client_link(therapist=dana)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope=Scope.RULES)
    for action in (therapy.agree, therapy.decline, therapy.narrow_scope, therapy.widen_scope):
        with pytest.raises(PermissionError):
            action(partner=other_couple[0], access_id=asked.pk)
    with pytest.raises(PermissionError):
        therapy.end_access(partner=other_couple[1], access_id=asked.pk)
    assert TherapistAccess.objects.get(pk=asked.pk).status == Status.REQUESTED


def test_asking_again_for_a_therapist_already_asked_keeps_the_new_link_unused(dana, couple):
    granted(couple, therapy.create_client_link(therapist=dana)[1])
    link, token = therapy.create_client_link(therapist=dana)
    with pytest.raises(ConsentError):
        therapy.ask_partner(partner=couple[1], token=token, scope=Scope.HISTORY)
    assert therapy.find_usable_link(token) == link


def test_the_statement_says_who_reads_and_what_each_level_shares(dana, couple, token):
    User.objects.filter(pk=dana.pk).update(practice_name="Harbour Practice")
    dana.refresh_from_db()
    rules = therapy.statement(Scope.RULES, dana)
    history = therapy.statement(Scope.HISTORY, dana)
    # The name is isolated in the kept plain text (U+2068 … U+2069: the plain-text <bdi>).
    assert "\u2068Dana (Harbour Practice)\u2069 would see the rules:" in rules
    assert "would not see earlier wordings" in rules
    assert "every earlier wording, every note" in history
    assert "the timeline" in history
    access_ = granted(couple, token, Scope.HISTORY)
    assert access_.scope == Scope.HISTORY
    assert access_.statement == history


def test_an_access_that_points_at_nobody_never_starts_and_can_be_ended(couple):
    nobody = TherapistAccess.objects.create(
        agreement=agreement_of(couple[0]),
        email="ruth.therapist@example.org",
        requested_by=couple[0],
    )
    assert nobody.points_at_nobody
    with pytest.raises(ConsentError):
        therapy.agree(partner=couple[1], access_id=nobody.pk)
    # An old one that was "granted" to nobody: either partner ends it.
    TherapistAccess.objects.filter(pk=nobody.pk).update(status=Status.ACTIVE)
    therapy.end_access(partner=couple[1], access_id=nobody.pk)
    assert TherapistAccess.objects.get(pk=nobody.pk).status == Status.ENDED


# -- levels, narrowing and ending -----------------------------------------------------------------


def test_widening_to_the_history_needs_both_partners(dana, couple, token):
    live = granted(couple, token, Scope.RULES)
    asked = therapy.widen_scope(partner=couple[0], access_id=live.pk)
    assert (asked.scope, asked.requested_scope) == (Scope.RULES, Scope.HISTORY)
    again = therapy.widen_scope(partner=couple[0], access_id=live.pk)  # a double submit
    assert again.scope == Scope.RULES
    assert not gate(dana, agreement_of(couple[0])).shares_history

    therapy.widen_scope(partner=couple[1], access_id=live.pk)
    now = gate(dana, agreement_of(couple[0]))
    assert now.shares_history
    assert now.requested_scope == ""
    assert now.statement == therapy.statement(Scope.HISTORY, dana)


@pytest.mark.parametrize("who", [0, 1])
def test_either_partner_narrows_alone_and_at_once(dana, couple, token, who):
    live = granted(couple, token, Scope.HISTORY)
    assert gate(dana, agreement_of(couple[0])).shares_history
    therapy.narrow_scope(partner=couple[who], access_id=live.pk)
    assert not gate(dana, agreement_of(couple[0])).shares_history
    assert Event.objects.filter(kind=Event.Kind.SCOPE_NARROWED, partner=couple[who]).count() == 1


def test_narrowing_drops_a_widening_that_was_waiting(dana, couple, token):
    live = granted(couple, token, Scope.RULES)
    therapy.widen_scope(partner=couple[0], access_id=live.pk)
    therapy.narrow_scope(partner=couple[1], access_id=live.pk)
    therapy.widen_scope(partner=couple[1], access_id=live.pk)  # now only a new ask
    assert not gate(dana, agreement_of(couple[0])).shares_history


@pytest.mark.parametrize("who", ["first", "second", "therapist"])
def test_ending_takes_effect_at_once_for_whoever_ends_it(dana, couple, token, who):
    live = granted(couple, token, Scope.HISTORY)
    if who == "therapist":
        therapy.end_access(therapist=dana, access_id=live.pk)
    else:
        therapy.end_access(partner=couple[0 if who == "first" else 1], access_id=live.pk)
    assert not sees(dana, agreement_of(couple[0]))
    with pytest.raises(PermissionError):
        therapy.add_comment(agreement=agreement_of(couple[0]), therapist=dana, text="Hello?")


def test_another_therapist_cannot_end_or_use_an_access(dana, couple, token):
    rita = make_user("rita@example.com", "Rita", therapist=True)
    live = granted(couple, token)
    with pytest.raises(PermissionError):
        therapy.end_access(therapist=rita, access_id=live.pk)
    assert not sees(rita, agreement_of(couple[0]))
    assert sees(dana, agreement_of(couple[0]))


def test_ending_the_partnership_ends_the_access(dana, couple, alice, token):
    granted(couple, token)
    linking.end_partnership(user=alice)
    assert not sees(dana, agreement_of(couple[0]))


def test_an_access_granted_the_old_way_keeps_working_at_the_rules_level(dana, couple):
    old = TherapistAccess.objects.create(
        agreement=agreement_of(couple[0]),
        therapist=dana,
        email="dana@example.com",
        requested_by=couple[0],
        approved_by=couple[1],
        status=Status.ACTIVE,
        granted_at=timezone.now(),
    )
    assert (old.scope, old.client_link_id) == (Scope.RULES, None)
    live = gate(dana, agreement_of(couple[0]))
    assert live == old and not live.shares_history
    therapy.widen_scope(partner=couple[0], access_id=old.pk)
    therapy.widen_scope(partner=couple[1], access_id=old.pk)
    assert gate(dana, agreement_of(couple[0])).shares_history
