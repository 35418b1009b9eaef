"""Therapist review: access only when both partners agree, ended by either of them (or the
therapist) at once, read-only everywhere, two-factor first, and nothing for anyone else."""

import re
from datetime import timedelta

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse

from accounts import linking
from accounts.models import User
from agreements import consent, therapist_urls, therapy
from agreements import urls as agreement_urls
from agreements.access import Viewer
from agreements.defaults import DEFAULT_RULES
from agreements.models import Agreement, Comment, Event, Rule, TherapistAccess
from agreements.pages.cards import summary
from agreements.pages.therapist import client_accesses
from agreements.rounds import rounds_for
from tests.concurrency import run_together
from tests.conftest import (
    agreement_of,
    client_for,
    grant_therapist,
    link,
    make_user,
    reauthenticate,
    rules_of,
)

Status = TherapistAccess.Status
PARTNER_BUTTONS = ["Accept", "Not yet", "Decline", "Propose a change", "Withdraw consent"]


def with_second_factor(user: User) -> User:
    TOTP.activate(user, generate_totp_secret())
    return user


def couple_urls(agreement: Agreement) -> list[tuple[str, str, dict]]:
    """Every therapist URL of one couple, with the method it answers. Kept in step with
    therapist_urls: a new couple URL fails here until it is listed."""
    rule = agreement.rules.order_by("position").first()
    methods = {
        "couple": ("get", {}),
        "history": ("get", {}),
        "timeline": ("get", {}),
        "print": ("get", {}),
        "comment": ("post", {"text": "How are you both finding this?"}),
        "step_away": ("post", {}),
        "suggest_rule": ("post", {"suggest-text": "A suggested rule"}),
        "suggest_wording": ("get", {}),
        "session_notes": ("post", {"notes-text": "A note"}),
        "invite_checkin": ("post", {"exercise-prompt": "How was the week?"}),
    }
    per_couple = {
        p.name for p in therapist_urls.urlpatterns if "agreement_id" in p.pattern.converters
    }
    assert per_couple == set(methods), "list the new therapist URL here"
    found = []
    for name, (method, data) in methods.items():
        pattern = next(p for p in therapist_urls.urlpatterns if p.name == name)
        kwargs = {"agreement_id": agreement.pk}
        if "rule_id" in pattern.pattern.converters:
            kwargs["rule_id"] = rule.pk
        found.append((method, reverse(f"therapist:{name}", kwargs=kwargs), data))
    return found


def fetch(client, method: str, url: str, data: dict):
    return client.post(url, data) if method == "post" else client.get(url)


def text_of(response) -> str:
    return response.content.decode()


def main_of(html: str) -> str:
    """The page's own content, without the site header (which has the log-out form)."""
    return html[html.index("<main") : html.index("</main>")]


@pytest.fixture
def dana_client(dana_2fa):
    return client_for(dana_2fa)


@pytest.fixture
def erin(db) -> User:
    return with_second_factor(make_user("erin@example.com", "Erin", therapist=True))


@pytest.fixture
def carol_dave_access(other_couple, dana_2fa) -> TherapistAccess:
    return grant_therapist(other_couple, dana_2fa)


# -- granting --------------------------------------------------------------------------------------


def without_csrf(response) -> str:
    """The page, but for its CSRF token (masked afresh in every answer)."""
    return re.sub(
        r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", text_of(response)
    )


def link_url(token: str) -> str:
    return reverse("agreements:client_link", args=[token])


def test_access_starts_only_when_both_partners_agree(
    couple,
    alice_client,
    bob_client,
    alice,
    bob,
    dana_2fa,
    dana_client,
    django_capture_on_commit_callbacks,
):
    agreement = agreement_of(couple[0])
    User.objects.filter(pk=dana_2fa.pk).update(practice_name="Harbour Couples Practice")
    dana_2fa.refresh_from_db()
    response = dana_client.post(reverse("therapist:invite"))
    assert response.status_code == 201
    shown = re.search(r'value="http://testserver(/[^"]+)" data-client-link', text_of(response))
    token = shown.group(1).rstrip("/").rsplit("/", 1)[1]
    home_before = without_csrf(dana_client.get(reverse("therapist:home")))

    reauthenticate(alice_client, alice)
    page = text_of(alice_client.get(link_url(token)))
    assert "Dana" in page and "Harbour Couples Practice" in page
    assert therapy.statement("rules", dana_2fa) in page.replace("&#x27;", "'")
    assert "Ask my partner" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(link_url(token), {"scope": "history"})
    asked = TherapistAccess.objects.get(agreement=agreement)
    assert response.status_code == 302
    assert response["Location"] == reverse("agreements:therapist_request", args=[asked.pk])
    assert (asked.status, asked.scope) == (Status.REQUESTED, "history")

    # Asked by one partner only: the therapist sees nothing and is told nothing, not even that
    # the link was opened.
    assert [m.to for m in mail.outbox] == [["bob@example.com"]]
    assert without_csrf(dana_client.get(reverse("therapist:home"))) == home_before
    assert dana_client.get(reverse("therapist:couple", args=[agreement.pk])).status_code == 404

    # The asker cannot agree in their partner's place.
    alice_client.post(reverse("agreements:therapist_request", args=[asked.pk]), {"action": "agree"})
    asked.refresh_from_db()
    assert asked.status == Status.REQUESTED

    # The other partner sees the request on the agreement, and the same statement to agree to.
    assert "asked to give <bdi>Dana (Harbour Couples Practice)</bdi>" in text_of(
        bob_client.get(reverse("agreements:agreement"))
    )
    reauthenticate(bob_client, bob)
    consent_page = text_of(bob_client.get(reverse("agreements:therapist_request", args=[asked.pk])))
    assert asked.statement in consent_page.replace("&#x27;", "'")
    assert ">Agree<" in consent_page and ">Decline<" in consent_page
    with django_capture_on_commit_callbacks(execute=True):
        bob_client.post(
            reverse("agreements:therapist_request", args=[asked.pk]), {"action": "agree"}
        )
    asked.refresh_from_db()
    assert asked.status == Status.ACTIVE
    assert asked.approved_by == couple[1]

    home = text_of(dana_client.get(reverse("therapist:home")))
    assert f'data-client="{agreement.pk}"' in home
    assert "<bdi>Alice</bdi> &amp; <bdi>Bob</bdi>" in home
    assert 'data-link="' not in home  # the link is no longer open: access started
    assert dana_client.get(reverse("therapist:couple", args=[agreement.pk])).status_code == 200

    email = mail.outbox[-1]
    assert email.to == ["dana@example.com"]
    written = email.subject + email.body
    for title, wording in DEFAULT_RULES:
        assert title not in written and wording[:40] not in written
    assert "Alice" not in written and "Bob" not in written


def test_a_declined_request_gives_no_access(couple, dana_2fa, dana_client, bob, bob_client):
    _, token = therapy.create_client_link(therapist=dana_2fa)
    asked = therapy.ask_partner(partner=couple[0], token=token, scope="rules")
    reauthenticate(bob_client, bob)
    bob_client.post(reverse("agreements:therapist_request", args=[asked.pk]), {"action": "decline"})

    asked.refresh_from_db()
    assert asked.status == Status.DECLINED
    assert 'data-client="' not in text_of(dana_client.get(reverse("therapist:home")))
    for method, url, data in couple_urls(agreement_of(couple[0])):
        assert fetch(dana_client, method, url, data).status_code == 404, url
    with pytest.raises(consent.ConsentError):
        therapy.agree(partner=couple[1], access_id=asked.pk)


def test_a_forged_used_expired_or_cancelled_link_answers_exactly_like_a_missing_one(
    couple, other_couple, alice, alice_client, dana_2fa
):
    from datetime import timedelta

    from django.utils import timezone

    from agreements.models import ClientLink

    _, used = therapy.create_client_link(therapist=dana_2fa)
    therapy.ask_partner(partner=other_couple[0], token=used, scope="rules")
    expired_link, expired = therapy.create_client_link(therapist=dana_2fa)
    ClientLink.objects.filter(pk=expired_link.pk).update(expires_at=timezone.now() - timedelta(1))
    cancelled_link, cancelled = therapy.create_client_link(therapist=dana_2fa)
    therapy.cancel_client_link(therapist=dana_2fa, link_id=cancelled_link.pk)
    _, good = therapy.create_client_link(therapist=dana_2fa)

    reauthenticate(alice_client, alice)
    missing = alice_client.get(reverse("agreements:client_link", args=["never-made"]))
    assert missing.status_code == 404
    for token in (used, expired, cancelled, "A" * 43, good[:-1] + "x"):
        for method in ("get", "post"):
            answer = getattr(alice_client, method)(link_url(token), {"scope": "history"})
            assert answer.status_code == 404, (token, method)
            assert without_csrf(answer) == without_csrf(missing)
    assert TherapistAccess.objects.filter(agreement=agreement_of(couple[0])).count() == 0
    assert alice_client.get(link_url(good)).status_code == 200


def test_an_access_that_points_at_nobody_is_told_plainly_and_either_partner_ends_it(
    couple, bob, bob_client
):
    nobody = TherapistAccess.objects.create(
        agreement=agreement_of(couple[0]),
        email="ruth.therapist@example.org",
        requested_by=couple[0],
        approved_by=couple[1],
        status=Status.ACTIVE,
    )
    page = text_of(bob_client.get(reverse("agreements:agreement")))
    assert "points at nobody" in page and "ruth.therapist@example.org" in page
    reauthenticate(bob_client, bob)
    access_page = text_of(bob_client.get(reverse("agreements:therapist_access")))
    assert "<strong>Nobody.</strong>" in access_page
    bob_client.post(reverse("agreements:therapist_access"), {"action": "end", "access": nobody.pk})
    nobody.refresh_from_db()
    assert nobody.status == Status.ENDED


# -- ending ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["carol", "dave"])
def test_either_partner_ends_access_alone_and_at_once(who, request, carol_dave_access, dana_client):
    user = request.getfixturevalue(who)
    agreement = carol_dave_access.agreement
    assert dana_client.get(reverse("therapist:couple", args=[agreement.pk])).status_code == 200

    client = client_for(user)
    reauthenticate(client, user)
    response = client.post(
        reverse("agreements:therapist_access"), {"action": "end", "access": carol_dave_access.pk}
    )
    assert response.status_code == 302

    carol_dave_access.refresh_from_db()
    assert carol_dave_access.status == Status.ENDED
    ended = Event.objects.filter(agreement=agreement, kind=Event.Kind.ACCESS_ENDED).get()
    assert ended.partner.user == user
    for method, url, data in couple_urls(agreement):
        assert fetch(dana_client, method, url, data).status_code == 404, url
    assert 'data-client="' not in text_of(dana_client.get(reverse("therapist:home")))
    assert not Comment.objects.exists()


def test_the_therapist_can_step_away(carol_dave_access, dana_client, carol):
    agreement = carol_dave_access.agreement
    response = dana_client.post(reverse("therapist:step_away", args=[agreement.pk]))
    assert response.status_code == 302
    assert response.url == reverse("therapist:home")

    carol_dave_access.refresh_from_db()
    assert carol_dave_access.status == Status.ENDED
    for method, url, data in couple_urls(agreement):
        assert fetch(dana_client, method, url, data).status_code == 404, url

    # The partners see it in their timeline and on the access page.
    carol_client = client_for(carol)
    timeline = text_of(carol_client.get(reverse("agreements:timeline")))
    assert "<bdi>Dana</bdi> ended therapist access" in timeline
    reauthenticate(carol_client, carol)
    page = text_of(carol_client.get(reverse("agreements:therapist_access")))
    assert "No one but the two of you." in page
    assert "<bdi>Dana</bdi>: had access from" in page


def test_ending_the_partnership_ends_the_access(carol_dave_access, carol, dana_client):
    linking.end_partnership(user=carol)
    carol_dave_access.refresh_from_db()
    assert carol_dave_access.status == Status.ENDED
    for method, url, data in couple_urls(carol_dave_access.agreement):
        assert fetch(dana_client, method, url, data).status_code == 404, url


def test_a_comment_cannot_land_after_the_access_ended(carol_dave_access, dana_2fa, other_couple):
    therapy.end_access(access_id=carol_dave_access.pk, partner=other_couple[1])
    with pytest.raises(PermissionError):
        therapy.add_comment(
            agreement=carol_dave_access.agreement, therapist=dana_2fa, text="Still here?"
        )
    assert not Comment.objects.exists()


# -- who sees what ---------------------------------------------------------------------------------


def test_a_therapist_without_access_gets_404_on_every_couple_url(
    couple, carol_dave_access, dana_client
):
    alice_and_bob = agreement_of(couple[0])
    for method, url, data in couple_urls(alice_and_bob):
        assert fetch(dana_client, method, url, data).status_code == 404, url
    # Nor can a rule of another couple be reached through a couple she does have.
    theirs = rules_of(couple[0])[0]
    url = reverse("therapist:history", args=[carol_dave_access.agreement_id, theirs.pk])
    assert dana_client.get(url).status_code == 404
    response = dana_client.post(
        reverse("therapist:comment", args=[carol_dave_access.agreement_id]),
        {"text": "Hello", "rule": theirs.pk},
    )
    assert response.status_code == 404
    assert not Comment.objects.exists()
    assert TherapistAccess.objects.get(pk=carol_dave_access.pk).status == Status.ACTIVE


def test_two_therapists_with_two_couples_each_see_only_their_own(
    couple, other_couple, dana_2fa, dana_client, erin
):
    grant_therapist(couple, erin)
    grant_therapist(other_couple, dana_2fa)
    alice_and_bob, carol_and_dave = agreement_of(couple[0]), agreement_of(other_couple[0])
    erin_client = client_for(erin)

    for client, own, other, names in [
        (dana_client, carol_and_dave, alice_and_bob, "<bdi>Carol</bdi> &amp; <bdi>Dave</bdi>"),
        (erin_client, alice_and_bob, carol_and_dave, "<bdi>Alice</bdi> &amp; <bdi>Bob</bdi>"),
    ]:
        home = text_of(client.get(reverse("therapist:home")))
        assert re.findall(r'data-client="(\d+)"', home) == [str(own.pk)]
        assert names in home
        for method, url, _ in couple_urls(own):
            if method == "get":
                assert client.get(url).status_code == 200, url
        for method, url, data in couple_urls(other):
            assert fetch(client, method, url, data).status_code == 404, url


def test_partners_and_outsiders_never_reach_therapist_pages(
    carol_dave_access, alice, carol, mallory, client
):
    agreement = carol_dave_access.agreement
    for user in [alice, carol, mallory]:
        signed_in = client_for(user)
        assert signed_in.get(reverse("therapist:home")).status_code == 404
        for method, url, data in couple_urls(agreement):
            assert fetch(signed_in, method, url, data).status_code == 404, (user, url)
    # Signed out: to the login page, with nothing shown.
    response = client.get(reverse("therapist:couple", args=[agreement.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))


# -- read-only -------------------------------------------------------------------------------------


def test_the_therapist_pages_show_no_partner_action(carol_dave_access, dana_client, other_couple):
    carol, dave = other_couple
    first, second = rules_of(carol)[:2]
    consent.accept(partner=carol, rule=first, version_id=first.pending_version_id)
    consent.accept(partner=dave, rule=first, version_id=first.pending_version_id)
    consent.propose_change(
        partner=carol, rule=second, title="Slow", text="We slow down when either of us asks."
    )
    agreement = carol_dave_access.agreement
    page = text_of(dana_client.get(reverse("therapist:couple", args=[agreement.pk])))

    assert page.count("data-rule=") == len(DEFAULT_RULES)
    assert 'data-state="active"' in page and 'data-state="proposed"' in page
    for label in PARTNER_BUTTONS:
        assert f">{label}<" not in page, label
    assert "/agreement/rules/" not in page and 'action="/agreement/' not in page
    assert "Comment on this rule" in page and "Step away" in page
    assert "accepted by both partners" in page
    assert "hx-get" not in page  # no partner poll

    for name, args in [
        ("therapist:history", [agreement.pk, second.pk]),
        ("therapist:timeline", [agreement.pk]),
        ("therapist:print", [agreement.pk]),
    ]:
        html = text_of(dana_client.get(reverse(name, args=args)))
        for label in PARTNER_BUTTONS:
            assert f">{label}<" not in html, (name, label)
        assert "<form" not in main_of(html), name
    history = text_of(dana_client.get(reverse("therapist:history", args=[agreement.pk, second.pk])))
    assert "<ins>" in history  # the diff between versions
    printed = text_of(dana_client.get(reverse("therapist:print", args=[agreement.pk])))
    assert (
        DEFAULT_RULES[0][0] in printed and "Between <bdi>Carol</bdi> and <bdi>Dave</bdi>" in printed
    )


def partner_urls(rule: Rule) -> list[str]:
    """Every URL of the partner side (agreements.urls), plus the partner actions of accounts."""
    urls = []
    for pattern in agreement_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {}
        if "rule_id" in pattern.pattern.converters:
            kwargs["rule_id"] = rule.pk
        if "agreement_id" in pattern.pattern.converters:
            kwargs["agreement_id"] = rule.agreement_id
        for name in ("access_id", "suggestion_id", "draft_id", "position"):
            if name in pattern.pattern.converters:
                kwargs[name] = 1
        if "token" in pattern.pattern.converters:
            kwargs["token"] = "a-client-link-token"
        urls.append(reverse(f"agreements:{pattern.name}", kwargs=kwargs))
    urls += [
        reverse("accounts:invite"),
        reverse("accounts:cancel_invitation"),
        reverse("accounts:email_invitation"),
        reverse("accounts:end_partnership"),
    ]
    return urls


def test_every_partner_url_refuses_a_therapist_even_one_with_access(
    carol_dave_access, dana_client, other_couple
):
    carol = other_couple[0]
    rule = rules_of(carol)[0]
    consent.accept(partner=carol, rule=rule, version_id=rule.pending_version_id)
    before = (
        Event.objects.count(),
        Comment.objects.count(),
        list(Rule.objects.values_list("pk", "state", "pending_version", "current_version")),
        list(TherapistAccess.objects.values_list("pk", "status")),
    )
    urls = partner_urls(rule)
    assert len(urls) >= 20
    form = {
        "version": rule.pending_version_id,
        "text": "A new wording",
        "title": "T",
        "note": "n",
        "email": "x@example.com",
        "action": "end",
        "access": carol_dave_access.pk,
        "rule": rule.pk,
    }
    for url in urls:
        assert dana_client.get(url).status_code == 404, url
        assert dana_client.post(url, form).status_code == 404, url
        assert dana_client.post(url, form, headers={"HX-Request": "true"}).status_code == 404, url
    after = (
        Event.objects.count(),
        Comment.objects.count(),
        list(Rule.objects.values_list("pk", "state", "pending_version", "current_version")),
        list(TherapistAccess.objects.values_list("pk", "status")),
    )
    assert after == before


def test_a_therapist_cannot_join_a_couple(alice, dana_2fa, dana_client):
    invitation = linking.create_invitation(inviter=alice)
    response = dana_client.post(
        reverse("accounts:invitation", args=[invitation.token]), {"choice": "accept"}
    )
    assert response.status_code == 409
    assert dana_2fa.current_partner_seat() is None
    with pytest.raises(linking.LinkingError):
        linking.create_invitation(inviter=dana_2fa)


def test_signing_up_as_a_therapist_makes_a_therapist_account(db, client, settings):
    settings.ACCOUNT_RATE_LIMITS = {}
    response = client.post(
        reverse("account_signup"),
        {
            "email": "erin@example.com",
            "password1": "a-long-signup-password-9",
            "display_name": "Dr Erin Oduya",
            "account_type": "therapist",
            "practice_name": "Riverside Practice",
        },
    )
    assert response.status_code == 302
    erin = User.objects.get(email="erin@example.com")
    assert erin.is_therapist and erin.practice_name == "Riverside Practice"
    client.post(
        reverse("account_signup"),
        {
            "email": "frank@example.com",
            "password1": "a-long-signup-password-9",
            "display_name": "Frank",
            "account_type": "partner",
            "practice_name": "Not a practice",
        },
    )
    frank = User.objects.get(email="frank@example.com")
    assert not frank.is_therapist and frank.practice_name == ""


# -- two-factor ------------------------------------------------------------------------------------


@pytest.mark.parametrize("factor", ["none", "recovery codes only"])
def test_without_two_factor_a_therapist_sees_no_client_data(factor, other_couple, dana):
    access = grant_therapist(other_couple, dana)
    if factor == "recovery codes only":
        RecoveryCodes.activate(dana)
    client = client_for(dana)
    urls = [("get", reverse("therapist:home"), {})] + couple_urls(access.agreement)
    for method, url, data in urls:
        response = fetch(client, method, url, data)
        assert response.status_code == 403, url
        html = text_of(response)
        assert reverse("mfa_index") in html
        assert "Carol" not in html and "Dave" not in html
        assert DEFAULT_RULES[0][0] not in html
    access.refresh_from_db()
    assert access.status == Status.ACTIVE and access.last_viewed_at is None
    assert not Comment.objects.exists()


@pytest.mark.parametrize("kind", [Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])
def test_with_two_factor_the_therapist_sees_the_agreement(kind, other_couple, dana):
    access = grant_therapist(other_couple, dana)
    if kind == Authenticator.Type.TOTP:
        TOTP.activate(dana, generate_totp_secret())
    else:
        Authenticator.objects.create(user=dana, type=kind, data={"name": "key"})
    client = client_for(dana)
    assert client.get(reverse("therapist:couple", args=[access.agreement_id])).status_code == 200


# -- comments --------------------------------------------------------------------------------------


def test_therapist_comments_reach_the_partners_who_can_reply(
    carol_dave_access, dana_client, carol, other_couple
):
    agreement = carol_dave_access.agreement
    rule = rules_of(other_couple[0])[2]
    couple_page = reverse("therapist:couple", args=[agreement.pk])
    response = dana_client.post(
        reverse("therapist:comment", args=[agreement.pk]),
        {"text": "What would 'enough' look like here?", "rule": rule.pk},
    )
    assert response.status_code == 302
    assert response.url == f"{couple_page}#rule-{rule.pk}"
    dana_client.post(
        reverse("therapist:comment", args=[agreement.pk]), {"text": "A thoughtful start."}
    )
    assert (
        dana_client.post(
            reverse("therapist:comment", args=[agreement.pk]), {"text": "   "}
        ).status_code
        == 302
    )
    assert Comment.objects.count() == 2

    carol_client = client_for(carol)
    page = text_of(carol_client.get(reverse("agreements:agreement")))
    card = page[page.index(f'data-rule="{rule.pk}"') :]
    card = card[: card.index("</article>")]
    assert "What would &#x27;enough&#x27; look like here?" in card
    assert "Dana</span> (therapist)" in card or "Dana (therapist)" in card
    assert "A thoughtful start." in page

    carol_client.post(
        reverse("agreements:reply"), {"text": "We'll talk about it on Sunday.", "rule": rule.pk}
    )
    reply = Comment.objects.get(partner=other_couple[0])
    assert reply.rule == rule

    review = text_of(dana_client.get(couple_page))
    assert "We&#x27;ll talk about it on Sunday." in review
    timeline = text_of(dana_client.get(reverse("therapist:timeline", args=[agreement.pk])))
    assert "What would &#x27;enough&#x27; look like here?" in timeline
    assert "We&#x27;ll talk about it on Sunday." in timeline
    assert "A thoughtful start." in timeline


# -- transparency and the home page ----------------------------------------------------------------


def test_partners_see_who_has_access_since_when_and_the_last_view(
    carol_dave_access, carol, dana_client
):
    carol_client = client_for(carol)
    reauthenticate(carol_client, carol)
    page = reverse("agreements:therapist_access")
    before = text_of(carol_client.get(page))
    assert '<strong dir="auto">Dana</strong>' in before
    assert "Sees <strong>the rules and our history</strong> · since" in before
    assert "asked by <bdi>Carol</bdi>, agreed by <bdi>Dave</bdi>" in before
    assert "last viewed your agreement: never" in before

    dana_client.get(reverse("therapist:couple", args=[carol_dave_access.agreement_id]))
    carol_dave_access.refresh_from_db()
    assert carol_dave_access.last_viewed_at is not None
    after = text_of(carol_client.get(page))
    assert "last viewed your agreement: never" not in after
    assert carol_dave_access.last_viewed_at.strftime("%Y-%m-%dT%H:%M") in after
    agreement_page = text_of(carol_client.get(reverse("agreements:agreement")))
    assert "<bdi>Dana</bdi> sees the rules and our history, since" in agreement_page


def test_the_home_page_gives_counts_news_and_last_activity(
    carol_dave_access, dana_2fa, dana_client, other_couple, monkeypatch
):
    # Every opening of the couple page is a new visit here (tests/test_security_abuse.py has
    # the reloads within one visit).
    monkeypatch.setattr(therapy, "VISIT_LENGTH", timedelta(0))
    carol, dave = other_couple
    rules = rules_of(carol)
    for rule in rules[:3]:
        consent.accept(partner=carol, rule=rule, version_id=rule.pending_version_id)
        consent.accept(partner=dave, rule=rule, version_id=rule.pending_version_id)
    consent.withdraw(partner=dave, rule=rules[2])
    agreement = carol_dave_access.agreement
    shown = list(agreement.rules.exclude(state=Rule.State.ARCHIVED))
    expected = summary(shown, Viewer(Viewer.THERAPIST), rounds_for(shown))
    assert (expected["in_force"], expected["resting"]) == (2, 1)

    [client] = client_accesses(dana_2fa)
    assert (client["in_force"], client["waiting"], client["paused"], client["total"]) == (
        expected["in_force"],
        expected["waiting"],
        expected["resting"],
        expected["total"],
    )
    assert client["last_activity"] == agreement.events.latest("created_at").created_at
    home = text_of(dana_client.get(reverse("therapist:home")))
    assert f"<strong>2 of {expected['total']}</strong> rules in force" in home
    assert f"{expected['waiting']} waiting for acceptance · 1 paused" in home
    assert "you have not opened this agreement yet" in home

    # A visit, then the partners act and the therapist comments: only theirs is news.
    dana_client.get(reverse("therapist:couple", args=[agreement.pk]))
    assert client_accesses(dana_2fa)[0]["news"] == 0
    assert "Nothing new since your last visit" in text_of(
        dana_client.get(reverse("therapist:home"))
    )
    therapy.add_comment(agreement=agreement, therapist=dana_2fa, text="Noted.")
    consent.accept(partner=carol, rule=rules[3], version_id=rules[3].pending_version_id)
    assert client_accesses(dana_2fa)[0]["news"] == 0  # sealed until Dave answers: not news
    consent.propose_rule(partner=carol, agreement=agreement, title="Tea", text="Tea after.")
    therapy.add_comment(agreement=agreement, partner=dave, text="Thanks.")
    assert client_accesses(dana_2fa)[0]["news"] == 2
    assert "<strong>2 updates</strong> since your last visit" in text_of(
        dana_client.get(reverse("therapist:home"))
    )
    couple_page = text_of(dana_client.get(reverse("therapist:couple", args=[agreement.pk])))
    assert "<strong>2 updates</strong> since your last visit" in couple_page


def test_the_home_page_costs_the_same_queries_for_1_or_50_couples(
    dana_2fa, dana_client, django_assert_max_num_queries
):
    def add_couples(start: int, stop: int) -> None:
        for n in range(start, stop):
            a = make_user(f"a{n}@example.com", f"A{n}")
            b = make_user(f"b{n}@example.com", f"B{n}")
            grant_therapist(link(a, b), dana_2fa)

    home = reverse("therapist:home")
    add_couples(0, 1)
    dana_client.get(home)  # the session settles
    with CaptureQueriesContext(connection) as one:
        response = dana_client.get(home)
    assert len(re.findall(r'data-client="\d+"', text_of(response))) == 1
    assert len(one) <= 6

    add_couples(1, 50)
    with django_assert_max_num_queries(len(one)):
        response = dana_client.get(home)
    assert len(re.findall(r'data-client="\d+"', text_of(response))) == 50


# -- races -----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_comment_racing_the_end_of_access_lands_before_it_or_not_at_all():
    therapist = with_second_factor(make_user("t@example.com", "T", therapist=True))
    for n in range(10):
        seats = link(make_user(f"p{n}@example.com", "P"), make_user(f"q{n}@example.com", "Q"))
        live = grant_therapist(seats, therapist)
        agreement = live.agreement
        commented, ended = run_together(
            lambda a=agreement: therapy.add_comment(agreement=a, therapist=therapist, text="Hi"),
            lambda pk=live.pk, seat=seats[1]: therapy.end_access(access_id=pk, partner=seat),
        )
        assert ended is None, ended
        live.refresh_from_db()
        assert live.status == Status.ENDED
        if isinstance(commented, Exception):
            assert isinstance(commented, PermissionError), commented
            assert not agreement.comments.exists()
        else:
            kinds = list(
                agreement.events.filter(
                    kind__in=[Event.Kind.COMMENTED, Event.Kind.ACCESS_ENDED]
                ).values_list("kind", flat=True)
            )
            assert kinds == [Event.Kind.COMMENTED, Event.Kind.ACCESS_ENDED]
            assert commented.created_at <= live.ended_at
