"""Account deletion: after a fresh password, a person's data is erased; the agreements they shared
stay, archived, with the other partner ("former partner"), and a therapist's comments stay
("former therapist"). The same email can then sign up again as someone new."""

from importlib import import_module

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts import erasure, linking
from accounts.models import Couple, Invitation, Partner, User
from agreements import consent, therapy
from agreements.models import Agreement, Comment, Event, RuleVersion, TherapistAccess
from intimacy import privacy
from tests.conftest import (
    PASSWORD,
    both_accept,
    client_for,
    fresh,
    grant_therapist,
    link,
    reauthenticate,
    rules_of,
)

DELETE_URL = "/settings/delete/"


def signed_in(email: str, agent: str = "a browser") -> Client:
    """Through allauth's log-in form, so that allauth tracks the session like any other."""
    client = Client(HTTP_USER_AGENT=agent)
    response = client.post(reverse("account_login"), {"login": email, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session.get("_auth_user_id")
    return client


def delete_through_the_page(client: Client, user: User):
    reauthenticate(client, user)
    return client.post(DELETE_URL, {"confirm": "on"})


def session_exists(client: Client) -> bool:
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    return store.exists(client.cookies[settings.SESSION_COOKIE_NAME].value)


@pytest.fixture
def shared(couple) -> dict:
    """Alice and Bob with two rules in force, one waiting, and comments from Alice."""
    a, b = couple
    rules = rules_of(a)
    both_accept(rules[0], a, b)
    both_accept(rules[1], a, b)
    consent.propose_change(
        partner=a, rule=rules[2], title="A gentler wording", text="Said more gently."
    )
    return {"rules": rules, "agreement": Agreement.objects.get(couple_id=a.couple_id)}


# -- what is erased -------------------------------------------------------------------------------


def test_deleting_erases_the_account_its_emails_mfa_and_every_session(shared, alice):
    laptop = signed_in("alice@example.com", "laptop")
    phone = signed_in("alice@example.com", "phone")
    TOTP.activate(alice, generate_totp_secret())
    RecoveryCodes.activate(alice)
    linking.cancel_invitation(inviter=alice)
    assert UserSession.objects.filter(user=alice).count() == 2
    alice_id = alice.pk

    response = delete_through_the_page(laptop, alice)

    assert response.status_code == 200
    assert "Your account is deleted" in response.content.decode()
    assert not User.objects.filter(pk=alice_id).exists()
    assert not User.objects.filter(email__iexact="alice@example.com").exists()
    assert not EmailAddress.objects.filter(email__iexact="alice@example.com").exists()
    assert not Authenticator.objects.filter(user_id=alice_id).exists()
    assert not UserSession.objects.filter(user_id=alice_id).exists()
    assert not Invitation.objects.filter(inviter_id=alice_id).exists()
    # Signed out here and on the other device, and the sessions are gone from the store.
    assert not session_exists(laptop) and not session_exists(phone)
    for client in (laptop, phone):
        followed = client.get("/settings/")
        assert followed.status_code == 302
        assert followed["Location"].startswith(reverse("account_login"))
    # Nothing names her any more.
    assert not Partner.objects.filter(user_id=alice_id).exists()
    assert set(
        Partner.objects.filter(couple=shared["agreement"].couple).values_list("user", flat=True)
    ) == {
        User.objects.get(email="bob@example.com").pk,
        None,
    }


def test_the_browser_is_told_to_clear_what_it_kept(shared, alice, alice_client):
    response = delete_through_the_page(alice_client, alice)
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert response.headers["Cache-Control"] == "no-store"


def test_deleting_needs_a_fresh_password_and_a_ticked_box(shared, alice, alice_client):
    response = alice_client.post(DELETE_URL, {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    assert User.objects.filter(pk=alice.pk).exists()

    reauthenticate(alice_client, alice)
    page = alice_client.get(DELETE_URL)
    assert page.status_code == 200
    assert "Delete my account" in page.content.decode()
    refused = alice_client.post(DELETE_URL, {})
    assert refused.status_code == 422
    assert "Tick the box" in refused.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()
    assert alice.current_partner_seat() is not None


def test_the_delete_page_is_linked_from_settings_and_a_visitor_is_sent_to_log_in(alice_client):
    assert 'href="/settings/delete/"' in alice_client.get("/settings/").content.decode()
    response = Client().post(DELETE_URL, {"confirm": "on"})
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_deletion_is_all_or_nothing(shared, alice, monkeypatch):
    def fail(keys):
        raise RuntimeError("the session store is down")

    monkeypatch.setattr(erasure, "end_sessions", fail)
    with pytest.raises(RuntimeError):
        privacy.delete_account(user=alice)
    assert User.objects.filter(pk=alice.pk).exists()
    assert shared["agreement"].couple.partners.filter(left_at__isnull=True).count() == 2
    assert Couple.objects.get(pk=shared["agreement"].couple_id).ended_at is None


# -- what the partner keeps -----------------------------------------------------------------------


def test_the_partner_keeps_the_agreement_archived_with_a_former_partner(
    shared, alice, bob, bob_client, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        delete_through_the_page(client_for(alice), alice)

    agreement = shared["agreement"]
    assert Agreement.objects.get(pk=agreement.pk).is_archived
    # Bob is free again; his agreement with "former partner" is in his archive.
    assert bob.current_partner_seat() is None
    ended = bob_client.get("/agreement/")
    assert ended.status_code == 200 and "This partnership has ended" in ended.content.decode()
    home = bob_client.get("/").content.decode()
    assert reverse("agreements:archived", args=[agreement.pk]) in home

    page = bob_client.get(reverse("agreements:archived", args=[agreement.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Between <bdi>former partner</bdi> and <bdi>Bob</bdi>" in " ".join(html.split())
    assert "Alice" not in html
    for rule in shared["rules"][:2]:
        assert fresh(rule).current_version.title in html
    timeline = bob_client.get(reverse("agreements:archived_timeline", args=[agreement.pk]))
    assert "<bdi>Former partner</bdi> accepted" in timeline.content.decode()
    assert "Alice" not in timeline.content.decode()

    # Bob was told, neutrally: no rule text, no name of hers.
    (email,) = [m for m in mailoutbox if m.to == ["bob@example.com"]]
    for rule in shared["rules"]:
        assert rule.latest_version.text not in email.body
    assert "sex" not in email.body.lower() and "sex" not in email.subject.lower()


def test_a_former_partner_from_an_earlier_couple_keeps_that_archive_too(alice, bob, carol, dave):
    old_a, old_c = link(alice, carol)
    both_accept(rules_of(old_a)[0], old_a, old_c)
    linking.end_partnership(user=carol)
    link(carol, dave)
    link(alice, bob)
    old_agreement = Agreement.objects.get(couple_id=old_a.couple_id)

    privacy.delete_account(user=alice)

    carol_client = client_for(carol)
    page = carol_client.get(reverse("agreements:archived", args=[old_agreement.pk]))
    assert "Between <bdi>former partner</bdi> and <bdi>Carol</bdi>" in " ".join(
        page.content.decode().split()
    )
    # Carol's current couple is untouched.
    assert carol.current_partner_seat().couple.partners.filter(user=dave).exists()


def test_when_both_partners_are_deleted_their_agreement_goes_too(shared, alice, bob):
    agreement = shared["agreement"]
    privacy.delete_account(user=alice)
    assert Agreement.objects.filter(pk=agreement.pk).exists()  # still Bob's to read
    privacy.delete_account(user=bob)
    assert not Agreement.objects.filter(pk=agreement.pk).exists()
    assert not Couple.objects.filter(pk=agreement.couple_id).exists()
    assert not RuleVersion.objects.filter(rule__agreement_id=agreement.pk).exists()
    assert not Event.objects.filter(agreement_id=agreement.pk).exists()


def test_someone_without_a_couple_can_delete_their_account(mallory):
    client = client_for(mallory)
    response = delete_through_the_page(client, mallory)
    assert response.status_code == 200
    assert not User.objects.filter(email="mallory@example.com").exists()


# -- a therapist ----------------------------------------------------------------------------------


@pytest.fixture
def reviewed(other_couple, dana) -> dict:
    carol_seat, dave_seat = other_couple
    agreement = Agreement.objects.get(couple_id=carol_seat.couple_id)
    access = grant_therapist((carol_seat, dave_seat), dana)
    rule = rules_of(carol_seat)[0]
    comment = therapy.add_comment(
        agreement=agreement, rule=rule, therapist=dana, text="Worth talking about together."
    )
    return {"agreement": agreement, "access": access, "comment": comment}


def test_a_deleted_therapists_comments_stay_as_former_therapist(reviewed, dana, carol):
    response = delete_through_the_page(client_for(dana), dana)
    assert response.status_code == 200
    assert not User.objects.filter(email="dana@example.com").exists()

    comment = Comment.objects.get(pk=reviewed["comment"].pk)
    assert comment.therapist_id is None
    assert comment.text == "Worth talking about together."
    assert comment.author_name == "former therapist"
    # The access ended, recorded in the couple's timeline.
    assert not TherapistAccess.objects.filter(pk=reviewed["access"].pk).exists()
    ended = Event.objects.get(agreement=reviewed["agreement"], kind=Event.Kind.ACCESS_ENDED)
    assert ended.actor_name == "former therapist"

    html = client_for(carol).get("/agreement/").content.decode()
    assert "Worth talking about together." in html
    assert "former therapist" in html
    assert "Dana" not in html


def test_a_therapists_delete_page_speaks_of_comments_not_of_partners(dana):
    client = client_for(dana)
    reauthenticate(client, dana)
    html = client.get(DELETE_URL).content.decode()
    assert "former therapist" in html
    assert "former partner" not in html


# -- signing up again -----------------------------------------------------------------------------


def test_the_same_email_signs_up_again_as_someone_new(shared, alice, mailoutbox):
    old_id = alice.pk
    agreement = shared["agreement"]
    delete_through_the_page(client_for(alice), alice)

    newcomer = Client()
    response = newcomer.post(
        reverse("account_signup"),
        {
            "email": "alice@example.com",
            "password1": PASSWORD,
            "display_name": "Alice again",
            "account_type": "partner",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    again = User.objects.get(email="alice@example.com")
    assert again.pk != old_id
    assert again.display_name == "Alice again"
    assert EmailAddress.objects.get(user=again).email == "alice@example.com"
    assert not Partner.objects.filter(user=again).exists()

    # Once the address is confirmed, she sees nothing of the old agreement.
    EmailAddress.objects.filter(user=again).update(verified=True)
    client = client_for(again)
    assert client.get(reverse("agreements:archived", args=[agreement.pk])).status_code == 404
    assert client.get(reverse("agreements:archived_print", args=[agreement.pk])).status_code == 404
    home = client.get("/").content.decode()
    assert reverse("agreements:archived", args=[agreement.pk]) not in home
