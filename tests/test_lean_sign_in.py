"""The signed-in user is read with their current seat, couple, agreement and both partners in one
statement per request (accounts/backends.py): the same rows the ORM would give, read afresh on
every request, so that nothing about a person or a partnership is ever seen late."""

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user
from django.test import RequestFactory
from django.urls import reverse

from accounts import linking
from accounts.backends import read_user, seat_read_with, second_factor_read_with
from accounts.models import Partner, User
from agreements import consent
from tests.conftest import agreement_of, client_for, rules_of


def test_the_user_and_the_seat_are_the_rows_the_orm_reads(couple):
    alice, bob = couple
    user = read_user(alice.user_id)
    assert [(f.name, getattr(user, f.attname)) for f in User._meta.concrete_fields] == [
        (f.name, getattr(alice.user, f.attname)) for f in User._meta.concrete_fields
    ]
    seat = seat_read_with(user)
    assert seat.pk == alice.pk and seat.user is user
    assert seat.couple.agreement == agreement_of(alice)
    assert seat.couple.agreement.revision == agreement_of(alice).revision
    assert [(p.pk, p.user.display_name) for p in seat.couple.partners.all()] == [
        (p.pk, p.user.display_name) for p in Partner.objects.filter(couple=seat.couple)
    ]


def test_someone_without_a_couple_has_no_seat_and_a_stranger_no_user(mallory):
    assert seat_read_with(read_user(mallory.pk)) is None
    assert read_user(10**9) is None


def test_a_user_read_another_way_carries_no_seat(alice):
    with pytest.raises(AttributeError):
        seat_read_with(User.objects.get(pk=alice.pk))


def test_an_account_turned_off_is_signed_out_on_its_very_next_request(alice_client, alice):
    assert alice_client.get(reverse("agreements:agreement")).status_code == 200
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = alice_client.get(reverse("agreements:agreement"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_partnership_ended_by_the_other_partner_shows_on_the_very_next_request(
    couple, alice_client
):
    alice, bob = couple
    page = alice_client.get(reverse("agreements:agreement")).content.decode()
    assert 'data-rule="' in page
    linking.end_partnership(user=bob.user)
    after = alice_client.get(reverse("agreements:agreement"))
    assert after.status_code == 200 and 'data-rule="' not in after.content.decode()
    assert alice_client.get(reverse("agreements:poll")).status_code == 200  # HX-Redirect next


def test_the_poll_sees_a_change_made_a_moment_before(couple, alice_client, bob_client):
    alice, bob = couple
    etag = alice_client.get(reverse("agreements:agreement"))["ETag"]
    poll = {"if_none_match": etag, "hx_request": "true"}
    assert alice_client.get(reverse("agreements:poll"), headers=poll).status_code == 304
    rule = rules_of(bob)[0]
    consent.accept(partner=bob, rule=rule, version_id=rule.pending_version_id)
    assert alice_client.get(reverse("agreements:poll"), headers=poll).status_code == 200


def test_a_session_of_a_deleted_account_is_anonymous(alice):
    client = client_for(alice)
    request = RequestFactory().get("/")
    request.session = client.session
    assert get_user(request).pk == alice.pk
    User.objects.filter(pk=alice.pk).delete()
    assert not get_user(request).is_authenticated


def test_a_second_factor_turned_off_shows_on_the_therapists_very_next_request(dana_2fa):
    client = client_for(dana_2fa)
    assert client.get(reverse("therapist:home")).status_code == 200
    Authenticator.objects.filter(user=dana_2fa).delete()
    assert client.get(reverse("therapist:home")).status_code == 403
    assert second_factor_read_with(read_user(dana_2fa.pk)) is False
