"""No dead ends: every partner page the app links to answers 200 with the next step whatever the
couple's state, and an htmx request that can no longer be answered in place (signed out, the
partnership ended, a rule gone) leaves the page for a full one, on the final answer."""

import pytest
from django.test import Client
from django.urls import reverse

from accounts import linking
from agreements.models import Acceptance, Rule
from tests.conftest import client_for, rules_of

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/agreement/"}
# The partner pages reachable from the header, the agreement page and the home page.
PAGES = [
    "agreements:agreement",
    "agreements:timeline",
    "agreements:print",
    "agreements:new_rule",
    "agreements:poll",
]


def texts(client: Client) -> dict[str, str]:
    found = {}
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
        found[name] = " ".join(response.content.decode().split())
    return found


def test_before_inviting_every_partner_page_says_to_invite_from_home(mallory):
    for name, html in texts(client_for(mallory)).items():
        assert "You are not linked with a partner yet" in html, name
        assert 'href="/"' in html and "Invite your partner" in html, name


def test_while_the_invitation_waits_every_partner_page_says_so(mallory):
    linking.create_invitation(inviter=mallory)
    for name, html in texts(client_for(mallory)).items():
        assert "Your partner has not joined yet" in html, name
        assert "Go to your invitation" in html, name


def test_after_the_partnership_ended_every_partner_page_leads_to_the_archive(couple, alice):
    agreement = rules_of(couple[0])[0].agreement
    linking.end_partnership(user=alice)
    for name, html in texts(client_for(alice)).items():
        assert "This partnership has ended" in html, name
        assert reverse("agreements:archived", args=[agreement.pk]) in html, name
        assert reverse("agreements:archived_timeline", args=[agreement.pk]) in html, name


def test_therapist_access_after_the_end_is_the_same_calm_page(couple, alice):
    from tests.conftest import reauthenticate

    linking.end_partnership(user=alice)
    client = client_for(alice)
    reauthenticate(client, alice)
    response = client.get(reverse("agreements:therapist_access"))
    assert response.status_code == 200
    assert "This partnership has ended" in response.content.decode()


def test_the_header_agreement_link_works_in_every_state(mallory, couple, alice):
    for user in (mallory, alice):
        home = client_for(user).get("/").content.decode()
        assert 'href="/agreement/"' in home
        assert client_for(user).get("/agreement/").status_code == 200


def test_an_action_on_an_open_page_after_the_end_replaces_the_page(couple, alice):
    rule = rules_of(couple[0])[0]
    client = client_for(alice)
    linking.end_partnership(user=alice)
    before = Acceptance.objects.count()
    url = reverse("agreements:accept", args=[rule.pk])
    response = client.post(url, {"version": rule.pending_version_id}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == "/agreement/"
    assert response.content == b""  # nothing pasted into the card
    assert Acceptance.objects.count() == before
    # Without JavaScript: to the page that says so.
    plain = client.post(url, {"version": rule.pending_version_id})
    assert plain.status_code == 302 and plain["Location"] == "/agreement/"
    # The poll of the open page, too.
    poll = client.get(reverse("agreements:poll"), **HTMX)
    assert poll.status_code == 200 and poll["HX-Redirect"] == "/agreement/"


def test_an_htmx_request_after_signing_out_goes_to_log_in_and_back_to_the_page(couple):
    rule = rules_of(couple[0])[0]
    client = Client()  # signed out (in another tab)
    for response in (
        client.get(reverse("agreements:poll"), **HTMX),
        client.post(reverse("agreements:accept", args=[rule.pk]), {"version": 1}, **HTMX),
    ):
        assert response.status_code == 200
        assert response["HX-Redirect"] == "/accounts/login/?next=%2Fagreement%2F"
        assert response.content == b""
        assert "Location" not in response


def test_the_page_to_come_back_to_is_never_another_sites(couple):
    response = Client().get(
        reverse("agreements:poll"),
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://evil.example/agreement/",
    )
    assert response["HX-Redirect"] == "/accounts/login/?next=%2F"


def test_a_rule_gone_reloads_the_page_instead_of_doing_nothing(alice_client, couple):
    response = alice_client.post(
        reverse("agreements:accept", args=[999_999]), {"version": 1}, **HTMX
    )
    assert response.status_code == 404
    assert response["HX-Refresh"] == "true"


def test_another_couples_rule_is_still_a_404_for_someone_not_linked(couple, mallory):
    rule = Rule.objects.filter(agreement__couple_id=couple[0].couple_id).first()
    client = client_for(mallory)
    assert client.get(reverse("agreements:history", args=[rule.pk])).status_code == 404
    assert client.post(reverse("agreements:accept", args=[rule.pk])).status_code == 404
    assert client.get("/agreement/rules/999999/").status_code == 404


def test_a_url_that_does_not_exist_is_still_the_404_page(alice_client, couple):
    assert alice_client.get("/agreement/nowhere/").status_code == 404


def test_opening_your_own_invitation_link_says_it_is_yours_to_send(mallory):
    invitation = linking.create_invitation(inviter=mallory)
    client = client_for(mallory)
    response = client.get(invitation.get_absolute_url())
    html = response.content.decode()
    assert response.status_code == 200
    assert "This is your own invitation" in html and "yours to send" in html
    assert ">Accept</button>" not in html and ">Decline</button>" not in html
    assert invitation.get_absolute_url() in html  # the link to copy
