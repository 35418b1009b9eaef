"""The first minute: the landing page explains the app and shows the nine rules; a person alone
reads them and drafts changes and new rules, which become their proposals once a partner joins;
the agreement page explains answering once, until it is hidden; invitations can be copied,
shared, emailed again, declined without an account, and their end is told to the inviter."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import linking
from accounts.models import Invitation
from agreements import drafts
from agreements.defaults import DEFAULT_RULES
from agreements.invariants import check_agreement
from agreements.models import Acceptance, Draft, Rule
from tests.conftest import client_for, make_user

pytestmark = pytest.mark.django_db

TITLES = [title for title, _ in DEFAULT_RULES]


def text_of(response) -> str:
    return " ".join(response.content.decode().split())


# -- the landing page ------------------------------------------------------------------------------


def test_the_landing_page_says_what_the_app_is_for_and_shows_the_nine_rules(client):
    html = text_of(client.get("/"))
    assert "A rule counts only when both of you accept the exact same words." in html
    assert "withdraw consent from any rule, at any time" in html
    for title in TITLES:
        assert title in html


# -- alone: reading the nine rules and drafting ------------------------------------------------------


def test_alone_the_agreement_page_shows_the_nine_rules_and_the_next_step(mallory):
    response = client_for(mallory).get("/agreement/")
    assert response.status_code == 200
    html = text_of(response)
    for title in TITLES:
        assert title in html
    assert "You are not linked with a partner yet" in html
    assert "Nothing you draft is in force" in html


def test_alone_the_nine_rules_read_in_the_persons_language(mallory):
    from django.utils import translation

    with translation.override("es"):
        spanish = [translation.gettext(title) for title, _ in DEFAULT_RULES]
    assert spanish[0] != DEFAULT_RULES[0][0]
    response = client_for(mallory).get("/agreement/", headers={"Accept-Language": "es"})
    html = text_of(response)
    for title in spanish:
        assert title in html
    assert DEFAULT_RULES[0][0] not in html


def test_a_draft_of_a_default_rule_is_kept_and_shown_to_its_author_only(mallory, alice):
    client = client_for(mallory)
    url = reverse("agreements:change_default", args=[3])
    assert client.get(url).status_code == 200
    response = client.post(url, {"title": "Each owns their pleasure", "text": "We each ask."})
    assert response.status_code == 302
    draft = Draft.objects.get(user=mallory)
    assert draft.default_position == 3 and draft.text == "We each ask."
    assert "We each ask." in text_of(client.get("/agreement/"))
    # Writing it again replaces the one draft of that rule.
    client.post(url, {"title": "", "text": "We each ask, clearly."})
    assert Draft.objects.get(user=mallory).text == "We each ask, clearly."
    assert Draft.objects.get(user=mallory).title == DEFAULT_RULES[2][0]
    # Nobody else reaches it.
    other = client_for(make_user("eve@example.org", "Eve"))
    assert other.get(reverse("agreements:edit_draft", args=[draft.pk])).status_code == 404
    assert other.post(reverse("agreements:remove_draft", args=[draft.pk])).status_code == 404
    assert Draft.objects.filter(pk=draft.pk).exists()


def test_a_new_rule_draft_can_be_edited_and_removed(mallory):
    client = client_for(mallory)
    client.post(reverse("agreements:new_draft"), {"title": "Sundays", "text": "Slow Sundays."})
    draft = Draft.objects.get(user=mallory)
    assert draft.default_position is None
    client.post(
        reverse("agreements:edit_draft", args=[draft.pk]),
        {"title": "Sundays", "text": "Slow Sunday mornings."},
    )
    draft.refresh_from_db()
    assert draft.text == "Slow Sunday mornings."
    client.post(reverse("agreements:remove_draft", args=[draft.pk]))
    assert not Draft.objects.filter(user=mallory).exists()


def test_bad_draft_input_is_a_clear_message_never_a_500(mallory):
    client = client_for(mallory)
    response = client.post(reverse("agreements:new_draft"), {"title": "x", "text": ""})
    assert response.status_code == 422
    assert "cannot be empty" in text_of(response)
    unchanged = client.post(
        reverse("agreements:change_default", args=[1]),
        {"title": DEFAULT_RULES[0][0], "text": DEFAULT_RULES[0][1]},
        follow=True,
    )
    assert "no change to keep as a draft" in text_of(unchanged)
    assert client.get(reverse("agreements:change_default", args=[10])).status_code == 404
    assert client.get(reverse("agreements:edit_draft", args=[2**63])).status_code == 404
    assert not Draft.objects.exists()


def test_drafts_are_bounded(mallory):
    for n in range(drafts.MAX_DRAFTS):
        drafts.save_draft(user=mallory, text=f"Rule {n}")
    with pytest.raises(drafts.DraftError):
        drafts.save_draft(user=mallory, text="One more")


def test_a_therapist_has_no_drafts(dana):
    client = client_for(dana)
    assert client.get(reverse("agreements:new_draft")).status_code == 404
    with pytest.raises(drafts.DraftError):
        drafts.save_draft(user=dana, text="Anything")


def test_once_linked_drafts_become_their_authors_proposals_and_nothing_is_in_force(alice, bob):
    drafts.save_draft(user=alice, default_position=1, text="We stop when either of us asks.")
    drafts.save_draft(user=alice, title="Sundays", text="Slow Sunday mornings.", note="Maybe?")
    drafts.save_draft(user=bob, default_position=1, text="We stop at once, no questions.")
    invitation = linking.create_invitation(inviter=alice)
    couple = linking.accept_invitation(token=invitation.token, user=bob)
    agreement = couple.agreement
    assert not Draft.objects.exists()
    assert check_agreement(agreement) == []
    rules = {rule.position: rule for rule in agreement.rules.select_related("pending_version")}
    assert not any(rule.state == Rule.State.ACTIVE for rule in rules.values())
    seats = {seat.user_id: seat for seat in couple.partners.all()}
    # Alice's change, then Bob's counter-proposal: his wording waits for her, with his yes only.
    first = rules[1]
    assert first.pending_version.text == "We stop at once, no questions."
    assert first.proposed_by_id == seats[bob.pk].pk
    live = Acceptance.objects.filter(version=first.pending_version, withdrawn_at__isnull=True)
    assert [a.partner_id for a in live] == [seats[bob.pk].pk]
    assert "We stop when either of us asks." in [v.text for v in first.versions.all()]
    # Alice's new rule waits for Bob.
    new = rules[10]
    assert new.pending_version.text == "Slow Sunday mornings."
    assert new.proposed_by_id == seats[alice.pk].pk


def test_a_linked_person_drafts_no_more(couple, alice):
    client = client_for(alice)
    response = client.get(reverse("agreements:change_default", args=[1]))
    assert response.status_code == 302 and response["Location"] == "/agreement/"
    assert client.get(reverse("agreements:new_draft"))["Location"] == reverse("agreements:new_rule")
    with pytest.raises(drafts.DraftError):
        drafts.save_draft(user=alice, text="Too late")


# -- the first visit's explanation ------------------------------------------------------------------


def test_the_explanation_shows_until_it_is_hidden_and_never_again(couple, alice):
    client = client_for(alice)
    html = text_of(client.get("/agreement/"))
    assert "How answering works" in html and "Pause everything" in html
    assert "private" in html
    assert client.get(reverse("accounts:dismiss_introduction")).status_code == 405
    response = client.post(reverse("accounts:dismiss_introduction"))
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.introduction_dismissed_at is not None
    assert "How answering works" not in text_of(client.get("/agreement/"))
    htmx = client.post(reverse("accounts:dismiss_introduction"), HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and htmx.content == b""


def test_the_explanation_also_greets_a_person_alone_and_needs_a_sign_in(mallory, client, dana):
    assert "How answering works" in text_of(client_for(mallory).get("/agreement/"))
    response = client.post(reverse("accounts:dismiss_introduction"))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_for(dana).post(reverse("accounts:dismiss_introduction")).status_code == 404


# -- the invitation page ------------------------------------------------------------------------------


def test_the_invitation_has_copy_link_and_share(alice):
    invitation = linking.create_invitation(inviter=alice)
    client = client_for(alice)
    for html in (
        text_of(client.get("/")),
        text_of(client.get(invitation.get_absolute_url())),
    ):
        assert "Copy link" in html and "data-copy-button" in html
        # Share shows only where the browser has the Web Share API (static/js/app.js).
        assert "data-share-button" in html and ">Share</button>" in html


def test_the_invitation_can_be_emailed_again_within_the_limits(
    alice, mailoutbox, django_capture_on_commit_callbacks
):
    invitation = linking.create_invitation(inviter=alice)
    client = client_for(alice)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(4):
            client.post(reverse("accounts:email_invitation"), {"email": "bob@example.org"})
    assert len(mailoutbox) == 3  # 3 a day to one address
    assert all(invitation.get_absolute_url() in message.body for message in mailoutbox)
    html = text_of(client.get("/"))
    assert "several invitation emails in a short time" in html
    bad = client.post(
        reverse("accounts:email_invitation"), {"email": "not an address"}, follow=True
    )
    assert "Write the email address" in text_of(bad)


def test_emailing_again_needs_an_open_invitation(alice):
    with pytest.raises(linking.LinkingError):
        linking.email_invitation(inviter=alice, email="bob@example.org")


# -- invitations that end clearly ---------------------------------------------------------------------


def test_an_invitee_declines_without_an_account_and_the_inviter_is_told(alice):
    invitation = linking.create_invitation(inviter=alice, email="")
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(invitation.get_absolute_url())
    html = text_of(page)
    assert "Decline this invitation" in html
    token = browser.cookies["csrftoken"].value
    refused = browser.post(invitation.get_absolute_url(), {"choice": "decline"})
    assert refused.status_code == 403  # no CSRF token: nothing happens
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.OPEN
    declined = browser.post(
        invitation.get_absolute_url(), {"choice": "decline", "csrfmiddlewaretoken": token}
    )
    assert declined.status_code == 200
    assert "You declined the invitation" in text_of(declined)
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.DECLINED
    # The link is spent.
    assert browser.get(invitation.get_absolute_url()).status_code == 404
    home = text_of(client_for(alice).get("/"))
    assert "Your invitation was declined" in home and "Invite again" in home
    alone = text_of(client_for(alice).get("/agreement/"))
    assert "Your invitation was declined" in alone


def test_an_expired_invitation_is_told_with_the_next_step(alice):
    invitation = linking.create_invitation(inviter=alice, email="bob@example.org")
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    home = text_of(client_for(alice).get("/"))
    assert "Your invitation has expired" in home
    assert 'value="bob@example.org"' in home  # inviting again needs no retyping


def test_after_a_decline_the_inviter_invites_again_and_the_partner_joins(alice, bob):
    first = linking.create_invitation(inviter=alice)
    linking.decline_invitation(token=first.token)
    client = client_for(alice)
    client.post(reverse("accounts:invite"), {"email": ""})
    second = Invitation.objects.get(inviter=alice, status=Invitation.Status.OPEN)
    assert "Waiting for your partner" in text_of(client.get("/"))
    linking.accept_invitation(token=second.token, user=bob)
    assert "declined" not in text_of(client.get("/"))


def test_a_cancelled_invitation_says_nothing_more(alice):
    linking.create_invitation(inviter=alice)
    linking.cancel_invitation(inviter=alice)
    home = text_of(client_for(alice).get("/"))
    assert "Invite your partner" in home and "declined" not in home


def test_the_inviter_cannot_decline_their_own_link(alice):
    invitation = linking.create_invitation(inviter=alice)
    with pytest.raises(linking.LinkingError):
        linking.decline_invitation(token=invitation.token, user=alice)


def test_drafts_are_in_their_authors_export_and_leave_with_the_account(mallory):
    from intimacy import privacy

    drafts.save_draft(user=mallory, default_position=2, text="We pause and hold each other.")
    data = privacy.export_data(mallory)
    assert data["drafts"][0]["default_rule"] == 2
    assert "We pause and hold each other." in privacy.export_markdown(mallory)
    privacy.delete_account(user=mallory)
    assert not Draft.objects.exists()
