"""Partner linking: invitations, forming a couple, ending it."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts import linking
from accounts.models import Couple, Invitation, Partner
from agreements.models import Agreement, Rule
from tests.conftest import client_for, link


def invite(client, email=""):
    return client.post(reverse("accounts:invite"), {"email": email})


def test_an_invitation_is_an_unguessable_link_shown_on_the_home_page(alice_client, alice):
    invite(alice_client)
    invitation = Invitation.objects.get(inviter=alice)
    assert len(invitation.token) >= 43  # 32 random bytes, url-safe
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    html = alice_client.get("/").content.decode()
    assert "Waiting for your partner" in html
    assert invitation.get_absolute_url() in html


def test_the_token_is_not_stored_in_clear(alice):
    invitation = linking.create_invitation(inviter=alice)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT token, token_digest FROM accounts_invitation")
        stored, digest = cursor.fetchone()
    assert invitation.token not in stored and invitation.token not in digest


def test_an_invitation_can_be_emailed_neutrally(
    alice_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(alice_client, "partner@example.org")
    message = mailoutbox[0]
    assert message.to == ["partner@example.org"]
    assert message.subject == "“Alice” invited you to write a shared agreement on Rules of the Road"
    assert "/invitation/" in message.body
    assert "Rules of the Road <" in message.from_email


def test_a_new_invitation_cancels_the_open_one(alice):
    first = linking.create_invitation(inviter=alice)
    linking.create_invitation(inviter=alice)
    first.refresh_from_db()
    assert first.status == Invitation.Status.CANCELLED
    assert Invitation.objects.filter(inviter=alice, status="open").count() == 1


def test_the_inviter_can_cancel(alice_client, alice, bob):
    invite(alice_client)
    invitation = Invitation.objects.get(inviter=alice)
    alice_client.post(reverse("accounts:cancel_invitation"))
    response = client_for(bob).post(invitation.get_absolute_url(), {"choice": "accept"})
    assert response.status_code == 404
    assert not Couple.objects.exists()


def test_the_invitee_sees_who_invited_them_and_accepts(alice, bob):
    invitation = linking.create_invitation(inviter=alice)
    bob_client = client_for(bob)
    page = bob_client.get(invitation.get_absolute_url())
    assert "<bdi>Alice</bdi> invited you" in page.content.decode()
    response = bob_client.post(invitation.get_absolute_url(), {"choice": "accept"})
    assert response.status_code == 302 and response["Location"] == "/agreement/"
    couple = Couple.objects.get()
    assert {p.user for p in couple.partners.all()} == {alice, bob}
    assert Rule.objects.filter(agreement__couple=couple, state="proposed").count() == 9
    invitation.refresh_from_db()
    assert invitation.status == "accepted"


def test_declining_links_no_one(alice, bob):
    invitation = linking.create_invitation(inviter=alice)
    client_for(bob).post(invitation.get_absolute_url(), {"choice": "decline"})
    invitation.refresh_from_db()
    assert invitation.status == "declined"
    assert not Couple.objects.exists()


def test_signed_out_visitors_are_sent_through_sign_up_and_back(alice, client):
    invitation = linking.create_invitation(inviter=alice)
    html = client.get(invitation.get_absolute_url()).content.decode()
    assert f"/accounts/signup/?next={invitation.get_absolute_url()}" in html
    assert ">Accept</button>" not in html


def test_a_new_person_signs_up_verifies_and_lands_back_on_the_invitation(
    alice, client, mailoutbox, django_capture_on_commit_callbacks
):
    import re

    invitation = linking.create_invitation(inviter=alice)
    url = invitation.get_absolute_url()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{reverse('account_signup')}?next={url}",
            {
                "email": "newcomer@example.org",
                "password1": "a-long-test-password-1",
                "display_name": "Sam",
                "account_type": "partner",
                "next": url,
            },
        )
    assert response.status_code == 302
    link_in_email = re.search(
        r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+)", mailoutbox[-1].body
    ).group(1)
    client.get(link_in_email)
    response = client.post(link_in_email)
    assert response.status_code == 302
    assert response["Location"] == url
    accepted = client.post(url, {"choice": "accept"})
    assert accepted["Location"] == "/agreement/"
    assert Couple.objects.get().partners.count() == 2


@pytest.mark.parametrize("state", ["expired", "cancelled", "declined", "used", "missing"])
def test_unusable_links_get_the_same_clear_page_and_change_nothing(alice, bob, mallory, state):
    invitation = linking.create_invitation(inviter=alice)
    token = invitation.token
    if state == "expired":
        Invitation.objects.filter(pk=invitation.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
    elif state == "cancelled":
        linking.cancel_invitation(inviter=alice)
    elif state == "declined":
        linking.decline_invitation(token=token, user=mallory)
    elif state == "used":
        linking.accept_invitation(token=token, user=mallory)
    else:
        token = "no-such-token"
    couples = Couple.objects.count()
    response = client_for(bob).post(
        reverse("accounts:invitation", args=[token]), {"choice": "accept"}
    )
    assert response.status_code == 404
    assert "This invitation link cannot be used" in response.content.decode()
    assert Couple.objects.count() == couples


def test_accepting_ones_own_invitation_is_refused(alice):
    invitation = linking.create_invitation(inviter=alice)
    response = client_for(alice).post(invitation.get_absolute_url(), {"choice": "accept"})
    assert response.status_code == 409
    assert "your own invitation" in response.content.decode()
    assert not Couple.objects.exists()


def test_accepting_while_already_in_a_couple_is_refused(couple, mallory, bob):
    invitation = linking.create_invitation(inviter=mallory)
    response = client_for(bob).post(invitation.get_absolute_url(), {"choice": "accept"})
    assert response.status_code == 409
    assert Couple.objects.count() == 1


def test_a_therapist_cannot_join_a_couple(alice, dana):
    invitation = linking.create_invitation(inviter=alice)
    with pytest.raises(linking.LinkingError):
        linking.accept_invitation(token=invitation.token, user=dana)
    with pytest.raises(linking.LinkingError):
        linking.create_invitation(inviter=dana)


def test_the_database_refuses_a_second_current_couple(couple, alice, mallory):
    other = Couple.objects.create()
    with pytest.raises(IntegrityError), transaction.atomic():
        Partner.objects.create(couple=other, user=alice)


def test_either_partner_can_end_it_and_both_keep_the_archive_read_only(
    couple, alice, bob, mailoutbox, django_capture_on_commit_callbacks
):
    agreement = Agreement.objects.get(couple_id=couple[0].couple_id)
    with django_capture_on_commit_callbacks(execute=True):
        linking.end_partnership(user=bob)
    assert Couple.objects.get().ended_at is not None
    assert alice.current_partner_seat() is None and bob.current_partner_seat() is None
    assert mailoutbox[0].to == ["alice@example.com"]
    assert mailoutbox[0].subject == "An update on Rules of the Road"
    for person in (alice, bob):
        client = client_for(person)
        assert f"/agreement/archived/{agreement.pk}/" in client.get("/").content.decode()
        page = client.get(reverse("agreements:archived", args=[agreement.pk]))
        assert page.status_code == 200
        assert ">Accept</button>" not in page.content.decode()
        assert (
            client.get(reverse("agreements:archived_print", args=[agreement.pk])).status_code == 200
        )
        ended = client.get("/agreement/").content.decode()
        assert "This partnership has ended" in ended
        assert f"/agreement/archived/{agreement.pk}/" in ended
    rule = Rule.objects.filter(agreement=agreement).first()
    response = client_for(alice).post(
        reverse("agreements:accept", args=[rule.pk]), {"version": rule.pending_version_id}
    )
    assert response.status_code == 302 and response["Location"] == "/agreement/"
    link(alice, bob)  # free to link again
    assert Couple.objects.count() == 2


def test_ending_the_partnership_needs_the_password_again(alice_client, couple):
    response = alice_client.post(reverse("accounts:end_partnership"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert Couple.objects.get().ended_at is None


def test_ending_the_partnership_through_the_page_after_reauthentication(alice_client, couple):
    from tests.conftest import PASSWORD

    alice_client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert alice_client.get(reverse("accounts:end_partnership")).status_code == 200
    response = alice_client.post(reverse("accounts:end_partnership"))
    assert response.status_code == 302
    assert Couple.objects.get().ended_at is not None


def test_an_archived_agreement_of_someone_else_is_a_404(couple, alice, mallory):
    agreement = Agreement.objects.get(couple_id=couple[0].couple_id)
    linking.end_partnership(user=alice)
    assert (
        client_for(mallory).get(reverse("agreements:archived", args=[agreement.pk])).status_code
        == 404
    )


def test_home_shows_the_next_step(alice, bob):
    client = client_for(alice)
    assert "Invite your partner" in client.get("/").content.decode()
    link(alice, bob)
    assert "Open your agreement" in client.get("/").content.decode()


def test_plain_text_emails_are_not_html_escaped(db, mailoutbox, django_capture_on_commit_callbacks):
    from tests.conftest import make_user

    inviter = make_user("ob@example.com", "Róisín O'Brien")
    with django_capture_on_commit_callbacks(execute=True):
        linking.create_invitation(inviter=inviter, email="partner@example.org")
    assert (
        mailoutbox[0].subject
        == "“Róisín O'Brien” invited you to write a shared agreement on Rules of the Road"
    )
    assert "“Róisín O'Brien” invited you" in mailoutbox[0].body


def test_ending_a_partnership_ends_therapist_access_through_the_agreements_service(
    couple, alice, dana
):
    from agreements import stories
    from agreements.invariants import check_agreement
    from agreements.models import Event, TherapistAccess

    a, b = couple
    agreement = Agreement.objects.get(couple_id=a.couple_id)
    asked = stories.grant_therapist((a, b), dana)
    linking.end_partnership(user=alice)
    assert TherapistAccess.objects.get(pk=asked.pk).status == TherapistAccess.Status.ENDED
    ended = Event.objects.get(agreement=agreement, kind=Event.Kind.PARTNERSHIP_ENDED)
    assert ended.partner == a
    assert check_agreement(agreement) == []
